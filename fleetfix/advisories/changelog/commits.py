"""Releases of a commit subject list, where ``Update driver version to X`` commits close each release.

A list of commit subjects (``<sha> scsi: mpt3sas: Fix ...``) has no release headings: each version bump
of the module closes a release, which takes the module's commits between it and the previous bump
(oldest-first lists) or the next one (newest-first lists). Subjects naming other drivers are not the
module's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fleetfix.advisories.changelog.entries import Entry
from fleetfix.advisories.changelog.release import Release
from fleetfix.versions import compare

_SHA = re.compile(r"[0-9a-f]{7,40}\s+")
_BUMP = re.compile(r"(?:update|bump)\w*\s+(?:the\s+)?driver\s+version\s+to\s+v?(\d\S*?)\.?\s*$", re.I)


def commit_releases(lines: Iterable[tuple[int, str]], module_pattern: str) -> list[Release]:
    """The releases of a commit list, or an empty list when it has no version bump of the module."""
    mentions = re.compile(rf"(?:[\w-]+:\s+)*(?:{module_pattern}):\s+(\S.*)")
    commits: list[tuple[int, str]] = []
    bumps: list[tuple[int, str]] = []
    last = 0
    for number, line in lines:
        last = number
        subject = mentions.match(_SHA.sub("", line.strip(), count=1))
        if subject:
            bump = _BUMP.search(subject.group(1))
            (bumps if bump else commits).append((number, bump.group(1) if bump else line.strip()))
    if not bumps:
        return []
    versions = [v for _, v in bumps]
    newest_first = len(versions) > 1 and compare(versions[0], versions[-1]) > 0
    releases = []
    for index, (line, version) in enumerate(bumps):
        if newest_first:
            low, high = line, bumps[index + 1][0] if index + 1 < len(bumps) else last + 1
        else:
            low, high = bumps[index - 1][0] if index else 0, line
        entries = tuple(
            Entry(n, t, head=t) for n, s in commits if low < n < high for t in [_SHA.sub("", s, count=1)]
        )
        releases.append(Release(version, None, line, entries, from_order=True))
    return releases
