"""Advisory YAML files read into advisory entries, schema-checked (docs/advisories.md).

Loading reads the YAML node tree rather than plain Python values, so every schema error names the file,
the line and the field, and version fields keep their exact text (``8.50`` stays ``8.50``, not a float).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

from fleetfix import serde
from fleetfix.advisories.database import (
    FAULT_KINDS,
    INFERABLE_FIELDS,
    RW_PATTERNS,
    SEVERITIES,
    Advisory,
    AdvisoryDB,
    Affected,
    DistributionRange,
    Trigger,
    VersionRange,
    VersionSet,
    VersionSpec,
)
from fleetfix.errors import InputError
from fleetfix.versions import ECOSYSTEM_SCHEMES, DriverVersion, PackageVersion, package_version, parse_version

_ECOSYSTEM = re.compile(r"(?P<name>[A-Za-z][A-Za-z ]*[A-Za-z]):(?P<release>[0-9][0-9.]*)")
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9.+-]*")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_MODULE = re.compile(r"[a-z0-9_]+")
_SRCVERSION = re.compile(r"[0-9A-Fa-f]{8,40}")
_URL = re.compile(r"https?://\S+")
_NULL_TAG = "tag:yaml.org,2002:null"
_INT_TAG = "tag:yaml.org,2002:int"


def load_advisories(dirs: Iterable[Path]) -> AdvisoryDB:
    """Every ``*.yaml``/``*.yml`` file in ``dirs``, schema-checked; advisory ids are unique across all."""
    advisories: list[Advisory] = []
    first_seen: dict[str, Advisory] = {}
    for directory in dirs:
        for path in _advisory_files(Path(directory)):
            for advisory in load_file(path):
                earlier = first_seen.setdefault(advisory.id, advisory)
                if earlier is not advisory:
                    first = f"{earlier.source}:{earlier.line}"
                    message = f"duplicate advisory id {advisory.id!r}, first defined at {first}"
                    raise InputError(advisory.source, message, line=advisory.line, field="id")
                advisories.append(advisory)
    return AdvisoryDB(advisories)


def load_file(path: Path) -> list[Advisory]:
    """The advisories of one YAML file: a list of advisory mappings."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            source, f"cannot read advisory file: {getattr(exc, 'strerror', None) or exc}"
        ) from exc
    with serde.collector_paused():
        root = _compose(text, source)
        if root is None:
            raise InputError(source, "no advisories: expected a list of advisory entries")
        if not isinstance(root, yaml.SequenceNode):
            raise InputError(source, "expected a list of advisory entries", line=_line(root))
        return [_Reader(source).advisory(node, index) for index, node in enumerate(root.value)]


def _compose(text: str, source: str) -> yaml.Node | None:
    try:
        return serde.compose_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(source, f"invalid YAML: {problem}", line=mark.line + 1 if mark else None) from exc
    except yaml.YAMLError as exc:
        raise InputError(source, f"invalid YAML: {exc}") from exc


