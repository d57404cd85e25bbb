"""What ``fleetfix triage`` found: the crash groups, the files read and what was collected first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fleetfix.errors import ExitStatus
from fleetfix.triage.collected import CollectOutcome
from fleetfix.triage.group import CrashGroup


@dataclass(frozen=True)
class TriageResult:
    groups: tuple[CrashGroup, ...]
    generated_at: datetime
    sources: tuple[Path, ...]
    audit: Path | None  # the audit report the builds come from
    collected: CollectOutcome | None

    @property
    def crashes(self) -> int:
        return sum(len(g.crashes) for g in self.groups)

    def exit_status(self) -> ExitStatus:
        return ExitStatus.FINDINGS if self.crashes else ExitStatus.OK
