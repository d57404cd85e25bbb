"""What the netconsole receiver writes: log file names, escaped lines, flagged events, its counters."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)] if c != 0x09}
_ESCAPES.update({0x2028: "\\u2028", 0x2029: "\\u2029"})
_NEEDS_ESCAPE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_UNSAFE_NAME = re.compile(r"[^0-9A-Za-z.]")


@dataclass(frozen=True)
class ListenEvent:
    """A flagged line, as written to ``events.jsonl``."""

    time: str
    source: str
    line: str
    kind: str
    log: str

    def to_json(self) -> str:
        return json.dumps(
            {"time": self.time, "source": self.source, "line": self.line, "kind": self.kind, "log": self.log}
        )


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

    def line(self) -> str:
        return (
            f"{self.received} datagrams ({self.bytes} bytes), {self.lines} lines, {self.events} events; "
            f"dropped {self.dropped}, truncated {self.truncated}, discarded {self.discarded}, "
            f"incomplete {self.incomplete}"
        )


def log_name(host: str, port: int) -> str:
    """The log file of one sender: only its address and port, with anything but [0-9A-Za-z.] replaced."""
    return f"{_UNSAFE_NAME.sub('-', host)[:64]}_{int(port)}.log"


def escape(raw: bytes) -> str:
    """Printable text from arbitrary bytes: invalid UTF-8 and control characters become ``\\xNN``."""
    text = raw.decode("utf-8", "backslashreplace")
    return (
        text.translate(_ESCAPES) if _NEEDS_ESCAPE.search(text) else text
    )  # translate is slow; rarely needed
