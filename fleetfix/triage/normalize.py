"""Raw log lines back into the kernel's own lines, whatever carried them: mail, syslog, journal, console.

Sample input (a report quoted in a reply, from a mail in quoted-printable, once through rsyslog)::

    > [   19.442078] Unable to handle kernel NULL pointer dereference at
    > virtual address 0000000000000014
    > [   19.465329]   ESR =3D 0x0000000096000004
    Jul  1 10:00:00 host kernel: [ 5.0] Call trace:#012 mt7921_regd_notifier+0x180/0x290 [mt7921_common]
    {"MESSAGE":"pc : mt7921_regd_notifier+0x180/0x290 [mt7921_common]","_TRANSPORT":"kernel",...}

    >>> [line.body for line, _ in normalized]
    ['Unable to handle kernel NULL pointer dereference at virtual address 0000000000000014',
     '  ESR = 0x0000000096000004', 'Call trace:', ' mt7921_regd_notifier+0x180/0x290 [mt7921_common]',
     'pc : mt7921_regd_notifier+0x180/0x290 [mt7921_common]']

What is undone, in order: quoted-printable (``=3D`` and soft line breaks ending in ``=``, once the input
has shown it is encoded), a ``journalctl -o json`` record (its ``MESSAGE``; records of other transports are
dropped), mail quoting (``>``, ``> >``), rsyslog's control-character escapes (``#012`` splits a line, ``#011``
is a tab), the prefixes ``lines.split_prefix`` knows, and wrapping: in a log whose lines carry prefixes or
stamps, a line that carries none continues the line before it (a mailer or a console cut it). A console
cuts long lines mid-word, a mailer at a space: a continuation of a line longer than ``CONSOLE_WIDTH``
that carries on a word is joined without a blank.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

from fleetfix.triage.lines import Line, split_prefix

CONSOLE_WIDTH = 100
_QUOTE = re.compile(r"(?:[ \t]{0,3}>)+ ?")
_QP_CODE = re.compile(r"=([0-9A-F]{2})")
_QP_SIGN = "=3D"  # "=" itself, encoded: an encoded mail shows it soon (a bare "=20" may be data)
_RSYSLOG_ESCAPE = "#012"
_WORD_END = re.compile(r"[\w.\-/]$")
_WORD_START = re.compile(r"[a-z0-9_]")
_NOT_CONTINUATIONS = frozenset(
    {"", "...", "[...]", "\u2026", "<snip>", "[snip]"}
)  # blank, or a cut made by hand


class LineNormalizer:
    """Feeds raw lines in, gives ``(Line, line number)`` out, one line behind (a wrap may follow)."""

    def __init__(self, reference_year: int | None) -> None:
        self.reference_year = reference_year
        self.quoted_printable = False
        self.soft: tuple[str, int] | None = None  # a quoted-printable line that ended in a soft break
        self.pending: tuple[Line, int, int] | None = None  # (line, its number, the last raw line in it)

    def feed(self, raw: str, line_no: int) -> Iterator[tuple[Line, int]]:
        raw = raw.rstrip("\r\n")
        if not self.quoted_printable and _QP_SIGN in raw:
            self.quoted_printable = True
        if not self.quoted_printable:
            yield from self._read(raw, line_no, line_no)
            return
        first_no = line_no
        if self.soft is not None:
            held, held_no = self.soft
            self.soft = None
            if held_no == line_no - 1:
                raw, first_no = held + raw, held_no
            else:  # the lines between were skipped: the held line stands alone
                yield from self._read(held, held_no, held_no)
        if raw.endswith("=") and not raw.endswith("=="):
            self.soft = (raw[:-1], first_no)
            return
        yield from self._read(raw, first_no, line_no)

    def flush(self) -> Iterator[tuple[Line, int]]:
        if self.soft is not None:
            held, held_no = self.soft
            self.soft = None
            yield from self._read(held, held_no, held_no)
        if self.pending is not None:
            line, number, _ = self.pending
            self.pending = None
            yield line, number

    def _read(self, raw: str, first_no: int, line_no: int) -> Iterator[tuple[Line, int]]:
        if self.quoted_printable:
            raw = _QP_CODE.sub(lambda m: chr(int(m.group(1), 16)), raw)
        for line in self._lines(raw):
            yield from self._unwrap(line, first_no, line_no)

    def _lines(self, raw: str) -> list[Line]:
        if raw[:1] == "{" and '"MESSAGE"' in raw:
            return _journal_json(raw)
        if raw[:1] in (">", " ", "\t") and _QUOTE.match(raw):
            raw = _QUOTE.sub("", raw, count=1)
        if _RSYSLOG_ESCAPE not in raw:
            return [split_prefix(raw, self.reference_year)]
        first, *rest = raw.split(_RSYSLOG_ESCAPE)
        head = split_prefix(first.replace("#011", "\t"), self.reference_year)
        return [head] + [
            Line(head.wallclock, head.seconds, part.replace("#011", "\t"), head.prefixed) for part in rest
        ]

    def _unwrap(self, line: Line, first_no: int, line_no: int) -> Iterator[tuple[Line, int]]:
        pending = self.pending
        if (
            pending is not None
            and pending[0].prefixed
            and not line.prefixed
            and pending[2] == first_no - 1
            and line.body.strip() not in _NOT_CONTINUATIONS
        ):
            self.pending = (_joined(pending[0], line.body), pending[1], line_no)
            return
        if pending is not None:
            yield pending[0], pending[1]
        self.pending = (line, first_no, line_no)


def _joined(line: Line, continuation: str) -> Line:
    head, tail = line.body.rstrip(), continuation.strip()
    glue = "" if len(head) >= CONSOLE_WIDTH and _WORD_END.search(head) and _WORD_START.match(tail) else " "
    return Line(line.wallclock, line.seconds, head + glue + tail, True)


def _journal_json(raw: str) -> list[Line]:
    """A ``journalctl -o json`` record: its kernel message, timed by the journal; [] for other records."""
    try:
        record = json.loads(raw)
    except ValueError:
        return [Line(None, None, raw)]
    if not isinstance(record, dict) or (
        record.get("_TRANSPORT") != "kernel" and record.get("SYSLOG_IDENTIFIER") != "kernel"
    ):
        return []
    message = record.get("MESSAGE")
    if isinstance(message, list):  # the journal stores non-UTF-8 messages as byte arrays
        message = bytes(b for b in message if isinstance(b, int) and 0 <= b < 256).decode("utf-8", "replace")
    if not isinstance(message, str):
        return []
    realtime, monotonic = (
        _micros(record, "__REALTIME_TIMESTAMP"),
        _micros(record, "_SOURCE_MONOTONIC_TIMESTAMP"),
    )
    wallclock = datetime.fromtimestamp(realtime, UTC) if realtime is not None else None
    return [Line(wallclock, monotonic, part, True) for part in message.split("\n")]


def _micros(record: dict, key: str) -> float | None:
    """A journal field in microseconds, as seconds."""
    value = record.get(key)
    return int(value) / 1e6 if isinstance(value, str) and value.isdigit() else None
