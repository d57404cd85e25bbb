"""One crash per event, whichever sources saw it: kdump's kernel log, a netconsole receiver, pstore records.

Sample input: three crashes read from three files of one host::

    host-a  crash/202612051403/dmesg.202612051403     [105.480845] Kernel panic  14:02:58 dump directory
    host-a  netconsole/10.0.0.5_6666.log              [105.480845] Kernel panic  14:02:57 log prefix
    host-a  pstore/archive/1764943377/001/dmesg-efi-  [105.480845] (head lost)   14:02:57 pstore record

are one crash, timed by its best source, its whole report from the most complete one, listing all three.

Two reports are the same event when they come from the same host and (a) share a kernel ``[seconds]``
stamp (of the report or of one folded into it), which every copy of one kernel log line carries, or (b) have
the same signature and one of them has no stamp; and, when both are timed, their times are within ``WINDOW``
of each other. A stamp alone would join two boots' crashes that happened at the same uptime; the window keeps
them apart. Signatures need not agree under (a): a pstore record holds the tail of the log that fit it, so its
copy of a report may have lost the head that names the RIP.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from fleetfix.triage.group import Crash

WINDOW = timedelta(minutes=10)
# How good a crash's time is: a line's own prefix, then the moment a pstore record was written (the panic's
# second), then the kdump directory's name (the capture kernel's clock, a minute or so later), then none.
BASIS_RANK = {"log prefix": 0, "pstore record": 1, "dump directory": 2, "unknown": 3}


def same_event(kept: Crash, other: Crash) -> bool:
    if kept.host != other.host:
        return False
    if kept.time is not None and other.time is not None and abs(kept.time - other.time) > WINDOW:
        return False
    mine, theirs = stamps(kept), stamps(other)
    if mine and theirs:
        # within one file, two reports at one stamp are two reports unless they are the same one
        return bool(mine & theirs) and (other.source not in kept.sources or kept.key == other.key)
    return kept.key == other.key


def stamps(crash: Crash) -> frozenset[float]:
    """The ``[seconds]`` stamps of a crash's reports: its primary one and those folded into it (a truncated
    copy may start at the panic that the whole copy holds as a consequence)."""
    found = {crash.oops.timestamp, *(r.timestamp for r in crash.oops.related)}
    found.discard(None)
    return frozenset(found)  # type: ignore[arg-type]


def _completeness(crash: Crash) -> tuple[bool, int, int]:
    oops = crash.oops
    return oops.rip is not None, len(oops.call_trace), len(oops.modules_linked_in)


def combine(kept: Crash, other: Crash) -> Crash:
    """The one crash two copies make: the better time, the fuller report, every source."""
    timed = min((kept, other), key=lambda c: BASIS_RANK.get(c.time_basis, len(BASIS_RANK)))
    fuller = max((kept, other), key=_completeness)
    sources = tuple(dict.fromkeys((*kept.sources, *other.sources)))
    return dataclasses.replace(
        timed,
        oops=fuller.oops,
        signature=fuller.signature,
        also_seen_in=tuple(s for s in sources if s != timed.source),
    )
