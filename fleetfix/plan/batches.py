"""Batching: the order targeted hosts are remediated in, cut into batches of ``--batch`` hosts.

Hosts keep the audit's order (sorted by name), except that hosts whose new driver can be activated by a module
reload come before hosts that need a reboot. A batch lasts as long as its slowest host, so grouping like with
like keeps the reload batches short, and the new driver has been verified and soaked on reloaded hosts before
any host is rebooted into it. Hosts in a batch run in parallel (fleetfix sets Ansible's forks from the host
count), so a batch's estimate is its slowest host's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from fleetfix.plan.count import Count
from fleetfix.plan.steps import HostPlan


@dataclass(frozen=True, kw_only=True)
class Batch:
    number: int
    hosts: tuple[HostPlan, ...]
    bake: timedelta = timedelta(0)  # after it, the run watches its hosts this long before the next batch

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(h.host for h in self.hosts)

    @property
    def estimate(self) -> timedelta:
        return max((h.estimate for h in self.hosts), default=timedelta(0))


def batch_hosts(
    planned: Sequence[HostPlan], batch: Count, canary: int = 0, bake: timedelta = timedelta(0)
) -> tuple[Batch, ...]:
    """``planned`` (in audit order) as numbered batches, reloads first.

    With ``canary`` hosts, batch 1 holds only them (``--canary``), and ``bake`` (``--bake``) is how long
    the run watches them before batch 2 starts; the others follow in batches of ``batch``.
    """
    ordered = sorted(planned, key=lambda h: h.activation == "reboot")  # stable: each kind in audit order
    first: list[Batch] = []
    if 0 < canary < len(ordered):
        first = [Batch(number=1, hosts=tuple(ordered[:canary]), bake=bake)]
        ordered = ordered[canary:]
    size = batch.of(len(ordered))
    return (
        *first,
        *(
            Batch(number=len(first) + n + 1, hosts=tuple(ordered[i : i + size]))
            for n, i in enumerate(range(0, len(ordered), size))
        ),
    )
