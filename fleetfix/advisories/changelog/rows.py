"""Releases of the one-line-per-item shapes: ``REV# DATE NAME DESCRIPTION`` tables and commit subject lists.

A table row is a release of one item, continued by the indented lines under it. A commit list has no
release headings: each ``Update driver version to X`` commit closes a release, which takes the commits
between it and the previous bump (oldest-first lists) or the next one (newest-first lists).
"""

from __future__ import annotations

import re

from fleetfix.advisories.changelog.sections import Release
from fleetfix.errors import InputError
from fleetfix.versions import compare

REV_HEADER = re.compile(r"\s*REV#?\s+DATE\s+NAME\s+DESCRIPTION\s*$", re.I)
_REV_ROW = re.compile(r"\s*(\d[\w.\-\[\]]*)\s+(\d{1,2}/\d{1,2}/\d{2,4}|\d{4}-\d\d-\d\d)\s+(\S+)\s+(\S.*)$")
_SHA = re.compile(r"[0-9a-f]{7,40}\s+")
_BUMP = re.compile(r"(?:update|bump)\w*\s+(?:the\s+)?driver\s+version\s+to\s+v?(\d\S*?)\.?\s*$", re.I)


def rev_table(lines: list[str]) -> list[Release]:
    """One release per table row, in document order."""
    releases: list[Release] = []
    for number, line in enumerate(lines, 1):
        row = _REV_ROW.match(line)
        if row:
            releases.append(Release(row.group(1), row.group(2), number, ((number, row.group(4).strip()),)))
        elif releases and line[:1].isspace() and line.strip():
            last = releases[-1]
            text = last.items[0][1] + " " + line.strip()
            releases[-1] = Release(last.version, last.date, last.line, ((last.items[0][0], text),))
    return releases


def commit_list(lines: list[str], module: str, source: str) -> list[Release] | None:
    """Commit subjects naming ``module``, each given to the release its version bump closes."""
    mentions = re.compile(rf"(?:[\w-]+:\s+)*{re.escape(module)}:\s+(\S.*)")
    commits: list[tuple[int, str]] = []
    bumps: list[tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        subject = mentions.match(_SHA.sub("", line.strip(), count=1))
        if subject:
            bump = _BUMP.search(subject.group(1))
            (bumps if bump else commits).append((number, bump.group(1) if bump else subject.group(1)))
    if not commits and not bumps:
        return None
    if not bumps:
        raise InputError(source, f"commit subjects name {module} but no 'Update driver version to X'", line=1)
    versions = [v for _, v in bumps]
    newest_first = len(versions) > 1 and compare(versions[0], versions[-1]) > 0
    releases = []
    for index, (line, version) in enumerate(bumps):
        if newest_first:
            low, high = line, bumps[index + 1][0] if index + 1 < len(bumps) else len(lines) + 1
        else:
            low, high = bumps[index - 1][0] if index else 0, line
        items = tuple((n, s) for n, s in commits if low < n < high)
        releases.append(Release(version, None, line, items))
    return releases
