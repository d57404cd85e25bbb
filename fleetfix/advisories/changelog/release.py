"""One release of a changelog: its version as written, its date, where it starts, and its entries."""

from __future__ import annotations

from dataclasses import dataclass

from fleetfix.advisories.changelog.entries import Entry


@dataclass(frozen=True)
class Release:
    """A version's worth of entries. ``from_order``: the version comes from a commit list's order."""

    version: str
    date: str | None
    line: int
    entries: tuple[Entry, ...]
    others: tuple[str, ...] = ()  # versions of companion modules named in the same heading
    from_order: bool = False
