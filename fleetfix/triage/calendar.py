"""systemd calendar events (``OnCalendar=``): parse, normalize, and find the elapses around an instant.

Follows systemd.time(7): ``[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [TIMEZONE]``, where every
date and time component is ``*`` or a comma list of values, ``a..b`` ranges and ``/n`` repetitions
(``*:0/15`` is every quarter hour), weekdays are English names with ``,`` lists and ``..`` ranges,
``MONTH~DAY`` counts the day back from the end of the month (``*-02~03`` is the third last day of
February, ``Mon *-05~07/1`` the last Monday of May), seconds may carry six decimals, a two-digit year is
19xx or 20xx, and the shorthands ``minutely`` ... ``semiannually`` stand for their normalized forms.
A trailing ``UTC`` or IANA zone name pins the expression to that zone; otherwise it runs in the host's zone.

Elapses are found as systemd does: a wall-clock time that a daylight-saving change skips does not elapse,
and one the change repeats elapses once, at its first instant.

``parse_analyze_calendar`` reads the host's own ``systemd-analyze calendar --iterations=N`` output instead.
"""

from __future__ import annotations

import calendar as _gregorian
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleetfix.errors import InputError
from fleetfix.window import consecutive_runs

MIN_YEAR, MAX_YEAR = 1970, 2199
USEC = 1_000_000
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_NUMBERS = {name: n for n, day in enumerate(_DAY_NAMES) for name in (day, day[:3])}
_SHORTHANDS = {
    "minutely": "*-*-* *:*:00",
    "hourly": "*-*-* *:00:00",
    "daily": "*-*-* 00:00:00",
    "monthly": "*-*-01 00:00:00",
    "weekly": "Mon *-*-* 00:00:00",
    "yearly": "*-01-01 00:00:00",
    "annually": "*-01-01 00:00:00",
    "anually": "*-01-01 00:00:00",
    "quarterly": "*-01,04,07,10-01 00:00:00",
    "semiannually": "*-01,07-01 00:00:00",
    "semi-annually": "*-01,07-01 00:00:00",
    "biannually": "*-01,07-01 00:00:00",
    "bi-annually": "*-01,07-01 00:00:00",
}
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*", re.ASCII)
_ITEM = re.compile(
    r"(\d{1,10})(?:\.(\d+))?(?:\.\.(\d{1,10})(?:\.(\d+))?)?(?:/(\d{1,10})(?:\.(\d+))?)?", re.ASCII
)


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


def parse_calendar(text: str, source: str = "OnCalendar") -> CalendarSpec:
    """Parse one ``OnCalendar=`` expression; InputError names ``source`` and what is wrong."""
    try:
        return _Parser(text).spec()
    except _Invalid as exc:
        raise InputError(source, f"invalid calendar expression {text!r}: {exc}") from None


