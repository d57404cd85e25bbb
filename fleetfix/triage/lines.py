"""Kernel log lines split into the times their prefixes carry and the kernel's own text.

Lines may carry a syslog or journald prefix (``Jul 30 15:28:52 host kernel:``, no year; ``journalctl -o
short-precise`` adds microseconds; a month name in another language is stripped but not dated; OpenWrt's
``Sun Sep  1 19:30:19 2019 kern.warn kernel:`` carries its year), an RFC 5424 syslog header (``<4>1
2024-05-01T10:00:00.123+02:00 host kernel - - -``), an ISO-8601 prefix (rsyslog, ``journalctl -o
short-iso``, or the netconsole receiver's ``2026-11-25T01:12:03.123456+00:00``), a ``dmesg -T`` stamp
(``[Mon Jan  2 03:04:05 2023]``), a netconsole extended header (``6,1234,5678901,-;``: level, sequence,
microseconds since boot), a ``[ seconds]`` stamp (with an optional ``<level>`` before it and a
``[Tpid]``/``[Ccpu]`` caller id after it), or nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_SYSLOG_PREFIX = re.compile(
    r"(?:<\d{1,3}>)?([^\W\d_]{3,5}\.?) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?: (\d{4}))? "
    r"(?:\S+ )?(?:kern\.\w+ )?kernel(?:\[\d+\])?: ?"
)
_WEEKDAY_PREFIX = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?=\w{3} +\d{1,2} \d\d:\d\d:\d\d \d{4} )")
_RFC5424 = re.compile(
    r"(?:<\d{1,3}>)?1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)) \S+ kernel "
    r"\S+ \S+ (?:-|(?:\[(?:[^\]\\\\]|\\\\.)*\])+) ?"
)
_DMESG_T = re.compile(r"(?:<\d>)?\[((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} +\d{1,2} \d\d:\d\d:\d\d \d{4})\] ?")
_EXTENDED = re.compile(r"\d{1,3},\d+,(\d+),[-c+][^;]*;")
_ISO_PREFIX = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:?\d\d)?) "
    r"(?:[^\s\[]\S* kernel(?:\[\d+\])?: ?)?"
)
_STAMP = re.compile(r"(?:<\d>)?\[ *(\d+\.\d+)\](?:\[ *[CT]\d+\])? ?")


@dataclass(frozen=True)
class Line:
    """A log line split into its prefix times and the kernel's text (leading blanks kept: they matter)."""

    wallclock: datetime | None
    seconds: float | None
    body: str
    prefixed: bool = False  # a prefix or stamp was found: an unprefixed line after it may be its wrap


def split_prefix(raw: str, reference_year: int | None = None) -> Line:
    """Strip a syslog/journald, ISO-8601 or netconsole-receiver prefix and a ``[ seconds]`` stamp.

    A syslog or journald prefix has no year: it is dated in ``reference_year``, or not at all when None.
    """
    wallclock, pos = None, 0
    weekday = _WEEKDAY_PREFIX.match(raw)
    syslog = _SYSLOG_PREFIX.match(raw, weekday.end() if weekday else 0)
    if syslog:
        pos = syslog.end()
        wallclock = _syslog_time(syslog, reference_year)
    elif raw[:1].isdigit() or raw[:1] == "<":
        for pattern in (_RFC5424, _ISO_PREFIX):
            iso = pattern.match(raw)
            if iso:
                pos, wallclock = iso.end(), _iso_time(iso.group(1))
                break
        else:
            extended = _EXTENDED.match(raw)
            if extended:
                return Line(None, int(extended.group(1)) / 1e6, raw[extended.end() :], True)
    if pos == 0 and raw[:1] in (" ", "\t"):  # a stamped line indented by a commit message or a quote
        indent = len(raw) - len(raw.lstrip(" \t"))
        if _STAMP.match(raw, indent):
            pos = indent
    if raw[pos : pos + 1] in ("[", "<"):
        shown = _DMESG_T.match(raw, pos)
        if shown:
            try:
                wallclock = datetime.strptime(" ".join(shown.group(1).split()), "%a %b %d %H:%M:%S %Y")
            except ValueError:
                wallclock = None
            return Line(wallclock, None, raw[shown.end() :], True)
        stamp = _STAMP.match(raw, pos)
        if stamp:
            return Line(wallclock, float(stamp.group(1)), raw[stamp.end() :], True)
    return Line(wallclock, None, raw[pos:], pos > 0)


def _syslog_time(match: re.Match[str], reference_year: int | None) -> datetime | None:
    """A syslog prefix's time; None for a month name not in English, or with no year known."""
    month = _MONTHS.get(match.group(1))
    year = int(match.group(7)) if match.group(7) else reference_year
    if month is None or year is None:
        return None
    day, hh, mm, ss = map(int, match.group(2, 3, 4, 5))
    micro = int((match.group(6) or "0").ljust(6, "0"))
    try:
        return datetime(year, month, day, hh, mm, ss, micro)
    except ValueError:  # "Feb 30", or Feb 29 in a common year
        return None


def _iso_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
