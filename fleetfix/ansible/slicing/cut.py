"""Cutting a run's hosts into slices for execution nodes, and folding the slices' outcomes back into one.

A slice is the unit of retry: it runs whole on one node, and a node that fails or vanishes gives its slice
back to be run again on another, from the start. So every host is in exactly one slice, and the report
takes each slice's hosts from the one attempt that finished.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Slice:
    index: int
    hosts: tuple[str, ...]


def by_count(hosts: Sequence[str], slices: int) -> list[Slice]:
    """``hosts`` in order, cut into at most ``slices`` runs of sizes differing by at most one."""
    count = max(1, min(slices, len(hosts)))
    size, extra = divmod(len(hosts), count)
    out, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        out.append(Slice(index, tuple(hosts[start:end])))
        start = end
    return [s for s in out if s.hosts]


def by_group(hosts: Sequence[str], groups: Mapping[str, Sequence[str]], slices: int) -> list[Slice]:
    """Keep each group's hosts in one slice (a host in several groups goes with the first that names it),
    filling the emptiest slice with the largest group first; hosts in no group are placed last, one by one.
    """
    wanted = set(hosts)
    placed: set[str] = set()
    units: list[list[str]] = []
    for name in sorted(groups, key=lambda g: (-len(groups[g]), g)):
        members = [h for h in groups[name] if h in wanted and h not in placed]
        placed.update(members)
        if members:
            units.append(members)
    units.extend([h] for h in hosts if h not in placed)
    bins: list[list[str]] = [[] for _ in range(max(1, min(slices, len(hosts))))]
    for unit in units:
        min(bins, key=len).extend(unit)
    order = {host: position for position, host in enumerate(hosts)}
    filled = [sorted(b, key=order.__getitem__) for b in bins if b]
    return [Slice(index, tuple(members)) for index, members in enumerate(filled)]


def merged_rc(rcs: Sequence[int]) -> int:
    """One ansible-playbook exit code for several: an unexpected code wins, then 4 (unreachable), then 2."""
    odd = [rc for rc in rcs if rc not in (0, 2, 4)]
    if odd:
        return odd[0]
    return max(rcs, default=0)
