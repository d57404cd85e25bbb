"""`fleetfix remediate`: plan from fresh facts, confirm, then batches until done, the window ends or the
failure budget is spent; `--resume` continues a run from its journal; `--check` plays it in check mode."""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fleetfix import grammar
from fleetfix.ansible.interrupt import Interrupted
from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.ansible.runner import RunObserver, RunRequest, inventory_hosts, run_playbook
from fleetfix.audit import audit_results
from fleetfix.commands.audit import load_db
from fleetfix.commands.remediate_bake import run_bake
from fleetfix.commands.remediate_batch import BatchContext, run_batch
from fleetfix.commands.remediate_hooks import check_hook
from fleetfix.errors import ExitStatus, FleetfixError, InputError
from fleetfix.facts.host import HostFacts
from fleetfix.plan.build import Plan, build_plan
from fleetfix.plan.count import Count
from fleetfix.plan.domains import host_domains, parse_batch_by
from fleetfix.plan.hooks import Hook, parse_hook
from fleetfix.plan.measured import Estimates, MeasuredStep, estimate_times
from fleetfix.plan.outcome import RemediateOutcome
from fleetfix.plan.pacing import (
    Bake,
    Budget,
    Done,
    StartBatch,
    StopBudget,
    StopCanary,
    check_window_fits,
    next_action,
)
from fleetfix.plan.times import StepTimes, baseline_seconds, parse_duration
from fleetfix.plan.window import Window, parse_window, window_for_run
from fleetfix.soak.profiles import select_profile
from fleetfix.soak.verdict import parse_iops_floor, parse_p99_ceiling
from fleetfix.state.journal import Journal, default_path
from fleetfix.state.lock import RemediationLock
from fleetfix.state.lock import default_path as lock_path
from fleetfix.versions import parse_version

ONE_HOST = Count(1, False)  # default batch and failure budget: one host at a time, stop at a failure
IOPS_FLOOR = "80%"  # of the host's own baseline on the old build
P99_CEILING = "500%"  # of the baseline's p99, never below 10 ms


@dataclass(frozen=True)
class RemediateRequest:
    inventories: tuple[Path, ...]
    limit: str | None
    module: str | None = None  # None on --resume: the run's own module
    to: str | None = None
    window: str | None = None
    tz: str | None = None
    batch: Count = ONE_HOST
    max_failures: Count = ONE_HOST
    soak_runtime: int | None = None  # seconds; None: 300 for a new run, the run's own on --resume
    profile: str | None = None  # None: "thrash" for a new run, the run's own on --resume
    iops_floor: str | None = None  # "80%" of the baseline or IOPS; None: 80% new, the run's own on --resume
    p99_ceiling: str | None = None  # "500%" of the baseline's p99 or ms; None: as iops_floor
    baseline_runtime: int | None = None  # seconds; None: a fifth of the soak (5 to 60), the run's on --resume
    reboot: bool = False  # on --resume, granted if the run or this command grants it
    canary: int = 0  # --canary N: batch 1 holds N hosts only
    bake: str | None = None  # --bake DURATION: watched that long after the canary batch, before batch 2
    rollback: bool | None = None  # None: on for a new run, the run's own on --resume; --no-rollback: False
    require_capture: bool = False
    pre_hook: str | None = None  # --pre-hook: a command or a playbook (.yml, .yaml) run before the upgrade
    post_hook: str | None = None  # --post-hook: run after a passed soak, or after a rollback
    batch_by: str | None = None  # --batch-by group:PREFIX | var:NAME: no batch spans two failure domains
    check: bool = False
    advisory_dirs: tuple[Path, ...] = ()
    resume: int | None = None  # a run id; 0 means the newest unfinished run
    nodes: ExecutionNodes | None = None  # step plays run in slices there; window and budget stay here
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), compare=False)


def _facts(
    inventories: Sequence[Path], limit: str | None, observer: RunObserver | None, nodes: ExecutionNodes | None
):
    request = RunRequest("audit.yml", tuple(inventories), limit, nodes=nodes)
    outcome = run_playbook(request, observer, kind="remediate-facts")
    facts = {
        host: HostFacts.from_dict(result.facts["fleetfix"], f"{outcome.run_dir}:{host}")
        for host, result in outcome.hosts.items()
        if result.status == "ok" and "fleetfix" in result.facts
    }
    return outcome, facts


