"""`fleetfix report`: the audit, the triage and a remediation run read back and written as one HTML file."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleetfix.commands.runs import list_runs, show_run
from fleetfix.errors import ExitStatus, FleetfixError, InputError
from fleetfix.files import write_atomic
from fleetfix.render.html_report import change_report
from fleetfix.state import paths
from fleetfix.triage.timeline import document_timelines


@dataclass(frozen=True)
class ReportRequest:
    output: Path
    audit: Path | None  # default: the newest audit, <state>/audit/latest.json
    triage: Path | None  # `fleetfix triage --format json`
    run: int | None  # a remediation run in the journal; 0: the newest
    baselines: Sequence[Path]  # soak.json of `fleetfix soak` runs made before the change


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"not JSON: {exc.msg}", line=exc.lineno) from None


def _audit(path: Path) -> Mapping[str, Any]:
    document = _load_json(path)
    hosts = document.get("hosts") if isinstance(document, Mapping) else None
    if not isinstance(hosts, list) or not all(isinstance(h, Mapping) and "host" in h for h in hosts):
        raise InputError(str(path), "expected fleetfix audit --format json output", field="hosts")
    return document


def _baseline(paths_: Sequence[Path]) -> dict[str, Mapping[str, Any]]:
    """Host -> its soak record, from soak.json files (a later file wins for a host soaked twice)."""
    by_host: dict[str, Mapping[str, Any]] = {}
    for path in paths_:
        records = _load_json(path)
        if not isinstance(records, list):
            raise InputError(str(path), "expected the soak.json a fleetfix soak run writes (a list of hosts)")
        for i, record in enumerate(records):
            if not isinstance(record, Mapping) or not isinstance(record.get("host"), str):
                raise InputError(str(path), "expected an object with a host", field=f"[{i}]")
            by_host[record["host"]] = record
    return by_host


def _run(run: int | None) -> Mapping[str, Any] | None:
    if run is None:
        return None
    if run == 0:
        listing = list_runs()
        if not listing:
            raise InputError("--run", "the journal holds no remediation run")
        run = int(listing[0]["id"])
    return show_run(run)


def write_report(request: ReportRequest, now: datetime | None = None) -> Path:
    """Read every input (any bad one fails before anything is written), then write the file whole."""
    audit_path = request.audit or paths.state_dir() / "audit" / "latest.json"
    if request.audit is None and not audit_path.exists():
        # The default input is missing, not a bad option value: bad input (3), named by the option to set.
        message = f"--audit: no audit report at {audit_path}: run fleetfix audit, or name one"
        raise FleetfixError(message, ExitStatus.BAD_INPUT)
    audit = _audit(audit_path)
    triage = _load_json(request.triage) if request.triage else None
    if triage is not None and not isinstance(triage, Mapping):
        raise InputError(str(request.triage), "expected fleetfix triage --format json output")
    timelines = document_timelines(triage, str(request.triage)) if triage is not None else []
    html = change_report(
        audit, triage, timelines, _run(request.run), _baseline(request.baselines), now or datetime.now(UTC)
    )
    write_atomic(request.output, html)
    return request.output
