"""The systemd calendar event model (``OnCalendar=``): a parsed expression, its normalized form, and the
elapses around an instant.

A ``CalendarSpec`` holds one chain of ``Component`` values per date and time field (``None``: any value),
with seconds kept in microseconds; a day may be counted back from the end of the month (``MONTH~DAY``).
An expression pinned to ``UTC`` or an IANA zone runs in that zone; otherwise it runs in the host's zone.

Elapses are found as systemd does: a wall-clock time that a daylight-saving change skips does not elapse,
and one the change repeats elapses once, at its first instant.
"""

from __future__ import annotations

import calendar as _gregorian
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo

from fleetfix.plan.window import consecutive_runs

MIN_YEAR, MAX_YEAR = 1970, 2199
USEC = 1_000_000
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class Component:
    """``start``, or ``start..stop``, optionally repeating every ``repeat`` (0: no repetition).

    A range without ``/n`` repeats every unit (every second, in microseconds, for the seconds field).
    """

    start: int
    stop: int | None = None
    repeat: int = 0

    def next_from(self, value: int) -> int | None:
        """The smallest value this component matches that is at least ``value``."""
        if self.start >= value:
            return self.start
        if not self.repeat:
            return None
        found = self.start + -(-(value - self.start) // self.repeat) * self.repeat
        return found if self.stop is None or found <= self.stop else None

    def previous_from(self, value: int) -> int | None:
        """The largest value this component matches that is at most ``value``."""
        if self.start > value:
            return None
        if not self.repeat:
            return self.start
        found = self.start + (value - self.start) // self.repeat * self.repeat
        return found if self.stop is None else min(found, self.stop)


Chain = tuple[Component, ...] | None  # None: any value


def _next(chain: Chain, value: int, high: int) -> int | None:
    if value > high:
        return None
    if chain is None:
        return value
    found = [v for c in chain if (v := c.next_from(value)) is not None and v <= high]
    return min(found) if found else None


def _previous(chain: Chain, value: int, low: int) -> int | None:
    if value < low:
        return None
    if chain is None:
        return value
    found = [v for c in chain if (v := c.previous_from(value)) is not None]
    return max(found) if found else None


@dataclass(frozen=True, slots=True)
class CalendarSpec:
    """A parsed calendar event. Seconds are kept in microseconds."""

    text: str
    weekdays: frozenset[int] | None  # 0 = Monday; None: any day
    years: Chain
    months: Chain
    days: Chain
    hours: Chain
    minutes: Chain
    seconds: Chain
    end_of_month: bool = False
    zone: str | None = None  # "UTC" or an IANA name given in the expression; None: the host's zone

    def normalized(self) -> str:
        """The normalized form ``systemd-analyze calendar`` prints."""
        parts = [_format_weekdays(self.weekdays)] if self.weekdays is not None else []
        day_separator = "~" if self.end_of_month else "-"
        parts.append(
            f"{_format_chain(self.years, 4)}-{_format_chain(self.months, 2)}"
            f"{day_separator}{_format_chain(self.days, 2)}"
        )
        parts.append(
            f"{_format_chain(self.hours, 2)}:{_format_chain(self.minutes, 2)}:{_format_seconds(self.seconds)}"
        )
        if self.zone:
            parts.append(self.zone)
        return " ".join(parts)

    def _days_in(self, year: int, month: int) -> tuple[Chain, int]:
        last = _gregorian.monthrange(year, month)[1]
        if not self.end_of_month or self.days is None:
            return self.days, last
        counted = tuple(
            Component(last - c.start + 1, None, c.repeat)
            if c.stop is None
            else Component(last - c.stop + 1, last - c.start + 1, c.repeat)
            for c in self.days
        )
        return counted, last

    def _dates_forward(self, first: date) -> Iterator[date]:
        start = max(first, date(MIN_YEAR, 1, 1))
        year = _next(self.years, start.year, MAX_YEAR)
        while year is not None:
            month = _next(self.months, start.month if year == start.year else 1, 12)
            while month is not None:
                days, last = self._days_in(year, month)
                day = _next(days, start.day if (year, month) == (start.year, start.month) else 1, last)
                while day is not None:
                    found = date(year, month, day)
                    if self.weekdays is None or found.weekday() in self.weekdays:
                        yield found
                    day = _next(days, day + 1, last)
                month = _next(self.months, month + 1, 12)
            year = _next(self.years, year + 1, MAX_YEAR)

    def _dates_backward(self, first: date) -> Iterator[date]:
        start = min(first, date(MAX_YEAR, 12, 31))
        year = _previous(self.years, start.year, MIN_YEAR)
        while year is not None:
            month = _previous(self.months, start.month if year == start.year else 12, 1)
            while month is not None:
                days, last = self._days_in(year, month)
                day = _previous(days, start.day if (year, month) == (start.year, start.month) else last, 1)
                while day is not None:
                    found = date(year, month, day)
                    if self.weekdays is None or found.weekday() in self.weekdays:
                        yield found
                    day = _previous(days, day - 1, 1)
                month = _previous(self.months, month - 1, 1)
            year = _previous(self.years, year - 1, MIN_YEAR)

    def _times_forward(self, hour: int, minute: int, usec: int) -> Iterator[tuple[int, int, int]]:
        h = _next(self.hours, hour, 23)
        while h is not None:
            m = _next(self.minutes, minute if h == hour else 0, 59)
            while m is not None:
                s = _next(self.seconds, usec if (h, m) == (hour, minute) else 0, 60 * USEC - 1)
                while s is not None:
                    yield h, m, s
                    s = _next(self.seconds, s + 1, 60 * USEC - 1)
                m = _next(self.minutes, m + 1, 59)
            h = _next(self.hours, h + 1, 23)

    def _times_backward(self, hour: int, minute: int, usec: int) -> Iterator[tuple[int, int, int]]:
        h = _previous(self.hours, hour, 0)
        while h is not None:
            m = _previous(self.minutes, minute if h == hour else 59, 0)
            while m is not None:
                s = _previous(self.seconds, usec if (h, m) == (hour, minute) else 60 * USEC - 1, 0)
                while s is not None:
                    yield h, m, s
                    s = _previous(self.seconds, s - 1, 0)
                m = _previous(self.minutes, m - 1, 0)
            h = _previous(self.hours, h - 1, 0)

    def walls_after(self, wall: datetime) -> Iterator[datetime]:
        """Matching wall-clock times (naive) at or after ``wall``, ascending."""
        for day in self._dates_forward(wall.date()):
            since = (
                (wall.hour, wall.minute, wall.second * USEC + wall.microsecond)
                if day == wall.date()
                else (0, 0, 0)
            )
            for h, m, s in self._times_forward(*since):
                yield datetime.combine(day, time(h, m, s // USEC, s % USEC))

    def walls_before(self, wall: datetime) -> Iterator[datetime]:
        """Matching wall-clock times (naive) at or before ``wall``, descending."""
        end = (23, 59, 60 * USEC - 1)
        for day in self._dates_backward(wall.date()):
            until = (
                (wall.hour, wall.minute, wall.second * USEC + wall.microsecond) if day == wall.date() else end
            )
            for h, m, s in self._times_backward(*until):
                yield datetime.combine(day, time(h, m, s // USEC, s % USEC))

    def zone_for(self, host_zone: tzinfo) -> tzinfo:
        if self.zone is None:
            return host_zone
        return UTC if self.zone == "UTC" else ZoneInfo(self.zone)

    def elapses_after(self, after: datetime, host_zone: tzinfo = UTC) -> Iterator[datetime]:
        """Every elapse strictly after the aware instant ``after``, ascending, in the zone it runs in."""
        zone = self.zone_for(host_zone)
        local = after.astimezone(zone)
        for wall in self.walls_after(local.replace(tzinfo=None, fold=0)):
            instant = _instant(wall, zone)
            if instant is not None and instant > after:
                yield instant

    def elapses_before(self, at: datetime, host_zone: tzinfo = UTC) -> Iterator[datetime]:
        """Every elapse at or before the aware instant ``at``, descending, in the zone it runs in."""
        zone = self.zone_for(host_zone)
        local = at.astimezone(zone)
        if local.fold:  # in a repeated hour's second pass: its first pass came earlier, at later wall times
            local += local.replace(fold=0).utcoffset() - local.utcoffset()  # type: ignore[operator]
        for wall in self.walls_before(local.replace(tzinfo=None, fold=0)):
            instant = _instant(wall, zone)
            if instant is not None and instant <= at:
                yield instant

    def next_elapse(self, after: datetime, host_zone: tzinfo = UTC) -> datetime | None:
        return next(self.elapses_after(after, host_zone), None)

    def previous_elapse(self, at: datetime, host_zone: tzinfo = UTC) -> datetime | None:
        """The last elapse at or before ``at``: the start of the run that may contain ``at``."""
        return next(self.elapses_before(at, host_zone), None)


def _instant(wall: datetime, zone: tzinfo) -> datetime | None:
    """The first instant showing ``wall`` in ``zone``; None when a daylight-saving jump skips it."""
    aware = wall.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return aware


def _format_weekdays(days: frozenset[int]) -> str:
    shown = []
    for run in consecutive_runs(days):
        if len(run) >= 3:
            shown.append(f"{WEEKDAYS[run[0]]}..{WEEKDAYS[run[-1]]}")
        else:
            shown.extend(WEEKDAYS[d] for d in run)
    return ",".join(shown)


def _format_chain(chain: Chain, width: int) -> str:
    if chain is None:
        return "*"
    shown = []
    for c in chain:
        text = f"{c.start:0{width}d}"
        if c.stop is not None:
            text += f"..{c.stop:0{width}d}"
        if c.repeat and not (c.stop is not None and c.repeat == 1):
            text += f"/{c.repeat}"
        shown.append(text)
    return ",".join(shown)


def _format_seconds(chain: Chain) -> str:
    if chain == (Component(0, None, USEC),):
        return "*"

    def value(usec: int) -> str:
        whole, micro = divmod(usec, USEC)
        return f"{whole:02d}" + (f".{micro:06d}" if micro else "")

    shown = []
    for c in chain or ():
        text = value(c.start)
        if c.stop is not None:
            text += f"..{value(c.stop)}"
        if c.repeat and not (c.stop is not None and c.repeat == USEC):
            whole, micro = divmod(c.repeat, USEC)
            text += f"/{whole}" + (f".{micro:06d}" if micro else "")
        shown.append(text)
    return ",".join(shown)
