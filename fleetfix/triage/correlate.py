"""Crash times against the hosts' cron jobs and systemd timers: was a job running each time a host crashed?

For every job (the same command on the same schedule counts as one job across hosts), each crash is placed
against the run of that job on the crashing host: the run starts at the job's last start at or before the
crash (croniter for cron, the host's ``systemd-analyze calendar`` output or ``calendar.py`` for
``OnCalendar=``) and lasts the job's run length, taken from configuration, else from observed run
durations, else a stated guess. Cron and local-zone timers run in the host's zone; crash times are aware.

The evidence is weighed against chance: if crashes struck at random times, a crash on host *i* would fall
inside a run with probability ``p_i``, the share of time the job's runs cover on that host (0 on a host
without the job). The number of hits among *n* crashes is then a sum of independent Bernoulli trials
(binomial with ``p`` when every host has the same coverage, Poisson-binomial in general), and
``p_value`` is the probability of at least the observed number of hits. A daily three-hour backup covers
1/8 of the day: 11 hits of 12 by chance has probability about 5e-10. The test assumes crash times
independent of the time of day apart from the job; with many jobs tested, one of them will look unusual
by chance, so ``p_value_all_jobs`` (Bonferroni: times the number of jobs tested) is the fair figure
when no job was suspected in advance.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

from croniter import CroniterBadDateError, croniter

from fleetfix.errors import InputError
from fleetfix.facts_history import ScheduledJob
from fleetfix.triage.calendar import CalendarSpec
from fleetfix.triage.calendar_analyze import AnalyzedCalendar
from fleetfix.triage.calendar_parse import parse_calendar

DEFAULT_RUN_LENGTH = timedelta(hours=1)
# Coverage is measured over whole weeks (at least four) ending at the last crash: over a whole number of
# periods a daily or weekly job covers the same share wherever the window starts.
MIN_WEEKS = 4
MAX_STARTS = 5_000  # a job starting more often is measured over the first MAX_STARTS runs of the window


@dataclass(frozen=True, slots=True)
class RunLength:
    duration: timedelta
    basis: str  # "config", "logs" or "guess"
    observed: int = 0  # runs the logged figure is drawn from

    def describe(self) -> str:
        shown = f"about {_duration(self.duration)}"
        if self.basis == "guess":
            return f"{shown}, a guess"
        if self.basis == "logs":
            return f"{shown} from {self.observed} logged run{'s' if self.observed != 1 else ''}"
        return shown


def _duration(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds < 60:
        return f"{round(seconds)} s"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    hours = round(seconds / 1800) / 2
    return f"{hours:g} h"


def job_keys(job: ScheduledJob) -> tuple[str, ...]:
    """The names a run-length setting may use for ``job``: its command, timer unit, or source file."""
    return tuple(k for k in (job.command, job.unit, job.source) if k)


def job_label(job: ScheduledJob) -> str:
    return job.command or job.unit or job.source


def run_length(
    job: ScheduledJob,
    configured: Mapping[str, timedelta],
    observed: Mapping[str, Sequence[timedelta]],
    default: timedelta = DEFAULT_RUN_LENGTH,
) -> RunLength:
    """Configured length first; else the 90th percentile (nearest rank) of logged runs; else the guess.

    A high percentile rather than the median: a crash late in a long run is still inside it, and the
    coverage used for the probability grows with the same length, so a generous figure costs nothing unfair.
    """
    for key in job_keys(job):
        if key in configured:
            return RunLength(configured[key], "config")
    for key in job_keys(job):
        runs = sorted(d for d in observed.get(key, ()) if d > timedelta(0))
        if runs:
            return RunLength(runs[math.ceil(0.9 * len(runs)) - 1], "logs", len(runs))
    return RunLength(default, "guess")


class Schedule(Protocol):
    @property
    def description(self) -> str: ...

    def last_start(self, at: datetime) -> datetime | None: ...

    def starts(self, begin: datetime, end: datetime) -> Iterator[datetime]: ...


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    zone: tzinfo

    @property
    def description(self) -> str:
        return f"cron `{self.expression}`"

    def last_start(self, at: datetime) -> datetime | None:
        earlier = croniter(self.expression, at.astimezone(self.zone) + timedelta(seconds=1))
        try:
            start: datetime = earlier.get_prev(datetime)
        except CroniterBadDateError:  # a date that never comes, such as 31 February
            return None
        return start if start <= at else None

    def starts(self, begin: datetime, end: datetime) -> Iterator[datetime]:
        later = croniter(self.expression, begin.astimezone(self.zone) - timedelta(seconds=1))
        try:
            while (start := later.get_next(datetime)) <= end:
                yield start
        except CroniterBadDateError:
            return


@dataclass(frozen=True)
class CalendarSchedule:
    """A timer's ``OnCalendar=`` expressions.

    Within the span of the host's own listed elapses (``systemd-analyze calendar --base-time=...
    --iterations=N``) those are the starts; elsewhere the parser's.
    """

    expressions: tuple[str, ...]
    specs: tuple[CalendarSpec, ...]
    zone: tzinfo
    listed: tuple[datetime, ...] = ()  # sorted

    @property
    def description(self) -> str:
        return f"timer `{'; '.join(self.expressions)}`"

    def _in_listed_span(self, moment: datetime) -> bool:
        return bool(self.listed) and self.listed[0] <= moment <= self.listed[-1]

    def _parsed_last(self, at: datetime) -> datetime | None:
        found = [s for spec in self.specs if (s := spec.previous_elapse(at, self.zone)) is not None]
        return max(found) if found else None

    def last_start(self, at: datetime) -> datetime | None:
        index = bisect_right(self.listed, at)
        if index == 0:
            return self._parsed_last(at)
        if index < len(self.listed):
            return self.listed[index - 1]
        parsed = self._parsed_last(at)
        return self.listed[-1] if parsed is None else max(parsed, self.listed[-1])

    def _parsed_starts(self, begin: datetime, end: datetime) -> Iterator[datetime]:
        streams = [spec.elapses_after(begin - timedelta(microseconds=1), self.zone) for spec in self.specs]
        for start in heapq.merge(*streams):
            if start > end:
                return
            if not self._in_listed_span(start):
                yield start

    def starts(self, begin: datetime, end: datetime) -> Iterator[datetime]:
        listed = [s for s in self.listed if begin <= s <= end]
        previous = None
        for start in heapq.merge(self._parsed_starts(begin, end), listed):
            if start != previous:
                yield start
            previous = start

    def disagreement(self) -> str | None:
        """Where the parser and the host's systemd disagree on the listed elapses, said in one line."""
        if not self.listed:
            return None
        streams = [
            spec.elapses_after(self.listed[0] - timedelta(microseconds=1), self.zone) for spec in self.specs
        ]
        for host_time, parsed in zip(self.listed, heapq.merge(*streams), strict=False):
            if parsed != host_time:
                return f"host systemd: {host_time.isoformat()}, parser: {parsed.isoformat()}"
        return None