def _estimates(request: RemediateRequest, module: str) -> Estimates:
    """The step estimates: what earlier runs of the module measured (the journal), else fixed defaults;
    the soak and baseline runtimes are the operator's."""
    soak = (
        StepTimes().soak_runtime if request.soak_runtime is None else timedelta(seconds=request.soak_runtime)
    )
    baseline = request.baseline_runtime or baseline_seconds(int(soak.total_seconds()))
    defaults = StepTimes(soak_runtime=soak, baseline_runtime=timedelta(seconds=baseline))
    measured: list[MeasuredStep] = []
    if default_path().exists():  # a first run, or --check on a new controller, creates no journal here
        with Journal(default_path()) as journal:
            measured = journal.measured_steps(module)
    return estimate_times(measured, module, defaults)


def _check_limits(request: RemediateRequest) -> None:
    """A bad --iops-floor or --p99-ceiling is refused before any host is touched, not at the first soak."""
    parse_iops_floor(request.iops_floor or IOPS_FLOOR, 1.0)
    parse_p99_ceiling(request.p99_ceiling or P99_CEILING, 1.0)


def _driver_vars(request: RemediateRequest) -> dict[str, Any]:
    variables: dict[str, Any] = {"hba_driver_require_capture": request.require_capture}
    if request.reboot:  # extra vars outrank inventory: pass it only to grant, never to deny
        variables["hba_driver_reboot_ok"] = True
    return variables


def _refuse_outside(window: Window | None, now: datetime) -> None:
    if window is not None and window.current(now) is None:
        upcoming = window.next_open(now)
        when = f"; it next opens {upcoming.start.isoformat(timespec='minutes')}" if upcoming else ""
        raise FleetfixError(f"outside the change window {window.spec}{when}", ExitStatus.INCOMPLETE)


def _context(
    request: RemediateRequest, run_id: int, plan: Plan, window: Window | None, observer
) -> BatchContext:
    return BatchContext(
        run_id=run_id,
        plan=plan,
        inventories=request.inventories,
        window=window,
        profile=select_profile(request.profile or "thrash"),
        # A resume soaks as long as the plan it continues says (its estimates and window fit assume it),
        # unless --soak-runtime is given again.
        soak_runtime=int(plan.times.soak_runtime.total_seconds())
        if request.soak_runtime is None
        else request.soak_runtime,
        baseline_runtime=request.baseline_runtime
        or int(plan.times.baseline_runtime.total_seconds())
        or baseline_seconds(int(plan.times.soak_runtime.total_seconds())),
        iops_floor=request.iops_floor or IOPS_FLOOR,
        p99_ceiling=request.p99_ceiling or P99_CEILING,
        driver_vars=_driver_vars(request),
        observer=observer,
        clock=request.clock,
        nodes=request.nodes,
        rollback=request.rollback is not False,
        hooks=_hooks(request),
    )


def _drive(ctx: BatchContext, journal: Journal, facts: dict[str, HostFacts]) -> RemediateOutcome:
    """Batches until the plan is done or a stop; the journal's end status says which."""
    progress = journal.progress(ctx.run_id)
    budget = Budget.for_run(ctx.plan, progress)
    while True:
        action = next_action(ctx.plan, progress, ctx.window, ctx.clock(), budget)
        if isinstance(action, Bake):
            budget = run_bake(ctx, action, journal, budget)
            progress = journal.progress(ctx.run_id)
            continue
        if isinstance(action, StartBatch):
            budget, stopped = run_batch(ctx, action.hosts, progress, facts, journal, budget)
            progress = journal.progress(ctx.run_id)
            if stopped is None:
                continue
            status, note = ("stopped-budget" if budget.exhausted else "stopped-window"), stopped
        elif isinstance(action, Done):
            status, note = "done", ""
        elif isinstance(action, StopBudget):
            status, note = "stopped-budget", f"failure budget spent: {', '.join(action.failed)} failed"
        elif isinstance(action, StopCanary):
            failed = "; ".join(f"{host}: {why}" for host, why in action.failed)
            status, note = "stopped-canary", f"a canary failed its bake ({failed})"
        else:
            status, note = "stopped-window", getattr(action, "reason", "the change window is closed")
        if status == "stopped-window":
            note += f"; left for the next window: {', '.join(progress.pending) or 'nothing'}"
        elif status in ("stopped-budget", "stopped-canary"):  # a resume stops at once too: for a human
            note += f"; not remediated: {', '.join(progress.pending) or 'nothing'}"
        journal.end_run(ctx.run_id, status, note)
        return RemediateOutcome(ctx.plan, ctx.run_id, status, note, journal.show(ctx.run_id)["hosts"])


