"""One host's soak as the soak command and a remediation report it: status, devices, verdict and evidence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetfix.soak.fio_json import FioResult
from fleetfix.soak.verdict import SoakVerdict


@dataclass(frozen=True)
class HostSoak:
    host: str
    status: str  # passed, failed, checked (check mode), skipped (nothing to soak), error (did not run)
    message: str
    devices: tuple[str, ...] = ()
    verdict: SoakVerdict | None = None
    fio: FioResult | None = None
    boot_id_before: str | None = None
    boot_id_after: str | None = None
    kernel_log: str | None = None  # where the lines came from, or "unavailable: why"
    report: Path | None = None  # fio's JSON report, fetched to the controller

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "status": self.status,
            "message": self.message,
            "devices": list(self.devices),
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "fio": self.fio.to_dict() if self.fio else None,
            "boot_id_before": self.boot_id_before,
            "boot_id_after": self.boot_id_after,
            "kernel_log": self.kernel_log,
            "report": str(self.report) if self.report else None,
        }
