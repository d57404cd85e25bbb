"""A changelog's structure, found rather than matched: header, comment box, headings, shared logs, releases.

Three passes over the text, none holding more than one release body at a time, so the cost is linear:

1. the ``#`` provenance header (its URLs are what entries cite) and the comment leader a boxed changelog
   puts before every line (``**`` in arcmsr's table, `` *`` in a C comment), judged on a sample;
2. how many lines are headings (``headings.heading``), and whether the log is shared by several drivers:
   besides entries naming the module (``scsi: qla2xxx: ...``) it has entries of a dozen or more other
   subsystems (``nilfs2: ...``, ``smb: ...``), as a kernel's stable list does (judged on a sample);
3. the releases in document order, each body cut into entries (``entries.cut_entries``); in a shared log
   only the module's entries are kept.

Only lines holding a dotted number can be headings, and only a body with a fault word or a revert (and,
in a shared log, the module's name) can yield anything: both are found by regex searches over the whole
text, so most lines never reach Python code. A text without headings may be a commit subject list
(``commits.commit_releases``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from fleetfix.advisories.changelog.commits import commit_releases
from fleetfix.advisories.changelog.entries import Entry, cut_entries, strip_ticket
from fleetfix.advisories.changelog.faults import worth_reading
from fleetfix.advisories.changelog.headings import Heading, heading
from fleetfix.advisories.changelog.release import Release
from fleetfix.errors import InputError

_URL = re.compile(r"https?://[^\s)>\]\"']+")
_LEADER = re.compile(r" ?\*{1,2}(?=\s|$)")
_BOX_EDGE = re.compile(r"\s*(?:/\*+|\*+/|\*{5,})\s*$")
_BULLETED = re.compile(r"\s*(?:[-*+]\s+|\d{1,3}[.)]\s*)(.*)")
_PREFIXES = re.compile(r"((?:[\w./-]+:\s+){1,4})")
_LABELS = re.compile(r"(?:root|cause|fix|fixes|risk|note|changes|impact|workaround)\b", re.I)
_SAMPLE = 400
_SHARED_SAMPLE_CHARS = 400_000
_SHARED_MIN_SUBSYSTEMS = 12  # a driver's own log names a few components; a kernel's lists dozens
_CANDIDATE = re.compile(r"^[^\n]*\d\.\d[^\n]*$", re.M)  # a heading's version has a dotted number


@dataclass(frozen=True)
class Layout:
    """What the first two passes found."""

    header_urls: tuple[str, ...]
    body_start: int  # first line after the provenance header
    body_offset: int  # where that line starts in the text
    leader: bool  # every line carries a comment-box leader
    has_headings: bool  # releases are opened by heading lines (else: a commit list)
    shared: bool  # a log of several drivers: keep only the module's entries


def module_pattern(module: str) -> str:
    """A regex for ``module`` as changelogs write it: ``-`` and ``_`` are one character to the kernel."""
    return "".join("[-_]" if char in "-_" else re.escape(char) for char in module)


def numbered_lines(text: str, start: int = 1) -> Iterator[tuple[int, str]]:
    """``(number, line)`` from line ``start`` on, without building the list of all lines."""
    number, position, size = 1, 0, len(text)
    while position < size:
        end = text.find("\n", position)
        end = size if end < 0 else end
        if number >= start:
            yield number, text[position:end].rstrip("\r")
        number, position = number + 1, end + 1


def layout(text: str, module: str) -> Layout:
    """Passes 1 and 2: the header, the comment leader, the heading count and whether the log is shared."""
    urls: list[str] = []
    body_start, body_offset = 1, 0
    sample: list[str] = []
    for number, line in numbered_lines(text):
        if body_start == number and (not line.strip() or (line.startswith("#") and not heading(line))):
            urls += [url.rstrip(".,") for url in _URL.findall(line)] if line.startswith("#") else []
            body_start, body_offset = number + 1, text.find("\n", body_offset) + 1 or len(text)
            continue
        if line.strip():
            sample.append(line)
            if len(sample) >= _SAMPLE:
                break
    boxed = sum(1 for line in sample if _LEADER.match(line) or _BOX_EDGE.match(line))
    leader = bool(sample) and boxed >= 0.6 * len(sample)
    has_headings = (
        next(_headings(text, leader, body_start, body_offset), None) is not None
    )  # the first will do
    named = re.compile(rf"(?:{module_pattern(module)})\b", re.I)
    mine = 0
    others: set[str] = set()
    for _, line in numbered_lines(text[body_offset : body_offset + _SHARED_SAMPLE_CHARS]):
        bullet = _BULLETED.match(_unboxed(line) if leader else line)
        prefixes = _PREFIXES.match(strip_ticket(bullet.group(1))) if bullet else None
        if prefixes and not _LABELS.match(prefixes.group(1)):
            if named.search(prefixes.group(1)):
                mine += 1
            else:
                others.add(prefixes.group(1).split(":", 1)[0].lower())
    shared = bool(mine) and len(others) >= _SHARED_MIN_SUBSYSTEMS
    return Layout(tuple(dict.fromkeys(urls)), body_start, body_offset, leader, has_headings, shared)


def releases(text: str, source: str, module: str, shape: Layout) -> Iterator[Release]:
    """Pass 3: the releases of ``text`` in document order; ``InputError`` when it has no changelog shape."""
    if not shape.has_headings:
        lines = numbered_lines(text, shape.body_start)
        if shape.leader:
            lines = ((n, _unboxed(t)) for n, t in lines)
        found = commit_releases(lines, module_pattern(module))
        if not found:
            raise InputError(
                source,
                "no changelog shape found: no line pairs a version with a date, an author or a marker "
                f"('Version X', 'Rev X', 'Current Version : X'), and no commit list bumping {module}",
                line=shape.body_start,
            )
        yield from found
        return
    keep = _module_filter(module) if shape.shared else None
    mentions = re.compile(module_pattern(module.lower())) if shape.shared else None
    opened: tuple[int, int, Heading] | None = None  # (line number, offset after the heading line, heading)
    for number, start, end, found in _headings(text, shape.leader, shape.body_start, shape.body_offset):
        if opened is not None:
            yield _release(text, opened, start, keep, mentions, shape.leader)
        opened = (number, end, found)
    if opened is not None:
        yield _release(text, opened, len(text), keep, mentions, shape.leader)


def _headings(text: str, leader: bool, number: int, offset: int) -> Iterator[tuple[int, int, int, Heading]]:
    """(line number, line start, line end, heading) of every heading from ``offset`` (line ``number``) on."""
    counted = offset
    for candidate in _CANDIDATE.finditer(text, offset):
        line = candidate.group(0)
        found = heading(_unboxed(line) if leader else line)
        if found is None:
            continue
        number += text.count("\n", counted, candidate.start())
        counted = candidate.start()
        yield number, candidate.start(), candidate.end(), found


def _release(
    text: str,
    opened: tuple[int, int, Heading],
    end: int,
    keep: re.Pattern[str] | None,
    mentions: re.Pattern[str] | None,
    leader: bool,
) -> Release:
    number, start, found = opened
    inline = (number, found.inline) if found.inline else None
    lowered = text[start:end].lower()  # one body at a time: lower() of a whole text can take 12x its size
    readable = worth_reading(lowered) and (mentions is None or mentions.search(lowered))
    if not readable and not (inline and worth_reading(inline[1].lower())):
        return Release(found.version, found.date, number, (), found.others)
    body = ((number + i, _unboxed(t) if leader else t) for i, t in enumerate(text[start:end].split("\n")))
    entries = [e for e in cut_entries(body, inline, mentions) if keep is None or _is_modules(e, keep)]
    return Release(found.version, found.date, number, tuple(entries), found.others)


def _module_filter(module: str) -> re.Pattern[str]:
    return re.compile(rf"(?:[\w./-]+:\s+)*?(?:{module_pattern(module)}):", re.I)


def _is_modules(entry: Entry, keep: re.Pattern[str]) -> bool:
    return bool(keep.match(entry.text) or (entry.reverts and keep.match(entry.reverts.lstrip("\"'"))))


def _unboxed(line: str) -> str:
    if _BOX_EDGE.match(line):
        return ""
    leader = _LEADER.match(line)
    return line[leader.end() :] if leader else line
