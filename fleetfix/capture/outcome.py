"""What ``capture enable`` did on each host, and the exit status ``capture status`` gives for readiness."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleetfix.audit import AuditReport
from fleetfix.errors import ExitStatus


@dataclass(frozen=True)
class HostCapture:
    host: str
    status: str  # changed | unchanged | would-change | reboot-needed | rebooted | failed | unreachable
    message: str
    changed: tuple[str, ...]
    reboot_needed: bool
    diff: str


@dataclass(frozen=True)
class CaptureOutcome:
    hosts: tuple[HostCapture, ...]
    check: bool
    run_dir: Path | None

    def exit_status(self) -> ExitStatus:
        if any(h.status in ("failed", "unreachable") for h in self.hosts):
            return ExitStatus.HOSTS_FAILED
        return ExitStatus.FINDINGS if any(h.reboot_needed for h in self.hosts) else ExitStatus.OK


def status_exit(report: AuditReport) -> ExitStatus:
    """Like the audit's, but only crash capture counts: advisory findings are the audit's business."""
    if any(not h.reachable for h in report.hosts):
        return ExitStatus.HOSTS_FAILED
    return (
        ExitStatus.FINDINGS if any(h.capture and not h.capture.ready for h in report.hosts) else ExitStatus.OK
    )
