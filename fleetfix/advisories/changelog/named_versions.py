"""The versions a changelog entry names: the build that fixed it, and a build the text calls affected.

A release written as a build range (``1.2.14-[015-017]``) is fixed from its first build. ``introduced in
X`` bounds the affected range below; ``found in X``, ``seen in X``, ``panic in X`` only say X was affected,
so X is kept as an affected build, not as the range's start. Versions at or above the fix are not the
fault's.

    >>> found_in("Fixed Oops panic in 8.0.23 (reported on SourceForge).", "8.0.25")
    (None, ('8.0.23',))
"""

from __future__ import annotations

import re

from fleetfix.advisories.changelog.headings import VERSION
from fleetfix.versions import compare

_RANGE = re.compile(r"(.*?)\[(\d+)-(\d+)\](.*)")
_NAMED = re.compile(
    r"\b(found|seen|observed|reported|introduced|regressed|present|occurs?|panic|oops|crash|hang)"
    rf"\s+in\s+(?:[\w-]+\s+)?(?:version\s+|driver\s+|build\s+|release\s+)?{VERSION}(?![\w.-]*\w)",
    re.I,
)


def first_build(version: str) -> tuple[str, list[str]]:
    """The first build of a build range (``1.2.14-[015-017]`` -> ``1.2.14-015``), and a note saying so."""
    version = version.rstrip(",;:)")
    ranged = _RANGE.fullmatch(version)
    if ranged is None:
        return version, []
    first = f"{ranged.group(1)}{ranged.group(2)}{ranged.group(4)}"
    last = f"{ranged.group(1)}{ranged.group(3)}{ranged.group(4)}"
    return first, [f"Release {version} is a build range {first}..{last}: fixed_in is its first build"]


def found_in(entry: str, fixed_in: str) -> tuple[str | None, tuple[str, ...]]:
    """``(introduced, affected builds)`` the text names below ``fixed_in``."""
    introduced: str | None = None
    affected: list[str] = []
    for match in _NAMED.finditer(entry):
        version = match.group(2)
        if compare(version, fixed_in) >= 0:
            continue
        if match.group(1).lower() == "introduced" and introduced is None:
            introduced = version
        elif version not in affected:
            affected.append(version)
    return introduced, tuple(affected)
