"""Change windows: when a remediation may start work, and how long it has left.

Two kinds of ``--window`` spec, each in an explicit time zone:

- weekly, in wall-clock time: ``Sat 02:00-04:00 Europe/Paris``, ``Mon-Fri 22:00-02:00`` (an end at or before
  the start crosses midnight; the days name the day the window opens), days as names, ranges or lists
  (``Sat,Sun``, ``Fri-Mon``);
- one ISO 8601 interval: ``2026-11-28T02:00+01:00/2026-11-28T04:00+01:00``, ``2026-11-28T02:00Z/PT2H`` or
  ``PT2H/2026-11-28T04:00Z``.

The zone comes from a suffix or ``--tz`` (an ISO time with an offset needs neither). Nothing is assumed:
a spec without a zone is refused, and UTC applies only when the spec says ``UTC`` or ``Z``.

Wall-clock times that a DST change skips or repeats resolve as RFC 5545 resolves them, which is also what
Python's ``fold=0`` does: a skipped time reads with the offset before the change (02:30 on a spring-forward
night becomes 03:30), a repeated one means its first occurrence. So ``Sun 02:00-04:00`` lasts one real hour on
the spring-forward night and three on the fall-back night; an occurrence that DST leaves empty is skipped.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleetfix.errors import InputError

WINDOW_VAR = "fleetfix_change_window"
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
_UTC_NAMES = frozenset({"UTC", "Z"})

_Fail = Callable[[str], InputError]


@dataclass(frozen=True)
class OpenWindow:
    """One occurrence of a window, as two aware instants."""

    start: datetime
    end: datetime

    def remaining(self, now: datetime) -> timedelta:
        return max(self.end - now, timedelta(0))

    @property
    def length(self) -> timedelta:
        return self.end - self.start


class Window(ABC):
    """A change window: a rule that yields occurrences in time order."""

    @property
    @abstractmethod
    def spec(self) -> str:
        """The canonical spec, zone included: ``parse_window(w.spec) == w``."""

    @abstractmethod
    def occurrences(self, after: datetime) -> Iterator[OpenWindow]:
        """Every occurrence that ends after ``after``, in time order (may be endless)."""

    def current(self, now: datetime) -> OpenWindow | None:
        """The occurrence containing ``now``, if the window is open."""
        _require_aware(now)
        first = next(self.occurrences(now), None)
        return first if first is not None and first.start <= now else None

    def next_open(self, now: datetime) -> OpenWindow | None:
        """The first occurrence opening strictly after ``now``; None when there is none (a past interval)."""
        _require_aware(now)
        return next((o for o in self.occurrences(now) if o.start > now), None)

    def remaining(self, now: datetime) -> timedelta:
        """Time left in the open occurrence; zero when the window is closed."""
        open_now = self.current(now)
        return open_now.remaining(now) if open_now else timedelta(0)

    def __str__(self) -> str:
        return self.spec


@dataclass(frozen=True)
class WeeklyWindow(Window):
    days: frozenset[int]  # 0 = Monday, as date.weekday()
    start: time
    end: time  # at or before start: the window ends the next day
    zone: str

    @property
    def spec(self) -> str:
        return f"{_days_text(self.days)} {self.start:%H:%M}-{self.end:%H:%M} {self.zone}"

    def occurrences(self, after: datetime) -> Iterator[OpenWindow]:
        _require_aware(after)
        zone = ZoneInfo(self.zone)
        day = after.astimezone(zone).date() - timedelta(days=1)  # yesterday's may still be open
        crosses = self.end <= self.start
        while True:
            if day.weekday() in self.days:
                opened = _wall(day, self.start, zone)
                closed = _wall(day + timedelta(days=1) if crosses else day, self.end, zone)
                if closed > opened and closed > after:
                    yield OpenWindow(opened, closed)
            day += timedelta(days=1)


@dataclass(frozen=True)
class FixedWindow(Window):
    start: datetime  # UTC
    end: datetime  # UTC
    shown: tzinfo = field(compare=False)  # the zone or offset the spec was written in, for display

    @property
    def spec(self) -> str:
        precision = "minutes" if all(t.second == 0 for t in (self.start, self.end)) else "seconds"
        text = "/".join(
            t.astimezone(self.shown).isoformat(timespec=precision) for t in (self.start, self.end)
        )
        return f"{text} {self.shown.key}" if isinstance(self.shown, ZoneInfo) else text

    def occurrences(self, after: datetime) -> Iterator[OpenWindow]:
        _require_aware(after)
        if self.end > after:
            yield OpenWindow(self.start, self.end)


def parse_window(
    spec: str, tz: str | None = None, source: str = "--window", field: str | None = None
) -> Window:
    """A ``Window`` from a spec and an optional ``--tz`` zone; a bad spec raises ``InputError(source)``."""

    def fail(message: str) -> InputError:
        return InputError(source, f"{spec!r}: {message}", field=field)

    words = spec.split()
    if not words:
        raise InputError(source, "empty window spec", field=field)
    interval = "/" in words[0]
    if len(words) > (2 if interval else 3) or (not interval and len(words) < 2):
        raise fail("expected 'DAYS HH:MM-HH:MM ZONE' or an ISO 8601 interval 'START/END' or 'START/PT2H'")
    suffix = words[-1] if len(words) == (2 if interval else 3) else None
    zone = _zone_name(suffix, tz, fail)
    if interval:
        return _interval(words[0], zone, fail)
    days = _days(words[0], fail)
    start, end = _clock_range(words[1], fail)
    if zone is None:
        raise fail("a time zone is required: add one (e.g. 'Europe/Paris' or 'UTC') or give --tz")
    return WeeklyWindow(days, start, end, zone)


def window_for_run(
    spec: str | None, tz: str | None, host_vars: Mapping[str, Mapping[str, object]]
) -> Window | None:
    """The run's window: ``--window`` when given (it overrides inventory), else the hosts' shared one.

    ``host_vars`` maps each targeted host to its variables as the inventory resolves them (group vars
    merged), so ``fleetfix_change_window`` set on a group reaches its hosts. Every host must agree: a run
    spanning two windows, or hosts with a window beside hosts without, is refused rather than guessed.
    """
    if spec is not None:
        return parse_window(spec, tz)
    by_window: dict[Window | None, list[str]] = {}
    for host, variables in host_vars.items():
        raw = variables.get(WINDOW_VAR)
        if raw is not None and (not isinstance(raw, str) or not raw.strip()):
            raise InputError(
                host, "expected a window spec such as 'Sat 02:00-04:00 Europe/Paris'", field=WINDOW_VAR
            )
        window = parse_window(raw, tz, source=host, field=WINDOW_VAR) if raw is not None else None
        by_window.setdefault(window, []).append(host)
    if len(by_window) > 1:
        groups = "; ".join(
            f"{', '.join(sorted(hosts)[:3])}{' ...' if len(hosts) > 3 else ''}: {w.spec if w else 'none'}"
            for w, hosts in sorted(by_window.items(), key=lambda item: item[0].spec if item[0] else "")
        )
        raise InputError(
            WINDOW_VAR, f"the targeted hosts disagree ({groups}); give --window or limit the run"
        )
    return next(iter(by_window), None)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: window arithmetic needs an aware time")


def _wall(day: date, clock: time, zone: tzinfo) -> datetime:
    """A wall-clock reading in ``zone`` as a UTC instant; fold=0 reads skipped and repeated times as RFC 5545.

    Kept in UTC because Python compares and subtracts two datetimes sharing one tzinfo by their wall clocks.
    """
    return datetime.combine(day, clock, zone).astimezone(UTC)


def _zone_name(suffix: str | None, tz: str | None, fail: _Fail) -> str | None:
    names = {_check_zone(name, label, fail) for name, label in ((suffix, "zone"), (tz, "--tz")) if name}
    if len(names) > 1:
        raise fail(f"zone {suffix!r} conflicts with --tz {tz!r}")
    return names.pop() if names else None


def _check_zone(name: str, label: str, fail: _Fail) -> str:
    if name.upper() in _UTC_NAMES:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name longer than a file name
        raise fail(f"unknown time zone {name!r} ({label}; an IANA name such as 'Europe/Paris')") from None
    return name


def _day(word: str, fail: _Fail) -> int:
    lowered = word.lower()
    for index, (short, full) in enumerate(zip(DAY_NAMES, _FULL_DAY_NAMES, strict=True)):
        if lowered in (short.lower(), full):
            return index
    raise fail(f"unknown day {word!r}")


def _days(text: str, fail: _Fail) -> frozenset[int]:
    days: set[int] = set()
    for item in text.split(","):
        first, dash, last = item.partition("-")
        if not first or (dash and not last):
            raise fail(f"bad day list {text!r} (e.g. 'Sat', 'Mon-Fri', 'Sat,Sun')")
        begin = _day(first, fail)
        finish = _day(last, fail) if dash else begin
        days.update((begin + step) % 7 for step in range((finish - begin) % 7 + 1))
    return frozenset(days)


def consecutive_runs(values: frozenset[int]) -> list[list[int]]:
    """Sorted values grouped into runs of consecutive numbers: {0, 1, 2, 5} -> [[0, 1, 2], [5]]."""
    runs: list[list[int]] = []
    for value in sorted(values):
        if runs and runs[-1][-1] == value - 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return runs


def _days_text(days: frozenset[int]) -> str:
    runs = consecutive_runs(days)
    return ",".join(DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}" for r in runs)


def _clock(text: str, fail: _Fail, end: bool) -> time:
    match = _CLOCK.fullmatch(text)
    if not match:
        raise fail(f"bad time {text!r} (expected HH:MM)")
    hours, minutes = int(match[1]), int(match[2])
    if end and (hours, minutes) == (24, 0):
        return time(0)
    if hours > 23 or minutes > 59:
        raise fail(f"bad time {text!r} (hours 00-23, minutes 00-59)")
    return time(hours, minutes)


def _clock_range(text: str, fail: _Fail) -> tuple[time, time]:
    first, dash, last = text.partition("-")
    if not dash:
        raise fail(f"bad time range {text!r} (expected HH:MM-HH:MM)")
    start, end = _clock(first, fail, end=False), _clock(last, fail, end=True)
    if start == end:
        raise fail(f"time range {text!r} is empty or a whole day; a window must be shorter than 24 hours")
    return start, end


def _duration(text: str, fail: _Fail) -> timedelta:
    match = _DURATION.fullmatch(text)
    if not match or not any(match.groups()):
        raise fail(f"bad ISO 8601 duration {text!r} (e.g. PT2H, PT90M, P1DT4H; no years or months)")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def _instant(text: str, zone: tzinfo | None, fail: _Fail) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"bad ISO 8601 date-time {text!r}") from None
    if moment.tzinfo is None:
        if zone is None:
            raise fail(
                f"{text!r} has no offset: a time zone is required (add 'Z', an offset, a zone, or --tz)"
            )
        moment = moment.replace(tzinfo=zone)
    return moment


def _interval(text: str, zone: str | None, fail: _Fail) -> FixedWindow:
    """START/END, START/DURATION or DURATION/END. As ISO 8601 allows, END may omit the offset (START's
    applies) or the date (``.../04:00``: START's date).

    Durations are elapsed time (computed in UTC), so ``PT2H`` across a DST change still lasts two hours.
    """
    first, _, last = text.partition("/")
    if "/" in last or not first or not last:
        raise fail("an ISO 8601 interval is START/END, START/DURATION or DURATION/END")
    named = ZoneInfo(zone) if zone else None
    if first.startswith("P"):
        end = _instant(last, named, fail)
        start = end.astimezone(UTC) - _duration(first, fail)
    else:
        start = _instant(first, named, fail)
        if last.startswith("P"):
            end = start.astimezone(UTC) + _duration(last, fail)
        else:
            if "T" not in last and ":" in last:  # ISO 8601's abbreviated end: a time on START's date
                last = f"{start.date().isoformat()}T{last}"
            end = _instant(last, named or start.tzinfo, fail)
    if end.astimezone(UTC) <= start.astimezone(UTC):
        raise fail("the interval ends before it starts")
    shown = named or (start if not first.startswith("P") else end).tzinfo
    return FixedWindow(start.astimezone(UTC), end.astimezone(UTC), shown)
