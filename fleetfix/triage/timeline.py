"""Crashes by time of day against the run windows of the jobs they line up with: the picture behind a
correlation's p-value.

Everything is placed on one 24-hour day in UTC: a crash at its wall-clock time, a job by the runs the
correlation placed each crash against (``run_start`` to ``run_start`` + run length, cut at midnight). A daily
job therefore draws one band; a weekly one, or one whose hosts sit in several zones, draws one band per
distinct start. Pure: the terminal and the HTML report draw the same ``Timeline``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from fleetfix.errors import InputError
from fleetfix.triage.group import CrashGroup

DAY_HOURS = 24.0


def hour_of_day(moment: datetime) -> float:
    """Hours since midnight UTC, e.g. 01:15 -> 1.25."""
    utc = moment.astimezone(UTC)
    return utc.hour + utc.minute / 60 + (utc.second + utc.microsecond / 1e6) / 3600


def day_spans(starts: Iterable[datetime], seconds: float) -> tuple[tuple[float, float], ...]:
    """Each run ``[start, start + seconds)`` as hours of the day, cut at midnight, overlaps merged."""
    raw: list[tuple[float, float]] = []
    length = min(max(seconds, 0.0) / 3600, DAY_HOURS)
    for start in starts:
        begin = hour_of_day(start)
        end = begin + length
        if end <= DAY_HOURS:
            raw.append((begin, end))
        else:
            raw += [(begin, DAY_HOURS), (0.0, end - DAY_HOURS)]
    merged: list[tuple[float, float]] = []
    for begin, end in sorted(raw):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class CrashMark:
    host: str
    hour: float


@dataclass(frozen=True, slots=True)
class JobWindow:
    job: str  # its command, timer unit or file
    schedule: str
    hits: int
    crashes: int
    spans: tuple[tuple[float, float], ...]

    @property
    def short_name(self) -> str:
        """The program's file name: ``/usr/local/sbin/nightly-backup --full`` -> ``nightly-backup``."""
        first = self.job.split()[0] if self.job.split() else self.job
        return PurePosixPath(first).name or first


@dataclass(frozen=True, slots=True)
class Timeline:
    crashes: tuple[CrashMark, ...]
    jobs: tuple[JobWindow, ...]  # the jobs with at least one crash inside a run, strongest first
    untimed: int


def timeline(
    crashes: Iterable[tuple[str, datetime | None]],
    jobs: Iterable[tuple[str, str, int, int, Sequence[datetime], float]],
    limit: int = 3,
) -> Timeline:
    """``crashes`` as (host, time or None); ``jobs`` as (job, schedule, hits, crashes, run starts, run
    seconds), strongest first. Jobs with no hit are left out, and all but the first ``limit``."""
    listed = list(crashes)
    marks = tuple(
        sorted((CrashMark(host, hour_of_day(when)) for host, when in listed if when), key=lambda m: m.hour)
    )
    windows = tuple(
        JobWindow(job, schedule, hits, total, day_spans(starts, seconds))
        for job, schedule, hits, total, starts, seconds in jobs
        if hits > 0
    )[:limit]
    return Timeline(marks, windows, sum(1 for _, when in listed if when is None))


def group_timeline(group: CrashGroup, limit: int = 3) -> Timeline:
    """The timeline of one crash group, from its correlations."""
    jobs = (
        (
            j.job,
            j.schedule,
            j.hits,
            j.crashes,
            [r.run_start for r in j.runs if r.run_start is not None],
            j.run_length.duration.total_seconds(),
        )
        for j in group.correlations.jobs
    )
    return timeline(((c.host, c.time) for c in group.crashes), jobs, limit)


def _field(mapping: Any, key: str, kind: type | tuple[type, ...], where: str, source: str) -> Any:
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    if not isinstance(value, kind):
        raise InputError(source, f"expected {key} here", field=where)
    return value


def _moment(text: Any, where: str, source: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InputError(source, f"expected an ISO 8601 time with its offset, got {text!r}", field=where)
    return moment


def document_timelines(document: Mapping[str, Any], source: str, limit: int = 3) -> list[Timeline]:
    """One timeline per group of a ``fleetfix triage --format json`` document."""
    crashes = _field(document, "crashes", list, "crashes", source)
    timelines = []
    for g, group in enumerate(_field(document, "groups", list, "groups", source)):
        members = []
        for i in _field(group, "crashes", list, f"groups[{g}].crashes", source):
            if not isinstance(i, int) or not 0 <= i < len(crashes):
                raise InputError(source, f"no crash {i!r} in crashes[]", field=f"groups[{g}].crashes")
            host = _field(crashes[i], "host", str, f"crashes[{i}].host", source)
            members.append((host, _moment(crashes[i].get("time"), f"crashes[{i}].time", source)))
        jobs = []
        for j, job in enumerate(_field(group, "correlations", list, f"groups[{g}].correlations", source)):
            where = f"groups[{g}].correlations[{j}]"
            runs = _field(job, "runs", list, f"{where}.runs", source)
            starts = [_moment(r.get("run_start"), f"{where}.runs[{k}]", source) for k, r in enumerate(runs)]
            length = _field(job, "run_length", Mapping, f"{where}.run_length", source)
            jobs.append(
                (
                    _field(job, "job", str, f"{where}.job", source),
                    _field(job, "schedule", str, f"{where}.schedule", source),
                    _field(job, "hits", int, f"{where}.hits", source),
                    _field(job, "crashes", int, f"{where}.crashes", source),
                    [s for s in starts if s is not None],
                    float(_field(length, "seconds", (int, float), f"{where}.run_length.seconds", source)),
                )
            )
        timelines.append(timeline(members, jobs, limit))
    return timelines
