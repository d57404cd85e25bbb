"""When a host's cron job or systemd timer starts: its schedule, placed in the host's zone.

The run before a crash starts at the job's last start at or before it: croniter for cron; for
``OnCalendar=``, the host's own ``systemd-analyze calendar`` elapses within their span and ``calendar.py``
elsewhere. Cron and local-zone timers run in the host's zone; crash times are aware.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

from croniter import CroniterBadDateError, croniter

from fleetfix.errors import InputError
from fleetfix.facts.history import ScheduledJob
from fleetfix.triage.calendar.analyze import AnalyzedCalendar
from fleetfix.triage.calendar.parse import parse_calendar
from fleetfix.triage.calendar.spec import CalendarSpec


class Schedule(Protocol):
    @property
    def description(self) -> str: ...

    def last_start(self, at: datetime) -> datetime | None: ...

    def starts(self, begin: datetime, end: datetime) -> Iterator[datetime]: ...


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    zone: tzinfo

    @property
    def description(self) -> str:
        return f"cron `{self.expression}`"

    def last_start(self, at: datetime) -> datetime | None:
        earlier = croniter(self.expression, at.astimezone(self.zone) + timedelta(seconds=1))
        try:
            start: datetime = earlier.get_prev(datetime)
        except CroniterBadDateError:  # a date that never comes, such as 31 February
            return None
        return start if start <= at else None

    def starts(self, begin: datetime, end: datetime) -> Iterator[datetime]:
        later = croniter(self.expression, begin.astimezone(self.zone) - timedelta(seconds=1))
        try:
            while (start := later.get_next(datetime)) <= end:
                yield start
        except CroniterBadDateError:
            return


@dataclass(frozen=True)
class CalendarSchedule:
    """A timer's ``OnCalendar=`` expressions.

    Within the span of the host's own listed elapses (``systemd-analyze calendar --base-time=...
    --iterations=N``) those are the starts; elsewhere the parser's.
    """

    expressions: tuple[str, ...]
    specs: tuple[CalendarSpec, ...]
    zone: tzinfo
    listed: tuple[datetime, ...] = ()  # sorted

    @property
    def description(self) -> str:
        return f"timer `{'; '.join(self.expressions)}`"

    def _in_listed_span(self, moment: datetime) -> bool:
        return bool(self.listed) and self.listed[0] <= moment <= self.listed[-1]

    def _parsed_last(self, at: datetime) -> datetime | None:
        found = [s for spec in self.specs if (s := spec.previous_elapse(at, self.zone)) is not None]
        return max(found) if found else None

    def last_start(self, at: datetime) -> datetime | None:
        index = bisect_right(self.listed, at)
        if index == 0:
            return self._parsed_last(at)
        if index < len(self.listed):
            return self.listed[index - 1]
        parsed = self._parsed_last(at)
        return self.listed[-1] if parsed is None else max(parsed, self.listed[-1])

    def _parsed_starts(self, begin: datetime, end: datetime) -> Iterator[datetime]:
        streams = [spec.elapses_after(begin - timedelta(microseconds=1), self.zone) for spec in self.specs]
        for start in heapq.merge(*streams):
            if start > end:
                return
            if not self._in_listed_span(start):
                yield start

    def starts(self, begin: datetime, end: datetime) -> Iterator[datetime]:
        listed = [s for s in self.listed if begin <= s <= end]
        previous = None
        for start in heapq.merge(self._parsed_starts(begin, end), listed):
            if start != previous:
                yield start
            previous = start

    def disagreement(self) -> str | None:
        """Where the parser and the host's systemd disagree on the listed elapses, said in one line."""
        if not self.listed:
            return None
        streams = [
            spec.elapses_after(self.listed[0] - timedelta(microseconds=1), self.zone) for spec in self.specs
        ]
        for host_time, parsed in zip(self.listed, heapq.merge(*streams), strict=False):
            if parsed != host_time:
                return f"host systemd: {host_time.isoformat()}, parser: {parsed.isoformat()}"
        return None


@dataclass(frozen=True)
class HostJobs:
    """What one host schedules, in which zone, and its own ``systemd-analyze calendar`` answers if any."""

    host: str
    jobs: tuple[ScheduledJob, ...]
    zone: tzinfo = UTC
    analyzed: Mapping[str, AnalyzedCalendar] = field(default_factory=dict)  # by original expression


def schedule_of(job: ScheduledJob, host: HostJobs) -> Schedule:
    """The job's schedule on ``host``; InputError, naming its source, when it cannot be placed in time."""
    if job.kind == "cron":
        expression = (job.schedule or "").strip()
        if expression.lower() == "@reboot":
            raise InputError(job.source, "runs at boot only, not on a schedule")
        if not croniter.is_valid(expression):
            raise InputError(job.source, f"invalid cron schedule {expression!r}")
        return CronSchedule(expression, host.zone)
    if job.enabled is False:
        raise InputError(job.source, "timer is disabled")
    if not job.on_calendar:
        raise InputError(job.source, "no OnCalendar= schedule (monotonic timers cannot be placed in time)")
    answers = [host.analyzed.get(expression) for expression in job.on_calendar]
    specs = tuple(
        parse_calendar(answer.normalized if answer and answer.normalized else expression, job.source)
        for expression, answer in zip(job.on_calendar, answers, strict=True)
    )
    # The host's listed elapses stand for the timer only when they answer every one of its expressions.
    listed = {e for a in answers for e in a.elapses} if all(answers) else set()
    return CalendarSchedule(job.on_calendar, specs, host.zone, tuple(sorted(listed)))
