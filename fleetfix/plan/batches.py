"""Batching: the order targeted hosts are remediated in, cut into batches of ``--batch`` hosts.

Hosts keep the audit's order (sorted by name), except that hosts whose new driver can be activated by a module
reload come before hosts that need a reboot. A batch lasts as long as its slowest host, so grouping like with
like keeps the reload batches short, and the new driver has been verified and soaked on reloaded hosts before
any host is rebooted into it. Hosts in a batch run in parallel (fleetfix sets Ansible's forks from the host
count), so a batch's estimate is its slowest host's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from fleetfix.plan.count import Count
from fleetfix.plan.steps import HostPlan


@dataclass(frozen=True, kw_only=True)
class Batch:
    number: int
    hosts: tuple[HostPlan, ...]
    bake: timedelta = timedelta(0)  # after it, the run watches its hosts this long before the next batch
    domain: str | None = None  # the failure domain all its hosts share (--batch-by); None: not cut by one

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(h.host for h in self.hosts)

    @property
    def estimate(self) -> timedelta:
        return max((h.estimate for h in self.hosts), default=timedelta(0))


def batch_hosts(
    planned: Sequence[HostPlan],
    batch: Count,
    canary: int = 0,
    bake: timedelta = timedelta(0),
    domains: Mapping[str, str | None] | None = None,
) -> tuple[Batch, ...]:
    """``planned`` (in audit order) as numbered batches, reloads first.

    With ``canary`` hosts, batch 1 holds only them (``--canary``), and ``bake`` (``--bake``) is how long
    the run watches them before batch 2 starts; the others follow in batches of ``batch``.

    With ``domains`` (host -> failure domain, None for a host alone in its own), no batch holds hosts of
    two domains: the hosts are taken domain by domain (in the order each domain's first host comes, reloads
    first as ever), each domain cut into batches of at most ``batch``. A canary batch then holds up to
    ``canary`` hosts of the first domain only.
    """
    ordered = sorted(planned, key=lambda h: h.activation == "reboot")  # stable: each kind in audit order
    canary = canary if 0 < canary < len(ordered) else 0
    size = batch.of(len(ordered) - canary)
    if domains is None:
        runs: list[tuple[str | None, list[HostPlan]]] = [(None, ordered)]
    else:
        grouped: dict[tuple[str, str], list[HostPlan]] = {}
        for host in ordered:
            domain = domains.get(host.host)
            key = ("domain", domain) if domain is not None else ("host", host.host)
            grouped.setdefault(key, []).append(host)
        runs = [(name if kind == "domain" else None, hosts) for (kind, name), hosts in grouped.items()]
    batches: list[Batch] = []
    for index, (domain, hosts) in enumerate(runs):
        if index == 0 and canary:
            batches.append(Batch(number=1, hosts=tuple(hosts[:canary]), bake=bake, domain=domain))
            hosts = hosts[canary:]
        for start in range(0, len(hosts), size):
            batches.append(
                Batch(number=len(batches) + 1, hosts=tuple(hosts[start : start + size]), domain=domain)
            )
    return tuple(batches)