def _advisory_files(directory: Path) -> Iterator[Path]:
    try:
        entries = sorted(directory.iterdir())
    except FileNotFoundError:
        raise InputError(str(directory), "advisories directory does not exist") from None
    except NotADirectoryError:
        raise InputError(str(directory), "advisories path is not a directory") from None
    except OSError as exc:
        raise InputError(str(directory), f"cannot read advisories directory: {exc.strerror or exc}") from None
    yield from (p for p in entries if p.suffix in (".yaml", ".yml") and p.is_file())


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Reader:
    """Turns one file's YAML nodes into advisories; every error carries file, line and field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: yaml.Node, field: str, message: str) -> InputError:
        return InputError(self.source, message, line=_line(node), field=field)

    def mapping(
        self, node: yaml.Node, field: str, allowed: frozenset[str], required: frozenset[str] = frozenset()
    ) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, field, "expected a mapping")
        fields: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            path = f"{field}.{name}".lstrip(".")
            if name not in allowed:
                raise self.fail(key, path, f"unknown field (allowed: {', '.join(sorted(allowed))})")
            if name in fields:
                raise self.fail(key, path, "field given twice")
            fields[name] = value
        missing = sorted(required - fields.keys())
        if missing:
            raise self.fail(node, f"{field}.{missing[0]}".lstrip("."), "required field missing")
        return fields

    def text(self, node: yaml.Node, field: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL_TAG or not node.value.strip():
            raise self.fail(node, field, "expected non-empty text")
        return node.value.strip()

    def matching(self, node: yaml.Node, field: str, pattern: re.Pattern[str], what: str) -> str:
        value = self.text(node, field)
        if not pattern.fullmatch(value):
            raise self.fail(node, field, f"{value!r} is not {what}")
        return value

    def choice(self, node: yaml.Node, field: str, allowed: Iterable[str]) -> str:
        value = self.text(node, field)
        if value not in allowed:
            raise self.fail(node, field, f"{value!r} is not one of: {', '.join(sorted(allowed))}")
        return value

    def sequence(self, node: yaml.Node, field: str, empty_ok: bool = False) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode) or not (node.value or empty_ok):
            raise self.fail(node, field, "expected a list" if empty_ok else "expected a non-empty list")
        return node.value

    def choices(self, node: yaml.Node, field: str, allowed: Iterable[str]) -> tuple[str, ...]:
        values = [self.choice(item, field, allowed) for item in self.sequence(node, field)]
        if len(set(values)) != len(values):
            raise self.fail(node, field, "duplicate entries")
        return tuple(values)

    def version(self, node: yaml.Node, field: str) -> DriverVersion:
        return parse_version(self.text(node, field), self.source, line=_line(node), field=field)

    def advisory(self, node: yaml.Node, index: int) -> Advisory:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"entry {index + 1}", "expected an advisory mapping")
        required = frozenset(
            {"id", "module", "vendor", "title", "affected", "fault", "trigger", "severity", "references"}
        )
        f = self.mapping(node, "", required | {"fixed_in", "notes", "inferred"}, required)
        ident = self.matching(f["id"], "id", _ID, "a valid id (letters, digits, '.', '_', ':', '-')")
        affected = self.affected(f["affected"], "affected")
        fixed_in = self.version(f["fixed_in"], "fixed_in") if "fixed_in" in f else None
        if fixed_in is not None and any(spec.contains(fixed_in) for spec in affected.driver):
            raise self.fail(
                f["fixed_in"], "fixed_in", f"{fixed_in} is itself inside the affected driver versions"
            )
        return Advisory(
            id=ident,
            module=self.matching(f["module"], "module", _MODULE, "a kernel module name (a-z, 0-9, '_')"),
            vendor=self.text(f["vendor"], "vendor"),
            title=self.text(f["title"], "title"),
            affected=affected,
            fixed_in=fixed_in,
            fault=self.choices(f["fault"], "fault", FAULT_KINDS),
            trigger=self.trigger(f["trigger"], "trigger"),
            severity=self.choice(f["severity"], "severity", SEVERITIES),
            references=tuple(
                self.matching(item, "references", _URL, "an http(s) URL")
                for item in self.sequence(f["references"], "references", empty_ok=True)
            ),
            notes=self.text(f["notes"], "notes") if "notes" in f else "",
            inferred=self.choices(f["inferred"], "inferred", INFERABLE_FIELDS) if "inferred" in f else (),
            source=self.source,
            line=_line(node),
        )

    def affected(self, node: yaml.Node, field: str) -> Affected:
        f = self.mapping(node, field, frozenset({"driver", "srcversions", "kernel", "distributions"}))
        if not f:
            raise self.fail(node, field, "give at least one of driver, srcversions, kernel, distributions")
        return Affected(
            distributions=self.distributions(f["distributions"], f"{field}.distributions")
            if "distributions" in f
            else (),
            driver=self.specs(f["driver"], f"{field}.driver") if "driver" in f else (),
            srcversions=self.srcversions(f["srcversions"], f"{field}.srcversions")
            if "srcversions" in f
            else frozenset(),
            kernel=self.specs(f["kernel"], f"{field}.kernel") if "kernel" in f else (),
        )

    def distributions(self, node: yaml.Node, field: str) -> tuple[DistributionRange, ...]:
        return tuple(
            self.distribution(item, f"{field}[{i}]") for i, item in enumerate(self.sequence(node, field))
        )

    def distribution(self, node: yaml.Node, field: str) -> DistributionRange:
        f = self.mapping(
            node,
            field,
            frozenset({"ecosystem", "package", "introduced", "fixed"}),
            frozenset({"ecosystem", "package"}),
        )
        ecosystem = self.matching(
            f["ecosystem"], f"{field}.ecosystem", _ECOSYSTEM, "an ecosystem like Debian:12"
        )
        name = ecosystem.split(":")[0]
        scheme = ECOSYSTEM_SCHEMES.get(name)
        if scheme is None:
            known = ", ".join(sorted(ECOSYSTEM_SCHEMES))
            raise self.fail(
                f["ecosystem"], f"{field}.ecosystem", f"{name!r} is not a known distribution ({known})"
            )
        bounds: dict[str, PackageVersion] = {}
        for key in ("introduced", "fixed"):
            if key in f:
                text = self.text(f[key], f"{field}.{key}")
                try:
                    bounds[key] = package_version(scheme, text)
                except ValueError as exc:
                    raise self.fail(f[key], f"{field}.{key}", str(exc)) from None
        if "introduced" in bounds and "fixed" in bounds and not bounds["introduced"] < bounds["fixed"]:
            raise self.fail(f["fixed"], f"{field}.fixed", "not newer than introduced")
        return DistributionRange(
            ecosystem=ecosystem,
            package=self.matching(f["package"], f"{field}.package", _PACKAGE, "a source package name"),
            introduced=bounds.get("introduced"),
            fixed=bounds.get("fixed"),
        )

    def srcversions(self, node: yaml.Node, field: str) -> frozenset[str]:
        return frozenset(
            self.matching(item, field, _SRCVERSION, "a srcversion (hex digits)").upper()
            for item in self.sequence(node, field)
        )

    def specs(self, node: yaml.Node, field: str) -> tuple[VersionSpec, ...]:
        return tuple(self.spec(item, f"{field}[{i}]") for i, item in enumerate(self.sequence(node, field)))

    def spec(self, node: yaml.Node, field: str) -> VersionSpec:
        f = self.mapping(node, field, frozenset({"introduced", "fixed", "below", "versions"}))
        keys = frozenset(f)
        if keys == {"versions"}:
            items = self.sequence(f["versions"], f"{field}.versions")
            return VersionSet(frozenset(self.version(item, f"{field}.versions") for item in items))
        if keys == {"below"}:
            return VersionRange(fixed=self.version(f["below"], f"{field}.below"))
        if keys in ({"introduced"}, {"introduced", "fixed"}):
            introduced = self.version(f["introduced"], f"{field}.introduced")
            fixed = self.version(f["fixed"], f"{field}.fixed") if "fixed" in f else None
            if fixed is not None and not introduced < fixed:
                raise self.fail(
                    f["fixed"], f"{field}.fixed", f"{fixed} is not newer than introduced {introduced}"
                )
            return VersionRange(introduced, fixed)
        raise self.fail(node, field, "expected {introduced, fixed}, {introduced}, {below} or {versions}")

    def trigger(self, node: yaml.Node, field: str) -> Trigger:
        if isinstance(node, yaml.ScalarNode):
            return Trigger(self.text(node, field))
        f = self.mapping(
            node, field, frozenset({"description", "rw", "min_iodepth"}), frozenset({"description"})
        )
        depth = None
        if "min_iodepth" in f:
            value = f["min_iodepth"]
            if not (isinstance(value, yaml.ScalarNode) and value.tag == _INT_TAG and value.value.isdigit()):
                raise self.fail(value, f"{field}.min_iodepth", "expected a whole number")
            depth = int(value.value)
        return Trigger(
            description=self.text(f["description"], f"{field}.description"),
            rw=self.choices(f["rw"], f"{field}.rw", RW_PATTERNS) if "rw" in f else (),
            min_iodepth=depth,
        )
