"""The remediation journal: every run and every host's step, in SQLite under the state directory.

Written as things happen: a row when a step starts, the same row completed when it ends, each statement
committed on its own in WAL mode with ``synchronous=FULL``. A controller killed with ``kill -9`` therefore
loses nothing it had already recorded, and a step it was in shows as started with no end, which is exactly
what ``progress.run_progress`` needs to send that host back through its facts before anything is repeated.
Readers (``fleetfix runs``) never block the writer and see only whole rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from fleetfix import serde
from fleetfix.errors import EnvironmentProblem, InputError
from fleetfix.plan.build import Plan
from fleetfix.plan.document import plan_from_json, plan_to_dict
from fleetfix.plan.measured import MeasuredStep
from fleetfix.plan.run_state import RunProgress, StepRecord, StepState, run_progress
from fleetfix.plan.steps import Step
from fleetfix.state import paths


class RunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    STOPPED_WINDOW = "stopped-window"
    STOPPED_BUDGET = "stopped-budget"
    STOPPED_CANARY = "stopped-canary"  # a canary failed its bake: no later batch starts
    FAILED = "failed"
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"  # stopped by SIGINT/SIGTERM; resumable


RUN_STATUSES = tuple(RunStatus)
_Enum = TypeVar("_Enum", bound=StrEnum)

# The schema, version by version. A journal records its version in ``PRAGMA user_version``; opening it
# applies every step of the ladder above that version, in one transaction. Steps, states and statuses are
# checked in Python (their enums) when written, never by CHECK constraints: a new step must not turn every
# journal written before it into one that refuses inserts.
_CREATE_V2 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    command TEXT NOT NULL,
    module TEXT NOT NULL,
    target TEXT NOT NULL,
    plan TEXT NOT NULL,
    window TEXT,
    options TEXT NOT NULL DEFAULT '{}',
    budget INTEGER NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE TABLE host_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    host TEXT NOT NULL,
    step TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX host_steps_by_run ON host_steps (run_id, host, step);
"""

# Version 1 (fleetfix before the versioned ladder) had the same columns with CHECK constraints listing
# the steps, states and statuses of its day. SQLite cannot drop a constraint: the tables are rebuilt
# and the rows copied with their ids, so run numbers and the AUTOINCREMENT sequence carry over.
_V1_TO_V2 = (
    """
ALTER TABLE runs RENAME TO runs_v1;
ALTER TABLE host_steps RENAME TO host_steps_v1;
DROP INDEX host_steps_by_run;
"""
    + _CREATE_V2
    + """
INSERT INTO runs SELECT id, command, module, target, plan, window, options, budget, status, note,
    started_at, ended_at FROM runs_v1;
INSERT INTO host_steps SELECT id, run_id, host, step, state, detail, started_at, ended_at
    FROM host_steps_v1;
DROP TABLE host_steps_v1;
DROP TABLE runs_v1;
"""
)

# From the version a journal has to the next one; version 0 is a new, empty file.
_LADDER: dict[int, tuple[int, str]] = {0: (2, _CREATE_V2), 1: (2, _V1_TO_V2)}
SCHEMA_VERSION = 2


