"""One batch of a remediation, step by step: every step is one play over the batch's hosts still in it.

Running a step at a time is what lets the change window and the failure budget act between steps: when the
window closes or the budget is spent, the hosts finish the step they are in and nothing new starts. Each
step is written to the journal as it starts (before the play) and as it ends (from the play's results), so
a controller killed mid-step leaves a started row that a resume re-checks from facts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.ansible.runner import RunObserver, RunRequest, run_playbook
from fleetfix.commands.remediate_hooks import run_hook
from fleetfix.commands.soak import SoakTarget, judge_host, plan_targets, read_facts, soak_extravars
from fleetfix.facts.host import HostFacts
from fleetfix.host_result import HostResult
from fleetfix.plan.build import RUN_ORDER, Plan
from fleetfix.plan.hooks import Hook
from fleetfix.plan.pacing import Budget, stop_reason
from fleetfix.plan.run_state import PreviousBuild, RunProgress, recheck, rollback_candidate
from fleetfix.plan.window import Window
from fleetfix.soak.baseline import BaselineReading, read_baseline, soak_limits
from fleetfix.soak.profiles import FioProfile
from fleetfix.state import paths
from fleetfix.state.journal import Journal

RECONNECT_SECONDS = 900  # how long a host the old build crashed under its baseline has to come back


@dataclass(frozen=True)
class BatchContext:
    """What every step play of a run shares."""

    run_id: int
    plan: Plan
    inventories: tuple[Path, ...]
    window: Window | None
    profile: FioProfile
    soak_runtime: int
    baseline_runtime: int
    iops_floor: str  # "80%" of the host's baseline (when long enough and clean), or absolute IOPS
    p99_ceiling: str  # "500%" of the baseline's p99 (as the floor), or milliseconds
    driver_vars: Mapping[str, Any]  # reboot permission, capture requirement
    observer: RunObserver | None
    clock: Callable[[], datetime]
    nodes: ExecutionNodes | None = None
    rollback: bool = True  # --no-rollback leaves a failed host as it is, half-installed package included
    hooks: Mapping[str, Hook] = field(default_factory=dict)  # --pre-hook, --post-hook by phase


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
    ctx: BatchContext, step: str, hosts: list[str], facts: Mapping[str, HostFacts]
) -> tuple[dict[str, SoakTarget], dict[str, str], Path]:
    soak_id = f"run{ctx.run_id}-{step}-{uuid.uuid4().hex[:6]}"
    chosen = {h: facts[h] for h in hosts}
    runtime = ctx.baseline_runtime if step == "baseline" else ctx.soak_runtime
    targets, left_out = plan_targets(chosen, ctx.plan.module, (), ctx.profile, runtime, False, soak_id)
    return targets, left_out, paths.state_dir() / "soak" / soak_id


def _facts_after_activation(
    ctx: BatchContext, hosts: list[str], journal: Journal
) -> tuple[dict[str, HostFacts], list[str]]:
    """Fresh facts for the soak: a reload or a reboot may rename disks (sdb before, sdc after).

    A host that does not answer fails its soak here, recorded; the others are returned with their facts.
    """
    request = RunRequest("audit.yml", ctx.inventories, ",".join(hosts), nodes=ctx.nodes)
    found = run_playbook(request, ctx.observer, kind="remediate-facts")
    facts, unreachable = read_facts({h: r for h, r in found.hosts.items() if h in hosts})
    failed = [soak.host for soak in unreachable] + [h for h in hosts if h not in found.hosts]
    for host in failed:
        journal.step_started(ctx.run_id, host, "soak")
        message = (
            f"no facts after activation ({found.hosts[host].message if host in found.hosts else 'no result'})"
        )
        journal.step_ended(ctx.run_id, host, "soak", "failed", {"message": message})
    return facts, failed


def _baseline(ctx: BatchContext, host: str, journal: Journal) -> BaselineReading | None:
    """The host's baseline on the old build, as this run read it; None when it has none."""
    record = journal.progress(ctx.run_id).host(host).latest.get("baseline")
    reading = record.detail.get("baseline") if record is not None and record.state == "ok" else None
    return BaselineReading.from_dict(reading) if isinstance(reading, Mapping) else None


