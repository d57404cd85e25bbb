"""Reading the host's own answer: ``systemd-analyze calendar --iterations=N [--base-time=...] EXPR...``.

Each expression's block gives systemd's normalized form and its next elapses, which are taken as UTC
instants; ``calendar_parse`` and ``calendar`` compute the same from the expression itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from fleetfix.errors import InputError


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
