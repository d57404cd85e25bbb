"""Typed reading of a YAML document that remembers where every value came from.

Scenario files are read node by node (``yaml.compose``) so that every complaint names the file, the field
path (``groups[1].modules[0].version``) and the line, as one ``InputError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from fleetfix import serde
from fleetfix.errors import InputError

_MISSING = object()


@dataclass(frozen=True)
class Node:
    """One YAML node, with the file it is in and its field path from the document root."""

    source: str
    path: str
    node: yaml.Node

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1

    def fail(self, message: str) -> InputError:
        return InputError(self.source, message, line=self.line, field=self.path or None)

    def _child(self, key: str, node: yaml.Node) -> Node:
        return Node(self.source, f"{self.path}.{key}" if self.path else key, node)

    def mapping(self, allowed: set[str]) -> dict[str, Node]:
        if not isinstance(self.node, yaml.MappingNode):
            raise self.fail("expected a mapping")
        SafeConstructor().flatten_mapping(self.node)  # resolve "<<: *anchor" merge keys
        out: dict[str, Node] = {}
        for key_node, value_node in self.node.value:
            key = str(key_node.value)
            if key.startswith("x-"):  # extension fields hold YAML anchors for reuse, as in compose files
                continue
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise Node(self.source, self._child(key, key_node).path, key_node).fail(
                    f"unknown field (known: {known})"
                )
            out[key] = self._child(key, value_node)
        return out

    def items(self) -> Iterator[Node]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.fail("expected a list")
        for index, child in enumerate(self.node.value):
            yield Node(self.source, f"{self.path}[{index}]", child)

    def scalar(self) -> Any:
        if not isinstance(self.node, yaml.ScalarNode):
            raise self.fail("expected a single value")
        return SafeConstructor().construct_object(self.node, deep=True)

    def text(self) -> str:
        value = self.scalar()
        if value is None or isinstance(value, bool | dict | list):
            raise self.fail("expected text")
        return str(value)

    def integer(self, minimum: int | None = None) -> int:
        value = self.scalar()
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail("expected an integer")
        if minimum is not None and value < minimum:
            raise self.fail(f"must be at least {minimum}")
        return value

    def boolean(self) -> bool:
        value = self.scalar()
        if not isinstance(value, bool):
            raise self.fail("expected true or false")
        return value


def load(path: Path) -> Node:
    """Parse ``path`` into its root node; syntax errors become one-line ``InputError``s."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(source, f"cannot read: {exc.strerror or exc}") from None
    try:
        root = serde.compose_yaml(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise InputError(source, f"YAML syntax: {exc.problem}", line=line) from None
    if root is None:
        raise InputError(source, "empty file")
    return Node(source, "", root)


def get(fields: dict[str, Node], key: str, parent: Node, default: Any = _MISSING) -> Node | Any:
    """The child node ``key``, or ``default``; without a default a missing key is an error on ``parent``."""
    if key in fields:
        return fields[key]
    if default is _MISSING:
        missing = Node(parent.source, f"{parent.path}.{key}" if parent.path else key, parent.node)
        raise missing.fail("required field missing")
    return default
