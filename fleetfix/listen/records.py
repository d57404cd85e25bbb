"""Extended netconsole records: the header of each datagram, and a fragmented record put back together.

A record is ``[release,]<level>,<seq>,<timestamp_us>,<flags>[,ncfrag=<offset>/<total>];<text>`` (kernel
Documentation/networking/netconsole.rst); its fragments share the sequence number and total size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXTENDED = re.compile(
    rb"(?:[^,;\s]{1,64},)?(\d{1,3}),(\d{1,20}),(\d{1,20}),[^,;]{0,8}((?:,[^,;]{0,64}){0,8});"
)
FRAGMENT = re.compile(rb",ncfrag=(\d{1,9})/(\d{1,9})")


@dataclass
class Record:
    """A fragmented extended record being put back together."""

    stamp: bytes
    total: int
    first_seen: float
    pieces: dict[int, bytes]
    held: int = 0  # bytes in pieces; overlapping pieces could otherwise hold far more than ``total``


def assemble(record: Record) -> bytes | None:
    """The whole record once its pieces cover 0..total without a gap, else None."""
    if record.held < record.total:
        return None
    whole, end = [], 0
    for offset in sorted(record.pieces):
        if offset > end:
            return None
        piece = record.pieces[offset][end - offset :]
        whole.append(piece)
        end += len(piece)
    return b"".join(whole) if end == record.total else None
