"""Kernel log lines split into the times their prefixes carry and the kernel's own text.

Lines may carry a syslog or journald prefix (``Jul 30 15:28:52 host kernel:``, no year), an ISO-8601 prefix
(rsyslog, ``journalctl -o short-iso``, or the netconsole receiver's ``2026-11-25T01:12:03.123456+00:00``),
a ``[ seconds]`` stamp (with an optional ``<level>`` before it and a ``[Tpid]``/``[Ccpu]`` caller id after
it), or nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_SYSLOG_PREFIX = re.compile(
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? "
    r"\S+ kernel(?:\[\d+\])?: ?"
)
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


def split_prefix(raw: str, reference_year: int | None = None) -> Line:
    """Strip a syslog/journald, ISO-8601 or netconsole-receiver prefix and a ``[ seconds]`` stamp.

    A syslog or journald prefix has no year: it is dated in ``reference_year``, or not at all when None.
    """
    wallclock, pos = None, 0
    syslog = _SYSLOG_PREFIX.match(raw)
    if syslog:
        pos = syslog.end()
        if reference_year is not None:
            month, day, hh, mm, ss = _MONTHS[syslog.group(1)], *map(int, syslog.group(2, 3, 4, 5))
            micro = int((syslog.group(6) or "0").ljust(6, "0"))
            try:
                wallclock = datetime(reference_year, month, day, hh, mm, ss, micro)
            except ValueError:  # "Feb 30", or Feb 29 in a common year
                wallclock = None
    elif raw[:1].isdigit():
        iso = _ISO_PREFIX.match(raw)
        if iso:
            pos = iso.end()
            try:
                wallclock = datetime.fromisoformat(iso.group(1))
            except ValueError:
                wallclock = None
    stamp = _STAMP.match(raw, pos)
    if stamp:
        return Line(wallclock, float(stamp.group(1)), raw[stamp.end() :])
    return Line(wallclock, None, raw[pos:])
