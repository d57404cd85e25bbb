"""One batch of a remediation, step by step: every step is one play over the batch's hosts still in it.

Running a step at a time is what lets the change window and the failure budget act between steps: when the
window closes or the budget is spent, the hosts finish the step they are in and nothing new starts. Each
step is written to the journal as it starts (before the play) and as it ends (from the play's results), so
a controller killed mid-step leaves a started row that a resume re-checks from facts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.ansible.runner import RunObserver, RunRequest, run_playbook
from fleetfix.commands.soak import SoakTarget, judge_host, plan_targets, soak_extravars
from fleetfix.facts.host import HostFacts
from fleetfix.host_result import HostResult
from fleetfix.plan.build import STEPS, Plan
from fleetfix.plan.pacing import Budget, stop_reason
from fleetfix.plan.run_state import RunProgress, recheck
from fleetfix.plan.window import Window
from fleetfix.soak.profiles import FioProfile
from fleetfix.soak.verdict import IopsFloor
from fleetfix.state import paths
from fleetfix.state.journal import Journal


@dataclass(frozen=True)
class BatchContext:
    """What every step play of a run shares."""

    run_id: int
    plan: Plan
    inventories: tuple[Path, ...]
    window: Window | None
    profile: FioProfile
    soak_runtime: int
    iops_floor: IopsFloor
    driver_vars: Mapping[str, Any]  # reboot permission, capture requirement
    observer: RunObserver | None
    clock: Callable[[], datetime]
    nodes: ExecutionNodes | None = None


def _steps_for(
    ctx: BatchContext, host: str, progress: RunProgress, facts: Mapping[str, HostFacts], journal: Journal
) -> tuple[str, ...] | None:
    """The steps this host still needs, from its facts now; None when it must be left alone (recorded)."""
    plan = ctx.plan
    if host not in facts:
        journal.step_started(ctx.run_id, host, "precheck")
        journal.step_ended(ctx.run_id, host, "precheck", "failed", {"message": "no facts: host unreachable"})
        return None
    module = facts[host].module(plan.module)
    loaded = module.version if module else None
    decided = recheck(progress.host(host), plan.module, plan.host(host).version, plan.target, loaded)
    if decided.problem:
        journal.step_started(ctx.run_id, host, "precheck")
        journal.step_ended(ctx.run_id, host, "precheck", "failed", {"message": decided.problem})
        return None
    for step in decided.skip:
        journal.step_skipped(ctx.run_id, host, step, f"facts show {plan.module} {loaded} already loaded")
    return ("precheck", *decided.steps)


def _step_vars(ctx: BatchContext, step: str) -> dict[str, Any]:
    from_versions = sorted({v for h in ctx.plan.hosts if (v := ctx.plan.host(h).version)})
    return {
        "hba_driver_module": ctx.plan.module,
        "hba_driver_target_version": ctx.plan.target,
        "hba_driver_from_versions": from_versions,
        "fleetfix_remediate_steps": [step],
        **ctx.driver_vars,
    }


def _soak_targets(
    ctx: BatchContext, hosts: list[str], facts: Mapping[str, HostFacts]
) -> tuple[dict[str, SoakTarget], dict[str, str], Path]:
    soak_id = f"run{ctx.run_id}-{uuid.uuid4().hex[:6]}"
    chosen = {h: facts[h] for h in hosts}
    targets, left_out = plan_targets(
        chosen, ctx.plan.module, (), ctx.profile, ctx.soak_runtime, False, soak_id
    )
    return targets, left_out, paths.state_dir() / "soak" / soak_id


def _record(journal: Journal, ctx: BatchContext, step: str, host: str, result: HostResult) -> bool:
    """Write the end of a driver step from its play result; True when it succeeded."""
    record = result.facts.get("fleetfix_remediate_result") or {}
    detail = dict((record.get("steps") or {}).get(step) or {})
    if result.status == "ok":
        journal.step_ended(ctx.run_id, host, step, "ok", detail)
        return True
    detail["message"] = result.message or result.status
    journal.step_ended(ctx.run_id, host, step, "failed", detail)
    return False


def run_batch(
    ctx: BatchContext,
    hosts: tuple[str, ...],
    progress: RunProgress,
    facts: Mapping[str, HostFacts],
    journal: Journal,
    budget: Budget,
) -> tuple[Budget, str | None]:
    """Run the batch's hosts through their remaining steps; returns the budget and why it stopped early."""
    remaining: dict[str, tuple[str, ...]] = {}
    for host in hosts:
        steps = _steps_for(ctx, host, progress, facts, journal)
        if steps is None:
            budget = budget.spend(host)
        else:
            remaining[host] = steps
    for step in STEPS:
        active = [h for h, steps in remaining.items() if step in steps]
        if not active:
            continue
        reason = stop_reason(ctx.window, ctx.clock(), budget)
        if reason:
            return budget, reason
        extravars = _step_vars(ctx, step)
        targets: dict[str, SoakTarget] = {}
        if step == "soak":
            targets, left_out, fetch_dir = _soak_targets(ctx, active, facts)
            for host, why in left_out.items():
                journal.step_skipped(ctx.run_id, host, "soak", why)
            active = list(targets)
            if not active:
                continue
            extravars |= soak_extravars(targets, ctx.plan.module, False, fetch_dir)
        for host in active:
            journal.step_started(ctx.run_id, host, step)
        fetch_var = "fio_soak_fetch_dir" if step == "soak" else None
        request = RunRequest(
            "remediate.yml",
            ctx.inventories,
            ",".join(active),
            extravars,
            nodes=ctx.nodes,
            fetch_var=fetch_var,
        )
        played = run_playbook(request, ctx.observer, kind=f"remediate-{step}")
        for host in active:
            if step == "soak":
                verdict = judge_host(played.hosts[host], targets[host], ctx.iops_floor)
                state = "ok" if verdict.status == "passed" else "failed"
                journal.step_ended(ctx.run_id, host, step, state, verdict.to_dict())
                ok = state == "ok"
            else:
                ok = _record(journal, ctx, step, host, played.hosts[host])
            if not ok:
                budget = budget.spend(host)
                remaining.pop(host)
    return budget, None
