"""The audit command's work: load advisories, run the facts play (or read one back), judge, keep it."""

from __future__ import annotations

import json
import signal
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.advisories.schema import load_advisories
from fleetfix.ansible.artifacts import results_from_artifacts
from fleetfix.ansible.interrupt import Interrupted
from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.ansible.runner import RunObserver, RunRequest, run_playbook
from fleetfix.audit import AuditReport, audit_results
from fleetfix.files import write_atomic
from fleetfix.render.audit import to_json
from fleetfix.state import paths


def load_db(extra_dirs: Sequence[Path]) -> AdvisoryDB:
    """The shipped advisories plus the user's own, loaded before any host is touched: bad files fail fast."""
    return load_advisories([paths.shipped_advisories(), *extra_dirs])


def latest_report_path() -> Path:
    return paths.state_dir() / "audit" / "latest.json"


def _keep(report: AuditReport, run_dir: Path | None) -> None:
    document = to_json(report)
    if run_dir is not None:
        write_atomic(run_dir / "report.json", document)
    write_atomic(latest_report_path(), document)


def run_audit(
    inventories: Sequence[Path],
    limit: str | None,
    advisory_dirs: Sequence[Path],
    observer: RunObserver | None = None,
    nodes: ExecutionNodes | None = None,
) -> AuditReport:
    db = load_db(advisory_dirs)
    request = RunRequest("audit.yml", tuple(inventories), limit, nodes=nodes)
    try:
        outcome = run_playbook(request, observer, kind="audit")
    except Interrupted as stopped:
        _keep_interrupted(stopped, db)
        raise
    report = audit_results(outcome.hosts, db, datetime.now(UTC), source=str(outcome.run_dir))
    _keep(report, outcome.run_dir)
    return report


def _keep_interrupted(stopped: Interrupted, db: AdvisoryDB) -> None:
    """The hosts that answered before the signal, in the run's own directory and marked interrupted: the
    last complete report (audit/latest.json, an -o file) is left as it was."""
    if stopped.run_dir is None:
        return
    partial = audit_results(stopped.hosts, db, datetime.now(UTC), source=str(stopped.run_dir))
    document = json.loads(to_json(partial)) | {"interrupted": signal.Signals(stopped.signum).name}
    write_atomic(stopped.run_dir / "report.json", json.dumps(document, indent=2) + "\n")


def audit_artifacts(source: Path, advisory_dirs: Sequence[Path]) -> AuditReport:
    db = load_db(advisory_dirs)
    report = audit_results(results_from_artifacts(source), db, datetime.now(UTC), source=str(source))
    _keep(report, None)
    return report