def default_path() -> Path:
    return paths.state_dir() / "journal.sqlite"


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    id: int
    command: str
    module: str
    target: str
    plan: Plan
    window: str | None
    options: dict[str, Any]  # the run's own settings (soak profile, reboot permission...), kept for --resume
    budget: int
    status: RunStatus
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
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise InputError(str(self.path), f"not a usable fleetfix journal: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: object) -> None:
        """Closes the journal; a row that does not read back, or pages SQLite finds corrupt, become an
        InputError naming the journal (it is a file the user can repair, move away or restore)."""
        self.close()
        if isinstance(error, CorruptRow | sqlite3.DatabaseError) and not isinstance(
            error, sqlite3.IntegrityError
        ):
            raise InputError(str(self.path), f"not a usable fleetfix journal: {error}") from None

    def _migrate(self) -> None:
        """Bring the file to ``SCHEMA_VERSION`` by the ladder; a newer file is refused, never changed."""
        # Foreign keys are off while tables are rebuilt (SQLite's own procedure) and checked after.
        self._db.execute("PRAGMA foreign_keys=OFF")
        with self._transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                message = (
                    f"journal schema {version} is newer than this fleetfix ({SCHEMA_VERSION}): upgrade it"
                )
                raise InputError(str(self.path), message)
            while version < SCHEMA_VERSION:
                if version not in _LADDER:
                    raise InputError(str(self.path), f"journal schema {version} is not one fleetfix wrote")
                version, script = _LADDER[version]
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={version}")
            if self._db.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise InputError(str(self.path), "a step row names a run that does not exist")
        self._db.execute("PRAGMA foreign_keys=ON")

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
                serde.to_compact_json(plan_to_dict(plan)),
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

    def end_run(self, run_id: int, status: RunStatus | str, note: str = "") -> None:
        if status not in RUN_STATUSES or status == RunStatus.RUNNING:
            raise ValueError(f"not a final run status: {status!r}")
        self._update_run(
            run_id,
            "UPDATE runs SET status=?, note=?, ended_at=? WHERE id=?",
            (status, note, self._now(), run_id),
        )

    def step_started(
        self, run_id: int, host: str, step: Step | str, detail: Mapping[str, Any] | None = None
    ) -> None:
        step = Step(step)
        now = self._now()
        self._db.execute(
            "INSERT INTO host_steps (run_id, host, step, state, detail, started_at)"
            " VALUES (?, ?, ?, 'started', ?, ?)",
            (run_id, host, step, _json(detail or {}), now),
        )

    def step_ended(
        self,
        run_id: int,
        host: str,
        step: Step | str,
        state: StepState | str,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Complete the open record of this step; its start detail is kept, the end detail added over it."""
        step = Step(step)
        if state not in tuple(StepState) or state == StepState.STARTED:
            raise ValueError(f"not a final step state: {state!r}")
        row = self._db.execute(
            "SELECT id, detail FROM host_steps WHERE run_id=? AND host=? AND step=? AND ended_at IS NULL"
            " ORDER BY id DESC LIMIT 1",
            (run_id, host, step),
        ).fetchone()
        if row is None:
            raise ValueError(f"run {run_id}: {host} has no {step} step in progress")
        merged = {
            **serde.decode_json(row[1], dict[str, Any], f"{self.path}: step {row[0]}"),
            **(detail or {}),
        }
        self._db.execute(
            "UPDATE host_steps SET state=?, detail=?, ended_at=? WHERE id=?",
            (state, _json(merged), self._now(), row[0]),
        )

    def step_skipped(self, run_id: int, host: str, step: Step | str, reason: str) -> None:
        step = Step(step)
        now = self._now()
        self._db.execute(
            "INSERT INTO host_steps (run_id, host, step, state, detail, started_at, ended_at)"
            " VALUES (?, ?, ?, 'skipped', ?, ?, ?)",
            (run_id, host, step, _json({"reason": reason}), now, now),
        )

    def _run(self, row: tuple[Any, ...]) -> RunRecord:
        run_id, command, module, target, plan, window, options, budget, status, note, started, ended = row
        source = f"{self.path}: run {run_id}"
        return RunRecord(
            id=run_id,
            command=command,
            module=module,
            target=target,
            plan=plan_from_json(plan, f"{source} plan"),
            window=window,
            options=serde.decode_json(options, dict[str, Any], f"{source} options"),
            budget=budget,
            status=self._known(RunStatus, status, "runs.status"),
            note=note,
            started_at=_time(started),
            ended_at=_time(ended) if ended else None,
        )

    def _known(self, kind: type[_Enum], value: str, column: str) -> _Enum:
        try:
            return kind(value)
        except ValueError:
            raise InputError(str(self.path), f"unknown value {value!r}", field=column) from None

    def _update_run(self, run_id: int, sql: str, params: tuple[Any, ...]) -> None:
        if self._db.execute(sql, params).rowcount != 1:
            raise InputError(str(self.path), f"no run {run_id}")

    # Reads.

    def runs(self) -> list[RunRecord]:
        rows = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY id DESC").fetchall()
        return [self._run(row) for row in rows]

    def run(self, run_id: int) -> RunRecord:
        row = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise InputError(str(self.path), f"no run {run_id} (fleetfix runs lists them)")
        return self._run(row)

    def latest_unfinished(self) -> RunRecord | None:
        """The newest run not ``done``: what ``--resume`` without a run id continues."""
        row = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE status != 'done' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return self._run(row) if row else None

    def steps(self, run_id: int) -> list[StepRecord]:
        rows = self._db.execute(
            "SELECT host, step, state, detail, started_at, ended_at FROM host_steps"
            " WHERE run_id=? ORDER BY id",
            (run_id,),
        ).fetchall()
        return [
            StepRecord(
                host=host,
                step=self._known(Step, step, "host_steps.step"),
                state=self._known(StepState, state, "host_steps.state"),
                detail=serde.decode_json(detail, dict[str, Any], f"{self.path}: run {run_id} {host} {step}"),
                started_at=_time(started),
                ended_at=_time(ended) if ended else None,
            )
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

    def measured_steps(self, module: str, limit: int = 2000) -> list[MeasuredStep]:
        """The finished steps of earlier runs of ``module``, newest first: what each one took.

        Steps that did nothing (an upgrade or activation skipped because the build was already there) say
        nothing about how long the work takes and are left out.
        """
        rows = self._db.execute(
            "SELECT s.step, s.started_at, s.ended_at, s.detail, r.plan FROM host_steps s"
            " JOIN runs r ON r.id = s.run_id"
            " WHERE r.module = ? AND s.state = 'ok' AND s.ended_at IS NOT NULL"
            " AND coalesce(json_extract(s.detail, '$.status'), '') != 'skipped'"
            " ORDER BY s.id DESC LIMIT ?",
            (module, limit),
        ).fetchall()
        plans: dict[str, dict[str, Any]] = {}
        measured = []
        for step, started, ended, detail, plan in rows:
            times = plans.setdefault(
                plan, serde.decode_json(plan, dict[str, Any], str(self.path)).get("times", {})
            )
            runtime = times.get(f"{step}_runtime") if step in ("baseline", "soak") else None
            method = serde.decode_json(detail, dict[str, Any], str(self.path)).get("method")
            measured.append(
                MeasuredStep(
                    step=step,
                    seconds=(_time(ended) - _time(started)).total_seconds(),
                    method=method if isinstance(method, str) else None,
                    runtime=float(runtime) if isinstance(runtime, int | float) and runtime > 0 else None,
                )
            )
        return measured

    def show(self, run_id: int) -> dict[str, Any]:
        """``fleetfix runs show RUN``: the run, its plan, and each host's steps, soak figures and outcome."""
        record = self.run(run_id)
        progress = run_progress(record.plan.hosts, self.steps(run_id))
        return {"run": record.summary(), "plan": plan_to_dict(record.plan), **progress.to_dict()}


_RUN_COLUMNS = (
    "id, command, module, target, plan, window, options, budget, status, note, started_at, ended_at"
)


class CorruptRow(Exception):
    """A row that does not read back; ``Journal.__exit__`` turns it into an InputError naming the journal."""


def _time(text: Any) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise CorruptRow(f"not a time: {str(text)[:40]!r}") from None


def _json(detail: Mapping[str, Any]) -> str:
    return serde.to_compact_json(detail, sort_keys=True)
