"""Which changelog lines open a release: a version-like token standing with a date, an author or a marker.

No vendor's heading is known by name. A line is a heading when its version token stands where headings put
one, and something besides the version says so:

- a marker word before it: ``Version 2.1.36-026 (August 2025)``, ``Rev  8.01.07b9\\tJanuary 4, 2006\\tAV``,
  ``Current Version : 06.803.02.00-rc1``, ``Changed version number to 8.0.28``;
- a date on the same line, the version first or last: ``* 10.02.08.00.a7-k  BH  08/22/2022``,
  ``1.20.00.07    3/23/2005  Erich Chen  bug fix...``, ``* Thu Sep 22 2022 Name <mail> - 10.02.06.02_k-1``,
  ``2023-03-03 (Canadian Bacon Day) LTTng modules 2.13.9``;
- a Debian ``package (version) suite; urgency=...`` line;
- a version alone on its line or item (``* v2.2.17`` under a GNU ChangeLog date line);
- a version column followed by its first item: ``4.90.08  - Data Corruption if ...``.

A line with a date or an author but no version (``Release Date : ...``, ``Changes from 20050323 to
20050413``, `` -- Name <mail>  date``) is a *dateline*: it belongs to the release a nearby heading opens,
and is never an item. A "version" that is really a date (``12.15.2004``) is not a version.

    >>> heading("Version 2.1.36-026 (August 2025)").version
    '2.1.36-026'
    >>> heading("  - Fixed a crash found in 3.4.6-165.") is None
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERSION = r"v?(\d+(?:\.\d+)+(?:[-_.~+]?(?:[A-Za-z0-9]+|\[\d+-\d+\]))*)"
_VERSION_TOKEN = re.compile(rf"(?<![\w.\-/]){VERSION}(?![\w\[])")
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
_DATE = re.compile(
    rf"\b(?:(?:19|20)\d\d-\d\d-\d\d|\d{{1,2}}/\d{{1,2}}/(?:19|20)?\d\d|{_MONTH}\s+(?:\d{{1,2}},?\s+)?"
    rf"(?:\d\d:\d\d:\d\d\s+(?:[A-Z]{{3,4}}\s+)?)?(?:19|20)\d\d|\d{{1,2}}\s+{_MONTH}\s+(?:19|20)\d\d"
    rf"|(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))\b",
    re.I,
)
_AUTHOR = re.compile(r"<[^<>@\s]+@[^<>\s]+>|\(e?mai?ld?-id:", re.I)
_MARKER = re.compile(
    r"(?:(?:current|driver|package)\s+)?(?:version|rev(?:ision)?|release)\b\s*[:#]?\s*(?=v?\d)"
    r"|changed\s+version\s+number\s+to\s+",
    re.I,
)
_NUMBERED_LABEL = re.compile(r"\d{1,2}[.)]?\s+(?=[A-Za-z])")  # Broadcom's "2 Current Version : X"
_LEAD = re.compile(r"\s*(?:#+\s*|[-*+]\s+|\*(?=\s)\s*)?")
_DEBIAN = re.compile(r"\s*([a-z0-9][a-z0-9.+-]*)\s+\(([^()\s]+)\)\s+[^;]+;\s*urgency=", re.I)
_COLUMN_ITEM = re.compile(r"\s+-\s+(\S.*)")
_NOT_A_RELEASE = re.compile(r"\s*(?:\d{1,2}\s+)?old(?:er)?\s+version\b", re.I)
_DATE_LIKE_VERSION = re.compile(r"(?:0?[1-9]|[12]\d|3[01])\.(?:0?[1-9]|[12]\d|3[01])\.(?:19|20)\d\d")
_DOTTED_NUMBER = re.compile(r"\d\.\d")  # every heading's version has one: a cheap first filter
DATEISH = re.compile(r"(?:19|20)\d\d|\d/\d|[Vv]ersion")  # what a dateline cannot lack
_SIGN_OFF = re.compile(r"\s*--\s+\S.*<[^>]+>")  # Debian's " -- Name <mail>  date"
_RELEASE_DATE = re.compile(r"(?:\d\s+)?release\s+date\s*:", re.I)
_CHANGES_FROM = re.compile(r"(?:release\s+date|changes\s+from)\b", re.I)
_MODULE_LABEL = re.compile(r"\(\s*([\w -]{1,30}?)\s+module\s*\)", re.I)


@dataclass(frozen=True)
class Heading:
    """A release heading: its version, its date if on the line, and text after it that is an item."""

    version: str
    date: str | None
    inline: str | None
    others: tuple[str, ...] = ()  # further "X (cmm module)" versions named beside the first


def versions_in(text: str) -> list[str]:
    """Version-like tokens of ``text`` in order, dates written with dots (``12.15.2004``) left out."""
    return [v for v in (m.group(1) for m in _VERSION_TOKEN.finditer(text)) if not _is_date(v)]


def is_dateline(line: str) -> bool:
    """A line that dates or signs a release without a version: never an item."""
    if not DATEISH.search(line):
        return False
    if _NOT_A_RELEASE.match(line) or _SIGN_OFF.match(line):
        return True
    stripped = _LEAD.sub("", line, count=1)
    if _RELEASE_DATE.match(stripped):
        return True
    return bool((_AUTHOR.search(stripped) or _CHANGES_FROM.match(stripped)) and _DATE.search(stripped))


def heading(line: str) -> Heading | None:
    """The release ``line`` opens, or None when it is not a heading."""
    if len(line) > 240 or not _DOTTED_NUMBER.search(line) or _NOT_A_RELEASE.match(line):
        return None
    debian = _DEBIAN.match(line)
    if debian:
        return Heading(debian.group(2), None, None)
    stripped = _LEAD.sub("", line, count=1).strip()
    if stripped.startswith("["):  # Markdown's "## [1.6.0] - 2019-07-19"
        stripped = stripped[1:].replace("]", " ", 1).strip()
    labelled = _NUMBERED_LABEL.match(stripped)
    if labelled and _MARKER.match(stripped, labelled.end()):
        stripped = stripped[labelled.end() :]
    marker = _MARKER.match(stripped)
    if marker:
        return _after_marker(stripped, marker.end())
    first = _VERSION_TOKEN.match(stripped)
    if first and not _is_date(first.group(1)):
        rest = stripped[first.end() :]
        if not rest.strip(" \t]:"):
            return Heading(first.group(1), None, None)  # a version alone: "* v2.2.17", "## [1.6.0]"
        date = _DATE.search(rest)
        if date and len(" ".join(rest[: date.start()].split())) < 40:
            after = rest[date.end() :].strip()
            return Heading(first.group(1), date.group(0), _description(after))
        column = _COLUMN_ITEM.match(rest)
        if column and line[:1].isspace() and line.lstrip()[:1] not in "-*+":
            return Heading(first.group(1), None, column.group(1).strip())
        return None
    last = list(_VERSION_TOKEN.finditer(stripped))
    if last and not stripped[last[-1].end() :].strip(" )]") and not _is_date(last[-1].group(1)):
        date = _DATE.search(stripped, 0, last[-1].start())
        if date and date.start() < 30:
            return Heading(last[-1].group(1), date.group(0), None)
    return None


def _after_marker(text: str, start: int) -> Heading | None:
    found = _VERSION_TOKEN.match(text, start)
    if not found or _is_date(found.group(1)):
        return None
    rest = text[found.end() :]
    date = _DATE.search(rest)
    others = tuple(
        v for v in versions_in(rest) if _MODULE_LABEL.search(rest) and not (date and v in date.group(0))
    )
    inline = None
    column = _COLUMN_ITEM.match(rest)
    if column and not date:
        inline = column.group(1).strip()
    return Heading(found.group(1), date.group(0) if date else None, inline, others)


def _description(after_date: str) -> str | None:
    """Text after a table row's date and author columns (``Erich Chen     bug fix with ...``)."""
    columns = re.split(r"\s{2,}|\t+", after_date)
    if len(columns) >= 2 and len(columns[0]) <= 30:
        text = " ".join(columns[1:]).strip()
        return text or None
    return None


def _is_date(version: str) -> bool:
    return _DATE_LIKE_VERSION.fullmatch(version) is not None
