"""What ``fleetfix triage`` found: the crash groups, the files read and what was collected first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fleetfix.errors import ExitStatus
from fleetfix.triage.collected import CollectOutcome
from fleetfix.triage.group import CrashGroup


@dataclass(frozen=True)
class ReadStats:
    """What reading some paths came to: files and lines read, and the files that held no kernel log."""

    files: int = 0
    lines: int = 0
    not_kernel: int = 0  # files read that are not kernel logs
    unreadable: tuple[str, ...] = ()  # files in a directory that could not be opened or decompressed

    def __add__(self, other: ReadStats) -> ReadStats:
        return ReadStats(
            self.files + other.files,
            self.lines + other.lines,
            self.not_kernel + other.not_kernel,
            self.unreadable + other.unreadable,
        )

    @property
    def kernel_logs(self) -> int:
        return self.files - self.not_kernel

    def describe(self) -> str:
        """``12 files, 48213 lines read; 3 not kernel logs; 1 unreadable (path)``."""
        text = f"{self.files} files, {self.lines} lines read"
        if self.not_kernel:
            text += f"; {self.not_kernel} not kernel logs"
        if self.unreadable:
            shown = ", ".join(self.unreadable[:3]) + (", ..." if len(self.unreadable) > 3 else "")
            text += f"; {len(self.unreadable)} unreadable ({shown})"
        return text


@dataclass(frozen=True)
class TriageResult:
    groups: tuple[CrashGroup, ...]
    generated_at: datetime
    sources: tuple[Path, ...]
    audit: Path | None  # the audit report the builds come from
    collected: CollectOutcome | None
    read: ReadStats = field(default_factory=ReadStats)

    @property
    def read_counts(self) -> dict[str, int]:
        """What was read, for the documents: files, lines, kernel logs, and the files that were not."""
        return {
            "files": self.read.files + len(self.read.unreadable),
            "lines": self.read.lines,
            "kernel_logs": self.read.kernel_logs,
            "not_kernel_logs": self.read.not_kernel,
            "unreadable": len(self.read.unreadable),
        }

    @property
    def crashes(self) -> int:
        return sum(g.total for g in self.groups)

    def exit_status(self) -> ExitStatus:
        return ExitStatus.FINDINGS if self.crashes else ExitStatus.OK
