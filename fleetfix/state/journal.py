"""The remediation journal: every run and every host's step, in SQLite under the state directory.

Written as things happen: a row when a step starts, the same row completed when it ends, each statement
committed on its own in WAL mode with ``synchronous=FULL``. A controller killed with ``kill -9`` therefore
loses nothing it had already recorded, and a step it was in shows as started with no end, which is exactly
what ``progress.run_progress`` needs to send that host back through its facts before anything is repeated.
Readers (``fleetfix runs``) never block the writer and see only whole rows.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleetfix.errors import EnvironmentProblem, InputError
from fleetfix.plan.build import STEPS, Plan
from fleetfix.plan.run_state import STATES, RunProgress, StepRecord, run_progress
from fleetfix.state import paths

SCHEMA_VERSION = 1
RUN_STATUSES = ("running", "done", "stopped-window", "stopped-budget", "failed", "aborted")
_STEP_LIST = ", ".join(f"'{s}'" for s in STEPS)
_STATE_LIST = ", ".join(f"'{s}'" for s in STATES)
_STATUS_LIST = ", ".join(f"'{s}'" for s in RUN_STATUSES)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    command TEXT NOT NULL,
    module TEXT NOT NULL,
    target TEXT NOT NULL,
    plan TEXT NOT NULL,
    window TEXT,
    options TEXT NOT NULL DEFAULT '{{}}',
    budget INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({_STATUS_LIST})),
    note TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE TABLE IF NOT EXISTS host_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    host TEXT NOT NULL,
    step TEXT NOT NULL CHECK (step IN ({_STEP_LIST})),
    state TEXT NOT NULL CHECK (state IN ({_STATE_LIST})),
    detail TEXT NOT NULL DEFAULT '{{}}',
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX IF NOT EXISTS host_steps_by_run ON host_steps (run_id, host, step);
"""


def default_path() -> Path:
    return paths.state_dir() / "journal.sqlite"


@dataclass(frozen=True)
class RunRecord:
    id: int
    command: str
    module: str
    target: str
    plan: Plan
    window: str | None
    options: dict[str, Any]  # the run's own settings (soak profile, reboot permission...), kept for --resume
    budget: int
    status: str
    note: str
    started_at: datetime
    ended_at: datetime | None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command,
            "module": self.module,
            "target": self.target,
            "window": self.window,
            "options": self.options,
            "budget": self.budget,
            "status": self.status,
            "note": self.note,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


