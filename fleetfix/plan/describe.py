"""The plan as plain lines: what the confirmation prompt and ``--check`` show before anything runs."""

from __future__ import annotations

from fleetfix.plan.build import Plan
from fleetfix.plan.times import duration_text


def describe(plan: Plan) -> list[str]:
    """The plan as plain lines, for the confirmation prompt and ``--check``."""
    count = len(plan.hosts)
    hosts = f"{count} host{'s' if count != 1 else ''}"
    lines = [
        f"Upgrade {plan.module} to {plan.target} on {hosts} ({plan.target_reason})",
        f"Batches of {len(plan.batches[0].hosts)} (--batch {plan.batch}); the run stops when "
        f"{plan.failure_budget} host{'s have' if plan.failure_budget != 1 else ' has'} failed "
        f"(--max-failures {plan.max_failures})",
        f"Estimated time: {duration_text(plan.estimate)} in {len(plan.batches)} batch"
        f"{'es' if len(plan.batches) != 1 else ''}",
    ]
    if plan.times_source:
        lines.append(f"Estimates: {plan.times_source}")
    if plan.batch_by:
        alone = [n for b in plan.batches if b.domain is None for n in b.names]
        lines.append(
            f"Batches cut by failure domain (--batch-by {plan.batch_by}): no batch spans two domains"
            + (f"; in no domain, each alone: {', '.join(alone)}" if alone else "")
        )
    for batch in plan.batches:
        where = f" [{batch.domain}]" if batch.domain else (" [own domain]" if plan.batch_by else "")
        lines.append(
            f"Batch {batch.number}{where} (~{duration_text(batch.estimate)}): {', '.join(batch.names)}"
        )
        if batch.bake:
            lines.append(
                f"  then bake {duration_text(batch.bake)}: no new dump or reboot before the next batch"
            )
        for host in batch.hosts:
            lines.append(f"  {host.host}: {', '.join(host.advisories)}")
            lines += [f"    {s.step:<9} ~{duration_text(s.estimate):<6} {s.action}" for s in host.steps]
    lines += [f"Skipped: {e.host}: {e.reason}" for e in plan.skipped]
    lines += [f"Unreachable: {e.host}: {e.reason}" for e in plan.unreachable]
    return lines
