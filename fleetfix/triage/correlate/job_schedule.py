"""When a host's cron job, systemd timer or anacron job starts: its schedule, placed in the host's zone.

The run before a crash starts at the job's last start at or before it: croniter for cron; for
``OnCalendar=``, the host's own ``systemd-analyze calendar`` elapses within their span and ``calendar.py``
elsewhere; for anacron, anacron's own first start inside its hours on a day the job is due, plus the job's
delay. Cron and local-zone timers run in the host's zone; crash times are aware. A schedule whose start is
drawn at random (anacron's ``RANDOM_DELAY``) has a ``spread``: the run may begin that much after its start.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol

from croniter import CroniterBadDateError, croniter

from fleetfix.errors import InputError
from fleetfix.facts.history import Anacron, RunParts, ScheduledJob
from fleetfix.triage.calendar.analyze import AnalyzedCalendar
from fleetfix.triage.calendar.parse import parse_calendar
from fleetfix.triage.calendar.spec import CalendarSpec


class Schedule(Protocol):
    @property
    def description(self) -> str: ...

    @property
    def spread(self) -> timedelta: ...

    def last_start(self, at: datetime) -> datetime | None: ...

    def starts(self, begin: datetime, end: datetime) -> Iterator[datetime]: ...


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    zone: tzinfo

    @property
    def description(self) -> str:
        return f"cron `{self.expression}`"

    @property
    def spread(self) -> timedelta:
        return timedelta(0)

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

    @property
    def spread(self) -> timedelta:
        return timedelta(0)

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
class AnyOf:
    """Several schedules starting one thing (anacron from cron.hourly and from a timer): all their starts."""

    schedules: tuple[Schedule, ...]

    @property
    def description(self) -> str:
        return " or ".join(s.description for s in self.schedules)

    @property
    def spread(self) -> timedelta:
        return max(s.spread for s in self.schedules)

    def last_start(self, at: datetime) -> datetime | None:
        found = [s for schedule in self.schedules if (s := schedule.last_start(at)) is not None]
        return max(found) if found else None

    def starts(self, begin: datetime, end: datetime) -> Iterator[datetime]:
        previous = None
        for start in heapq.merge(*(s.starts(begin, end) for s in self.schedules)):
            if start != previous:
                yield start
            previous = start


# Named anacron periods (cronie's anacron/readtab.c); a job is due on their first day once the host runs.
NAMED_PERIODS = {
    "@daily": "day",
    "@weekly": "week",
    "@monthly": "month",
    "@yearly": "year",
    "@annualy": "year",
}


@dataclass(frozen=True)
class AnacronSchedule:
    """An anacron job: on each day it is due, anacron's first start inside ``hours`` plus ``delay``.

    anacron draws one random delay, 0 to ``RANDOM_DELAY`` minutes, per run and adds it to every job's delay
    (``spread``). A job every N days (``period_days``) is due N days after its last run (``anchor``);
    ``@monthly`` and ``@yearly`` on the first day of a month or year. This is the steady state of a host
    that is up when anacron first starts each day; after downtime anacron catches up later.
    """

    identifier: str
    trigger: Schedule  # when anacron itself starts
    delay: timedelta
    random_delay: timedelta
    hours: tuple[int, int]  # START_HOURS_RANGE: starts from the first hour up to, not including, the second
    zone: tzinfo
    period_days: int = 1
    named: str | None = None  # "month" or "year"
    anchor: date | None = None

    @property
    def description(self) -> str:
        minutes = int(self.delay.total_seconds() // 60)
        spread = int(self.random_delay.total_seconds() // 60)
        every = f"every {self.period_days} days" if self.period_days > 1 else "daily"
        return (
            f"anacron {self.identifier}: {self.named + 'ly' if self.named else every}, {minutes} min after "
            f"anacron's first start in hours {self.hours[0]}-{self.hours[1]} (by {self.trigger.description})"
            + (f", plus 0-{spread} min at random" if spread else "")
        )

    @property
    def spread(self) -> timedelta:
        return self.random_delay

    def _due(self, day: date) -> bool:
        if self.named == "month":
            return day.day == 1
        if self.named == "year":
            return (day.month, day.day) == (1, 1)
        if self.period_days <= 1 or self.anchor is None:
            return True
        return (day - self.anchor).days % self.period_days == 0

    def _start_on(self, day: date) -> datetime | None:
        midnight = datetime.combine(day, time(), self.zone)
        for start in self.trigger.starts(midnight, midnight + timedelta(days=1) - timedelta(microseconds=1)):
            if self.hours[0] <= start.astimezone(self.zone).hour < self.hours[1]:
                return start + self.delay
        return None

    def last_start(self, at: datetime) -> datetime | None:
        day = at.astimezone(self.zone).date()
        for back in range(370):
            candidate = day - timedelta(days=back)
            if self._due(candidate) and (start := self._start_on(candidate)) is not None and start <= at:
                return start
        return None

    def starts(self, begin: datetime, end: datetime) -> Iterator[datetime]:
        day, last = (begin - self.delay).astimezone(self.zone).date(), end.astimezone(self.zone).date()
        while day <= last:
            if self._due(day) and (start := self._start_on(day)) is not None and begin <= start <= end:
                yield start
            day += timedelta(days=1)


@dataclass(frozen=True)
class HostJobs:
    """What one host schedules, in which zone, and its own ``systemd-analyze calendar`` answers if any."""

    host: str
    jobs: tuple[ScheduledJob, ...]
    zone: tzinfo = UTC
    analyzed: Mapping[str, AnalyzedCalendar] = field(default_factory=dict)  # by original expression
    anacron: Anacron | None = None
    run_parts: RunParts | None = None  # the scripts in the directories run-parts is given


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
