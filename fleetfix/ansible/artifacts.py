"""Read job events back from a finished run: an ansible-runner artifacts tree or an AWX job event export.

Accepted shapes: a runner private data dir (``artifacts/<ident>/job_events/*.json``), an artifacts ident dir
(``job_events/*.json``), or a file holding AWX job events (the API's ``{"results": [...]}`` page, a JSON list,
or one JSON event per line).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fleetfix.ansible.events import EventFold
from fleetfix.errors import InputError
from fleetfix.host_result import HostResult


def _event_files(root: Path) -> list[Path]:
    direct = root / "job_events"
    dirs = [direct] if direct.is_dir() else sorted(root.glob("artifacts/*/job_events"))
    if not dirs:
        raise InputError(str(root), "no job_events directory (expected a runner artifacts dir)")
    files = [f for d in dirs for f in d.glob("*.json")]
    if not files:
        raise InputError(str(dirs[0]), "no job events in the artifacts directory")
    return files


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(
            str(path), f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno
        ) from None
    except OSError as exc:
        raise InputError(str(path), exc.strerror or str(exc)) from None


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
                    events.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(str(path), f"invalid JSON line: {exc.msg}", line=number) from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise InputError(str(path), "expected a list of job events", field="results")
    return events


def iter_events(source: Path) -> Iterator[dict[str, Any]]:
    if not source.exists():
        raise InputError(str(source), "not found")
    if source.is_dir():
        events = []
        for path in _event_files(source):
            event = _load_json(path)
            if isinstance(event, dict):
                events.append(event)
    else:
        events = _awx_events(source)
    yield from sorted(events, key=lambda e: int(e.get("counter") or 0))


def results_from_artifacts(source: Path) -> dict[str, HostResult]:
    fold = EventFold()
    for event in iter_events(source):
        data = event.get("event_data") or {}
        if "host" not in data and event.get("host_name"):
            event = {**event, "event_data": {**data, "host": event["host_name"]}}
        fold.add(event)
    results = fold.results()
    if not results:
        raise InputError(str(source), "the job events hold no host results")
    return results
