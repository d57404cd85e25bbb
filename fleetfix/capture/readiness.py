"""Crash-capture readiness: can this host leave evidence the next time it panics?

Checked without panicking anything: crash memory reserved, capture kernel loaded, kdump service enabled and
active with a dump target, and a netconsole target enabled now and configured to come back after a reboot.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleetfix.facts.crash_capture import CrashCapture

CHECK_LABELS = {  # a check's short name, as the tables show it
    "kdump.crash_memory": "crash memory",
    "kdump.loaded": "capture kernel",
    "kdump.service": "kdump service",
    "kdump.target": "dump target",
    "netconsole.target": "netconsole",
    "netconsole.persistent": "netconsole at boot",
}


@dataclass(frozen=True, kw_only=True)
class CaptureCheck:
    name: str
    ok: bool
    detail: str

    @property
    def label(self) -> str:
        return CHECK_LABELS[self.name]


@dataclass(frozen=True)
class CaptureReadiness:
    checks: tuple[CaptureCheck, ...]

    @property
    def kdump_ready(self) -> bool:
        return all(c.ok for c in self.checks if c.name.startswith("kdump"))

    @property
    def netconsole_ready(self) -> bool:
        return all(c.ok for c in self.checks if c.name.startswith("netconsole"))

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(c.detail for c in self.checks if not c.ok)


def _crash_memory(capture: CrashCapture) -> CaptureCheck:
    size = capture.kexec_crash_size or 0
    if size > 0:
        return CaptureCheck(
            name="kdump.crash_memory", ok=True, detail=f"{size // (1024 * 1024)} MiB reserved"
        )
    if capture.crashkernel:
        detail = f"crashkernel={capture.crashkernel} is on the command line but no crash memory is reserved"
    else:
        detail = "no crashkernel= on the kernel command line: no crash memory reserved"
    return CaptureCheck(name="kdump.crash_memory", ok=False, detail=detail)


def _service(capture: CrashCapture) -> CaptureCheck:
    service = capture.kdump_service
    if service is None or not service.installed:
        return CaptureCheck(
            name="kdump.service", ok=False, detail="kdump service not installed (kdump-tools / kdump)"
        )
    states = [word for word, on in (("enabled", service.enabled), ("active", service.active)) if on is False]
    if states:
        return CaptureCheck(
            name="kdump.service", ok=False, detail=f"{service.name} is not {' and not '.join(states)}"
        )
    unknown = [word for word, on in (("enabled", service.enabled), ("active", service.active)) if on is None]
    if unknown:
        detail = f"{service.name}: cannot tell whether {' or '.join(unknown)}"
        return CaptureCheck(name="kdump.service", ok=False, detail=detail)
    return CaptureCheck(name="kdump.service", ok=True, detail=f"{service.name} enabled and active")


def _loaded(capture: CrashCapture) -> CaptureCheck:
    if capture.kexec_crash_loaded:
        return CaptureCheck(name="kdump.loaded", ok=True, detail="capture kernel loaded")
    return CaptureCheck(
        name="kdump.loaded",
        ok=False,
        detail="capture kernel not loaded (/sys/kernel/kexec_crash_loaded is 0)",
    )


def _target(capture: CrashCapture) -> CaptureCheck:
    config = capture.kdump_config
    if config is None or not config.target:
        return CaptureCheck(name="kdump.target", ok=False, detail="no kdump dump target configured")
    return CaptureCheck(name="kdump.target", ok=True, detail=f"dumps to {config.kind} {config.target}")


def _netconsole_live(capture: CrashCapture) -> CaptureCheck:
    enabled = [t for t in capture.netconsole.targets if t.enabled and t.remote_ip]
    if enabled:
        where = ", ".join(f"{t.remote_ip}:{t.remote_port}" for t in enabled)
        return CaptureCheck(name="netconsole.target", ok=True, detail=f"netconsole streaming to {where}")
    if not capture.netconsole.module_loaded:
        return CaptureCheck(name="netconsole.target", ok=False, detail="netconsole module not loaded")
    return CaptureCheck(name="netconsole.target", ok=False, detail="netconsole loaded but no enabled target")


def _netconsole_persistent(capture: CrashCapture) -> CaptureCheck:
    persistent = capture.netconsole.persistent
    if persistent.cmdline or (persistent.modprobe and persistent.load_at_boot):
        return CaptureCheck(
            name="netconsole.persistent", ok=True, detail="netconsole configured for the next boot"
        )
    return CaptureCheck(
        name="netconsole.persistent", ok=False, detail="netconsole not configured to survive a reboot"
    )


def readiness(capture: CrashCapture) -> CaptureReadiness:
    checks = (_crash_memory, _loaded, _service, _target, _netconsole_live, _netconsole_persistent)
    return CaptureReadiness(tuple(check(capture) for check in checks))