class _Invalid(Exception):
    pass


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text

    def spec(self) -> CalendarSpec:
        body, zone = _split_zone(self.text.strip())
        if not body:
            raise _Invalid("empty")
        body = _SHORTHANDS.get(body.lower(), body)
        weekdays, rest = self.weekdays(body)
        tokens = rest.split()
        if len(tokens) > 2 or (not tokens and weekdays is None):
            raise _Invalid("expected [WEEKDAYS] [DATE] [TIME]")
        if tokens and tokens[0].startswith("@"):
            if len(tokens) > 1:
                raise _Invalid("nothing may follow @SECONDS")
            return self.timestamp(tokens[0][1:], weekdays)
        if len(tokens) == 2 and ":" in tokens[0]:
            raise _Invalid("expected DATE TIME")
        date_token, time_token = (tokens[0], tokens[1]) if len(tokens) == 2 else (None, None)
        if len(tokens) == 1:
            date_token, time_token = (None, tokens[0]) if ":" in tokens[0] else (tokens[0], None)
        years, months, days, end_of_month = self.date(date_token) if date_token else (None, None, None, False)
        midnight = ((Component(0),), (Component(0),), (Component(0),))
        hours, minutes, seconds = self.time(time_token) if time_token else midnight
        spec = CalendarSpec(
            text=self.text,
            weekdays=weekdays,
            years=_normalize(_fix_years(years)),
            months=_normalize(months),
            days=_normalize(days),
            hours=_normalize(hours),
            minutes=_normalize(minutes),
            seconds=_normalize(seconds),
            end_of_month=end_of_month and days is not None,
            zone=zone,
        )
        _check(spec)
        return spec

    def weekdays(self, body: str) -> tuple[frozenset[int] | None, str]:
        if not body[:1].isalpha():
            return None, body
        head, _, rest = body.partition(" ")
        chosen: set[int] = set()
        items = head.split(",")
        if items[-1] == "":  # a trailing comma is allowed: "Wed, 17:48"
            items.pop()
        if not items:
            raise _Invalid("no weekday before ','")
        for item in items:
            match = re.fullmatch(r"([A-Za-z]+)(?:(?:\.\.|-)([A-Za-z]+))?", item)
            if match is None:
                raise _Invalid(f"bad weekday list {head!r}")
            first = self.weekday(match.group(1))
            last = self.weekday(match.group(2)) if match.group(2) else first
            if last < first:
                raise _Invalid(f"weekday range {item!r} runs backwards")
            chosen.update(range(first, last + 1))
        return (None if len(chosen) == 7 else frozenset(chosen)), rest.strip()

    @staticmethod
    def weekday(name: str) -> int:
        number = _WEEKDAY_NUMBERS.get(name.lower())
        if number is None:
            raise _Invalid(f"unknown weekday {name!r}")
        return number

    def date(self, token: str) -> tuple[Chain, Chain, Chain, bool]:
        pieces = re.split(r"([-~])", token)
        if len(pieces) == 3:
            months, separator, days = pieces
            return None, _chain(months), _chain(days), separator == "~"
        if len(pieces) == 5:
            years, first, months, second, days = pieces
            if first == "~":
                raise _Invalid("'~' may only stand between month and day")
            return _chain(years), _chain(months), _chain(days), second == "~"
        raise _Invalid(f"bad date {token!r}: expected [YEAR-]MONTH-DAY")

    def time(self, token: str) -> tuple[Chain, Chain, Chain]:
        pieces = token.split(":")
        if len(pieces) not in (2, 3):
            raise _Invalid(f"bad time {token!r}: expected HOUR:MINUTE[:SECOND]")
        seconds = _chain(pieces[2], seconds=True) if len(pieces) == 3 else (Component(0),)
        return _chain(pieces[0]), _chain(pieces[1]), seconds

    def timestamp(self, digits: str, weekdays: frozenset[int] | None) -> CalendarSpec:
        if not re.fullmatch(r"\d{1,12}", digits):
            raise _Invalid("@ must be followed by seconds since the epoch")
        try:
            moment = datetime.fromtimestamp(int(digits), UTC)
        except (OverflowError, OSError, ValueError):
            raise _Invalid("@SECONDS out of range") from None
        spec = CalendarSpec(
            text=self.text,
            weekdays=weekdays,
            years=(Component(moment.year),),
            months=(Component(moment.month),),
            days=(Component(moment.day),),
            hours=(Component(moment.hour),),
            minutes=(Component(moment.minute),),
            seconds=(Component(moment.second * USEC),),
            zone="UTC",
        )
        _check(spec)
        return spec


def _split_zone(text: str) -> tuple[str, str | None]:
    """Split a trailing ``UTC`` or IANA zone name off; anything else stays part of the expression."""
    words = text.rsplit(None, 1)
    if len(words) < 2 or not _ZONE_NAME.fullmatch(words[1]):
        return text, None
    head, last = words
    if last.upper() == "UTC":
        return head, "UTC"
    try:
        ZoneInfo(last)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return text, None
    return head, last


def _chain(text: str, seconds: bool = False) -> Chain:
    if text == "*":
        return (Component(0, None, USEC),) if seconds else None
    if not text:
        raise _Invalid("empty component")
    return tuple(_item(item, seconds) for item in text.split(","))


def _item(text: str, seconds: bool) -> Component:
    match = _ITEM.fullmatch(text)
    if match is None:
        raise _Invalid(f"bad value {text!r}")
    start, start_fraction, stop, stop_fraction, repeat, repeat_fraction = match.groups()
    if not seconds and (start_fraction or stop_fraction or repeat_fraction):
        raise _Invalid(f"only seconds may have decimals: {text!r}")
    unit = USEC if seconds else 1
    value = _number(start, start_fraction, unit)
    end = _number(stop, stop_fraction, unit) if stop is not None else None
    every = _number(repeat, repeat_fraction, unit) if repeat is not None else (unit if end is not None else 0)
    if repeat is not None and every == 0:
        raise _Invalid(f"repetition of zero in {text!r}")
    return Component(value, end, every)


def _number(whole: str, fraction: str | None, unit: int) -> int:
    if unit == 1:
        return int(whole)
    micro = (int((fraction or "0")[:7].ljust(7, "0")) + 5) // 10  # six decimals, rounded half up
    return int(whole) * USEC + micro


def _fix_years(chain: Chain) -> Chain:
    """Two-digit years: 0-69 are 20xx, 70-99 are 19xx."""

    def fix(year: int | None) -> int | None:
        if year is None or year >= 100:
            return year
        return year + (2000 if year < 70 else 1900)

    if chain is None:
        return None
    return tuple(Component(fix(c.start), fix(c.stop), c.repeat) for c in chain)  # type: ignore[arg-type]


def _normalize(chain: Chain) -> Chain:
    """Sorted, without duplicates, each range's end pulled back onto its repetition grid."""
    if chain is None:
        return None
    fixed = {
        Component(c.start, c.stop - (c.stop - c.start) % c.repeat, c.repeat)
        if c.stop is not None and c.stop > c.start and c.repeat
        else c
        for c in chain
    }
    return tuple(sorted(fixed, key=lambda c: (c.start, -1 if c.stop is None else c.stop, c.repeat)))


