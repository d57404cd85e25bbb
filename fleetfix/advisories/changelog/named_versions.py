"""The versions a changelog item names: the build that fixed it, and a version the text calls bad.

A release written as a build range (``1.2.14-[015-017]``) is fixed from its first build. ``introduced in
X`` bounds the affected range below; ``found in X`` and the like only say X was affected, so they are
noted rather than taken as the range's start. Versions at or above the fix are not the fault's.
"""

from __future__ import annotations

import re

from fleetfix.versions import compare

_RANGE = re.compile(r"(.*?)\[(\d+)-(\d+)\](.*)")
_FOUND_IN = re.compile(
    r"\b(found|seen|observed|reported|introduced|regressed)\s+in\s+(?:version\s+|driver\s+)?(\d[\w.\-]*\w)",
    re.I,
)


def first_build(version: str) -> tuple[str, list[str]]:
    """The first build of a build range (``1.2.14-[015-017]`` -> ``1.2.14-015``), and what was done."""
    version = version.rstrip(",;:)")
    ranged = _RANGE.fullmatch(version)
    if ranged is None:
        return version, []
    first = f"{ranged.group(1)}{ranged.group(2)}{ranged.group(4)}"
    last = f"{ranged.group(1)}{ranged.group(3)}{ranged.group(4)}"
    return first, [f"Release {version} is a build range {first}..{last}: fixed_in is its first build"]


def found_in(item: str, fixed_in: str) -> tuple[str | None, list[str]]:
    """A version the text names as bad: ``introduced in X`` bounds the range, ``found in X`` is noted."""
    for match in _FOUND_IN.finditer(item):
        version = match.group(2)
        if compare(version, fixed_in) >= 0:
            continue
        if match.group(1).lower() == "introduced":
            return version, []
        return None, [f"The text names {version} as affected ({match.group(0)!r})"]
    return None, []
