"""Releases under headings: ``Version X (Month YYYY)`` and ``Current Version : X`` blocks, cut into items.

Broadcom's notes may number their lines (``1 Release Date : ...``) and put the date before the version;
``Old Version :`` lines, rules and e-mail ids are not items. A release body's top-level points are its
items: deeper bullets and ``Root Cause:``-style points continue the item above them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADING = re.compile(r"\s*Version\s+(\d\S*)(?:\s+\(([^)]*)\))?\s*$", re.I)
CURRENT = re.compile(r"\s*(?:\d\s+)?Current Version\s*:\s*(\d\S*)", re.I)
_RELEASE_DATE = re.compile(r"\s*(?:\d\s+)?Release Date\s*:\s*(.*?)\s*-?\s*$", re.I)
_SKIPPED = re.compile(r"\s*(?:(?:\d\s+)?Old(?:er)? Version\s*:|-{5,}\s*$|\(e?mai?ld?-id:)", re.I)
_BULLET = re.compile(r"(\s*)(?:[-*\u2022]|\d{1,2}\.|[ivx]{1,4}\.)\s*(\S.*)")
_LABEL = re.compile(r"(?:root cause|cause|fix|risk|workaround|note|impact)\s*:", re.I)


@dataclass(frozen=True)
class Release:
    """One version's worth of changelog items, as written."""

    version: str
    date: str | None
    line: int
    items: tuple[tuple[int, str], ...]  # (line, text with "\n" before each sub-point)


def sections(lines: list[str], heading: re.Pattern[str]) -> list[Release]:
    """The releases opened by each ``heading`` line (``HEADING`` or ``CURRENT``), in document order."""
    releases: list[Release] = []
    date: str | None = None
    date_of_heading: str | None = None
    start, version, items = 0, "", []
    for number, line in enumerate(lines, 1):
        dated = _RELEASE_DATE.match(line)
        found = heading.match(line)
        if dated:
            date = dated.group(1)
        elif found:
            if version:
                releases.append(Release(version, date_of_heading, start, _items(items)))
            start, version, items = number, found.group(1), []
            date_of_heading = found.group(2) if heading is HEADING and found.lastindex == 2 else date
        elif version and not _SKIPPED.match(line) and not line.lstrip().startswith("#"):
            items.append((number, line))
    if version:
        releases.append(Release(version, date_of_heading, start, _items(items)))
    return releases


def _items(lines: list[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    """Top-level points of a release body; deeper bullets and "Root Cause:"-style points continue them."""
    bullets = [(n, _BULLET.match(text)) for n, text in lines]
    indents = [len(m.group(1).expandtabs()) for _, m in bullets if m and not _LABEL.match(m.group(2))]
    top = min(indents, default=0)
    items: list[list] = []
    for (number, text), (_, bullet) in zip(lines, bullets, strict=True):
        if not text.strip():
            continue
        if bullet and len(bullet.group(1).expandtabs()) <= top and not _LABEL.match(bullet.group(2)):
            items.append([number, bullet.group(2).strip()])
        elif items:
            joiner = "\n" if bullet else " "
            items[-1][1] += joiner + (bullet.group(2) if bullet else text).strip()
    return tuple((number, text) for number, text in items)