@dataclass(frozen=True)
class HostJobs:
    """What one host schedules, in which zone, and its own ``systemd-analyze calendar`` answers if any."""

    host: str
    jobs: tuple[ScheduledJob, ...]
    zone: tzinfo = UTC
    analyzed: Mapping[str, AnalyzedCalendar] = field(default_factory=dict)  # by original expression


def schedule_of(job: ScheduledJob, host: HostJobs) -> Schedule:
    """The job's schedule on ``host``; InputError, naming its source, when it cannot be placed in time."""
    if job.kind == "cron":
        expression = (job.schedule or "").strip()
        if expression.lower() == "@reboot":
            raise InputError(job.source, "runs at boot only, not on a schedule")
        if not croniter.is_valid(expression):
            raise InputError(job.source, f"invalid cron schedule {expression!r}")
        return CronSchedule(expression, host.zone)
    if job.enabled is False:
        raise InputError(job.source, "timer is disabled")
    if not job.on_calendar:
        raise InputError(job.source, "no OnCalendar= schedule (monotonic timers cannot be placed in time)")
    answers = [host.analyzed.get(expression) for expression in job.on_calendar]
    specs = tuple(
        parse_calendar(answer.normalized if answer and answer.normalized else expression, job.source)
        for expression, answer in zip(job.on_calendar, answers, strict=True)
    )
    # The host's listed elapses stand for the timer only when they answer every one of its expressions.
    listed = {e for a in answers for e in a.elapses} if all(answers) else set()
    return CalendarSchedule(job.on_calendar, specs, host.zone, tuple(sorted(listed)))


