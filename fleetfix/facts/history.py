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
