"""A canary batch's bake: the run waits, reading the canaries' facts and the netconsole receiver's events
now and then, before the next batch.

The bake's start is the start of its journal rows, so a resumed run (in the same window or the next)
waits only for what is left. A canary whose kernel sent a crash line to `fleetfix listen` (its
``events.jsonl`` in the state directory's ``netconsole/``), rebooted or wrote a crash dump fails its bake,
spends the failure budget and stops the run before its next batch; the others end theirs ok when the
time is up.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import datetime, timedelta

from fleetfix.ansible.runner import RunRequest, inventory_hostvars, run_playbook
from fleetfix.commands.collect import netconsole_addresses
from fleetfix.commands.remediate_batch import BatchContext
from fleetfix.commands.soak import read_facts
from fleetfix.facts.host import HostFacts
from fleetfix.listen.text import EVENTS_FILE, ListenEvent
from fleetfix.plan.bake import bake_problem, boot_id_after_change, netconsole_crashes
from fleetfix.plan.pacing import Bake, Budget
from fleetfix.state import paths
from fleetfix.state.journal import Journal


def check_every(bake: timedelta) -> float:
    """Seconds between two readings: a fifth of the bake, between 10 seconds and 5 minutes."""
    return max(10.0, min(300.0, bake.total_seconds() / 5))


def received_crashes(addresses: Collection[str], since: datetime) -> list[ListenEvent]:
    """Crash events the receiver recorded from ``addresses`` since ``since`` (its rotated file too)."""
    directory = paths.netconsole_dir()
    found: list[ListenEvent] = []
    for name in (f"{EVENTS_FILE}.1", EVENTS_FILE):  # the rotated file first: oldest first
        try:
            with (directory / name).open(encoding="utf-8", errors="replace") as handle:
                found += netconsole_crashes(handle, addresses, since)
        except FileNotFoundError:
            continue
        except OSError:  # unreadable now: the next reading tries again; facts still judge the host
            continue
    return found


def _inventory_addresses(ctx: BatchContext, hosts: list[str]) -> dict[str, str]:
    hostvars = inventory_hostvars(ctx.inventories, ",".join(hosts))
    return {h: str((hostvars.get(h) or {}).get("ansible_host") or h) for h in hosts}


def _senders(inventory_address: str, facts: HostFacts | None) -> set[str]:
    """Where a canary's netconsole messages come from: its targets' source addresses, its inventory's."""
    return {inventory_address, *(netconsole_addresses(facts, inventory_address) if facts is not None else ())}


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
    inventory = _inventory_addresses(ctx, watching)
    senders = {h: {inventory[h]} for h in watching}
    while watching:
        request = RunRequest("audit.yml", ctx.inventories, ",".join(watching), nodes=ctx.nodes)
        facts, _ = read_facts(run_playbook(request, ctx.observer, kind="remediate-bake").hosts)
        for host in list(watching):
            senders[host] |= _senders(inventory[host], facts.get(host))
            crashes = received_crashes(senders[host], since)
            problem = bake_problem(facts.get(host), boot_ids[host], since, crashes)
            if problem:
                journal.step_ended(ctx.run_id, host, "bake", "failed", {"message": problem})
                budget = budget.spend(host)
                watching.remove(host)
        if len(watching) < len(action.hosts):  # a canary failed: no later batch starts, the others stop
            for host in watching:
                journal.step_skipped(ctx.run_id, host, "bake", "the bake stopped: another canary failed it")
            break
        left = (action.until - ctx.clock()).total_seconds()
        if left <= 0:
            for host in watching:
                journal.step_ended(ctx.run_id, host, "bake", "ok", {"watched_since": since.isoformat()})
            break
        time.sleep(min(interval, left))
    return budget
