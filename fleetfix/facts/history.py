"""What triage reads of a host's past: its scheduled jobs (cron, timers) and its crash dumps."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from msgspec import Struct

from fleetfix import serde
from fleetfix.errors import InputError


class ScheduledJob(Struct, frozen=True, kw_only=True, gc=False):
    kind: Literal["cron", "timer"]
    source: str
    user: str | None = None
    command: str | None = None
    schedule: str | None = None  # cron: five fields or @daily-style; required for cron
    unit: str | None = None  # timer: the unit it starts
    on_calendar: tuple[str, ...] = ()
    monotonic: tuple[str, ...] = ()  # e.g. "OnUnitActiveSec=1d"
    enabled: bool | None = None

    def __post_init__(self) -> None:
        if self.kind == "cron" and self.schedule is None:
            raise ValueError("schedule: expected a string, got null (a cron job has a schedule)")

    @classmethod
    def from_dict(cls, data: Any, source: str, where: str = "") -> ScheduledJob:
        """One ``scheduled_jobs[]`` entry (docs/facts.md); ``where`` is its field path in ``source``."""
        try:
            return serde.convert(data, cls, source)
        except InputError as exc:
            field = ".".join(p for p in (where, exc.field) if p) or None
            message = str(exc).removeprefix(f"{source}: ").removeprefix(f"{exc.field}: ")
            raise InputError(source, message, field=field) from None


class CrashDump(Struct, frozen=True, kw_only=True, gc=False):
    path: str
    time: datetime  # with the host's UTC offset
    time_source: str  # name (kdump's directory stamp) or mtime
    has_dmesg: bool
    dmesg_file: str | None = None
    files: tuple[str, ...] = ()


class AnacronJob(Struct, frozen=True, kw_only=True, gc=False):
    """One anacrontab job as written: ``period`` is days or ``@monthly``-style, ``delay`` minutes."""

    period: str
    delay: str
    identifier: str
    command: str
    last_run: str | None = None  # /var/spool/anacron/<identifier>: YYYYMMDD


class Anacrontab(Struct, frozen=True, kw_only=True, gc=False):
    random_delay: str | None = None  # RANDOM_DELAY, minutes
    start_hours_range: str | None = None  # START_HOURS_RANGE, "3-22"
    jobs: tuple[AnacronJob, ...] = ()


class Anacron(Struct, frozen=True, kw_only=True, gc=False):
    installed: bool = False  # /usr/sbin/anacron exists
    anacrontab: Anacrontab | None = None


class JobDirectory(Struct, frozen=True, kw_only=True, gc=False):
    """A directory run-parts is given: the scripts it would run, in order, and the files it passes over."""

    path: str
    exists: bool = True
    scripts: tuple[str, ...] = ()
    passed_over: tuple[str, ...] = ()


class RunParts(Struct, frozen=True, kw_only=True, gc=False):
    flavour: Literal["debianutils", "crontabs"] | None = None
    directories: tuple[JobDirectory, ...] = ()

    def directory(self, path: str) -> JobDirectory | None:
        return next((d for d in self.directories if d.path == path.rstrip("/")), None)
