"""Finding reports in a large log fast: fixed-string searches per block, lines parsed only near a report.

Every report carries an anchor: a call trace, a panic line, the header of the crash tool's bt, or the line
of an RCU stall (which may come without a trace). Fixed strings found by str.find scan
a large log far faster than one regular expression, and a few anchors far faster than every marker; the
text up to ``_LOOKBACK`` before an anchor is then searched for the marker that opened its report, and from
there the ``Scanner`` reads line by line with its anchored rules. So a report is a report because it has
an anchor: a lone "BUG:" line with nothing after it is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from fleetfix.triage.oops.model import Oops

if TYPE_CHECKING:
    from fleetfix.triage.oops.scanner import Scanner

# " Trace:" finds "Call Trace:" (and 2.6's "Call Trace:<addr>{...}"): bytes.find skips through a log far
# faster for some patterns than others, and these were the fastest of their kind on dmesg text. Hung tasks
# and lockups print a call trace; an RCU stall may print none.
ANCHORS = (" Trace:", " trace:", "Kernel panic - not syncing", 'COMMAND: "', "detected stall")
MARKERS = (
    "cut here ]",
    "BUG: ",
    "BUG at ",
    "WARNING: ",
    "general protection fault",
    "invalid opcode: ",
    "Oops: ",
    "Kernel panic - not syncing",
    "Unable to handle kernel",
    "blocked for more than",
    "detected stall",
    "hard LOCKUP",
    "Internal error: ",
    "illegal operation: ",
    'COMMAND: "',
)
_ANCHOR_BYTES = tuple(anchor.encode() for anchor in ANCHORS)
_MARKER_BYTES = tuple(marker.encode() for marker in MARKERS)
_LOOKBACK = 1 << 15  # a report's opening line comes at most this far before its anchor
_BLOCK = 1 << 20  # small pieces (lines) are gathered into blocks of this size before scanning


class BlockReader:
    """Finds the reports in successive blocks of a log; keeps what a report may need of the last block."""

    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner
        self.carry: str | bytes = ""
        self.searched = 0  # in carry, the anchors were already looked for before this index
        self.line_no = 0  # lines before carry

    def read(self, block: str | bytes) -> Iterator[Oops]:
        buf = self.carry + block if self.carry else block
        text = isinstance(buf, str)
        newline, markers, anchors = (
            ("\n", MARKERS, ANCHORS) if text else (b"\n", _MARKER_BYTES, _ANCHOR_BYTES)
        )
        pos, size, cache, searched = 0, len(buf), [-2] * len(anchors), self.searched
        while pos < size:
            if self.scanner.draft is None:
                hit = _next_start(buf, pos, max(pos, searched), markers, anchors, cache, newline)
                start = buf.rfind(newline, pos, hit) + 1 or pos if hit >= 0 else -1
                reading_on = start != pos and self.scanner.holds_start()  # its wrap may follow
                if start != pos and not reading_on:  # lines are skipped: the held line is read first
                    yield from self.scanner.flush()
                if reading_on or self.scanner.draft is not None:
                    pass  # read on line by line
                elif hit < 0:  # keep a look-back's worth of whole lines for an anchor in the next block
                    partial = buf.rfind(newline, pos) + 1 or pos
                    keep = max(pos, partial - _LOOKBACK)
                    keep = buf.find(newline, keep - 1) + 1 if keep > pos else pos
                    self.line_no += buf.count(newline, pos, keep)
                    pos, searched = keep, partial - keep
                    break
                else:
                    self.line_no += buf.count(newline, pos, start)
                    pos = start
            end = buf.find(newline, pos)
            if end < 0:
                searched = 0
                break
            self.line_no += 1
            line = buf[pos:end]
            yield from self.scanner.feed(line if text else line.decode("utf-8", "replace"), self.line_no)
            pos = end + 1
        else:
            searched = 0
        self.carry, self.searched = buf[pos:], searched


def blocks(log: str | bytes | Iterable[str] | Iterable[bytes]) -> Iterator:
    if isinstance(log, str | bytes):
        yield log
        return
    parts: list = []
    size = 0
    for piece in log:
        parts.append(piece)
        size += len(piece)
        if size >= _BLOCK:
            yield parts[0] if len(parts) == 1 else parts[0][:0].join(parts)
            parts, size = [], 0
    if parts:
        yield parts[0][:0].join(parts)


def _next_start(buf, pos: int, fresh: int, markers: tuple, anchors: tuple, cache: list[int], newline) -> int:
    """Where the first line that may open a report starts, looking back from the next anchor; or -1."""
    anchor = _next_marker(buf, fresh, anchors, cache)
    if anchor < 0:
        return -1
    end = buf.find(newline, anchor)
    end = len(buf) if end < 0 else end
    low, best = max(pos, anchor - _LOOKBACK), anchor
    for marker in markers:
        at = buf.find(marker, low, end)
        if 0 <= at < best:
            best = at
    return best


def _next_marker(buf, pos: int, markers: tuple, hits: list[int]) -> int:
    """Where the next of ``markers`` at or after ``pos`` starts, or -1; ``hits`` caches each one's place."""
    nearest = -1
    for index, marker in enumerate(markers):
        at = hits[index]
        if at == -2 or 0 <= at < pos:
            at = hits[index] = buf.find(marker, pos)
        if at >= 0 and (nearest < 0 or at < nearest):
            nearest = at
    return nearest
