"""A changelog's own version order: rpm rules, with pre-release builds before their release.

rpm puts ``8.01.07b9`` above ``8.01.07`` (the longer string wins) and ``10.02.07.00.a19-k`` below
``10.02.07.00-k`` only by luck of the suffix. Vendors mean the letter builds as pre-releases: a letter run
followed by digits (``b9``, ``.a19``, ``-rc1``, ``beta2``) right after the numeric part sorts before the
release, as rpm's ``~`` does. A lone trailing letter (``3.4.18-105a``) stays a later rebuild. A suffix
every version of the document shares (``-k``) is left out of the comparison, so ``a13.d1-k`` follows
``a13-k``.

    >>> order = ReleaseOrder(["8.01.07", "8.01.07b9", "8.01.06"])
    >>> sorted(["8.01.07", "8.01.07b9", "8.01.06"], key=order.key)
    ['8.01.06', '8.01.07b9', '8.01.07']
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fleetfix.versions import SortKey, sort_key

_PRERELEASE = re.compile(r"(?<=\d)[.-]?(?=(?:a|b|alpha|beta|rc|pre|test)\d)", re.I)
_SUFFIX = re.compile(r"[-_.][A-Za-z]+$")


class ReleaseOrder:
    """Sort keys for the versions of one document."""

    def __init__(self, versions: Iterable[str]) -> None:
        suffixes = {m.group(0) if (m := _SUFFIX.search(v)) else "" for v in versions}
        self._suffix = suffixes.pop() if len(suffixes) == 1 else ""

    def key(self, version: str) -> SortKey:
        """The sort key of ``version`` in this document's order."""
        if self._suffix and version.endswith(self._suffix):
            version = version[: -len(self._suffix)]
        return sort_key(_PRERELEASE.sub("~", version, count=1))

    def is_prerelease(self, version: str) -> bool:
        """Whether ``version`` is a pre-release build (plain rpm order would put it above its release)."""
        return _PRERELEASE.search(version) is not None
