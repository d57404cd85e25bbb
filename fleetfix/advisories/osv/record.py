"""An OSV record read field by field (https://ossf.github.io/osv-schema/), keeping what an advisory needs.

A document holds one record (a file of OSV's per-ecosystem dumps), a list of them, or an API answer
(``{"vulns": [...]}``). Fields fleetfix does not use are not checked; those it uses must have the schema's
shape, and a wrong one is an ``InputError`` naming the source, the record and the field::

    all.zip:UBUNTU-CVE-2024-40901.json: UBUNTU-CVE-2024-40901 affected[3].ranges[0].events: expected a list

Sample (abridged from the kernel CNA's record as osv.dev publishes it)::

    {"id": "CVE-2025-21772", "summary": "partitions: mac: fix handling of bogus partition table",
     "affected": [{"package": {"ecosystem": "Linux", "name": "Kernel"},
                   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.4.291"}]}]}]}
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fleetfix.errors import InputError

_EVENT_KINDS = frozenset({"introduced", "fixed", "last_affected", "limit"})


@dataclass(frozen=True, slots=True)
class Range:
    type: str  # ECOSYSTEM, SEMVER, GIT
    events: tuple[tuple[str, str], ...]  # (kind, version) in the record's order
    field: str  # where it sits in the record, for messages


@dataclass(frozen=True, slots=True)
class Affected:
    ecosystem: str | None  # None: an entry without a package (GIT ranges of a repository)
    package: str | None
    ranges: tuple[Range, ...]


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    summary: str
    details: str
    aliases: tuple[str, ...]  # aliases, upstream and related ids together
    affected: tuple[Affected, ...]
    references: tuple[str, ...]
    withdrawn: bool
    source: str

    @property
    def text(self) -> str:
        return f"{self.summary}\n{self.details}" if self.summary else self.details


def records_in(data: bytes, source: str) -> Iterator[Record]:
    """The records of one JSON document; ``InputError`` (line and column) when it is not JSON."""
    try:
        document = json.loads(data)
    except UnicodeDecodeError as exc:
        raise InputError(source, f"not UTF-8 text: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise InputError(source, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    if isinstance(document, dict) and "id" not in document and isinstance(document.get("vulns"), list):
        document = document["vulns"]
    items = document if isinstance(document, list) else [document]
    for index, item in enumerate(items):
        yield _Reader(source, f"[{index}] " if isinstance(document, list) else "").record(item)


class _Reader:
    def __init__(self, source: str, where: str) -> None:
        self.source = source
        self.where = where  # "[3] " inside a list of records
        self.id = ""

    def fail(self, field: str, message: str) -> InputError:
        return InputError(self.source, message, field=f"{self.where}{self.id} {field}".strip())

    def get(self, mapping: dict[str, Any], key: str, field: str, kind: type, required: bool = False) -> Any:
        if key not in mapping or mapping[key] is None:
            if required:
                raise self.fail(f"{field}{key}", "required field missing")
            return kind()
        value = mapping[key]
        if not isinstance(value, kind):
            raise self.fail(f"{field}{key}", f"expected {_KIND_NAMES[kind]}")
        return value

    def strings(self, mapping: dict[str, Any], key: str) -> tuple[str, ...]:
        values = self.get(mapping, key, "", list)
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise self.fail(f"{key}[{index}]", "expected text")
        return tuple(values)

    def record(self, item: object) -> Record:
        if not isinstance(item, dict):
            raise self.fail("", "expected an OSV record (a JSON object)")
        ident = self.get(item, "id", "", str, required=True).strip()
        if not ident:
            raise self.fail("id", "expected non-empty text")
        self.id = ident
        references = []
        for index, reference in enumerate(self.get(item, "references", "", list)):
            if not isinstance(reference, dict):
                raise self.fail(f"references[{index}]", "expected an object")
            url = self.get(reference, "url", f"references[{index}].", str, required=True)
            if reference.get("type") != "PACKAGE":  # the repository as a whole, not this fix
                references.append(url)
        return Record(
            id=ident,
            summary=self.get(item, "summary", "", str).strip(),
            details=self.get(item, "details", "", str),
            aliases=sum((self.strings(item, key) for key in ("aliases", "upstream", "related")), ()),
            affected=tuple(
                self.affected(entry, f"affected[{index}]")
                for index, entry in enumerate(self.get(item, "affected", "", list))
            ),
            references=tuple(references),
            withdrawn=bool(self.get(item, "withdrawn", "", str)),
            source=self.source,
        )

    def affected(self, entry: object, field: str) -> Affected:
        if not isinstance(entry, dict):
            raise self.fail(field, "expected an object")
        ecosystem = name = None
        if entry.get("package") is not None:
            package = self.get(entry, "package", f"{field}.", dict)
            ecosystem = self.get(package, "ecosystem", f"{field}.package.", str, required=True)
            name = self.get(package, "name", f"{field}.package.", str, required=True)
        ranges = tuple(
            self.range(item, f"{field}.ranges[{index}]")
            for index, item in enumerate(self.get(entry, "ranges", f"{field}.", list))
        )
        return Affected(ecosystem, name, ranges)

    def range(self, item: object, field: str) -> Range:
        if not isinstance(item, dict):
            raise self.fail(field, "expected an object")
        kind = self.get(item, "type", f"{field}.", str, required=True)
        events = []
        for index, event in enumerate(self.get(item, "events", f"{field}.", list, required=True)):
            where = f"{field}.events[{index}]"
            if not isinstance(event, dict) or len(event) != 1:
                raise self.fail(where, f"expected an object with one of: {', '.join(sorted(_EVENT_KINDS))}")
            ((key, value),) = event.items()
            if key not in _EVENT_KINDS:
                raise self.fail(f"{where}.{key}", "unknown event (introduced, fixed, last_affected, limit)")
            if not isinstance(value, str) or not value.strip():
                raise self.fail(f"{where}.{key}", "expected a version (non-empty text)")
            events.append((key, value.strip()))
        return Range(kind, tuple(events), field)


_KIND_NAMES = {str: "text", list: "a list", dict: "an object"}