class Journal:
    """One SQLite file; open it once per process (connections are not shared across processes)."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.path = Path(path)
        self._clock = clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.OperationalError) as exc:
            raise EnvironmentProblem(f"{self.path}: cannot open the journal: {exc}") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._create_schema()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise InputError(str(self.path), f"not a usable fleetfix journal: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _create_schema(self) -> None:
        with self._transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                message = (
                    f"journal schema {version} is newer than this fleetfix ({SCHEMA_VERSION}): upgrade it"
                )
                raise InputError(str(self.path), message)
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat()

    # Writes: one statement each, committed at once (autocommit).

    def start_run(
        self, command: str, plan: Plan, window: str | None, options: Mapping[str, Any] | None = None
    ) -> int:
        cursor = self._db.execute(
            "INSERT INTO runs (command, module, target, plan, window, options, budget, status, started_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)",
            (
                command,
                plan.module,
                plan.target,
                json.dumps(plan.to_dict()),
                window,
                _json(options or {}),
                plan.failure_budget,
                self._now(),
            ),
        )
        return int(cursor.lastrowid)

    def resume_run(self, run_id: int, window: str | None) -> None:
        """Mark a stopped or interrupted run running again, under the window this resume uses."""
        self._update_run(
            run_id, "UPDATE runs SET status='running', ended_at=NULL, window=? WHERE id=?", (window, run_id)
        )

    def end_run(self, run_id: int, status: str, note: str = "") -> None:
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"not a final run status: {status!r}")
        self._update_run(
            run_id,
            "UPDATE runs SET status=?, note=?, ended_at=? WHERE id=?",
            (status, note, self._now(), run_id),
        )

    def step_started(
        self, run_id: int, host: str, step: str, detail: Mapping[str, Any] | None = None
    ) -> None:
        now = self._now()
        self._db.execute(
            "INSERT INTO host_steps (run_id, host, step, state, detail, started_at)"
            " VALUES (?, ?, ?, 'started', ?, ?)",
            (run_id, host, step, _json(detail or {}), now),
        )

    def step_ended(
        self, run_id: int, host: str, step: str, state: str, detail: Mapping[str, Any] | None = None
    ) -> None:
        """Complete the open record of this step; its start detail is kept, the end detail added over it."""
        if state not in ("ok", "failed", "skipped"):
            raise ValueError(f"not a final step state: {state!r}")
        row = self._db.execute(
            "SELECT id, detail FROM host_steps WHERE run_id=? AND host=? AND step=? AND ended_at IS NULL"
            " ORDER BY id DESC LIMIT 1",
            (run_id, host, step),
        ).fetchone()
        if row is None:
            raise ValueError(f"run {run_id}: {host} has no {step} step in progress")
        merged = {**json.loads(row[1]), **(detail or {})}
        self._db.execute(
            "UPDATE host_steps SET state=?, detail=?, ended_at=? WHERE id=?",
            (state, _json(merged), self._now(), row[0]),
        )

    def step_skipped(self, run_id: int, host: str, step: str, reason: str) -> None:
        now = self._now()
        self._db.execute(
            "INSERT INTO host_steps (run_id, host, step, state, detail, started_at, ended_at)"
            " VALUES (?, ?, ?, 'skipped', ?, ?, ?)",
            (run_id, host, step, _json({"reason": reason}), now, now),
        )

    def _update_run(self, run_id: int, sql: str, params: tuple[Any, ...]) -> None:
        if self._db.execute(sql, params).rowcount != 1:
            raise InputError(str(self.path), f"no run {run_id}")

    # Reads.

    def runs(self) -> list[RunRecord]:
        rows = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY id DESC").fetchall()
        return [_run(row) for row in rows]

    def run(self, run_id: int) -> RunRecord:
        row = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise InputError(str(self.path), f"no run {run_id} (fleetfix runs lists them)")
        return _run(row)

    def latest_unfinished(self) -> RunRecord | None:
        """The newest run not ``done``: what ``--resume`` without a run id continues."""
        row = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE status != 'done' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return _run(row) if row else None

    def steps(self, run_id: int) -> list[StepRecord]:
        rows = self._db.execute(
            "SELECT host, step, state, detail, started_at, ended_at FROM host_steps"
            " WHERE run_id=? ORDER BY id",
            (run_id,),
        ).fetchall()
        return [
            StepRecord(host, step, state, json.loads(detail), _time(started), _time(ended) if ended else None)
            for host, step, state, detail, started, ended in rows
        ]

    def progress(self, run_id: int) -> RunProgress:
        return run_progress(self.run(run_id).plan.hosts, self.steps(run_id))

    def listing(self) -> list[dict[str, Any]]:
        """``fleetfix runs``: every run, newest first, with its hosts counted by status."""
        return [
            {**r.summary(), "hosts": run_progress(r.plan.hosts, self.steps(r.id)).counts()}
            for r in self.runs()
        ]

    def show(self, run_id: int) -> dict[str, Any]:
        """``fleetfix runs show RUN``: the run, its plan, and each host's steps, soak figures and outcome."""
        record = self.run(run_id)
        progress = run_progress(record.plan.hosts, self.steps(run_id))
        return {"run": record.summary(), "plan": record.plan.to_dict(), **progress.to_dict()}


_RUN_COLUMNS = (
    "id, command, module, target, plan, window, options, budget, status, note, started_at, ended_at"
)


def _run(row: tuple[Any, ...]) -> RunRecord:
    run_id, command, module, target, plan, window, options, budget, status, note, started, ended = row
    return RunRecord(
        run_id,
        command,
        module,
        target,
        Plan.from_dict(json.loads(plan)),
        window,
        json.loads(options),
        budget,
        status,
        note,
        _time(started),
        _time(ended) if ended else None,
    )


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _json(detail: Mapping[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, default=str)
