"""The triage command's work: collect if asked, read crashes, group and correlate them, render the document.

Reads the crash store (default ``<state>/crashes``, after bringing the netconsole receiver's files there
from ``<state>/netconsole`` or ``--netconsole``) or the PATHs given; the last audit report (``fleetfix
audit`` keeps it as ``<state>/audit/latest.json``) for the module builds the crashing hosts run; and the
advisory database. Exit status: 0 when no crash was found, 1 when some were.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fleetfix.ansible.runner import RunObserver
from fleetfix.commands.audit import latest_report_path, load_db
from fleetfix.commands.collect import collect, sync_netconsole
from fleetfix.errors import InputError
from fleetfix.render.triage import to_json, to_markdown
from fleetfix.state import paths
from fleetfix.state.crash_store import read_paths
from fleetfix.triage.correlate.run_length import DEFAULT_RUN_LENGTH
from fleetfix.triage.group import audited_builds, group_crashes
from fleetfix.triage.result import TriageResult

_UNIT = r"(days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)"
_SPAN = re.compile(rf"(\d+(?:\.\d+)?)\s*{_UNIT}", re.IGNORECASE)
_DURATION = re.compile(rf"\s*(?:\d+(?:\.\d+)?\s*{_UNIT}\s*)+", re.IGNORECASE)
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str, source: str) -> timedelta:
    """``3h``, ``90min``, ``1h30m``, ``2d``, ``45s``: a positive span with units."""
    if not _DURATION.fullmatch(text):
        raise InputError(source, f"expected a duration such as 3h, 90min or 1h30m, got {text!r}")
    seconds = sum(float(number) * _SECONDS[_unit(unit)] for number, unit in _SPAN.findall(text))
    if seconds <= 0:
        raise InputError(source, f"a run length must be longer than zero, got {text!r}")
    return timedelta(seconds=seconds)


def _unit(word: str) -> str:
    word = word.lower()
    return "m" if word.startswith("mi") else word[0]


def parse_run_lengths(items: Sequence[str]) -> dict[str, timedelta]:
    """``JOB=DURATION`` settings; JOB is the job's command, its timer unit, or the file it is defined in."""
    lengths = {}
    for item in items:
        job, sep, duration = item.rpartition("=")
        if not sep or not job.strip():
            raise InputError("--run-length", f"expected JOB=DURATION, got {item!r}")
        lengths[job.strip()] = parse_duration(duration, f"--run-length {job.strip()}")
    return lengths


def load_audit(path: Path) -> dict[str, Any] | None:
    """The last audit report, checked; None when no audit was ever kept."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(data, dict):
        raise InputError(str(path), "expected an audit report object")
    audited_builds(data, str(path))
    return data


@dataclass(frozen=True)
class TriageRequest:
    paths: tuple[Path, ...] = ()  # crash stores and kernel logs; none: the store
    inventories: tuple[Path, ...] = ()  # collect from these hosts first
    limit: str | None = None
    store: Path | None = None  # default <state>/crashes
    netconsole_dir: Path | None = None  # the receiver's directory, default <state>/netconsole
    run_lengths: Mapping[str, timedelta] = field(default_factory=dict)
    default_run_length: timedelta = DEFAULT_RUN_LENGTH
    advisory_dirs: tuple[Path, ...] = ()


def triage(request: TriageRequest, observer: RunObserver | None = None) -> TriageResult:
    db = load_db(request.advisory_dirs)  # a broken advisory fails before any host is touched
    audit_path = latest_report_path()
    audit = load_audit(audit_path)
    store = request.store or paths.crash_store()
    netconsole = request.netconsole_dir or paths.netconsole_dir()
    collected = None
    if request.inventories:
        collected = collect(request.inventories, request.limit, store, observer, netconsole)
    sources = list(request.paths)
    if request.inventories or not sources:
        if collected is None:
            sync_netconsole(netconsole, store)
        if store.is_dir() or request.store is not None:  # the default store before any collect: nothing
            sources.insert(0, store)
    if not sources:
        raise InputError(
            str(store), "no crash store yet: run fleetfix collect -i INVENTORY, or name the logs to read"
        )
    found = read_paths(sources)
    if found.stats.kernel_logs == 0 and not found.hosts:  # never "no crash" for having read nothing
        where = ", ".join(str(s) for s in sources)
        raise InputError(where, f"no kernel log to read: {found.stats.describe()}")
    groups = group_crashes(
        found.groups, audit, db, found.hosts, request.run_lengths, None, request.default_run_length
    )
    audited = audit_path if audit else None
    return TriageResult(groups, datetime.now(UTC), tuple(sources), audited, collected, found.stats)


def render(result: TriageResult, fmt: str) -> str:
    """The JSON or Markdown document (the table is drawn by ``ui.triage_table``)."""
    if fmt == "json":
        return to_json(result.groups, result.generated_at, result.read_counts)
    return to_markdown(result.groups, result.generated_at, result.read.describe())