@dataclass(frozen=True, slots=True)
class Repro:
    """The fio soak profiles that best imitate the job's I/O, and why."""

    profiles: tuple[str, ...]
    pattern: str


# Command words -> access pattern. Whole words of the lower-cased command split at non-word characters,
# so "backup.sh" has the word "backup" and "start" does not have "tar". Named tools decide first; the
# bare word "backup" (a script name, or a target path) only when no tool is named.
_BOTH = ("backup-seqread", "thrash")
_RULES = (
    (frozenset({"rsync", "rsnapshot", "tar", "restic", "borg", "borgmatic", "duplicity", "bacula", "bareos",
                "amanda", "dsmc", "rdiff", "kopia", "aide", "clamscan"}),
     _BOTH, "file-tree backup or scan: sequential data and random metadata reads"),
    (frozenset({"dump", "xfsdump", "mysqldump", "pg_dump", "pg_dumpall", "pg_basebackup", "mongodump",
                "mariabackup", "xtrabackup", "vzdump", "dd", "scrub", "checkarray", "badblocks"}),
     ("backup-seqread",), "streaming read: large sequential reads"),
    (frozenset({"updatedb", "mlocate", "plocate", "find", "du", "tmpwatch", "tmpreaper"}),
     ("thrash",), "metadata walk: many small random reads"),
    (frozenset({"backup", "backups"}), _BOTH, "file-tree backup: sequential data and random metadata reads"),
)  # fmt: skip


def suggest_repro(command: str) -> Repro:
    """The soak profiles matching a job's access pattern, judged from the words of its command.

    - File-tree backups and scanners (rsync, tar, restic, borg, a script named backup) stream every file's
      data in large sequential reads (``backup-seqread``) and walk the directory tree in many small random
      metadata reads (``thrash``): both.
    - Streamers (dump tools, dd, RAID checks, scrubs): large sequential reads only (``backup-seqread``).
    - Metadata walkers (updatedb, find, du, tmpwatch): small random reads only (``thrash``).
    """
    words = set(re.split(r"[^a-z0-9_]+", command.lower()))
    for vocabulary, profiles, pattern in _RULES:
        matched = sorted(words & vocabulary)
        if matched:
            return Repro(profiles, f"{pattern}, by the word {matched[0]!r}")
    return Repro((), "no known storage access pattern")


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


def p_at_least(hits: int, chances: Sequence[float]) -> float:
    """P(at least ``hits`` successes) in independent trials with these probabilities (Poisson-binomial)."""
    if hits <= 0:
        return 1.0
    dist = [1.0]
    for p in chances:
        step = [0.0] * (len(dist) + 1)
        for j, q in enumerate(dist):
            step[j] += q * (1 - p)
            step[j + 1] += q * p
        dist = step
    return min(1.0, sum(dist[hits:]))


def coverage(schedule: Schedule, length: timedelta, begin: datetime, end: datetime) -> float:
    """The share of ``[begin, end]`` that lies inside some run ``[start, start + length)``."""
    covered, reach = 0.0, begin
    for count, start in enumerate(schedule.starts(begin - length, end), 1):
        run_from, run_to = max(start, reach), min(start + length, end)
        if run_to > run_from:
            covered += (run_to - run_from).total_seconds()
            reach = run_to
        if count >= MAX_STARTS:  # a very frequent job: measure over the stretch seen so far
            end = max(reach, begin + timedelta(seconds=1))
            break
    total = (end - begin).total_seconds()
    return min(1.0, covered / total) if total > 0 else 0.0


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
        for job in host.jobs if host else ():
            try:
                schedule = schedule_of(job, host)  # type: ignore[arg-type]
            except InputError as exc:
                skipped.append(SkippedJob(name, job_label(job), str(exc)))
                continue
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
            by_schedule[schedule] = coverage(schedule, length.duration, begin, end)
    share = {host: by_schedule[s] for host, (_, s) in on_hosts.items()}
    runs, chances = [], []
    for host, when in timed:
        if host not in on_hosts:
            chances.append(0.0)
            continue
        start = on_hosts[host][1].last_start(when)
        runs.append(CrashInRun(host, when, start, start is not None and when < start + length.duration))
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
