"""`fleetfix runs`: the remediation journal read back, each run as it stands now.

A run the journal still calls running whose process is gone reads as interrupted (the lock tells).
"""

from __future__ import annotations

from typing import Any

from fleetfix.errors import InputError
from fleetfix.state.journal import Journal, default_path
from fleetfix.state.lock import as_seen_now


def list_runs() -> list[dict[str, Any]]:
    """Every run, newest first, with its per-status host counts; none (and no journal made) before the
    first remediation."""
    if not default_path().exists():
        return []
    with Journal(default_path()) as journal:
        return [as_seen_now(run) for run in journal.listing()]


def show_run(run_id: int) -> dict[str, Any]:
    """One run with each host's steps; an unknown id is bad input (the journal says which)."""
    if not default_path().exists():
        raise InputError(str(default_path()), f"no run {run_id}: no remediation has run yet")
    with Journal(default_path()) as journal:
        shown = journal.show(run_id)
    shown["run"] = as_seen_now(shown["run"])
    return shown
