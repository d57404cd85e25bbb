"""A canary batch's bake: the run waits, reading the canaries' facts now and then, before the next batch.

The bake's start is the start of its journal rows, so a resumed run (in the same window or the next)
waits only for what is left. A canary that rebooted or wrote a crash dump fails its bake and spends the
failure budget; the others end theirs ok when the time is up.
"""

from __future__ import annotations

import time
from datetime import timedelta

from fleetfix.ansible.runner import RunRequest, run_playbook
from fleetfix.commands.remediate_batch import BatchContext
from fleetfix.commands.soak import read_facts
from fleetfix.plan.bake import bake_problem, boot_id_after_change
from fleetfix.plan.pacing import Bake, Budget
from fleetfix.state.journal import Journal


def check_every(bake: timedelta) -> float:
    """Seconds between two readings: a fifth of the bake, between 10 seconds and 5 minutes."""
    return max(10.0, min(300.0, bake.total_seconds() / 5))


def run_bake(ctx: BatchContext, action: Bake, journal: Journal, budget: Budget) -> Budget:
    if not action.started:
        for host in action.hosts:
            journal.step_started(ctx.run_id, host, "bake")
    progress = journal.progress(ctx.run_id)
    since = min(progress.host(h).latest["bake"].started_at for h in action.hosts)
    boot_ids = {
        h: boot_id_after_change({r.step: r.detail for r in progress.host(h).records}) for h in action.hosts
    }
    interval = check_every(action.until - since)
    watching = list(action.hosts)
    while watching and not budget.exhausted:
        request = RunRequest("audit.yml", ctx.inventories, ",".join(watching), nodes=ctx.nodes)
        facts, _ = read_facts(run_playbook(request, ctx.observer, kind="remediate-bake").hosts)
        for host in list(watching):
            problem = bake_problem(facts.get(host), boot_ids[host], since)
            if problem:
                journal.step_ended(ctx.run_id, host, "bake", "failed", {"message": problem})
                budget = budget.spend(host)
                watching.remove(host)
        left = (action.until - ctx.clock()).total_seconds()
        if left <= 0:
            for host in watching:
                journal.step_ended(ctx.run_id, host, "bake", "ok", {"watched_since": since.isoformat()})
            break
        time.sleep(min(interval, left))
    return budget
