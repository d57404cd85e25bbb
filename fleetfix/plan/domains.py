"""Failure domains: ``--batch-by group:PREFIX`` or ``--batch-by var:NAME``, so no batch spans two of them.

A rack, a power feed, a storage array or a cluster's replicas: hosts that fail together must not be changed
together, or a batch gone wrong takes a whole service down. The domain of a host is the inventory group it
belongs to whose name starts with PREFIX (``group:rack_`` puts rack_a and rack_b apart), or the value of an
inventory variable (``var:power_feed``). A host in no such group, or without the variable, is a domain of
its own. A host in two groups of the prefix has no single domain: the plan refuses it, naming both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetfix.errors import InputError

_GROUP_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OPTION = "--batch-by"


@dataclass(frozen=True)
class BatchBy:
    kind: str  # "group" or "var"
    name: str  # the group name prefix, or the variable name

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def description(self) -> str:
        if self.kind == "group":
            return f"inventory groups {self.name}*"
        return f"inventory variable {self.name}"


def parse_batch_by(text: str) -> BatchBy:
    kind, sep, name = text.partition(":")
    if not sep or kind not in ("group", "var"):
        raise InputError(
            _OPTION, f"{text!r}: give group:PREFIX or var:NAME (e.g. group:rack_, var:power_feed)"
        )
    pattern = _GROUP_PREFIX if kind == "group" else _VARIABLE
    if not pattern.match(name) or len(name) > 128:
        what = "a group name prefix" if kind == "group" else "a variable name"
        raise InputError(
            _OPTION, f"{name!r} is not {what} (letters, digits and _, not starting with a digit)"
        )
    return BatchBy(kind, name)


def _named(host: str, name: str, value: Any) -> str | None:
    """The domain a variable's value names; empty is none."""
    if isinstance(value, Mapping | list):
        kind = "mapping" if isinstance(value, Mapping) else "list"
        raise InputError(_OPTION, f"host {host}: {name} is a {kind}, not a value that names a failure domain")
    text = str(value).lower() if isinstance(value, bool) else str(value).strip()
    return text or None


def host_domains(
    hosts: Sequence[str],
    batch_by: BatchBy,
    groups: Mapping[str, Sequence[str]],
    hostvars: Mapping[str, Mapping[str, Any]],
) -> dict[str, str | None]:
    """Each host's failure domain, or None for a host that is a domain of its own."""
    domains: dict[str, str | None] = {}
    for host in hosts:
        if batch_by.kind == "group":
            matching = sorted(g for g in groups.get(host, ()) if g.startswith(batch_by.name))
            if len(matching) > 1:
                both = " and ".join(matching)
                raise InputError(
                    _OPTION, f"host {host} is in {both}: a host belongs to one failure domain at most"
                )
            domains[host] = matching[0] if matching else None
        else:
            value = (hostvars.get(host) or {}).get(batch_by.name)
            domains[host] = None if value is None else _named(host, batch_by.name, value)
    return domains
