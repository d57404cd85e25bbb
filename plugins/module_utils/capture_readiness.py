"""Crash-capture readiness: can this host leave evidence the next time it panics?

The one definition of the rule. The facts module computes it from what it read and returns it as
``crash_capture.readiness``; the roles and fleetfix's Python read that result and never judge it again.

Checked without panicking anything: crash memory reserved, capture kernel loaded, the kdump service enabled
and active with a dump target (a remote one reachable and writable now), an oops made a panic now and
after a reboot (kernel.panic_on_oops, see panic_settings.py), and a netconsole target enabled now and
configured to come back after a reboot. Ready means every check passes: a host that loses capture at the
reboot a change may trigger is not ready. Standard library only, Python 3.8+ (it runs on the managed hosts).
"""

from __future__ import annotations

from ansible_collections.fleetfix.hba.plugins.module_utils.panic_settings import panic_on_oops_check

MIB = 1024 * 1024


def _check(name, ok, detail):
    return {"name": name, "ok": ok, "detail": detail}


def _crash_memory(capture):
    size = capture.get("kexec_crash_size") or 0
    if size > 0:
        return _check("kdump.crash_memory", True, f"{size // MIB} MiB reserved")
    if capture.get("crashkernel"):
        on_cmdline = capture["crashkernel"]
        detail = f"crashkernel={on_cmdline} is on the command line but no crash memory is reserved"
    else:
        detail = "no crashkernel= on the kernel command line: no crash memory reserved"
    return _check("kdump.crash_memory", False, detail)


def _loaded(capture):
    if capture.get("kexec_crash_loaded"):
        return _check("kdump.loaded", True, "capture kernel loaded")
    return _check("kdump.loaded", False, "capture kernel not loaded (/sys/kernel/kexec_crash_loaded is 0)")


def _service(capture):
    service = capture.get("kdump_service")
    if not service or not service.get("installed"):
        return _check("kdump.service", False, "kdump service not installed (kdump-tools / kdump)")
    states = (("enabled", service.get("enabled")), ("active", service.get("active")))
    off = [word for word, on in states if on is False]
    if off:
        return _check("kdump.service", False, f"{service['name']} is not {' and not '.join(off)}")
    unknown = [word for word, on in states if on is None]
    if unknown:
        detail = f"{service['name']}: cannot tell whether {' or '.join(unknown)}"
        return _check("kdump.service", False, detail)
    return _check("kdump.service", True, f"{service['name']} enabled and active")


def _target(capture):
    config = capture.get("kdump_config")
    if not config or not config.get("target"):
        return _check("kdump.target", False, "no kdump dump target configured")
    remote = capture.get("dump_target")
    if remote and remote.get("probed") and remote.get("ok") is not None:
        # ssh and nfs: whether this host could write there just now (plugins/module_utils/dump_target.py)
        return _check("kdump.target", bool(remote["ok"]), remote["detail"])
    return _check("kdump.target", True, f"dumps to {config['kind']} {config['target']}")


def _netconsole_live(capture):
    netconsole = capture.get("netconsole") or {}
    enabled = [t for t in netconsole.get("targets") or [] if t.get("enabled") and t.get("remote_ip")]
    if enabled:
        where = ", ".join(f"{t['remote_ip']}:{t.get('remote_port')}" for t in enabled)
        return _check("netconsole.target", True, f"netconsole streaming to {where}")
    if not netconsole.get("module_loaded"):
        return _check("netconsole.target", False, "netconsole module not loaded")
    return _check("netconsole.target", False, "netconsole loaded but no enabled target")


def _netconsole_persistent(capture):
    persistent = (capture.get("netconsole") or {}).get("persistent") or {}
    if persistent.get("cmdline") or (persistent.get("modprobe") and persistent.get("load_at_boot")):
        return _check("netconsole.persistent", True, "netconsole configured for the next boot")
    return _check("netconsole.persistent", False, "netconsole not configured to survive a reboot")


