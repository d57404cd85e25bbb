"""What ``fleetfix collect`` brought back from each host: kernel logs and pstore records fetched, dumps seen,
its schedule."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleetfix.errors import ExitStatus


@dataclass(frozen=True)
class HostCollected:
    host: str
    status: str  # ok, failed or unreachable
    message: str
    fetched: int = 0  # kernel logs fetched in this run
    dumps: int = 0  # crash dumps listed on the host (the newest ``max_dumps``)
    without_log: int = 0  # of those, dumps with no kernel log to fetch
    jobs: int | None = None  # scheduled jobs written to jobs.json; None: the schedule was not read
    timezone: str | None = None
    notes: tuple[str, ...] = ()
    pstore_fetched: int = 0  # pstore files fetched in this run
    pstore_files: int = 0  # the host's pstore files (live and archived) the store holds


@dataclass(frozen=True)
class CollectOutcome:
    store: Path
    hosts: tuple[HostCollected, ...]
    netconsole_files: int = 0  # receiver files copied into the store

    def exit_status(self) -> ExitStatus:
        failed = any(h.status != "ok" for h in self.hosts)
        return ExitStatus.HOSTS_FAILED if failed else ExitStatus.OK
