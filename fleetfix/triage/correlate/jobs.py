"""Crash times against the hosts' cron jobs and systemd timers: was a job running each time a host crashed?

For every job (the same command on the same schedule counts as one job across hosts), each crash is placed
against the run of that job on the crashing host: the run starts at the job's last start at or before the
crash (``correlate_schedule``) and lasts the job's run length (``correlate_length``). The hits are weighed
against chance (``correlate_chance``): ``p_value`` is the probability of at least the observed number of
hits if crashes struck at random times. With many jobs tested, one of them will look unusual by chance, so
``p_value_all_jobs`` (Bonferroni: times the number of jobs tested) is the fair figure when no job was
suspected in advance.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fleetfix.facts.history import ScheduledJob
from fleetfix.triage.correlate.chance import coverage, p_at_least
from fleetfix.triage.correlate.job_schedule import CalendarSchedule, HostJobs, Schedule
from fleetfix.triage.correlate.repro import Repro, suggest_repro
from fleetfix.triage.correlate.run_length import DEFAULT_RUN_LENGTH, RunLength, run_length
from fleetfix.triage.correlate.run_parts import Unplaced, host_schedules, window

# Coverage is measured over whole weeks (at least four) ending at the last crash: over a whole number of
# periods a daily or weekly job covers the same share wherever the window starts.
MIN_WEEKS = 4


def job_label(job: ScheduledJob) -> str:
    return job.command or job.unit or job.source


@dataclass(frozen=True, slots=True)
class CrashInRun:
    host: str
    time: datetime
    run_start: datetime | None  # the job's last start on that host at or before the crash
    inside: bool


@dataclass(frozen=True, slots=True)
class JobCorrelation:
    job: str
    kind: str
    schedule: str  # e.g. "cron `0 1 * * *`"
    hosts: tuple[str, ...]  # crashing hosts that run the job
    run_length: RunLength
    crashes: int
    hits: int
    coverage: float  # share of time the job's runs cover, averaged over the crashes on hosts with the job
    p_value: float
    p_value_all_jobs: float
    repro: Repro
    runs: tuple[CrashInRun, ...]  # the crashes on hosts with the job
    notes: tuple[str, ...] = ()

    def sentence(self) -> str:
        return (
            f"{self.hits} of {self.crashes} crashes fell inside the run of {self.job} ({self.schedule}, "
            f"{self.run_length.describe()}; p = {format_p(self.p_value)} by chance)"
        )


@dataclass(frozen=True, slots=True)
class SkippedJob:
    host: str
    job: str
    reason: str


@dataclass(frozen=True, slots=True)
class Correlations:
    jobs: tuple[JobCorrelation, ...]  # most significant first
    skipped: tuple[SkippedJob, ...]
    untimed: int  # crashes without a wall-clock time, left out


def format_p(p: float) -> str:
    if p >= 0.01:
        return f"{p:.2f}"
    if p >= 0.0001:
        return f"{p:.4f}"
    return f"{p:.1e}"


def correlate(
    crashes: Iterable[tuple[str, datetime | None]],
    hosts: Mapping[str, HostJobs],
    configured: Mapping[str, timedelta] | None = None,
    observed: Mapping[str, Sequence[timedelta]] | None = None,
    default_length: timedelta = DEFAULT_RUN_LENGTH,
) -> Correlations:
    """Every scheduled job of the crashing hosts against the crashes, given as ``(host, aware time or None)``.

    ``configured`` and ``observed`` map a job's command, timer unit or source file to its run length, or
    to logged run durations.
    """
    listed = list(crashes)
    timed = sorted(((h, t) for h, t in listed if t is not None), key=lambda c: c[1])
    if not timed:
        return Correlations((), (), len(listed))
    end = timed[-1][1]
    weeks = max(MIN_WEEKS, math.ceil((end - timed[0][1]) / timedelta(weeks=1)))
    begin = end - timedelta(weeks=weeks)
    by_job: dict[tuple[str, str, str], dict[str, tuple[ScheduledJob, Schedule]]] = {}
    skipped = []
    for name in sorted({h for h, _ in timed}):
        host = hosts.get(name)
        for placed in host_schedules(host) if host else ():
            if isinstance(placed, Unplaced):
                skipped.append(SkippedJob(name, placed.label, placed.reason))
                continue
            job, schedule = placed.job, placed.schedule
            when = job.schedule or "" if job.kind == "cron" else "; ".join(job.on_calendar)
            by_job.setdefault((job.kind, when, job_label(job)), {})[name] = (job, schedule)
    lengths = (configured or {}, observed or {}, default_length)
    results = [_one_job(on_hosts, timed, begin, end, lengths) for on_hosts in by_job.values()]
    results = [dataclasses.replace(r, p_value_all_jobs=min(1.0, r.p_value * len(results))) for r in results]
    results.sort(key=lambda r: (r.p_value, -r.hits, r.job))
    return Correlations(tuple(results), tuple(skipped), len(listed) - len(timed))


def _one_job(
    on_hosts: Mapping[str, tuple[ScheduledJob, Schedule]],
    timed: Sequence[tuple[str, datetime]],
    begin: datetime,
    end: datetime,
    lengths: tuple[Mapping[str, timedelta], Mapping[str, Sequence[timedelta]], timedelta],
) -> JobCorrelation:
    job, schedule = next(iter(on_hosts.values()))
    length = run_length(job, *lengths)
    by_schedule: dict[Schedule, float] = {}  # hosts in the same zone share one measurement
    for _, schedule in on_hosts.values():
        if schedule not in by_schedule:
            by_schedule[schedule] = coverage(schedule, length.duration + schedule.spread, begin, end)
    share = {host: by_schedule[s] for host, (_, s) in on_hosts.items()}
    runs, chances = [], []
    for host, when in timed:
        if host not in on_hosts:
            chances.append(0.0)
            continue
        schedule = on_hosts[host][1]
        start = schedule.last_start(when)
        inside = start is not None and when < window(schedule, start, length.duration)[1]
        runs.append(CrashInRun(host, when, start, inside))
        chances.append(share[host])
    hits = sum(run.inside for run in runs)
    crashing_hosts = {h for h, _ in timed}
    notes = []
    if len(on_hosts) < len(crashing_hosts):
        notes.append(f"scheduled on {len(on_hosts)} of the {len(crashing_hosts)} crashing hosts")
    notes += sorted(
        {
            f"{host}: {d}"
            for host, (_, s) in on_hosts.items()
            if isinstance(s, CalendarSchedule) and (d := s.disagreement())
        }
    )
    return JobCorrelation(
        job=job_label(job),
        kind=job.kind,
        schedule=schedule.description,
        hosts=tuple(sorted(on_hosts)),
        run_length=length,
        crashes=len(timed),
        hits=hits,
        coverage=sum(share[r.host] for r in runs) / len(runs) if runs else 0.0,
        p_value=p_at_least(hits, chances),
        p_value_all_jobs=1.0,
        repro=suggest_repro(job.command or job.unit or ""),
        runs=tuple(runs),
        notes=tuple(notes),
    )
