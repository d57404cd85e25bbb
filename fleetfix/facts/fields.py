"""Typed reading of the facts JSON: each getter checks a type and names the field path when it is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleetfix.errors import InputError


class Fields:
    """Typed access to one JSON object of the facts, naming ``field`` paths like ``modules[3].version``."""

    def __init__(self, data: Any, source: str, where: str) -> None:
        if not isinstance(data, Mapping):
            raise InputError(source, f"expected an object, got {kind_of(data)}", field=where or None)
        self.data, self.source, self.where = data, source, where

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, expected: str) -> InputError:
        return InputError(
            self.source, f"expected {expected}, got {kind_of(self.data.get(key))}", field=self.path(key)
        )

    def _get(self, key: str, types: tuple[type, ...], expected: str, optional: bool) -> Any:
        value = self.data.get(key)
        if value is None and optional:
            return None
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise self.fail(key, expected)
        return value

    def text(self, key: str, optional: bool = True) -> str | None:
        return self._get(key, (str,), "a string", optional)

    def whole(self, key: str, optional: bool = True) -> int | None:
        return self._get(key, (int,), "a whole number", optional)

    def number(self, key: str) -> float | None:
        value = self._get(key, (int, float), "a number", True)
        return None if value is None else float(value)

    def flag(self, key: str, optional: bool = True) -> bool | None:
        return self._get(key, (bool,), "true or false", optional)

    def texts(self, key: str) -> tuple[str, ...]:
        items = self._get(key, (list,), "a list of strings", True) or []
        if not all(isinstance(item, str) for item in items):
            raise self.fail(key, "a list of strings")
        return tuple(items)

    def sub(self, key: str) -> Fields:
        return Fields(self.data.get(key), self.source, self.path(key))

    def optional_sub(self, key: str) -> Fields | None:
        return None if self.data.get(key) is None else self.sub(key)

    def subs(self, key: str) -> list[Fields]:
        items = self._get(key, (list,), "a list", True) or []
        return [Fields(item, self.source, f"{self.path(key)}[{i}]") for i, item in enumerate(items)]


def kind_of(value: Any) -> str:
    return "null" if value is None else type(value).__name__
