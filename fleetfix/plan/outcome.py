"""What a remediation command ended with: the plan, the run, how it stopped and each host's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleetfix.errors import ExitStatus
from fleetfix.plan.build import Plan


@dataclass(frozen=True)
class RemediateOutcome:
    plan: Plan
    run_id: int | None
    status: str  # done, stopped-window, stopped-budget, stopped-canary, checked
    note: str
    hosts: list[dict[str, Any]]  # the journal's per-host view, or check-mode results

    def exit_status(self) -> ExitStatus:
        if self.status.startswith("stopped"):
            return ExitStatus.INCOMPLETE
        failed = [h for h in self.hosts if h.get("status") in ("failed", "unreachable")]
        return ExitStatus.HOSTS_FAILED if failed else ExitStatus.OK
