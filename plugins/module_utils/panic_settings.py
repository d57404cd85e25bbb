"""Whether a kernel fault becomes a panic, and so a dump: kernel.panic_on_oops and its two companions.

kdump captures panics. An oops in process context (a NULL dereference in a driver's I/O path, the seed
incident's fault) kills only the task that hit it when kernel.panic_on_oops is 0 (Debian's and Ubuntu's
default): the kernel runs on, damaged, and kdump never fires. kernel.hung_task_panic and
kernel.softlockup_panic turn a hung task or a soft lockup into a panic likewise. This reads what boot
will set from sysctl.d text (the systemd-sysctl order: a file name in /etc hides the same name in /run
and /usr/lib, files applied by name, /etc/sysctl.conf last as ``sysctl --system`` does) and judges the
live value. Standard library only, Python 3.8+ (it runs on the managed hosts).

A sysctl.d file::

    # Kubernetes required kernel parameters
    vm.overcommit_memory = 1
    kernel.panic = 10
    kernel.panic_on_oops = 1
"""

from __future__ import annotations

SETTINGS = ("kernel.panic_on_oops", "kernel.hung_task_panic", "kernel.softlockup_panic")
SYSCTL_DIRS = ("/usr/lib/sysctl.d", "/lib/sysctl.d", "/run/sysctl.d", "/etc/sysctl.d")
SYSCTL_CONF = "/etc/sysctl.conf"


def sysctl_files(listing):
    """Paths in the order their settings apply, from ``{directory: [file names]}``."""
    chosen = {}
    for directory in SYSCTL_DIRS:
        for name in listing.get(directory, ()):
            if name.endswith(".conf"):
                chosen[name] = directory + "/" + name
    ordered = [chosen[name] for name in sorted(chosen)]
    if listing.get(SYSCTL_CONF):
        ordered.append(SYSCTL_CONF)
    return ordered


def assignments(text):
    """(name, value) per ``name = value`` line: ``/`` separated names read dotted, a ``-`` prefix (ignore
    errors) dropped, ``#`` and ``;`` lines skipped. A value is taken whole: sysctl.d has no trailing
    comments, so ``1   # panic`` is not 1 (systemd-sysctl fails to write it)."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        name, value = line.split("=", 1)
        found.append((name.strip().lstrip("-").replace("/", "."), value.strip()))
    return found


def configured(files):
    """``{setting: {"value": int or None, "text": str, "source": path}}`` for SETTINGS that ``files`` (a
    list of (path, text) in apply order) set; the last assignment wins. ``value`` is None when the text is
    no integer, so boot cannot set it."""
    found = {}
    for path, text in files:
        for name, value in assignments(text):
            if name in SETTINGS:
                try:
                    number = int(value)
                except ValueError:
                    number = None
                found[name] = {"value": number, "text": value, "source": path}
    return found


def _oops_panic_on_cmdline(cmdline):
    return "oops=panic" in (cmdline or "").split()


def panic_on_oops_check(panic, cmdline):
    """``{name, ok, detail}``: an oops will be a panic now and after the next boot."""
    name = "kdump.panic_on_oops"
    live = panic.get("panic_on_oops")
    boot = (panic.get("configured") or {}).get("kernel.panic_on_oops")
    if live is None:
        return {"name": name, "ok": False, "detail": "kernel.panic_on_oops cannot be read"}
    if live != 1:
        return {
            "name": name,
            "ok": False,
            "detail": "kernel.panic_on_oops is 0: an oops in process context kills only that task and the "
            "kernel runs on, so kdump takes no dump (fleetfix capture enable sets it to 1)",
        }
    if boot is not None and boot["value"] != 1 and not _oops_panic_on_cmdline(cmdline):
        return {
            "name": name,
            "ok": False,
            "detail": "kernel.panic_on_oops is 1 now, but {} sets it to {!r} at the next boot".format(
                boot["source"], boot["text"]
            ),
        }
    if boot is not None and boot["value"] == 1:
        kept = "kept by " + boot["source"]
    elif _oops_panic_on_cmdline(cmdline):
        kept = "oops=panic on the command line"
    else:
        kept = "the kernel's default; no sysctl.d file sets it"
    return {
        "name": name,
        "ok": True,
        "detail": "an oops panics the kernel (kernel.panic_on_oops=1, " + kept + ")",
    }
