"""What triage reads of a host's past: its scheduled jobs (cron, timers) and its crash dumps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleetfix.facts.fields import Fields


@dataclass(frozen=True)
class ScheduledJob:
    kind: str  # cron or timer
    source: str
    user: str | None
    command: str | None
    schedule: str | None = None  # cron: five fields or @daily-style
    unit: str | None = None  # timer: the unit it starts
    on_calendar: tuple[str, ...] = ()
    monotonic: tuple[str, ...] = ()  # e.g. "OnUnitActiveSec=1d"
    enabled: bool | None = None

    @classmethod
    def from_dict(cls, data: Any, source: str, where: str = "") -> ScheduledJob:
        """One ``scheduled_jobs[]`` entry (docs/facts.md); ``where`` is its field path in ``source``."""
        return cls.parse(Fields(data, source, where))

    @classmethod
    def parse(cls, f: Fields) -> ScheduledJob:
        kind = f.text("kind", optional=False)
        if kind not in ("cron", "timer"):
            raise f.fail("kind", '"cron" or "timer"')
        return cls(
            kind,
            f.text("source", optional=False),
            f.text("user"),
            f.text("command"),
            f.text("schedule", optional=kind != "cron"),
            f.text("unit"),
            f.texts("on_calendar"),
            f.texts("monotonic"),
            f.flag("enabled"),
        )


@dataclass(frozen=True)
class CrashDump:
    path: str
    time: datetime  # with the host's UTC offset
    time_source: str  # name (kdump's directory stamp) or mtime
    has_dmesg: bool
    dmesg_file: str | None
    files: tuple[str, ...]

    @classmethod
    def parse(cls, f: Fields) -> CrashDump:
        stamp = f.text("time", optional=False)
        try:
            time = datetime.fromisoformat(stamp)
        except ValueError:
            raise f.fail("time", "an ISO 8601 time") from None
        return cls(
            f.text("path", optional=False),
            time,
            f.text("time_source", optional=False),
            bool(f.flag("has_dmesg", optional=False)),
            f.text("dmesg_file"),
            f.texts("files"),
        )
