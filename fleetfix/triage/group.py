"""Crashes grouped across hosts by signature, each group with its module builds, advisories and job timing.

The signature (``oops.signature``: implicated module, RIP function, first meaningful call-trace functions) is
what makes two crashes on two hosts the same bug. For each group this adds what a person asks next: which
build of the module those hosts run (from the last audit report, ``fleetfix audit``'s JSON), which
advisories match those builds, and whether the crashes line up with a scheduled job.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
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


# Crashes a group lists in full (the documents' crash lists, the timeline, the job correlation): a larger
# group lists an evenly spread sample of this many, plus its first and last crash and its example.
LISTED = 1000


class Tally:
    """One signature's crashes as they are read: exact counts (in all, per host, untimed), the first and
    last crash, the crash with the whole report, and at most ``LISTED`` crashes spread evenly over all of
    them (every ``every``-th in reading order; ``every`` doubles whenever the list fills). Its memory does
    not grow with the number of crashes, which is what lets one log of 100,000 oopses be triaged."""

    def __init__(self, limit: int = LISTED) -> None:
        self.limit = limit
        self.count = 0
        self.untimed = 0
        self.kinds: Counter[str] = Counter()
        self.hosts: Counter[str] = Counter()
        self.host_last: dict[str, datetime] = {}
        self.first: Crash | None = None  # earliest timed crash
        self.last: Crash | None = None  # latest timed crash
        self.example: Crash | None = None
        self.every = 1
        self.sample: list[Crash] = []

    def add(self, crash: Crash) -> None:
        if self.example is None or (
            not _whole(self.example) and _whole(crash)
        ):  # the first crash with its whole report
            self.example = crash
        if self.count % self.every == 0:
            self.sample.append(crash)
            if len(self.sample) > self.limit:
                self.sample = self.sample[::2]
                self.every *= 2
        self.count += 1
        self.kinds[crash.oops.kind] += 1
        self.hosts[crash.host] += 1
        self._timed(crash)

    def replace(self, old: Crash, new: Crash) -> None:
        """``new`` is a better-timed copy of ``old``, already counted (``crash_store.deduplicate``)."""
        if old.time is None:
            self.untimed -= 1
        if _whole(old) and not _whole(new):  # the same report: keep the whole one
            new = dataclasses.replace(
                new,
                oops=dataclasses.replace(
                    new.oops, call_trace=old.oops.call_trace, modules_linked_in=old.oops.modules_linked_in
                ),
            )
        self.sample = [new if c is old else c for c in self.sample]
        self.example = new if self.example is old else self.example
        self.first = new if self.first is old else self.first
        self.last = new if self.last is old else self.last
        self._timed(new)

    def _timed(self, crash: Crash) -> None:
        when = crash.time
        if when is None:
            self.untimed += 1
            return
        if self.first is None or self.first.time is None or when < self.first.time:
            self.first = crash
        if self.last is None or self.last.time is None or when > self.last.time:
            self.last = crash
        if crash.host not in self.host_last or when > self.host_last[crash.host]:
            self.host_last[crash.host] = when

    def listed(self) -> list[Crash]:
        """The crashes shown: the sample with the first, last and example crash, by time, untimed last."""
        shown = {id(c): c for c in (*self.sample, self.first, self.last, self.example) if c is not None}
        return sorted(shown.values(), key=_by_time)


def _whole(crash: Crash) -> bool:
    return bool(crash.oops.call_trace or crash.oops.modules_linked_in)


def _by_time(crash: Crash) -> tuple[bool, float, str]:
    return (crash.time is None, crash.time.timestamp() if crash.time else 0.0, crash.host)


@dataclass(frozen=True, slots=True)
class CrashGroup:
    signature: str
    module: str | None
    rip: str | None
    kind: str  # the most frequent kind among its crashes
    crashes: tuple[
        Crash, ...
    ]  # those listed (``Tally``: all of a group of up to LISTED), by time, untimed last
    loaded: tuple[LoadedBuild, ...]
    advisories: tuple[AdvisoryHit, ...]
    correlations: Correlations
    count: int = 0  # all its crashes; 0: as many as listed
    host_counts: tuple[tuple[str, int], ...] = ()  # crashes per host, all of them; empty: from ``crashes``
    host_times: tuple[tuple[str, datetime], ...] = ()  # each host's latest crash; empty: from ``crashes``
    untimed: int | None = None  # crashes without a wall-clock time, all of them; None: from ``crashes``
    every: int = 1  # the sample's step: 1 when every crash is listed

    @property
    def total(self) -> int:
        """How many crashes the group has, listed or not."""
        return self.count or len(self.crashes)

    @property
    def sampled(self) -> bool:
        return self.total > len(self.crashes)

    @property
    def per_host(self) -> dict[str, int]:
        return dict(self.host_counts) if self.host_counts else Counter(c.host for c in self.crashes)

    @property
    def host_last(self) -> dict[str, datetime]:
        """Each host's latest crash time, of all its crashes."""
        if self.host_times:
            return dict(self.host_times)
        latest: dict[str, datetime] = {}
        for crash in self.crashes:
            if crash.time is not None and (crash.host not in latest or crash.time > latest[crash.host]):
                latest[crash.host] = crash.time
        return latest

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(sorted(self.per_host))

    @property
    def example(self) -> Crash:
        """A crash of the group with its whole report (the others may be brief: ``Crash``)."""
        return next((c for c in self.crashes if _whole(c)), self.crashes[0])

    @property
    def times(self) -> tuple[datetime, ...]:
        """The listed crashes' times, in order: the first and the last are the group's own."""
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


