"""Parsing ``OnCalendar=`` text into a ``CalendarSpec``, with the errors and bounds systemd applies.

Follows systemd.time(7): ``[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [TIMEZONE]``, where every
date and time component is ``*`` or a comma list of values, ``a..b`` ranges and ``/n`` repetitions
(``*:0/15`` is every quarter hour), weekdays are English names with ``,`` lists and ``..`` ranges,
``MONTH~DAY`` counts the day back from the end of the month (``*-02~03`` is the third last day of
February, ``Mon *-05~07/1`` the last Monday of May), seconds may carry six decimals, a two-digit year is
19xx or 20xx, ``@SECONDS`` is one instant, and the shorthands ``minutely`` ... ``semiannually`` stand for
their normalized forms. A trailing ``UTC`` or IANA zone name pins the expression to that zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleetfix.errors import InputError
from fleetfix.triage.calendar.spec import MAX_YEAR, MIN_YEAR, USEC, CalendarSpec, Chain, Component

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
