"""What the netconsole receiver writes: log file names, escaped lines, flagged events, its counters."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Characters that would split or forge a line, move the terminal's cursor, or reorder what a reader sees
# (the Unicode bidi controls, "Trojan Source", CVE-2021-42574), and the backslash that starts an escape.
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F] if c != 0x09}
_ESCAPES.update({c: f"\\u{c:04x}" for c in [*range(0x80, 0xA0), 0x2028, 0x2029, *_BIDI]})
_ESCAPES.update({0xDC00 + b: f"\\x{b:02x}" for b in range(0x80, 0x100)})  # undecodable bytes
_ESCAPES[ord("\\")] = "\\\\"
_NEEDS_ESCAPE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\\\\\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\udc80-\udcff]"
)
_UNESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")
_UNSAFE_NAME = re.compile(r"[^0-9A-Za-z.]")
_string = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]  # json.dumps' own, in C


EVENTS_FILE = "events.jsonl"  # in the receiver's directory; rotated to ``events.jsonl.1``


@dataclass(frozen=True)
class ListenEvent:
    """A flagged line, as written to ``events.jsonl``."""

    time: str
    source: str
    line: str
    kind: str
    log: str

    def to_json(self) -> str:
        """``json.dumps`` of the five fields, in that order, built without the dict (a storm of fault lines
        makes this the receiver's hottest path)."""
        return (
            f'{{"time": {_string(self.time)}, "source": {_string(self.source)}, '
            f'"line": {_string(self.line)}, "kind": {_string(self.kind)}, "log": {_string(self.log)}}}'
        )

    @classmethod
    def from_json(cls, text: str) -> ListenEvent | None:
        """One ``events.jsonl`` line back; None for a line that is not an event (cut by a stop mid-write)."""
        try:
            row = json.loads(text)
            return cls(*(str(row[name]) for name in ("time", "source", "line", "kind", "log")))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass
class ListenStats:
    received: int = 0  # datagrams
    bytes: int = 0  # as kept, after truncation
    truncated: int = 0  # datagrams longer than max_datagram, cut
    discarded: int = 0  # fragments that cannot belong to any message (bad offsets, too large)
    incomplete: int = 0  # fragmented records written with pieces missing
    lines: int = 0
    events: int = 0
    dropped: int = 0  # datagrams the kernel dropped: the socket buffer was full
    folded: int = 0  # fault lines not alerted one by one (over a sender's rate, or the alert queue full)
    rotated_bytes: int = 0  # log bytes deleted by rotation at the disk caps

    def line(self) -> str:
        return (
            f"{self.received} datagrams ({self.bytes} bytes), {self.lines} lines, {self.events} events; "
            f"dropped {self.dropped}, truncated {self.truncated}, discarded {self.discarded}, "
            f"incomplete {self.incomplete}"
            + (f", alerts folded {self.folded}" if self.folded else "")
            + (f", rotated out {self.rotated_bytes} bytes" if self.rotated_bytes else "")
        )


def log_name(host: str, port: int) -> str:
    """The log file of one sender: only its address and port, with anything but [0-9A-Za-z.] replaced."""
    return f"{_UNSAFE_NAME.sub('-', host)[:64]}_{int(port)}.log"


def escape(raw: bytes) -> str:
    """Printable, single-line text from arbitrary bytes, reversibly (``unescape`` gives the bytes back).

    A backslash becomes ``\\\\``; C0 controls and DEL ``\\xNN``; bytes that are not UTF-8 ``\\xNN`` (NN from
    80); C1 controls, the line and paragraph separators and the bidi controls ``\\uNNNN``. Tabs and all other
    text are kept. A kernel line that already holds ``\\x1b`` (printk escapes) is written ``\\\\x1b``.
    """
    text = raw.decode("utf-8", "surrogateescape")
    return text.translate(_ESCAPES) if _NEEDS_ESCAPE.search(text) else text  # translate is slow: rarely


def unescape(text: str) -> bytes:
    """The bytes ``escape`` was given."""

    def one(match: re.Match[str]) -> str:
        code = match[1]
        if code == "\\":
            return "\\"
        value = int(code[1:], 16)
        return chr(0xDC00 + value) if code[0] == "x" and value >= 0x80 else chr(value)

    return _UNESCAPE.sub(one, text).encode("utf-8", "surrogateescape")
