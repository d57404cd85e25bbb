"""JSON in and out through msgspec: typed decoding with one-line errors naming the file and field path.

Types to decode into are ``msgspec.Struct`` classes (frozen, keyword-only); msgspec checks every field's
type while it decodes, so nothing hand-written walks the JSON. Its errors (``Expected `int`, got `str` - at
`$.modules[0].size```) are rewritten in the project's words against the target type, so a user reads
``facts.json: modules[0].size: expected a whole number, got str``.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
import yaml

from fleetfix.errors import InputError

# libyaml's loader where PyYAML was built with it (the wheels are): about ten times faster than the pure
# Python one, same documents, same errors with their marks.
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_EXPECTED = re.compile(r"^Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`")
_BAD_VALUE = re.compile(r"^Invalid (?:enum )?value (?P<value>.+)$")
_OWN_FIELD = re.compile(r"^(?P<field>[a-z_]+): (?P<message>.+)$")  # raised by a __post_init__
_GOT = {"array": "list", "object": "dict"}
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_LISTS = (
    msgspec.inspect.ListType,
    msgspec.inspect.VarTupleType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
)


@contextmanager
def collector_paused(*, freeze_after: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector while a large input is decoded into many small objects.

    A 10,000-host run's events or a 10 MB advisory file become millions of dicts, lists or YAML nodes
    alive at once; the collector rescans all of them each time a few thousand more arrive, which costs
    more than decoding them (two thirds of loading a large advisory file). Reference counting still frees
    everything; a cycle made meanwhile is collected once the collector runs again. ``freeze_after`` moves
    what was decoded out of the collector's sight for good (``gc.freeze``): for data kept until the
    process ends, like the events an audit judges.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze_after:
            gc.freeze()
        if enabled:
            gc.enable()


def load_yaml(text: str) -> Any:
    """A YAML document as plain values, by the fastest safe loader present (errors: ``compose_yaml``)."""
    return _by_fastest_loader(yaml.load, text)


def compose_yaml(text: str) -> yaml.Node | None:
    """A YAML document's node tree (each node with its line), by the fastest safe loader present.

    libyaml words its errors differently from the pure Python loader (``mapping values are not allowed in
    this context`` / ``... here``; it leaves out the offending character or alias name), so a document the
    fast loader refuses is read again by the pure one, whose error is raised: a user sees the same message
    and line whichever loader this machine has. Only bad documents pay for the second reading.
    """
    return _by_fastest_loader(yaml.compose, text)


def _by_fastest_loader(parse: Any, text: str) -> Any:
    if YAML_LOADER is not yaml.SafeLoader:
        try:
            return parse(text, Loader=YAML_LOADER)
        except yaml.YAMLError:
            pass  # read again below for the pure loader's words and marks
    return parse(text, Loader=yaml.SafeLoader)


def decode_json(data: bytes | str, into: Any, source: str) -> Any:
    """Decode a JSON document straight into ``into`` (a Struct, or a list of them)."""
    try:
        return msgspec.json.decode(data, type=into)
    except msgspec.ValidationError as exc:
        raise input_error(exc, into, source) from None
    except msgspec.DecodeError as exc:
        raise InputError(source, f"invalid JSON: {exc}") from None


def convert(data: Any, into: Any, source: str) -> Any:
    """Validate already-decoded JSON (dicts and lists) into ``into``."""
    try:
        return msgspec.convert(data, type=into)
    except msgspec.ValidationError as exc:
        raise input_error(exc, into, source) from None


def to_builtins(value: Any) -> Any:
    """Structs, tuples, enums and datetimes as the dicts, lists and strings ``json.loads`` would give."""
    return msgspec.json.decode(msgspec.json.encode(value))


def to_json(value: Any) -> str:
    """A document as indented JSON with a final newline: the shape every report file has had."""
    return msgspec.json.format(msgspec.json.encode(value), indent=2).decode() + "\n"


def to_compact_json(value: Any, sort_keys: bool = False) -> str:
    """One line; a value JSON has no type for (a path, say) is written as its ``str()``."""
    return msgspec.json.encode(value, enc_hook=str, order="sorted" if sort_keys else None).decode()


def input_error(exc: msgspec.ValidationError, into: Any, source: str) -> InputError:
    """msgspec's message, said in words a user of the file reads, with the field path kept."""
    match = _AT.match(str(exc))
    assert match is not None  # the pattern matches any text
    what, path = match["what"], (match["path"] or "").lstrip(".")
    if missing := _MISSING.match(what):
        path = f"{path}.{missing['field']}" if path else missing["field"]
        return InputError(source, f"expected {_describe_at(into, path)}, got null (missing)", field=path)
    if expected := _EXPECTED.match(what):
        got = _GOT.get(expected["got"], expected["got"])
        return InputError(source, f"expected {_describe_at(into, path)}, got {got}", field=path or None)
    if bad := _BAD_VALUE.match(what):
        message = f"expected {_describe_at(into, path)}, got {bad['value']}"
        return InputError(source, message, field=path or None)
    if "datetime" in what:
        return InputError(source, "expected an ISO 8601 time", field=path or None)
    if own := _OWN_FIELD.match(what):
        path = f"{path}.{own['field']}" if path else own["field"]
        return InputError(source, own["message"], field=path)
    return InputError(source, what[:1].lower() + what[1:], field=path or None)


def _describe_at(into: Any, path: str) -> str:
    """What the type at ``path`` (``modules[0].size``) of ``into`` expects, in words."""
    node: Any = msgspec.inspect.type_info(into)
    for name, index in _SEGMENT.findall("." + path if path and path[0] != "[" else path):
        node = _step(node, name if not index else None)
        if node is None:
            return "a valid value"
    return _describe(node)


def _unwrap(node: Any) -> Any:
    while isinstance(node, msgspec.inspect.Metadata):
        node = node.type
    if isinstance(node, msgspec.inspect.UnionType):
        kept = [t for t in node.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(kept) == 1:
            return _unwrap(kept[0])
    return node


def _step(node: Any, name: str | None) -> Any:
    node = _unwrap(node)
    inspect = msgspec.inspect
    if name is None:
        if isinstance(node, _LISTS):
            return node.item_type
        return None
    if isinstance(node, inspect.StructType):
        return next((f.type for f in node.fields if f.encode_name == name), None)
    if isinstance(node, inspect.DictType):
        return node.value_type
    return None


def _describe(node: Any) -> str:
    node = _unwrap(node)
    inspect = msgspec.inspect
    if isinstance(node, inspect.UnionType):
        return " or ".join(_describe(t) for t in node.types if not isinstance(t, inspect.NoneType))
    if isinstance(node, _LISTS):
        item = _unwrap(node.item_type)
        return "a list of strings" if isinstance(item, inspect.StrType) else "a list"
    if isinstance(node, inspect.LiteralType | inspect.EnumType):
        values = node.values if isinstance(node, inspect.LiteralType) else [m.value for m in node.cls]
        return " or ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values)
    words = {
        inspect.StrType: "a string",
        inspect.IntType: "a whole number",
        inspect.FloatType: "a number",
        inspect.BoolType: "true or false",
        inspect.StructType: "an object",
        inspect.DictType: "an object",
        inspect.DateTimeType: "an ISO 8601 time",
        inspect.NoneType: "null",
    }
    return next((word for kind, word in words.items() if isinstance(node, kind)), "a valid value")
