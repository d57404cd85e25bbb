"""The plan as JSON: what the journal stores, ``runs show`` prints and ``--resume`` reads back.

Typed documents (msgspec Structs) mirror the JSON keys; a stored plan is decoded and checked in one pass,
and a damaged one fails naming the journal and the field path. Estimates are whole seconds; a host's and a
batch's ``estimate_seconds`` are written for readers and recomputed from the steps when read.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from msgspec import Struct, structs

from fleetfix import serde
from fleetfix.plan.batches import Batch
from fleetfix.plan.build import Plan
from fleetfix.plan.count import parse_count
from fleetfix.plan.hosts import Excluded
from fleetfix.plan.steps import HostPlan, Step, StepPlan
from fleetfix.plan.times import StepTimes


class StepDoc(Struct, frozen=True, kw_only=True):
    step: Step
    action: str
    estimate_seconds: int


class HostDoc(Struct, frozen=True, kw_only=True):
    host: str
    version: str | None
    srcversion: str | None
    disks: tuple[str, ...]
    activation: Literal["reload", "reboot"]
    advisories: tuple[str, ...]
    estimate_seconds: int
    steps: tuple[StepDoc, ...]


class BatchDoc(Struct, frozen=True, kw_only=True, omit_defaults=True):
    number: int
    estimate_seconds: int
    hosts: tuple[HostDoc, ...]
    bake_seconds: int = 0  # a canary batch's bake (--bake); plans stored before it had none
    domain: str | None = None  # the failure domain of its hosts (--batch-by); plans stored before: none


class ExcludedDoc(Struct, frozen=True, kw_only=True):
    host: str
    reason: str


class TimesDoc(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``StepTimes`` in whole seconds, one key per field."""

    precheck: int
    upgrade: int
    reload: int
    reboot: int
    verify: int
    soak_runtime: int
    soak_margin: int
    baseline_runtime: int = 0  # plans stored before the baseline step had none
    source: str = ""  # measured or fixed defaults (Plan.times_source); plans stored before it: unsaid


class PlanDoc(Struct, frozen=True, kw_only=True):
    module: str
    target: str
    target_reason: str
    batch: str  # "2" or "10%"
    max_failures: str
    failure_budget: int
    times: TimesDoc
    estimate_seconds: int
    batches: tuple[BatchDoc, ...]
    batch_by: str = ""  # --batch-by (group:PREFIX, var:NAME); empty: batches not cut by failure domain
    skipped: tuple[ExcludedDoc, ...] = ()
    unreachable: tuple[ExcludedDoc, ...] = ()


def _seconds(span: timedelta) -> int:
    return int(span.total_seconds())


def _host_doc(host: HostPlan) -> HostDoc:
    return HostDoc(
        host=host.host,
        version=host.version,
        srcversion=host.srcversion,
        disks=host.disks,
        activation=host.activation,
        advisories=host.advisories,
        estimate_seconds=_seconds(host.estimate),
        steps=tuple(
            StepDoc(step=s.step, action=s.action, estimate_seconds=_seconds(s.estimate)) for s in host.steps
        ),
    )


def plan_document(plan: Plan) -> PlanDoc:
    times: dict[str, Any] = {
        field: _seconds(getattr(plan.times, field))
        for field in TimesDoc.__struct_fields__
        if field != "source"
    }
    times["source"] = plan.times_source
    return PlanDoc(
        module=plan.module,
        target=plan.target,
        target_reason=plan.target_reason,
        batch=str(plan.batch),
        max_failures=str(plan.max_failures),
        failure_budget=plan.failure_budget,
        times=TimesDoc(**times),
        estimate_seconds=_seconds(plan.estimate),
        batches=tuple(
            BatchDoc(
                number=b.number,
                estimate_seconds=_seconds(b.estimate),
                hosts=tuple(_host_doc(h) for h in b.hosts),
                bake_seconds=_seconds(b.bake),
                domain=b.domain,
            )
            for b in plan.batches
        ),
        batch_by=plan.batch_by,
        skipped=tuple(ExcludedDoc(host=e.host, reason=e.reason) for e in plan.skipped),
        unreachable=tuple(ExcludedDoc(host=e.host, reason=e.reason) for e in plan.unreachable),
    )


def plan_from_document(doc: PlanDoc, source: str) -> Plan:
    def host(h: HostDoc) -> HostPlan:
        steps = tuple(
            StepPlan(step=s.step, action=s.action, estimate=timedelta(seconds=s.estimate_seconds))
            for s in h.steps
        )
        return HostPlan(
            host=h.host,
            version=h.version,
            srcversion=h.srcversion,
            disks=h.disks,
            activation=h.activation,
            advisories=h.advisories,
            steps=steps,
        )

    return Plan(
        module=doc.module,
        target=doc.target,
        target_reason=doc.target_reason,
        batch=parse_count(doc.batch, f"{source}: plan.batch"),
        max_failures=parse_count(doc.max_failures, f"{source}: plan.max_failures"),
        failure_budget=doc.failure_budget,
        times=StepTimes(
            **{f: timedelta(seconds=s) for f, s in structs.asdict(doc.times).items() if f != "source"}
        ),
        times_source=doc.times.source,
        batches=tuple(
            Batch(
                number=b.number,
                hosts=tuple(host(h) for h in b.hosts),
                bake=timedelta(seconds=b.bake_seconds),
                domain=b.domain,
            )
            for b in doc.batches
        ),
        batch_by=doc.batch_by,
        skipped=tuple(Excluded(host=e.host, reason=e.reason) for e in doc.skipped),
        unreachable=tuple(Excluded(host=e.host, reason=e.reason) for e in doc.unreachable),
    )


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return serde.to_builtins(plan_document(plan))


def plan_from_dict(data: Any, source: str) -> Plan:
    return plan_from_document(serde.convert(data, PlanDoc, source), source)


def plan_from_json(text: str | bytes, source: str) -> Plan:
    return plan_from_document(serde.decode_json(text, PlanDoc, source), source)