def _serial(consoles):
    """The serial port among ``console=`` values: the last one, the port the kernel makes /dev/console."""
    serial = [c for c in consoles or () if _is_serial_port(c.get("port") or "")]
    return serial[-1] if serial else None


def _is_serial_port(port):
    head = port.rstrip("0123456789")
    return head != port and head.startswith("tty") and head != "tty"


def _spec(console):
    return console["port"] + ("," + console["options"] if console.get("options") else "")


def serial_console(capture):
    """``{present, next_boot, port, detail}``: a serial console on the running kernel (on its command line
    and among the kernel's active consoles, where those can be read) and on the next boot's command line."""
    facts = capture.get("serial_console") or {}
    now, upcoming = _serial(facts.get("consoles")), facts.get("next_boot")
    active = facts.get("active")
    present = now is not None and (active is None or now["port"] in active)
    following = None if upcoming is None else _serial(upcoming)
    port = now or following
    if present:
        detail = f"serial console on {_spec(now)}"
    elif now is not None:
        detail = f"console={_spec(now)} is on the command line but {now['port']} is not an active console"
    else:
        detail = "no serial console on the kernel command line"
    if following is not None and not present:
        detail += f"; {_spec(following)} from the next boot"
    elif upcoming is not None and following is None and present:
        detail += "; gone from the next boot's command line"
    return {
        "present": present,
        "next_boot": None if upcoming is None else following is not None,
        "port": None if port is None else _spec(port),
        "detail": detail,
    }


def pstore(capture):
    """``{usable, backend, detail}``: a crash's last kernel log survives in firmware (efi_pstore) or reserved
    memory (ramoops) and systemd-pstore archives it at the next boot."""
    facts = capture.get("pstore") or {}
    gaps = []
    if not facts.get("mounted"):
        gaps.append("pstore filesystem not mounted on /sys/fs/pstore")
    if not facts.get("backend"):
        gaps.append("no pstore backend registered (efi_pstore, ramoops)")
    if not facts.get("service_installed"):
        gaps.append("systemd-pstore not installed")
    elif not facts.get("service_enabled"):
        gaps.append("systemd-pstore not enabled")
    if capture.get("kexec_crash_loaded") and facts.get("crash_kexec_post_notifiers") is False:
        gaps.append("kdump takes a panic before pstore sees it (crash_kexec_post_notifiers is off)")
    backend = facts.get("backend")
    return {
        "usable": not gaps,
        "backend": backend,
        "detail": "; ".join(gaps) if gaps else f"pstore through {backend}, archived by systemd-pstore",
    }


def notes(capture):
    """What a person should know that fails no check: where dumps may land under another name than the one
    collect looks for first (dump_target.naming_note)."""
    note = (capture.get("dump_target") or {}).get("naming_note")
    return [note] if note else []


def _panic_on_oops(capture):
    panic = capture.get("panic")
    if panic is None:  # facts from before it was read: not judged here
        return None
    return panic_on_oops_check(panic, capture.get("cmdline"))


CHECKS = (
    _crash_memory,
    _loaded,
    _service,
    _target,
    _panic_on_oops,
    _netconsole_live,
    _netconsole_persistent,
)


def capture_readiness(capture):
    """``{ready, kdump_ready, netconsole_ready, missing, checks}`` for a ``crash_capture`` facts dict.

    ``checks`` lists every check as ``{name, ok, detail}`` in a fixed order; ``missing`` holds the details of
    the failed ones, ready to show a person; ``notes`` what fails no check but deserves a look.
    """
    checks = [found for found in (check(capture) for check in CHECKS) if found is not None]
    return {
        "ready": all(c["ok"] for c in checks),
        "kdump_ready": all(c["ok"] for c in checks if c["name"].startswith("kdump.")),
        "netconsole_ready": all(c["ok"] for c in checks if c["name"].startswith("netconsole.")),
        "missing": [c["detail"] for c in checks if not c["ok"]],
        "checks": checks,
        "notes": notes(capture),
        "serial_console": serial_console(capture),
        "pstore": pstore(capture),
    }