def _judge(
    ctx: BatchContext, step: str, host: str, result: HostResult, target: SoakTarget, journal: Journal
) -> tuple[str, dict[str, Any]]:
    """A soak step's journal state and detail.

    A baseline never fails its host: figures are the host's reference; a fault under it (the old build is
    the bad one) is recorded as the bug reproduced, and the host goes on to its upgrade. The soak after the
    change is judged against limits from that baseline, or the absolute ones when it gave no figures.
    """
    if step == "baseline":
        soak = judge_host(result, target, None).to_dict()
        reading = read_baseline(soak, ctx.baseline_runtime, lost=result.status == "unreachable")
        return "ok", {**soak, "baseline": reading.to_dict()}
    limits = soak_limits(ctx.iops_floor, ctx.p99_ceiling, _baseline(ctx, host, journal))
    verdict = judge_host(result, target, limits.floor, limits.ceiling)
    return ("ok" if verdict.status == "passed" else "failed"), {
        **verdict.to_dict(),
        "limits": limits.to_dict(),
    }


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


def _roll_back(ctx: BatchContext, host: str, previous: PreviousBuild, journal: Journal) -> None:
    """Put back the build the host ran before (a downgrade, or the DKMS build taken back out), activate it
    and verify it is the one loaded."""
    extravars = {
        **_step_vars(ctx, "upgrade"),
        "hba_driver_target_version": previous.version,
        "hba_driver_target_srcversion": previous.srcversion or "",
        "hba_driver_from_versions": [],
        "hba_driver_restore": previous.restore,
        "fleetfix_remediate_steps": ["upgrade", "activate", "verify"],
    }
    journal.step_started(ctx.run_id, host, "rollback")
    request = RunRequest("remediate.yml", ctx.inventories, host, extravars, nodes=ctx.nodes)
    result = run_playbook(request, ctx.observer, kind="remediate-rollback").hosts[host]
    record = result.facts.get("fleetfix_remediate_result") or {}
    detail = {
        "reason": previous.reason,
        "version": previous.version,
        "srcversion": previous.srcversion,
        "package": previous.how,
        "steps": record.get("steps") or {},
    }
    if result.status == "ok":
        journal.step_ended(ctx.run_id, host, "rollback", "ok", detail)
        post = ctx.hooks.get("post")
        if post is not None:  # back on the build it served on: undrain it as a passed host is
            run_hook(post, [host], ctx.run_id, ctx.inventories, ctx.observer, journal)
    else:
        journal.step_ended(ctx.run_id, host, "rollback", "failed", {**detail, "message": result.message})


def roll_back(ctx: BatchContext, hosts: list[str], journal: Journal) -> None:
    """Put back the previous build on each failed host (already counted as failed) whose failure left one
    to put back (``rollback_candidate``): a verify or soak that failed, an upgrade refused once the package
    was installed, or a package installation that failed half-way (a package left half-configured). Where
    the previous build is already loaded (a refusal or a failed install stops before anything is unloaded),
    the reinstall brings the package, the disk and the initramfs images back to it and activates nothing."""
    progress = journal.progress(ctx.run_id)
    for host in hosts:
        previous = rollback_candidate(progress.host(host))
        if isinstance(previous, PreviousBuild):
            _roll_back(ctx, host, previous, journal)
        elif previous is not None:
            journal.step_started(ctx.run_id, host, "rollback")
            journal.step_ended(ctx.run_id, host, "rollback", "failed", {"message": previous})


