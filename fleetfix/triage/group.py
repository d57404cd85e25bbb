"""Crashes grouped across hosts by signature, each group with its module builds, advisories and job timing.

The signature (``oops.signature``: implicated module, RIP function, first meaningful call-trace functions) is
what makes two crashes on two hosts the same bug. For each group this adds what a person asks next: which
build of the module those hosts run (from the last audit report, ``fleetfix audit``'s JSON), which
advisories match those builds, and whether the crashes line up with a scheduled job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.errors import InputError
from fleetfix.triage.correlate.job_schedule import HostJobs
from fleetfix.triage.correlate.jobs import Correlations, correlate
from fleetfix.triage.correlate.run_length import DEFAULT_RUN_LENGTH
from fleetfix.triage.oops.find_all import Oops, signature


@dataclass(frozen=True, slots=True)
class Crash:
    """One crash (a cascade of reports) from one host, with its wall-clock time when the log or the dump
    tells it. Only the first crash of each signature needs its whole report: ``brief`` gives the others
    without their call trace and module list, so a log of 100,000 crashes stays small in memory."""

    host: str
    oops: Oops
    source: str  # the file it was read from
    time: datetime | None  # aware
    time_basis: str  # how ``time`` was found: "log prefix", "pstore record", "dump directory",
    # "pstore file time" or "unknown" (``triage.merge.BASIS_RANK``)
    signature: str = ""  # ``oops.signature`` of the whole report; empty: computed from ``oops``
    also_seen_in: tuple[str, ...] = ()  # other files the same crash was read from (``triage.merge``)

    @property
    def key(self) -> str:
        return self.signature or signature(self.oops)

    @property
    def sources(self) -> tuple[str, ...]:
        """Every file this crash was read from: kdump's log, a netconsole receiver's, pstore records."""
        return (self.source, *self.also_seen_in)


@dataclass(frozen=True, slots=True)
class LoadedBuild:
    """The module build a host ran at its last audit."""

    host: str
    version: str | None
    srcversion: str | None
    out_of_tree: bool
    kernel: str | None


@dataclass(frozen=True, slots=True)
class AdvisoryHit:
    id: str
    title: str
    severity: str
    fixed_in: str | None
    hosts: tuple[str, ...]  # crashing hosts whose audited build it matches
    unaudited: tuple[str, ...]  # crashing hosts with no audited version of the module to check
    why: str


@dataclass(frozen=True, slots=True)
class CrashGroup:
    signature: str
    module: str | None
    rip: str | None
    kind: str  # the most frequent kind among its crashes
    crashes: tuple[Crash, ...]  # in time order, untimed last
    loaded: tuple[LoadedBuild, ...]
    advisories: tuple[AdvisoryHit, ...]
    correlations: Correlations

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(sorted({c.host for c in self.crashes}))

    @property
    def example(self) -> Crash:
        """A crash of the group with its whole report (the others may be brief: ``Crash``)."""
        return next(
            (c for c in self.crashes if c.oops.call_trace or c.oops.modules_linked_in), self.crashes[0]
        )

    @property
    def times(self) -> tuple[datetime, ...]:
        return tuple(c.time for c in self.crashes if c.time is not None)


def audited_builds(
    audit: Mapping[str, Any], source: str = "audit report"
) -> dict[tuple[str, str], LoadedBuild]:
    """``(host, module) -> build`` from an audit report (``hosts[].modules[]`` with ``name``, ``version``)."""
    hosts = audit.get("hosts")
    if not isinstance(hosts, list):
        raise InputError(source, "expected a list", field="hosts")
    builds: dict[tuple[str, str], LoadedBuild] = {}
    for i, host in enumerate(hosts):
        name = host.get("host") if isinstance(host, Mapping) else None
        modules = host.get("modules") if isinstance(host, Mapping) else None
        if not isinstance(name, str) or not isinstance(modules, list):
            raise InputError(source, "expected an object with host and modules", field=f"hosts[{i}]")
        kernel = host.get("kernel") if isinstance(host.get("kernel"), str) else None
        for j, module in enumerate(modules):
            if not isinstance(module, Mapping) or not isinstance(module.get("name"), str):
                raise InputError(source, "expected an object with a name", field=f"hosts[{i}].modules[{j}]")
            version, srcversion = module.get("version"), module.get("srcversion")
            builds[(name, module["name"])] = LoadedBuild(
                name,
                version if isinstance(version, str) else None,
                srcversion if isinstance(srcversion, str) else None,
                bool(module.get("out_of_tree")) or "O" in (module.get("taint") or ()),
                kernel,
            )
    return builds


def advisory_hits(
    module: str, hosts: Sequence[str], builds: Mapping[tuple[str, str], LoadedBuild], db: AdvisoryDB
) -> tuple[AdvisoryHit, ...]:
    """Advisories on ``module`` matching the crashing hosts' builds; hosts never audited are named apart."""
    matched: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    unaudited = []
    for host in hosts:
        build = builds.get((host, module))
        if build is None or build.version is None:
            unaudited.append(host)
            continue
        kernel = None if build.out_of_tree else build.kernel  # kernel ranges speak of the in-tree driver only
        for match in db.match(module, build.version, build.srcversion, kernel):
            matched.setdefault(match.advisory.id, []).append(host)
            reasons.setdefault(match.advisory.id, f"{host}: {match.why}")
    hits = []
    for advisory in db.for_module(module):
        if advisory.id not in matched and not unaudited:
            continue
        hits.append(
            AdvisoryHit(
                advisory.id,
                advisory.title,
                advisory.severity,
                str(advisory.fixed_in) if advisory.fixed_in is not None else None,
                tuple(matched.get(advisory.id, ())),
                tuple(unaudited),
                reasons.get(advisory.id, "module version not audited on these hosts: run fleetfix audit"),
            )
        )
    return tuple(sorted(hits, key=lambda h: (-len(h.hosts), h.id)))


def group_crashes(
    crashes: Sequence[Crash],
    audit: Mapping[str, Any] | None = None,
    db: AdvisoryDB | None = None,
    jobs: Mapping[str, HostJobs] | None = None,
    configured: Mapping[str, timedelta] | None = None,
    observed: Mapping[str, Sequence[timedelta]] | None = None,
    default_length: timedelta = DEFAULT_RUN_LENGTH,
) -> tuple[CrashGroup, ...]:
    """Crashes by signature, the largest group first; ``audit`` is a parsed ``fleetfix audit`` JSON report."""
    builds = audited_builds(audit) if audit is not None else {}
    by_signature: dict[str, list[Crash]] = {}
    for crash in crashes:
        by_signature.setdefault(crash.key, []).append(crash)
    groups = []
    for key, members in by_signature.items():
        members.sort(key=lambda c: (c.time is None, c.time.timestamp() if c.time else 0.0, c.host))
        first = members[0].oops
        module = first.implicated_module
        hosts = sorted({c.host for c in members})
        groups.append(
            CrashGroup(
                signature=key,
                module=module,
                rip=first.rip,
                kind=Counter(c.oops.kind for c in members).most_common(1)[0][0],
                crashes=tuple(members),
                loaded=tuple(builds[(h, module)] for h in hosts if module and (h, module) in builds),
                advisories=advisory_hits(module, hosts, builds, db) if module and db is not None else (),
                correlations=correlate(
                    [(c.host, c.time) for c in members], jobs or {}, configured, observed, default_length
                ),
            )
        )
    groups.sort(key=lambda g: (-len(g.crashes), -len(g.hosts), g.signature))
    return tuple(groups)