def _check(spec: CalendarSpec) -> None:
    """The bounds systemd enforces; a day counted from the month's end may reach back 28 days at most."""
    limits = (
        ("year", spec.years, MIN_YEAR, MAX_YEAR),
        ("month", spec.months, 1, 12),
        ("day", spec.days, 1, 28 if spec.end_of_month else 31),
        ("hour", spec.hours, 0, 23),
        ("minute", spec.minutes, 0, 59),
        ("second", spec.seconds, 0, 60 * USEC - 1),
    )
    for name, chain, low, high in limits:
        for c in chain or ():
            if not low <= c.start <= high or c.repeat > high - low:
                raise _Invalid(f"{name} out of range")
            if c.stop is not None:
                if not low <= c.stop <= high or c.start + c.repeat > c.stop:
                    raise _Invalid(f"{name} range out of range or backwards")
            elif name == "day" and spec.end_of_month:
                if c.start - c.repeat < low:
                    raise _Invalid("day repetition runs past the end of the month")
            elif c.start + c.repeat > high:
                raise _Invalid(f"{name} repetition never repeats")


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


# --- the host's own answer: `systemd-analyze calendar --iterations=N [--base-time=...] EXPR...` ----------


@dataclass(frozen=True, slots=True)
class AnalyzedCalendar:
    """One expression as the host's systemd sees it: its normalized form and its next elapses (UTC)."""

    original: str
    normalized: str | None
    elapses: tuple[datetime, ...]


# Older systemd labels later elapses "Iter. #2", newer "Iteration #2".
_ANALYZE_KEY = re.compile(
    r"\s*(Original form|Normalized form|Next elapse|\(in UTC\)|From now|Iter(?:\.|ation) #\d+): ?(.*)"
)
_ANALYZE_TIME = re.compile(r"(?:[A-Za-z]{3} )?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)?(?: (\S+))?")


def parse_analyze_calendar(text: str, source: str, zone: tzinfo | None = None) -> list[AnalyzedCalendar]:
    """Each expression's block of ``systemd-analyze calendar`` output.

    A block opens with ``Original form:`` only when the expression differs from its normalized form;
    otherwise with ``Normalized form:``, and the expression is that form. An elapse is printed in the
    host's zone, followed by a ``(in UTC):`` line unless that zone is UTC.
    A local time with no UTC line and no abbreviation ``UTC`` needs the host's ``zone`` to mean anything;
    run the command with ``TZ=UTC LC_ALL=C`` to make the output exact.
    """
    blocks: list[AnalyzedCalendar] = []
    original: str | None = None
    normalized: str | None = None
    elapses: list[datetime] = []
    pending: tuple[int, str, str | None] | None = None  # a local elapse waiting for its "(in UTC)" line

    def settle() -> None:
        nonlocal pending
        if pending is not None:
            number, stamp, abbreviation = pending
            elapses.append(_local_elapse(stamp, abbreviation, zone, source, number))
            pending = None

    def close() -> None:
        settle()
        if original is not None:
            blocks.append(AnalyzedCalendar(original, normalized, tuple(elapses)))

    for number, line in enumerate(text.splitlines(), 1):
        match = _ANALYZE_KEY.match(line)
        if match is None:
            continue
        key, value = match.group(1), match.group(2).strip()
        if key == "Original form":
            close()
            original, normalized, elapses = value, None, []
        elif key == "Normalized form":
            if original is None or normalized is not None:  # a block with no "Original form:" line
                close()
                original, elapses = value, []
            normalized = value
        elif original is None:
            raise InputError(source, f"{key!r} before any 'Normalized form:' line", line=number)
        elif key == "(in UTC)":
            stamp = _ANALYZE_TIME.fullmatch(value)
            if pending is None or stamp is None:
                raise InputError(source, f"unexpected '(in UTC)' line: {value!r}", line=number)
            elapses.append(_utc(stamp.group(1), source, number))
            pending = None
        elif key.startswith(("Next elapse", "Iter")):
            settle()
            if value == "never":
                continue
            stamp = _ANALYZE_TIME.fullmatch(value)
            if stamp is None:
                raise InputError(source, f"unreadable elapse time {value!r}", line=number)
            pending = (number, stamp.group(1), stamp.group(2))
    close()
    if not blocks:
        raise InputError(source, "no 'Normalized form:' line: not systemd-analyze calendar output")
    return blocks


def _utc(stamp: str, source: str, line: int) -> datetime:
    try:
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise InputError(source, f"invalid time {stamp!r}", line=line) from None


def _local_elapse(
    stamp: str, abbreviation: str | None, zone: tzinfo | None, source: str, line: int
) -> datetime:
    if abbreviation in ("UTC", "GMT"):
        return _utc(stamp, source, line)
    if zone is None:
        raise InputError(
            source,
            f"elapse {stamp} {abbreviation or ''} has no UTC equivalent: give the host's time zone",
            line=line,
        )
    wall = _utc(stamp, source, line).replace(tzinfo=None)
    return wall.replace(tzinfo=zone).astimezone(UTC)