def run_batch(
    ctx: BatchContext,
    hosts: tuple[str, ...],
    progress: RunProgress,
    facts: Mapping[str, HostFacts],
    journal: Journal,
    budget: Budget,
) -> tuple[Budget, str | None]:
    """Run the batch's hosts through their remaining steps; returns the budget and why it stopped early.

    A host whose verify or soak fails, whose upgrade was refused after the package was installed, or whose
    package installation failed half-way, is rolled back to its previous build once the batch's steps end,
    even when the window or the budget stops the batch: a failed build is not left running, nor a refused
    one on disk, nor a half-installed package, for want of time.
    """
    failed: list[str] = []
    budget, stopped = _run_steps(ctx, hosts, progress, facts, journal, budget, failed)
    if ctx.rollback and failed:
        roll_back(ctx, failed, journal)
    return budget, stopped


HOOK_STEPS = {"pre_hook": "pre", "post_hook": "post"}


def _hook_step(
    ctx: BatchContext,
    step: str,
    active: list[str],
    remaining: dict[str, tuple[str, ...]],
    journal: Journal,
    budget: Budget,
) -> Budget:
    """Run the hook of ``step`` for the hosts that reached it; a host whose hook failed fails there.

    Without hooks the step leaves no record. With one hook only, the other is recorded as skipped, so the
    journal says a drained host was (or was not to be) undrained. A post-hook runs whatever the window
    and the budget say (the pre-hook, like every other step, does not start once they say stop): a host
    that passed its soak is not left drained for want of time.
    """
    phase = HOOK_STEPS[step]
    hook = ctx.hooks.get(phase)
    if hook is None:
        for host in active if ctx.hooks else ():
            journal.step_skipped(ctx.run_id, host, step, f"no --{phase}-hook given")
        return budget
    for host in run_hook(hook, active, ctx.run_id, ctx.inventories, ctx.observer, journal):
        budget = budget.spend(host)
        remaining.pop(host)
    return budget


def _run_steps(
    ctx: BatchContext,
    hosts: tuple[str, ...],
    progress: RunProgress,
    facts: Mapping[str, HostFacts],
    journal: Journal,
    budget: Budget,
    failed: list[str],
) -> tuple[Budget, str | None]:
    remaining: dict[str, tuple[str, ...]] = {}
    for host in hosts:
        steps = _steps_for(ctx, host, progress, facts, journal)
        if steps is None:
            budget = budget.spend(host)
        else:
            remaining[host] = steps
    for step in RUN_ORDER:
        active = [h for h, steps in remaining.items() if step in steps]
        if not active:
            continue
        reason = stop_reason(ctx.window, ctx.clock(), budget) if step != "post_hook" else None
        if reason:
            return budget, reason
        if step in HOOK_STEPS:
            budget = _hook_step(ctx, step, active, remaining, journal, budget)
            continue
        extravars = _step_vars(ctx, step)
        if step == "upgrade" and any(
            (b := _baseline(ctx, h, journal)) is not None and b.outcome == "reproduced" for h in active
        ):  # a panic under the baseline reboots the host: the upgrade waits for it to answer again
            extravars["fleetfix_remediate_reconnect_timeout"] = RECONNECT_SECONDS
        targets: dict[str, SoakTarget] = {}
        if step in ("baseline", "soak"):
            step_facts = facts
            if step == "soak":
                step_facts, lost = _facts_after_activation(ctx, active, journal)
                for host in lost:
                    budget = budget.spend(host)
                    remaining.pop(host)
                active = [h for h in active if h in step_facts]
            targets, left_out, fetch_dir = _soak_targets(ctx, step, active, step_facts)
            for host, why in left_out.items():
                journal.step_skipped(ctx.run_id, host, step, why)
            active = list(targets)
            if not active:
                continue
            extravars |= soak_extravars(targets, ctx.plan.module, False, fetch_dir)
        for host in active:
            journal.step_started(ctx.run_id, host, step)
        fetch_var = "fio_soak_fetch_dir" if targets else None
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
            if targets:
                state, detail = _judge(ctx, step, host, played.hosts[host], targets[host], journal)
                journal.step_ended(ctx.run_id, host, step, state, detail)
                ok = state == "ok"
            else:
                ok = _record(journal, ctx, step, host, played.hosts[host])
            if not ok:
                budget = budget.spend(host)
                remaining.pop(host)
                failed.append(host)  # roll_back keeps those whose failure left a build to put back
    return budget, None
