"""Job event files: written during a local run (``write_event``), read back from a finished run: an
ansible-runner artifacts tree or an AWX job event export.

Accepted shapes: a runner private data dir (``artifacts/<ident>/job_events/*.json``), an artifacts ident dir
(``job_events/*.json``), or a file holding AWX job events (the API's ``{"results": [...]}`` page, a JSON list,
or one JSON event per line).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from fleetfix.ansible.events import EventFold
from fleetfix.errors import InputError
from fleetfix.host_result import HostResult
from fleetfix.serde import collector_paused

_COUNTER_NAME = re.compile(r"^(\d+)-")


def _event_files(root: Path) -> list[Path]:
    direct = root / "job_events"
    dirs = [direct] if direct.is_dir() else sorted(root.glob("artifacts/*/job_events"))
    if not dirs:
        raise InputError(str(root), "no job_events directory (expected a runner artifacts dir)")
    files = [f for d in dirs for f in d.glob("*.json")]
    if not files:
        raise InputError(str(dirs[0]), "no job events in the artifacts directory")
    return files


def write_event(events_dir: Path, event: dict[str, Any]) -> None:
    """One job event as ansible-runner names and writes it (``<counter>-<uuid>.json``, owner-only, renamed
    into place whole), encoded by msgspec: the runner's own ``json.dump`` writes in many small pieces and
    costs more controller CPU than the rest of an audit's event handling."""
    if "uuid" not in event or "counter" not in event:
        return
    path = events_dir / f"{event['counter']}-{event['uuid']}.json"
    partial = path.with_name(path.name + ".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(msgspec.json.encode(event))
    os.replace(partial, path)


def _load_json(path: Path) -> Any:
    try:
        data = path.read_bytes()
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        raise _invalid_json(str(path), data) from None
    except OSError as exc:
        raise InputError(str(path), exc.strerror or str(exc)) from None


def _invalid_json(source: str, data: bytes) -> InputError:
    """msgspec tells a byte offset; the standard decoder, asked again, tells the line and column."""
    try:
        json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        if isinstance(exc, json.JSONDecodeError):
            return InputError(source, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno)
        return InputError(source, f"invalid JSON: not UTF-8 ({exc.reason})")
    return InputError(source, "invalid JSON")


def _awx_events(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith("[") or (stripped.startswith("{") and '"results"' in stripped[:2000]):
        data = _load_json(path)
        events = data.get("results") if isinstance(data, dict) else data
    else:
        events = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    events.append(msgspec.json.decode(line))
                except msgspec.DecodeError as exc:
                    raise InputError(str(path), f"invalid JSON line: {exc}", line=number) from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise InputError(str(path), "expected a list of job events", field="results")
    return events


def iter_events(source: Path) -> Iterator[dict[str, Any]]:
    """Events in the order they happened (their ``counter``).

    ansible-runner names each event file ``<counter>-<uuid>.json``: when every name says its counter, the
    files are read one at a time in that order and only the fold keeps what it needs; otherwise all are
    read and sorted by the counter inside.
    """
    if not source.exists():
        raise InputError(str(source), "not found")
    if not source.is_dir():
        yield from sorted(_awx_events(source), key=_counter)
        return
    files = _event_files(source)
    named = [(int(m[1]), path) for path in files if (m := _COUNTER_NAME.match(path.name))]
    if len(named) == len(files):
        events = (_load_json(path) for _, path in sorted(named))
        yield from (event for event in events if isinstance(event, dict))
        return
    yield from sorted((e for e in map(_load_json, files) if isinstance(e, dict)), key=_counter)


def _counter(event: dict[str, Any]) -> int:
    """The event's place in its run; an event without a usable counter sorts first."""
    counter = event.get("counter")
    return counter if isinstance(counter, int) and not isinstance(counter, bool) else 0


def results_from_artifacts(source: Path) -> dict[str, HostResult]:
    fold = EventFold()
    with collector_paused(freeze_after=True):
        for event in iter_events(source):
            data = event.get("event_data")
            data = data if isinstance(data, dict) else {}
            if "host" not in data and isinstance(event.get("host_name"), str):
                event = {**event, "event_data": {**data, "host": event["host_name"]}}
            fold.add(event)
        results = fold.results()
    if not results:
        raise InputError(str(source), "the job events hold no host results")
    return results
