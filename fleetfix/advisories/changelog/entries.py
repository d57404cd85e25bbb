"""A release's body cut into entries by bullets, numbering, indentation and blank lines; wrapped text joined.

The body's top-level points are its entries: the shallowest bullets or numbers (``-``, ``*``, ``1.``,
``10.Add``, ``iv.``), and one column deeper when the marker is the same. Deeper points and ``Root Cause:``
style labels belong to the entry above, joined after a newline; wrapped lines join with a space. A point
that only introduces a list (it ends with ``:``) hands its sub-points over as entries of their own (the
Debian kernel's ``* New upstream stable update:``). After a blank line, text less indented than the entries
is prose after the log, not part of an entry. Datelines, rules and ``[ Name ]`` lines are never entries.

Ticket prefixes (``FCD-2035:``, ``CP-40166:``, ``[2f122b3]``) and architecture tags (``[x86]``) are
stripped. Entries after ``Reverting the following changes:`` are reverts, as is an entry that starts with
``Revert``; ``Bring back following reverted changes:`` ends such a list.

    >>> body = [(2, " - Fixed a panic on"), (3, "   load."), (4, "   - Root Cause: race")]
    >>> [(e.line, e.text) for e in cut_entries(body)]
    [(2, 'Fixed a panic on load.\\nRoot Cause: race')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from fleetfix.advisories.changelog.faults import worth_reading
from fleetfix.advisories.changelog.headings import DATEISH, is_dateline

_BULLET = re.compile(
    r"(\s*)([-*+\u2022](?!-)|\d{1,3}[.)](?=\s|[A-Za-z])|(?:i{1,3}|iv|vi{0,3}|ix|xi{0,3})[.)](?=\s))\s*(\S.*)"
)
_LABEL = re.compile(r"(?:root\s*cause|cause|fix|risk|workaround|note|impact|changes|chnages)\s*:", re.I)
_SKIPPED = re.compile(r"\s*(?:[-=_~*]{4,}\s*$|\[ [^\]]+ \]\s*$|\(e?mai?ld?-id:|-{3}\s*$)", re.I)
_TICKET = re.compile(
    r"(?:\[[0-9a-f]{7,40}\]\s*|\[[\w,* -]{1,20}\]\s+"
    r"|[A-Z][A-Z0-9]*-?(?:\d+|X+)(?:\s*,\s*[A-Z][A-Z0-9]*-?(?:\d+|X+))*\s*:\s*)+"
)
_REVERT_LIST = re.compile(r"\s*(?:[-*]\s*)?revert(?:ing|ed)?\s+(?:the\s+)?following\b", re.I)
_STARTS_REVERT = re.compile(r"(?:[\w./-]+:\s+)*revert", re.I)
_BRING_BACK = re.compile(r"\s*(?:[-*]\s*)?bring(?:ing)?\s+back\s+(?:the\s+)?following\b", re.I)
_REVERT_ITEM = re.compile(
    r"(?:[\w./-]+:\s+)*revert(?:s|ed)?\b[\s:]*[\"\u201c']?(.+?)[\"\u201d']?[.\s]*$", re.I | re.S
)


@dataclass(frozen=True)
class Entry:
    """One changelog entry: its first line, its text joined, and what it reverts if it is a revert."""

    line: int
    text: str
    reverts: str | None = None
    head: str = ""  # the entry's first line: what a revert quotes


def strip_ticket(text: str) -> str:
    """``text`` without leading ticket ids and architecture tags."""
    text = text.strip()
    ticket = _TICKET.match(text)
    return text[ticket.end() :] if ticket else text


def cut_entries(
    body: Iterable[tuple[int, str]],
    inline: tuple[int, str] | None = None,
    mention: re.Pattern[str] | None = None,
) -> list[Entry]:
    """The entries of a release body (``(line number, text)`` pairs); ``inline`` is a heading's own item.

    With ``mention``, only entries whose lower-cased text it finds are built (a shared log's module).
    """
    lines: list[tuple[int, str]] = []
    bullets: list[re.Match[str] | None] = []
    skipped, dateish, bullet_of = _SKIPPED.match, DATEISH.search, _BULLET.match
    for number, text in body:  # the loop every line of a log goes through: no call it can do without
        if not (skipped(text) or (dateish(text) and is_dateline(text))):
            lines.append((number, text))
            bullets.append(bullet_of(text))
    top_marks = [(len(m.group(1).expandtabs()), m.group(2)) for m in bullets if m]
    top = min((indent for indent, _ in top_marks), default=0)
    top_mark = next((mark for indent, mark in top_marks if indent == top), None)
    groups: list[list[tuple[int, str, bool]]] = []  # per entry: (line, text, is_sub_point)
    if inline:
        groups.append([(inline[0], inline[1], False)])
    reverting = False
    blank_before = False
    for (number, text), bullet in zip(lines, bullets, strict=True):
        if not text.strip():
            blank_before = True
            continue
        probe = text[:60].lower()
        if "bring" in probe and _BRING_BACK.match(text):
            reverting, blank_before = False, False
            groups.append([(number, "", False)])  # closes the entry above
            continue
        if "revert" in probe and _REVERT_LIST.match(text) and len(text.strip()) < 60:
            reverting, blank_before = True, False
            groups.append([(number, "", False)])
            continue
        if bullet:
            indent = len(bullet.group(1).expandtabs())
            is_top = indent <= top or (indent <= top + 1 and bullet.group(2) == top_mark)
            if is_top or not groups:
                groups.append([(number, ("\0" if reverting else "") + bullet.group(3).strip(), False)])
            else:
                groups[-1].append((number, bullet.group(3).strip(), True))
        elif groups and not (blank_before and len(text) - len(text.lstrip()) < top and top_marks):
            groups[-1].append((number, text.strip(), False))
        elif not top_marks:
            groups.append([(number, text.strip(), False)])  # a body without bullets: one entry a paragraph
        else:
            groups.append([(number, "", False)])  # prose after the log closes the entry above
        blank_before = False
    entries: list[Entry] = []
    for group in groups:
        lowered = " ".join(text for _, text, _ in group).lower()
        if not (group[0][1].startswith("\0") or worth_reading(lowered)):
            continue  # names no fault and reverts nothing: nothing to import
        if mention is None or mention.search(lowered):
            entries += [
                e for e in _entries_of(group, mention) if mention is None or mention.search(e.text.lower())
            ]
    return entries


def _entries_of(group: list[tuple[int, str, bool]], mention: re.Pattern[str] | None = None) -> list[Entry]:
    """The group's entry, or its sub-points as entries; with ``mention``, only sub-points naming it are
    built (an entry's text ends its raw text, so a raw text without the name has no entry with it)."""
    head_line, head, _ = group[0]
    subs = [(n, t) for n, t, sub in group[1:] if sub]
    if head.rstrip().endswith(":") and subs and not _LABEL.fullmatch(head.strip()):
        return [
            e
            for n, t, h in _split_subs(group[1:])
            if (mention is None or mention.search(t.lower())) and (e := _entry(n, t, h))
        ]
    parts = [head]
    for _, text, sub in group[1:]:
        parts.append(("\n" if sub else " ") + text)
    entry = _entry(head_line, "".join(parts), head)
    return [entry] if entry else []


def _split_subs(rest: list[tuple[int, str, bool]]) -> list[tuple[int, str, str]]:
    """Sub-points promoted to entries, each with the wrapped lines under it: (line, text, first line)."""
    out: list[tuple[int, str, str]] = []
    for number, text, sub in rest:
        if sub or not out:
            out.append((number, text, text))
        else:
            out[-1] = (out[-1][0], out[-1][1] + " " + text, out[-1][2])
    return out


def _entry(line: int, text: str, head: str) -> Entry | None:
    reverting = text.startswith("\0")
    text = strip_ticket(text.lstrip("\0")).strip()
    head = strip_ticket(head.lstrip("\0")).strip()
    if not text:
        return None
    if reverting:
        return Entry(line, text, reverts=head, head=head)
    revert = _REVERT_ITEM.fullmatch(text) if "revert" in text[:80].lower() else None
    if revert and _STARTS_REVERT.match(text):
        return Entry(line, text, reverts=revert.group(1), head=head)
    return Entry(line, text, head=head)
