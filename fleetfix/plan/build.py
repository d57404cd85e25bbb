"""The remediation plan: which hosts get the fixed driver, in which batches, each step and its time estimate.

Pure: the input is an audit's hosts and the advisory database, the output a frozen ``Plan`` that the CLI
prints before anything runs and the journal stores, so a resumed run follows the plan it started with.
The parts are in ``plan_count`` (``--batch``, ``--max-failures``), ``plan_times`` (step estimates),
``plan_target`` (the target version), ``plan_hosts`` (which hosts), ``plan_steps`` (each host's steps),
``plan_batches`` (their order and batches) and ``plan_describe`` (the plan as text).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.audit import HostAudit
from fleetfix.errors import InputError
from fleetfix.plan.batches import Batch, batch_hosts
from fleetfix.plan.count import ONE_HOST, Count
from fleetfix.plan.domains import BatchBy
from fleetfix.plan.hosts import Excluded, host_advisories, loaded_driver, select_hosts
from fleetfix.plan.steps import HostPlan, Step, host_plan
from fleetfix.plan.target import choose_target
from fleetfix.plan.times import DEFAULT_TIMES, StepTimes

# A host's planned steps, in order; RUN_ORDER adds the drain and undrain hooks a run may have around them.
STEPS = tuple(s for s in Step if s not in (Step.ROLLBACK, Step.BAKE, Step.PRE_HOOK, Step.POST_HOOK))
RUN_ORDER = tuple(s for s in Step if s not in (Step.ROLLBACK, Step.BAKE))


@dataclass(frozen=True, kw_only=True)
class Plan:
    module: str
    target: str
    target_reason: str
    batch: Count
    max_failures: Count
    failure_budget: int  # the run stops when this many targeted hosts have failed
    times: StepTimes
    batches: tuple[Batch, ...]
    times_source: str = ""  # where the estimates come from: measured by earlier runs, or fixed defaults
    batch_by: str = ""  # --batch-by as given (group:PREFIX, var:NAME); empty: no failure domains
    skipped: tuple[Excluded, ...] = ()
    unreachable: tuple[Excluded, ...] = ()
    _index: dict[str, HostPlan] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {h.host: h for b in self.batches for h in b.hosts})

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(self._index)

    def host(self, name: str) -> HostPlan:
        return self._index[name]

    def batch_of(self, host: str) -> Batch:
        return next(b for b in self.batches if host in b.names)

    @property
    def estimate(self) -> timedelta:
        return sum((b.estimate + b.bake for b in self.batches), timedelta(0))


def build_plan(
    hosts: Iterable[HostAudit],
    module: str,
    db: AdvisoryDB,
    to: str | None = None,
    batch: Count = ONE_HOST,
    max_failures: Count = ONE_HOST,
    times: StepTimes = DEFAULT_TIMES,
    reboot_allowed: bool = False,
    reboot_ok_hosts: frozenset[str] = frozenset(),
    times_source: str = "fixed defaults",
    canary: int = 0,
    bake: timedelta = timedelta(0),
    batch_by: BatchBy | None = None,
    domains: Mapping[str, str | None] | None = None,
    forced_activation: Mapping[str, str] | None = None,
) -> Plan:
    """Plan the upgrade of ``module`` on every reachable host where an advisory marks its build bad.

    ``reboot_allowed`` is ``--reboot``; ``reboot_ok_hosts`` the hosts whose inventory sets
    ``hba_driver_reboot_ok``. A host needing a reboot without either is left out, with the reason.
    ``domains`` are the hosts' failure domains under ``batch_by`` (``plan.domains.host_domains``).
    ``forced_activation`` maps a host to its inventory's ``hba_driver_activate`` where that names a method
    (``reboot`` or ``reload``): the plan activates as the role will.
    """
    hosts = tuple(hosts)
    unreachable = tuple(Excluded(host=h.host, reason=h.message or h.status) for h in hosts if not h.reachable)
    loaded = [(h, loaded_driver(h, module)) for h in hosts if h.reachable and loaded_driver(h, module)]
    if not loaded:
        raise InputError("--module", f"{module!r} is not loaded on any reachable host")
    bad = [(h, d) for h, d in loaded if host_advisories(h, module)]
    if not bad:
        versions = sorted({d.version or "no version" for _, d in loaded})
        message = f"no host runs a known-bad {module} build ({len(loaded)} load it: {', '.join(versions)})"
        raise InputError("--module", message)
    target, reason = choose_target(module, to, db, bad)
    forced = forced_activation or {}
    targeted, skipped = select_hosts(loaded, module, target, reboot_allowed, reboot_ok_hosts, forced)
    if not targeted:
        reasons = "; ".join(f"{e.host}: {e.reason}" for e in skipped if e.host in {h.host for h, _ in bad})
        raise InputError("--module", f"no host with a known-bad {module} can be remediated ({reasons})")
    planned = [host_plan(h, d, module, str(target), times, forced.get(h.host)) for h, d in targeted]
    return Plan(
        module=module,
        target=str(target),
        target_reason=reason,
        batch=batch,
        max_failures=max_failures,
        failure_budget=max_failures.of(len(planned)),
        times=times,
        times_source=times_source,
        batches=batch_hosts(planned, batch, canary, bake, domains if batch_by else None),
        batch_by=str(batch_by) if batch_by else "",
        skipped=tuple(skipped),
        unreachable=unreachable,
    )
