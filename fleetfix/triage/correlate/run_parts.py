"""The jobs a host really runs: ``run-parts`` lines and anacron jobs expanded into the scripts they start.

A crontab line ``25 6 * * * root test -x /usr/sbin/anacron || { cd / && run-parts --report
/etc/cron.daily; }`` runs every script in ``/etc/cron.daily`` at 06:25, unless anacron is installed: then
the line runs nothing and ``/etc/anacrontab`` runs the directory. An anacron job starts on each day it is
due, its delay after anacron's first start inside ``START_HOURS_RANGE``, plus a random delay of up to
``RANDOM_DELAY`` minutes; anacron itself is started by a cron job (EL: ``/etc/cron.hourly/0anacron``,
run at minute 1 by ``/etc/cron.d/0hourly``) or a timer (Debian: ``anacron.timer``). Each script becomes a
job of its own, named by its path, on the schedule of the line or anacron job that runs it.

The scripts come from the facts (``run_parts``: what run-parts would run in each directory, by its own
name rules). Facts without them leave the ``run-parts`` lines as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from fleetfix.errors import InputError
from fleetfix.facts.history import AnacronJob, Anacrontab, ScheduledJob
from fleetfix.triage.correlate.job_schedule import (
    NAMED_PERIODS,
    AnacronSchedule,
    AnyOf,
    HostJobs,
    Schedule,
    schedule_of,
)

_RUN_PARTS = re.compile(r"\brun-parts\b(?:\s+-\S+)*\s+(/[^\s;|&)}]+)")
# ``test -x /usr/sbin/anacron || ...``, ``[ -x /usr/sbin/anacron ] || ...``: nothing runs with anacron there.
_ANACRON_GUARD = re.compile(r"^\s*(?:test\s+-[xe]\s+\S*anacron|\[\s+-[xe]\s+\S*anacron\s+\])\s*\|\|")
_RUNS_ANACRON = re.compile(r"(?:^|[\s/;&|(])anacron(?:\s|;|$)")
_HOURS = re.compile(r"^([0-9]+)-([0-9]+)$")
_DAY = re.compile(r"^([0-9]{4})([0-9]{2})([0-9]{2})$")
ANACRONTAB = "/etc/anacrontab"


@dataclass(frozen=True, slots=True)
class Placed:
    """A job the host runs, on its schedule."""

    job: ScheduledJob
    schedule: Schedule


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A job that cannot be placed in time, and why."""

    label: str
    reason: str


def _label(job: ScheduledJob) -> str:
    return job.command or job.unit or job.source


def run_parts_directory(command: str | None) -> str | None:
    """The directory a command hands to ``run-parts``, if it does."""
    found = _RUN_PARTS.search(command or "")
    return found.group(1).rstrip("/") if found else None


def runs_anacron(command: str | None) -> bool:
    """Whether a command starts anacron (not merely tests that it is installed)."""
    text = _ANACRON_GUARD.sub("", command or "")
    return bool(_RUNS_ANACRON.search(text))


def _scripts(host: HostJobs, directory: str) -> tuple[str, ...] | None:
    found = host.run_parts.directory(directory) if host.run_parts else None
    return None if found is None else tuple(f"{directory}/{name}" for name in found.scripts)


def _expanded(job: ScheduledJob, scripts: tuple[str, ...], via: str) -> Iterator[ScheduledJob]:
    for path in scripts:
        yield ScheduledJob(kind="cron", source=job.source, user=job.user, command=path, schedule=via)


def _direct(host: HostJobs) -> Iterator[tuple[ScheduledJob, Schedule | InputError]]:
    """Every crontab line and timer with its schedule (or why it has none)."""
    for job in host.jobs:
        try:
            yield job, schedule_of(job, host)
        except InputError as exc:
            yield job, exc


def anacron_trigger(host: HostJobs) -> Schedule | None:
    """When anacron itself starts: cron jobs and timers that run it, or run a script named for it."""
    found: list[Schedule] = []
    for job, schedule in _direct(host):
        if isinstance(schedule, InputError):
            continue
        directory = run_parts_directory(job.command) if not _guarded_off(job, host) else None
        scripts = _scripts(host, directory) if directory else None
        names = (path.rsplit("/", 1)[-1] for path in scripts or ())
        if (runs_anacron(job.command) and not directory) or any("anacron" in name for name in names):
            found.append(schedule)
    if not found:
        return None
    return found[0] if len(found) == 1 else AnyOf(tuple(found))


def _guarded_off(job: ScheduledJob, host: HostJobs) -> bool:
    """A ``test -x /usr/sbin/anacron || run-parts ...`` line on a host with anacron: it runs nothing."""
    return bool(host.anacron and host.anacron.installed and _ANACRON_GUARD.search(job.command or ""))


