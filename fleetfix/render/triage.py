"""The triage document: every crash and every group as JSON, as Markdown, and as rows for a terminal table.

Times are shown in UTC. In JSON, each group names its crashes by their index in ``crashes[]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from typing import Any

from fleetfix import serde
from fleetfix.triage.correlate.jobs import JobCorrelation, format_p
from fleetfix.triage.correlate.repro import Repro
from fleetfix.triage.group import Crash, CrashGroup


def _utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _short(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ") if moment is not None else "unknown"


def crash_dict(crash: Crash) -> dict[str, Any]:
    oops = crash.oops
    return {
        "host": crash.host,
        "time": _utc(crash.time),
        "time_basis": crash.time_basis,
        "kind": oops.kind,
        "first_line": oops.first_line,
        "kernel": oops.kernel,
        "rip": oops.rip,
        "rip_offset": oops.rip_offset,
        "rip_module": oops.rip_module,
        "implicated_module": oops.implicated_module,
        "taint": list(oops.taint),
        "modules_linked_in": [{"name": m.name, "markers": m.markers} for m in oops.modules_linked_in],
        "call_trace": [
            {"function": f.function, "offset": f.offset, "module": f.module, "reliable": f.reliable}
            for f in oops.call_trace
        ],
        "related": [
            {
                "role": r.role,
                "kind": r.kind,
                "first_line": r.first_line,
                "line": r.line,
                "uptime_seconds": r.timestamp,
                "rip": r.rip,
                "implicated_module": r.implicated_module,
            }
            for r in oops.related
        ],
        "source": crash.source,
        "sources": list(crash.sources),
        "line": oops.line,
        "uptime_seconds": oops.timestamp,
    }


def correlation_dict(job: JobCorrelation) -> dict[str, Any]:
    return {
        "job": job.job,
        "kind": job.kind,
        "schedule": job.schedule,
        "hosts": list(job.hosts),
        "run_length": {
            "seconds": job.run_length.duration.total_seconds(),
            "basis": job.run_length.basis,
            "observed_runs": job.run_length.observed,
        },
        "crashes": job.crashes,
        "hits": job.hits,
        "coverage": round(job.coverage, 6),
        "p_value": job.p_value,
        "p_value_all_jobs": job.p_value_all_jobs,
        "sentence": job.sentence(),
        "repro": {"profiles": list(job.repro.profiles), "pattern": job.repro.pattern},
        "runs": [
            {"host": r.host, "crash": _utc(r.time), "run_start": _utc(r.run_start), "inside": r.inside}
            for r in job.runs
        ],
        "notes": list(job.notes),
    }


def to_dict(
    groups: Sequence[CrashGroup], generated_at: datetime, read: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The document; ``read`` counts what was read (files, lines, kernel logs, the files that were not)."""
    crashes = [crash for group in groups for crash in group.crashes]
    index = {id(crash): i for i, crash in enumerate(crashes)}
    return {
        "generated_at": generated_at.isoformat(),
        "summary": {
            "crashes": sum(g.total for g in groups),
            "listed": len(crashes),
            "groups": len(groups),
            "hosts": len({h for g in groups for h in g.hosts}),
            "untimed": sum(untimed(g) for g in groups),
            "read": dict(read or {}),
        },
        "crashes": [crash_dict(c) for c in crashes],
        "groups": [
            {
                "signature": g.signature,
                "module": g.module,
                "rip": g.rip,
                "kind": g.kind,
                "count": g.total,
                "crashes": [index[id(c)] for c in g.crashes],  # those listed (``Tally``)
                "listed_every": g.every,  # 1: every crash is listed
                "example": index[id(g.example)],  # a crash with its whole report: others may go without
                "hosts": list(g.hosts),
                "crashes_per_host": g.per_host,
                "times": [_utc(t) for t in g.times],
                "loaded": [
                    {
                        "host": b.host,
                        "version": b.version,
                        "srcversion": b.srcversion,
                        "out_of_tree": b.out_of_tree,
                    }
                    for b in g.loaded
                ],
                "advisories": [
                    {
                        "id": a.id,
                        "title": a.title,
                        "severity": a.severity,
                        "fixed_in": a.fixed_in,
                        "hosts": list(a.hosts),
                        "unaudited_hosts": list(a.unaudited),
                        "why": a.why,
                    }
                    for a in g.advisories
                ],
                "correlations": [correlation_dict(j) for j in g.correlations.jobs],
                "skipped_jobs": [
                    {"host": s.host, "job": s.job, "reason": s.reason} for s in g.correlations.skipped
                ],
            }
            for g in groups
        ],
    }


def to_json(
    groups: Sequence[CrashGroup], generated_at: datetime, read: Mapping[str, int] | None = None
) -> str:
    return serde.to_json(to_dict(groups, generated_at, read))


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One group as text cells for a terminal table (``COLUMNS`` order)."""

    module: str
    rip: str
    kind: str
    crashes: str
    hosts: str
    first: str
    last: str
    builds: str
    advisories: str
    correlation: str


COLUMNS = ("module", "RIP", "kind", "crashes", "hosts", "first", "last", "builds", "advisories", "job timing")


def untimed(group: CrashGroup) -> int:
    """The group's crashes without a wall-clock time, listed or not."""
    return group.untimed if group.untimed is not None else sum(1 for c in group.crashes if c.time is None)


def sample_text(group: CrashGroup) -> str:
    """What the lists of a large group hold: ``listing 1,002 of 100,000 crashes (every 128th, ...)``."""
    return (
        f"listing {len(group.crashes):,} of {group.total:,} crashes (every {group.every}th as read, with the "
        "first, the last and the example); job timing weighs those listed"
    )


