"""A changelog's structure, found rather than matched: header, comment box, headings, shared logs, releases.

Three passes over the text, none holding more than one release body at a time, so the cost is linear:

1. the ``#`` provenance header (its URLs are what entries cite) and the comment leader a boxed changelog
   puts before every line (``**`` in arcmsr's table, `` *`` in a C comment), judged on a sample;
2. how many lines are headings (``headings.heading``), and whether the log is shared by several drivers:
   its entries prefixed with other drivers' names (``nilfs2: ...``) outnumber the module's own
   (``scsi: qla2xxx: ...``), as in a kernel's stable list;
3. the releases in document order, each body cut into entries (``entries.cut_entries``); in a shared log
   only the module's entries are kept.

A text without headings may be a commit subject list (``commits.commit_releases``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from fleetfix.advisories.changelog.commits import commit_releases
from fleetfix.advisories.changelog.entries import Entry, cut_entries, strip_ticket
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


@dataclass(frozen=True)
class Layout:
    """What the first two passes found."""

    header_urls: tuple[str, ...]
    body_start: int  # first line after the provenance header
    leader: bool  # every line carries a comment-box leader
    headings: int
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
    body_start = 1
    sample: list[str] = []
    for number, line in numbered_lines(text):
        if body_start == number and (not line.strip() or line.startswith("#")):
            urls += [url.rstrip(".,") for url in _URL.findall(line)] if line.startswith("#") else []
            body_start = number + 1
            continue
        if line.strip():
            sample.append(line)
            if len(sample) >= _SAMPLE:
                break
    boxed = sum(1 for line in sample if _LEADER.match(line) or _BOX_EDGE.match(line))
    leader = bool(sample) and boxed >= 0.6 * len(sample)
    named = re.compile(rf"(?:{module_pattern(module)})\b")
    headings = mine = others = 0
    for _, line in numbered_lines(text, body_start):
        line = _unboxed(line) if leader else line
        if heading(line):
            headings += 1
            continue
        bullet = _BULLETED.match(line)
        prefixes = _PREFIXES.match(strip_ticket(bullet.group(1))) if bullet else None
        if prefixes and not _LABELS.match(prefixes.group(1)):
            if named.search(prefixes.group(1)):
                mine += 1
            else:
                others += 1
    return Layout(tuple(dict.fromkeys(urls)), body_start, leader, headings, bool(mine) and others >= mine)


def releases(text: str, source: str, module: str, shape: Layout) -> Iterator[Release]:
    """Pass 3: the releases of ``text`` in document order; ``InputError`` when it has no changelog shape."""
    lines = numbered_lines(text, shape.body_start)
    if shape.leader:
        lines = ((n, _unboxed(t)) for n, t in lines)
    if not shape.headings:
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
    opened: tuple[int, Heading] | None = None
    body: list[tuple[int, str]] = []
    for number, line in lines:
        found_heading = heading(line)
        if found_heading is None:
            if opened is not None:
                body.append((number, line))
            continue
        if opened is not None:
            yield _release(opened, body, keep)
        opened, body = (number, found_heading), []
    if opened is not None:
        yield _release(opened, body, keep)


def _release(
    opened: tuple[int, Heading], body: list[tuple[int, str]], keep: re.Pattern[str] | None
) -> Release:
    number, found = opened
    inline = (number, found.inline) if found.inline else None
    entries = [e for e in cut_entries(body, inline) if keep is None or _is_modules(e, keep)]
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