def _hours(table: Anacrontab) -> tuple[int, int]:
    value = table.start_hours_range
    if value is None:
        return 0, 24
    found = _HOURS.match(value)
    if not found or not int(found.group(1)) < int(found.group(2)) <= 24:
        raise InputError(ANACRONTAB, f"START_HOURS_RANGE: expected hours like 3-22, got {value!r}")
    return int(found.group(1)), int(found.group(2))


def _random_delay(table: Anacrontab) -> timedelta:
    value = table.random_delay
    if value is None:
        return timedelta(0)
    if not value.isdigit():
        raise InputError(ANACRONTAB, f"RANDOM_DELAY: expected whole minutes, got {value!r}")
    return timedelta(minutes=int(value))


def _anchor(job: AnacronJob) -> date | None:
    found = _DAY.match(job.last_run or "")
    if not found:
        return None
    try:
        return date(*(int(g) for g in found.groups()))
    except ValueError:
        return None


def anacron_schedule(
    job: AnacronJob, table: Anacrontab, trigger: Schedule, host: HostJobs
) -> AnacronSchedule:
    """One anacron job's schedule; InputError when its period or anacrontab settings cannot be read."""
    where = f"{ANACRONTAB}: {job.identifier}"
    period_days, named = 1, None
    if job.period.startswith("@"):
        unit = NAMED_PERIODS.get(job.period)
        if unit is None:
            raise InputError(where, f"unknown named period {job.period!r}")
        period_days = {"day": 1, "week": 7}.get(unit, 1)
        named = unit if unit in ("month", "year") else None
    elif job.period.isdigit():
        period_days = max(1, int(job.period))
    else:
        raise InputError(where, f"period: expected days or @monthly-style, got {job.period!r}")
    anchor = _anchor(job)
    if period_days > 1 and anchor is None:
        raise InputError(
            where,
            f"runs every {period_days} days from its last run, and "
            f"/var/spool/anacron/{job.identifier} was not read",
        )
    if not job.delay.isdigit():
        raise InputError(where, f"delay: expected whole minutes, got {job.delay!r}")
    return AnacronSchedule(
        identifier=job.identifier,
        trigger=trigger,
        delay=timedelta(minutes=int(job.delay)),
        random_delay=_random_delay(table),
        hours=_hours(table),
        zone=host.zone,
        period_days=period_days,
        named=named,
        anchor=anchor,
    )


def _anacron_jobs(host: HostJobs) -> Iterator[Placed | Unplaced]:
    table = host.anacron.anacrontab if host.anacron and host.anacron.installed else None
    if table is None or not table.jobs:
        return
    trigger = anacron_trigger(host)
    for entry in table.jobs:
        directory = run_parts_directory(entry.command)
        scripts = _scripts(host, directory) if directory else None
        labels = scripts if scripts is not None else (entry.command,)
        if trigger is None:
            for label in labels:
                yield Unplaced(label, f"{ANACRONTAB}: no cron job or timer on this host starts anacron")
            continue
        try:
            schedule = anacron_schedule(entry, table, trigger, host)
        except InputError as exc:
            for label in labels:
                yield Unplaced(label, str(exc))
            continue
        via = f"anacron {entry.period} {entry.delay} {entry.identifier}"
        base = ScheduledJob(kind="cron", source=ANACRONTAB, user="root", command=entry.command, schedule=via)
        jobs = _expanded(base, scripts, via) if scripts is not None else (base,)
        for job in jobs:
            yield Placed(job, schedule)


def host_schedules(host: HostJobs) -> Iterator[Placed | Unplaced]:
    """Every job the host runs on a schedule: scripts run by run-parts and anacron each on their own."""
    for job, schedule in _direct(host):
        if isinstance(schedule, InputError):
            yield Unplaced(_label(job), str(schedule))
            continue
        directory = run_parts_directory(job.command) if job.kind == "cron" else None
        scripts = _scripts(host, directory) if directory else None
        if scripts is None:  # not run-parts, or the facts do not list the directory
            yield Placed(job, schedule)
        elif _guarded_off(job, host):
            continue  # anacron runs the directory: its jobs come from the anacrontab
        else:
            for script in _expanded(job, scripts, job.schedule or ""):
                yield Placed(script, schedule)
    yield from _anacron_jobs(host)


def window(schedule: Schedule, start: datetime, length: timedelta) -> tuple[datetime, datetime]:
    """The stretch a run starting at ``start`` may cover: its start may slip by ``spread``."""
    return start, start + schedule.spread + length
