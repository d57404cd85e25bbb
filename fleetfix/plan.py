"""The remediation plan: which hosts get the fixed driver, in which batches, each step and its time estimate.

Pure: the input is an audit's hosts and the advisory database, the output a frozen ``Plan`` that the CLI
prints before anything runs and the journal stores, so a resumed run follows the plan it started with.

Batch order: hosts keep the audit's order (sorted by name), except that hosts whose new driver can be
activated by a module reload come before hosts that need a reboot. A batch lasts as long as its slowest host,
so grouping like with like keeps the reload batches short, and the new driver has been verified and soaked
on reloaded hosts before any host is rebooted into it. Hosts in a batch run in parallel (fleetfix sets
Ansible's forks from the host count), so a batch's estimate is its slowest host's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fleetfix.advisories import AdvisoryDB
from fleetfix.audit import DriverView, HostAudit
from fleetfix.errors import InputError
from fleetfix.versions import DriverVersion, parse_version

STEPS = ("precheck", "upgrade", "activate", "verify", "soak")
_COUNT = re.compile(r"(\d+)(%?)")


@dataclass(frozen=True)
class Count:
    """``--batch`` / ``--max-failures``: a number of hosts, or a percentage of the targeted hosts."""

    value: int
    percent: bool

    def of(self, total: int) -> int:
        """Hosts this stands for: a percentage rounds down, as Ansible's ``serial`` does, but never to 0."""
        return max(1, total * self.value // 100) if self.percent else self.value

    def __str__(self) -> str:
        return f"{self.value}{'%' if self.percent else ''}"


def parse_count(text: str, option: str) -> Count:
    match = _COUNT.fullmatch(text.strip())
    if not match:
        raise InputError(option, f"{text!r} is not a number of hosts N or a percentage N%")
    count = Count(int(match[1]), bool(match[2]))
    if count.value < 1 or (count.percent and count.value > 100):
        raise InputError(option, f"{text!r} must be at least 1{' and at most 100%' if count.percent else ''}")
    return count


@dataclass(frozen=True)
class StepTimes:
    """Estimates per step; a batch is only started when its estimate fits in what is left of the window."""

    precheck: timedelta = timedelta(minutes=1)
    upgrade: timedelta = timedelta(minutes=5)
    reload: timedelta = timedelta(minutes=2)
    reboot: timedelta = timedelta(minutes=10)
    verify: timedelta = timedelta(minutes=1)
    soak_runtime: timedelta = timedelta(minutes=5)  # --soak-runtime
    soak_margin: timedelta = timedelta(minutes=2)  # fio start-up, kernel log check, fetching the JSON

    def to_dict(self) -> dict[str, int]:
        return {name: int(getattr(self, name).total_seconds()) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping[str, int]) -> StepTimes:
        return cls(**{name: timedelta(seconds=seconds) for name, seconds in data.items()})


ONE_HOST = Count(1, False)
DEFAULT_TIMES = StepTimes()


@dataclass(frozen=True)
class StepPlan:
    step: str
    action: str
    estimate: timedelta


@dataclass(frozen=True)
class HostPlan:
    host: str
    version: str | None
    srcversion: str | None
    disks: tuple[str, ...]
    activation: str  # "reload" or "reboot"
    advisories: tuple[str, ...]
    steps: tuple[StepPlan, ...]

    @property
    def estimate(self) -> timedelta:
        return sum((s.estimate for s in self.steps), timedelta(0))


@dataclass(frozen=True)
class Batch:
    number: int
    hosts: tuple[HostPlan, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(h.host for h in self.hosts)

    @property
    def estimate(self) -> timedelta:
        return max((h.estimate for h in self.hosts), default=timedelta(0))


@dataclass(frozen=True)
class Excluded:
    host: str
    reason: str


@dataclass(frozen=True)
class Plan:
    module: str
    target: str
    target_reason: str
    batch: Count
    max_failures: Count
    failure_budget: int  # the run stops when this many targeted hosts have failed
    times: StepTimes
    batches: tuple[Batch, ...]
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
        return sum((b.estimate for b in self.batches), timedelta(0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "target": self.target,
            "target_reason": self.target_reason,
            "batch": str(self.batch),
            "max_failures": str(self.max_failures),
            "failure_budget": self.failure_budget,
            "times": self.times.to_dict(),
            "estimate_seconds": int(self.estimate.total_seconds()),
            "batches": [
                {
                    "number": b.number,
                    "estimate_seconds": int(b.estimate.total_seconds()),
                    "hosts": [_host_dict(h) for h in b.hosts],
                }
                for b in self.batches
            ],
            "skipped": [{"host": e.host, "reason": e.reason} for e in self.skipped],
            "unreachable": [{"host": e.host, "reason": e.reason} for e in self.unreachable],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """The plan a journal stored with ``to_dict``."""
        return cls(
            module=data["module"],
            target=data["target"],
            target_reason=data["target_reason"],
            batch=parse_count(data["batch"], "plan.batch"),
            max_failures=parse_count(data["max_failures"], "plan.max_failures"),
            failure_budget=data["failure_budget"],
            times=StepTimes.from_dict(data["times"]),
            batches=tuple(
                Batch(b["number"], tuple(_host_from_dict(h) for h in b["hosts"])) for b in data["batches"]
            ),
            skipped=tuple(Excluded(e["host"], e["reason"]) for e in data["skipped"]),
            unreachable=tuple(Excluded(e["host"], e["reason"]) for e in data["unreachable"]),
        )


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
) -> Plan:
    """Plan the upgrade of ``module`` on every reachable host where an advisory marks its build bad.

    ``reboot_allowed`` is ``--reboot``; ``reboot_ok_hosts`` the hosts whose inventory sets
    ``fleetfix_hba_reboot_ok``. A host needing a reboot without either is left out, with the reason.
    """
    hosts = tuple(hosts)
    unreachable = tuple(Excluded(h.host, h.message or h.status) for h in hosts if not h.reachable)
    loaded = [(h, _driver(h, module)) for h in hosts if h.reachable and _driver(h, module)]
    if not loaded:
        raise InputError("--module", f"{module!r} is not loaded on any reachable host")
    bad = [(h, d) for h, d in loaded if _advisories(h, module)]
    if not bad:
        versions = sorted({d.version or "no version" for _, d in loaded})
        message = f"no host runs a known-bad {module} build ({len(loaded)} load it: {', '.join(versions)})"
        raise InputError("--module", message)
    target, reason = _target(module, to, db, bad)
    targeted: list[tuple[HostAudit, DriverView, bool]] = []
    skipped: list[Excluded] = []
    for host, driver in loaded:
        advisories = _advisories(host, module)
        if driver.version is not None and DriverVersion(driver.version) >= target:
            still = (
                f" but still matches {', '.join(advisories)}: a newer version is needed" if advisories else ""
            )
            skipped.append(Excluded(host.host, f"already at {driver.version}{still}"))
        elif not advisories:
            skipped.append(
                Excluded(host.host, f"{module} {driver.version or ''} matches no advisory".strip())
            )
        elif _reboot_why(driver) and not (reboot_allowed or host.host in reboot_ok_hosts):
            skipped.append(Excluded(host.host, f"needs a reboot ({_reboot_why(driver)}); {_REBOOT_HINT}"))
        else:
            targeted.append((host, driver, bool(_reboot_why(driver))))
    if not targeted:
        reasons = "; ".join(f"{e.host}: {e.reason}" for e in skipped if e.host in {h.host for h, _ in bad})
        raise InputError("--module", f"no host with a known-bad {module} can be remediated ({reasons})")
    targeted.sort(key=lambda item: item[2])  # stable: reloads first, each kind in audit order
    planned = [_host_plan(h, d, module, str(target), times) for h, d, _ in targeted]
    size = batch.of(len(planned))
    return Plan(
        module=module,
        target=str(target),
        target_reason=reason,
        batch=batch,
        max_failures=max_failures,
        failure_budget=max_failures.of(len(planned)),
        times=times,
        batches=tuple(
            Batch(n + 1, tuple(planned[i : i + size])) for n, i in enumerate(range(0, len(planned), size))
        ),
        skipped=tuple(skipped),
        unreachable=unreachable,
    )


_REBOOT_HINT = "pass --reboot or set fleetfix_hba_reboot_ok for it"


def _driver(host: HostAudit, module: str) -> DriverView | None:
    return next((d for d in host.drivers if d.name == module), None)


def _advisories(host: HostAudit, module: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f.advisory for f in host.findings if f.module == module))


def _target(
    module: str, to: str | None, db: AdvisoryDB, bad: list[tuple[HostAudit, DriverView]]
) -> tuple[DriverVersion, str]:
    ids = sorted({a for h, _ in bad for a in _advisories(h, module)})
    if to is None:
        lowest = db.lowest_fix(module)
        if lowest is None:
            message = (
                f"no single driver version fixes every advisory on {module} (a kernel-only fix, or no fixed "
                "release known): give --to VERSION"
            )
            raise InputError("--to", message)
        return lowest, f"lowest version fixing every {module} advisory ({', '.join(ids)})"
    target = parse_version(to, "--to")
    still = [m.advisory.id for m in db.match(module, str(target))]
    if still:
        raise InputError("--to", f"{to} is itself affected by {', '.join(still)}")
    for host, _ in bad:
        for finding in host.findings:
            if finding.module == module and finding.fixed_in and target < DriverVersion(finding.fixed_in):
                raise InputError("--to", f"{to} is below {finding.fixed_in}, the fix for {finding.advisory}")
    return target, f"--to {to}"


def _reboot_why(driver: DriverView) -> str | None:
    """Why activating a new build of this driver takes a reboot, or None when a module reload will do.

    The boot disk's HBA can never be unloaded; neither can a module in use (an open or mounted disk holds a
    reference) or one built without unload support (refcount unknown, or permanent).
    """
    if driver.holds_boot_disk:
        return f"{driver.name} drives the boot disk"
    if driver.permanent or driver.refcount is None:
        return f"{driver.name} cannot be unloaded on this kernel"
    if driver.used_by:
        return f"{driver.name} is used by {', '.join(driver.used_by)}"
    if driver.refcount > 0:
        return f"{driver.name} is in use (refcount {driver.refcount})"
    return None


def _host_plan(host: HostAudit, driver: DriverView, module: str, target: str, times: StepTimes) -> HostPlan:
    build = driver.version or "unversioned"
    if driver.srcversion:
        build += f" (srcversion {driver.srcversion})"
    reboot = _reboot_why(driver)
    if reboot:
        activate = StepPlan("activate", f"reboot: {reboot}", times.reboot)
    else:
        activate = StepPlan("activate", f"reload {module}: nothing holds it", times.reload)
    if driver.disks:
        seconds = int(times.soak_runtime.total_seconds())
        soak = StepPlan(
            "soak",
            f"fio randread {seconds}s on {', '.join(driver.disks)}, read-only",
            times.soak_runtime + times.soak_margin,
        )
    else:
        soak = StepPlan("soak", f"none: no disk behind {module} to read", timedelta(0))
    steps = (
        StepPlan("precheck", f"facts: {module} still {build}; crash capture ready", times.precheck),
        StepPlan(
            "upgrade",
            f"install {module} {target}, replacing {driver.version or 'unversioned'}",
            times.upgrade,
        ),
        activate,
        StepPlan("verify", f"facts: loaded {module} must be {target}", times.verify),
        soak,
    )
    return HostPlan(
        host=host.host,
        version=driver.version,
        srcversion=driver.srcversion,
        disks=driver.disks,
        activation="reboot" if reboot else "reload",
        advisories=_advisories(host, module),
        steps=steps,
    )


def _host_dict(host: HostPlan) -> dict[str, Any]:
    return {
        "host": host.host,
        "version": host.version,
        "srcversion": host.srcversion,
        "disks": list(host.disks),
        "activation": host.activation,
        "advisories": list(host.advisories),
        "estimate_seconds": int(host.estimate.total_seconds()),
        "steps": [
            {"step": s.step, "action": s.action, "estimate_seconds": int(s.estimate.total_seconds())}
            for s in host.steps
        ],
    }


def _host_from_dict(data: Mapping[str, Any]) -> HostPlan:
    return HostPlan(
        host=data["host"],
        version=data["version"],
        srcversion=data["srcversion"],
        disks=tuple(data["disks"]),
        activation=data["activation"],
        advisories=tuple(data["advisories"]),
        steps=tuple(
            StepPlan(s["step"], s["action"], timedelta(seconds=s["estimate_seconds"])) for s in data["steps"]
        ),
    )


def duration_text(span: timedelta) -> str:
    """``1h05m``, ``25m``, ``40s``: estimates are minutes apart, never more precise than that."""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


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
    for batch in plan.batches:
        lines.append(f"Batch {batch.number} (~{duration_text(batch.estimate)}): {', '.join(batch.names)}")
        for host in batch.hosts:
            lines.append(f"  {host.host}: {', '.join(host.advisories)}")
            lines += [f"    {s.step:<9} ~{duration_text(s.estimate):<6} {s.action}" for s in host.steps]
    lines += [f"Skipped: {e.host}: {e.reason}" for e in plan.skipped]
    lines += [f"Unreachable: {e.host}: {e.reason}" for e in plan.unreachable]
    return lines