def plan_run(request: RemediateRequest, observer: RunObserver | None) -> tuple[Plan, Window | None, dict]:
    """Fresh facts, the advisories and the inventory's vars -> the plan and its window."""
    if not request.module:
        raise InputError("--module", "name the driver module to remediate, e.g. --module mpt3sas")
    if (why := grammar.problem("module", request.module)) is not None:
        raise InputError("--module", why)
    # Bad option values, and a start outside the given window, are refused before any host is contacted.
    if request.to is not None:
        parse_version(request.to, "--to")
    _check_limits(request)
    if request.bake and not request.canary:
        raise InputError("--bake", "bakes the canary batch: give --canary N too")
    if request.bake:
        parse_duration(request.bake, "--bake")
    if request.window is not None:
        _refuse_outside(parse_window(request.window, request.tz), request.clock())
    batch_by = parse_batch_by(request.batch_by) if request.batch_by else None
    _hooks(request)
    hostvars, groups = inventory_hosts(request.inventories, request.limit)
    for host, variables in sorted(hostvars.items()):
        if problems := grammar.variable_problems(variables):
            where = ",".join(map(str, request.inventories)) or "inventory"
            raise InputError(where, f"host {host}: {problems[0]}")
    db = load_db(request.advisory_dirs)
    estimates = _estimates(request, request.module)
    outcome, facts = _facts(request.inventories, request.limit, observer, request.nodes)
    report = audit_results(outcome.hosts, db, request.clock(), source=str(outcome.run_dir))
    loaded = {h.host for h in report.hosts if any(d.name == request.module for d in h.drivers)}
    window = window_for_run(request.window, request.tz, {h: v for h, v in hostvars.items() if h in loaded})
    reboot_ok = {h for h, v in hostvars.items() if str(v.get("hba_driver_reboot_ok", "")).lower() == "true"}
    # the role obeys a method named in the inventory (not ``auto``), so the plan must too
    methods = {h: str(v.get("hba_driver_activate", "auto")) for h, v in hostvars.items()}
    forced = {h: method for h, method in methods.items() if method in ("reboot", "reload")}
    plan = build_plan(
        report.hosts,
        request.module,
        db,
        to=request.to,
        batch=request.batch,
        max_failures=request.max_failures,
        times=estimates.times,
        times_source=estimates.source,
        reboot_allowed=request.reboot,
        reboot_ok_hosts=frozenset(reboot_ok),
        canary=request.canary,
        bake=parse_duration(request.bake, "--bake") if request.bake else timedelta(0),
        batch_by=batch_by,
        domains=host_domains(sorted(loaded), batch_by, groups, hostvars) if batch_by else None,
        forced_activation=forced,
    )
    if window is not None:
        _refuse_outside(window, request.clock())
        check_window_fits(plan, window, request.clock())
    return plan, window, facts


def check(request: RemediateRequest, plan: Plan, facts: dict, observer) -> RemediateOutcome:
    """The whole plan in Ansible check mode with diffs: nothing changes, the journal is not written."""
    variables = {
        "hba_driver_module": plan.module,
        "hba_driver_target_version": plan.target,
        "fleetfix_remediate_steps": ["precheck", "upgrade", "activate", "verify"],
        **_driver_vars(request),
    }
    targets = ",".join(plan.hosts)
    request_ = RunRequest("remediate.yml", request.inventories, targets, variables, True, True, request.nodes)
    played = run_playbook(request_, observer, kind="remediate-check")
    hosts = [
        {
            "host": name,
            "status": "checked" if r.status == "ok" else r.status,
            "outcome": r.message or "would upgrade, activate and verify",
            "steps": (r.facts.get("fleetfix_remediate_result") or {}).get("steps", {}),
            "diff": [t.result["diff"] for t in r.tasks if t.result.get("diff")],
        }
        for name, r in played.hosts.items()
    ]
    return RemediateOutcome(plan, None, "checked", "check mode: nothing was changed", hosts)