def builds_text(group: CrashGroup) -> str:
    """Each audited version of the group's module and how many crashing hosts ran it."""
    versions: dict[str, int] = {}
    for build in group.loaded:
        versions[build.version or "?"] = versions.get(build.version or "?", 0) + 1
    return ", ".join(f"{v} ({n})" for v, n in sorted(versions.items())) or "not audited"


def _top_correlation(group: CrashGroup) -> JobCorrelation | None:
    best = group.correlations.jobs[0] if group.correlations.jobs else None
    return best if best is not None and best.hits > 0 else None


def group_rows(groups: Sequence[CrashGroup]) -> list[GroupRow]:
    rows = []
    for g in groups:
        top = _top_correlation(g)
        rows.append(
            GroupRow(
                module=g.module or "-",
                rip=g.rip or "-",
                kind=g.kind,
                crashes=str(g.total),
                hosts=str(len(g.hosts)),
                first=_short(g.times[0]) if g.times else "unknown",
                last=_short(g.times[-1]) if g.times else "unknown",
                builds=builds_text(g),
                advisories=", ".join(a.id for a in g.advisories if a.hosts)
                or (f"{len(g.advisories)} unchecked" if g.advisories else "none"),
                correlation=f"{top.hits}/{top.crashes} in {top.job} (p = {format_p(top.p_value)})"
                if top
                else "none",
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class HostRow:
    """One crashing host: how often, when last, and the worst of what its crashes point at."""

    host: str
    crashes: int
    last: str
    group: int  # the number of its largest group, as listed under the table
    module: str  # the implicated module and the build the host ran at its last audit
    advisory: str


def host_rows(groups: Sequence[CrashGroup]) -> list[HostRow]:
    counts: dict[str, int] = {}
    last: dict[str, datetime] = {}
    first_group: dict[str, int] = {}
    for number, group in enumerate(groups, 1):
        for host, count in group.per_host.items():
            counts[host] = counts.get(host, 0) + count
            first_group.setdefault(host, number)
        for host, when in group.host_last.items():
            if host not in last or when > last[host]:
                last[host] = when
    rows = []
    for host in sorted(counts, key=lambda h: (-counts[h], h)):
        group = groups[first_group[host] - 1]
        build = next((b for b in group.loaded if b.host == host), None)
        version = build.version if build is not None else None  # None: not audited, or no version
        module = f"{group.module} {version or '?'}" if group.module else "-"
        advisory = next((a for a in group.advisories if host in a.hosts), None)
        rows.append(
            HostRow(
                host=host,
                crashes=counts[host],
                last=last[host].astimezone(UTC).strftime("%Y-%m-%d %H:%M") if host in last else "unknown",
                group=first_group[host],
                module=module,
                advisory=advisory.id if advisory else "-",
            )
        )
    return rows


def repro_text(module: str | None, repro: Repro) -> str:
    """What to run to reproduce a job's load: the soak command, or why no profile fits."""
    if not repro.profiles:
        return f"no soak profile imitates this job ({repro.pattern}): run the job itself on a test host"
    target = f"--module {module}" if module else "--device DEV"
    profiles = ", then ".join(f"--profile {p}" for p in repro.profiles)
    return f"fleetfix soak {target} {profiles} ({repro.pattern})"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(groups: Sequence[CrashGroup], generated_at: datetime, read: str | None = None) -> str:
    hosts = {h for g in groups for h in g.hosts}
    lines = [
        f"# fleetfix triage ({generated_at:%Y-%m-%d %H:%M %Z})",
        "",
        f"{sum(g.total for g in groups)} crashes on {len(hosts)} hosts, in {len(groups)} groups."
        + (f" Read: {read}." if read else ""),
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(_cell(v) for v in astuple(row)) + " |" for row in group_rows(groups)]
    for number, g in enumerate(groups, 1):
        lines += ["", f"## {number}. {g.module or 'no module'}: {g.kind} in `{g.rip or '?'}`", ""]
        lines.append(f"Signature `{g.signature}`; hosts: {', '.join(g.hosts)}.")
        if g.sampled:
            lines.append(f"Of its {g.total:,} crashes, {sample_text(g)}.")
        lines.append("")
        lines += ["| host | time | source |", "|---|---|---|"]
        lines += [
            f"| {_cell(c.host)} | {_short(c.time)} | {_cell(c.source)}:{c.oops.line}"
            + "".join(f"<br>also {_cell(s)}" for s in c.also_seen_in)
            + " |"
            for c in g.crashes
        ]
        if g.loaded:
            lines += [
                "",
                "Loaded builds: " + "; ".join(f"{b.host} {b.version or '?'}" for b in g.loaded) + ".",
            ]
        for a in g.advisories:
            on = f"matches {', '.join(a.hosts)}" if a.hosts else "not checked"
            unaudited = f"; not audited: {', '.join(a.unaudited)}" if a.unaudited else ""
            lines.append(
                f"- Advisory **{a.id}** ({a.severity}): {_cell(a.title)}; {on}{unaudited}. {_cell(a.why)}"
            )
        top = _top_correlation(g)
        if top is not None:
            repro = f"Suggested repro: {repro_text(g.module, top.repro)}."
            lines += ["", f"**Job timing:** {top.sentence()}.", repro]
        for other in g.correlations.jobs[1:]:
            if other.hits:
                lines.append(f"- also: {other.sentence()}")
    return "\n".join(lines) + "\n"