def tally(crashes: Iterable[Crash]) -> dict[str, Tally]:
    """Crashes by signature, in the order each signature was first read."""
    tallies: dict[str, Tally] = {}
    for crash in crashes:
        found = tallies.get(crash.key)
        if found is None:
            found = tallies[crash.key] = Tally()
        found.add(crash)
    return tallies


def group_crashes(
    crashes: Iterable[Crash] | Mapping[str, Tally],
    audit: Mapping[str, Any] | None = None,
    db: AdvisoryDB | None = None,
    jobs: Mapping[str, HostJobs] | None = None,
    configured: Mapping[str, timedelta] | None = None,
    observed: Mapping[str, Sequence[timedelta]] | None = None,
    default_length: timedelta = DEFAULT_RUN_LENGTH,
) -> tuple[CrashGroup, ...]:
    """Crashes (or their tallies by signature) grouped, the largest group first; ``audit`` is a parsed
    ``fleetfix audit`` JSON report. The job correlation weighs the listed crashes (``Tally``)."""
    builds = audited_builds(audit) if audit is not None else {}
    tallies = crashes if isinstance(crashes, Mapping) else tally(crashes)
    groups = []
    for key, counted in tallies.items():
        members = counted.listed()
        first = members[0].oops
        module = first.implicated_module
        hosts = sorted(counted.hosts)
        groups.append(
            CrashGroup(
                signature=key,
                module=module,
                rip=first.rip,
                kind=counted.kinds.most_common(1)[0][0],
                crashes=tuple(members),
                loaded=tuple(builds[(h, module)] for h in hosts if module and (h, module) in builds),
                advisories=advisory_hits(module, hosts, builds, db) if module and db is not None else (),
                correlations=correlate(
                    [(c.host, c.time) for c in members], jobs or {}, configured, observed, default_length
                ),
                count=counted.count,
                host_counts=tuple(sorted(counted.hosts.items())),
                host_times=tuple(sorted(counted.host_last.items())),
                untimed=counted.untimed,
                every=counted.every,
            )
        )
    groups.sort(key=lambda g: (-g.total, -len(g.hosts), g.signature))
    return tuple(groups)