def _hooks(request: RemediateRequest) -> dict[str, Hook]:
    """The run's hooks by phase, refused here (before any host is touched) when they cannot run."""
    given = {"pre": request.pre_hook, "post": request.post_hook}
    return {phase: check_hook(parse_hook(phase, spec)) for phase, spec in given.items() if spec is not None}


def _options(request: RemediateRequest) -> dict[str, Any]:
    """The settings a resume must keep, with their defaults filled in."""
    hooks = _hooks(request)
    return {
        **{f"{phase}_hook": hook.spec for phase, hook in hooks.items()},
        "profile": request.profile or "thrash",
        "iops_floor": request.iops_floor or IOPS_FLOOR,
        "p99_ceiling": request.p99_ceiling or P99_CEILING,
        "reboot": request.reboot,
        "require_capture": request.require_capture,
        "rollback": request.rollback is not False,
    }


def _resumed(request: RemediateRequest, stored: dict[str, Any]) -> RemediateRequest:
    """The run's stored settings, overridden by those given again; permissions are granted by either."""
    return replace(
        request,
        profile=request.profile or stored.get("profile"),
        # runs started before floors were shares stored absolute IOPS as a number
        iops_floor=str(stored.get("iops_floor", 0)) if request.iops_floor is None else request.iops_floor,
        p99_ceiling=request.p99_ceiling or stored.get("p99_ceiling"),
        reboot=request.reboot or bool(stored.get("reboot")),
        rollback=bool(stored.get("rollback", True)) if request.rollback is None else request.rollback,
        require_capture=request.require_capture or bool(stored.get("require_capture")),
        pre_hook=request.pre_hook or stored.get("pre_hook"),
        post_hook=request.post_hook or stored.get("post_hook"),
    )


def start(
    request: RemediateRequest, plan: Plan, window: Window | None, facts: dict, command: str, observer
) -> RemediateOutcome:
    with RemediationLock(lock_path(), f"a new {plan.module} run"), Journal(default_path()) as journal:
        run_id = journal.start_run(command, plan, window.spec if window else None, _options(request))
        return _drive_recorded(_context(request, run_id, plan, window, observer), journal, facts)


def _drive_recorded(ctx: BatchContext, journal: Journal, facts: dict[str, HostFacts]) -> RemediateOutcome:
    """``_drive``, with a stop by signal recorded as such: the run is left interrupted and resumable."""
    try:
        return _drive(ctx, journal, facts)
    except Interrupted as stopped:
        name = signal.Signals(stopped.signum).name
        journal.end_run(ctx.run_id, "interrupted", f"interrupted by {name}: continue it with --resume")
        raise Interrupted(stopped.signum, stopped.run_dir) from None


def resume(request: RemediateRequest, observer: RunObserver | None) -> RemediateOutcome:
    """Continue a stopped or interrupted run: hosts done are left, the rest re-checked from facts first."""
    with RemediationLock(lock_path(), "a resumed run"), Journal(default_path()) as journal:
        record = journal.run(request.resume) if request.resume else journal.latest_unfinished()
        if record is None:
            raise InputError("--resume", "no unfinished remediation run (fleetfix runs lists them)")
        if record.status == "done":
            raise InputError("--resume", f"run {record.id} is done; nothing to resume")
        spec = request.window or record.window
        window = parse_window(spec, request.tz) if spec else None
        _refuse_outside(window, request.clock())
        pending = journal.progress(record.id).pending
        facts = _facts(request.inventories, ",".join(pending), observer, request.nodes)[1] if pending else {}
        journal.resume_run(record.id, window.spec if window else None)
        request = _resumed(request, record.options)
        _check_limits(request)
        return _drive_recorded(_context(request, record.id, record.plan, window, observer), journal, facts)
