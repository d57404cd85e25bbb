"""fio's ``--output-format=json`` output read back into typed figures: IOPS, bandwidth, latency, errors.

Pure: callers hand in the text fio wrote.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass
from typing import Any

from fleetfix.errors import InputError


@dataclass(frozen=True)
class IoFigures:
    """One direction (read or write) of one fio job. Latencies in ns; None = not measured, never 0."""

    iops: float
    bandwidth_bytes: float
    total_ios: int
    clat_p50_ns: int | None
    clat_p99_ns: int | None
    clat_p999_ns: int | None


@dataclass(frozen=True)
class FioJob:
    name: str
    rw: str | None
    error: int
    read: IoFigures
    write: IoFigures

    @property
    def error_text(self) -> str | None:
        """fio's job error is an errno value."""
        return None if self.error == 0 else os.strerror(self.error)


@dataclass(frozen=True)
class FioResult:
    source: str
    fio_version: str | None
    jobs: tuple[FioJob, ...]
    notes: tuple[str, ...]  # text fio wrote around its JSON: warnings and error lines

    @property
    def read_iops(self) -> float:
        return sum(job.read.iops for job in self.jobs)

    @property
    def write_iops(self) -> float:
        return sum(job.write.iops for job in self.jobs)

    @property
    def iops(self) -> float:
        return self.read_iops + self.write_iops

    @property
    def bandwidth_bytes(self) -> float:
        return sum(job.read.bandwidth_bytes + job.write.bandwidth_bytes for job in self.jobs)

    @property
    def total_ios(self) -> int:
        return sum(job.read.total_ios + job.write.total_ios for job in self.jobs)

    @property
    def failed_jobs(self) -> tuple[FioJob, ...]:
        return tuple(job for job in self.jobs if job.error)

    @property
    def worst_clat_p99_ns(self) -> int | None:
        measured = [
            p for job in self.jobs for p in (job.read.clat_p99_ns, job.write.clat_p99_ns) if p is not None
        ]
        return max(measured) if measured else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "fio_version": self.fio_version,
            "jobs": [{**asdict(job), "error_text": job.error_text} for job in self.jobs],
            "totals": {
                "read_iops": self.read_iops,
                "write_iops": self.write_iops,
                "iops": self.iops,
                "bandwidth_bytes": self.bandwidth_bytes,
                "total_ios": self.total_ios,
                "failed_jobs": len(self.failed_jobs),
                "worst_clat_p99_ns": self.worst_clat_p99_ns,
            },
            "notes": list(self.notes),
        }


_OBJECT_START = re.compile(r"^[ \t]*\{", re.MULTILINE)


def parse_fio_json(text: str, source: str) -> FioResult:
    """Read fio's ``--output-format=json`` output (fio 3.x; fio 2.x's microsecond ``clat`` too).

    fio writes error lines (``fio: pid=..., err=5/...``) into the same output before the JSON, and with
    ``--status-interval`` several reports in a row: the last report is the result, the rest are notes.
    """
    report, notes = _last_report(text, source)
    jobs = report.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        raise InputError(source, "no jobs in fio's report", field="jobs")
    version = report.get("fio version")
    global_options = report.get("global options")
    global_rw = global_options.get("rw") if isinstance(global_options, dict) else None
    result = FioResult(
        source=source,
        fio_version=version if isinstance(version, str) else None,
        jobs=tuple(_job(job, f"jobs[{i}]", global_rw, source) for i, job in enumerate(jobs)),
        notes=tuple(notes),
    )
    if not all(math.isfinite(total) for total in (result.iops, result.bandwidth_bytes, result.total_ios)):
        raise InputError(source, "the jobs' totals overflow: no disk does that much I/O", field="jobs")
    return result


def _last_report(text: str, source: str) -> tuple[dict[str, Any], list[str]]:
    decoder = json.JSONDecoder()
    reports: list[dict[str, Any]] = []
    notes: list[str] = []
    failure: InputError | None = None  # from the candidate that parsed furthest before failing
    reached = -1
    position = 0
    starts = {match.end() - 1 for match in _OBJECT_START.finditer(text)}
    if "{" in text:  # a warning printed without its newline, right before the JSON
        starts.add(text.index("{"))
    for start in sorted(starts):
        if start < position:
            continue
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            if exc.pos > reached:
                reached = exc.pos
                cut = " (the output ends there: cut short?)" if exc.pos >= len(text.rstrip()) else ""
                message = f"invalid JSON at column {exc.colno}: {exc.msg}{cut}"
                failure = InputError(source, message, line=exc.lineno)
            continue
        except (ValueError, RecursionError) as exc:  # digit-count limit, absurd nesting
            reached, failure = len(text), InputError(source, f"unreadable JSON: {exc}")
            continue
        notes.extend(_lines(text[position:start]))
        position = end
        if isinstance(value, dict) and "jobs" in value:
            reports.append(value)
    notes.extend(_lines(text[position:]))
    if failure is not None and (reached > position or not reports):
        raise failure  # after the last good report: fio died writing its result; an earlier status is not it
    if reports:
        return reports[-1], notes
    said = f"; fio said: {notes[0][:200]}" if notes else ""
    raise InputError(source, f"no fio JSON report found (expected --output-format=json output){said}")


def _lines(chunk: str) -> list[str]:
    return [line.strip() for line in chunk.splitlines() if line.strip()]


def _job(job: Any, where: str, global_rw: Any, source: str) -> FioJob:
    if not isinstance(job, dict):
        raise InputError(source, "expected an object", field=where)
    name = job.get("jobname")
    if not isinstance(name, str):
        raise InputError(source, "missing job name", field=f"{where}.jobname")
    options = job.get("job options") if isinstance(job.get("job options"), dict) else {}
    rw = options.get("rw", global_rw)
    error = job.get("error", 0)
    if isinstance(error, bool) or not isinstance(error, int):
        raise InputError(source, f"expected an error number, got {error!r}", field=f"{where}.error")
    return FioJob(
        name=name,
        rw=rw if isinstance(rw, str) else None,
        error=error,
        read=_direction(job, "read", f"{where}.read", source),
        write=_direction(job, "write", f"{where}.write", source),
    )


def _direction(job: dict[str, Any], key: str, where: str, source: str) -> IoFigures:
    stats = job.get(key)
    if not isinstance(stats, dict):
        raise InputError(source, "missing", field=where)
    iops = _number(stats, "iops", where, source)
    total_ios = int(_number(stats, "total_ios", where, source)) if "total_ios" in stats else 0
    if "bw_bytes" in stats:  # fio >= 3.x: bytes/s
        bandwidth = _number(stats, "bw_bytes", where, source)
    elif "io_bytes" in stats and _number(stats, "runtime", where, source) > 0:  # runtime in ms
        bandwidth = (
            _number(stats, "io_bytes", where, source) * 1000 / _number(stats, "runtime", where, source)
        )
    else:  # "bw" is KiB/s
        bandwidth = _number(stats, "bw", where, source) * 1024
    p50, p99, p999 = _clat_percentiles(stats, where, source) if iops > 0 or total_ios > 0 else (None,) * 3
    return IoFigures(iops, bandwidth, total_ios, p50, p99, p999)


def _clat_percentiles(stats: dict[str, Any], where: str, source: str) -> tuple[int | None, ...]:
    """p50/p99/p99.9 completion latency in ns, None where fio did not measure them (gtod_reduce)."""
    if isinstance(stats.get("clat_ns"), dict):
        clat, scale = stats["clat_ns"], 1
    elif isinstance(stats.get("clat"), dict):  # fio 2.x, microseconds
        clat, scale = stats["clat"], 1000
    else:
        return (None, None, None)
    table = clat.get("percentile")
    if not isinstance(table, dict) or clat.get("N") == 0:
        return (None, None, None)
    by_rank: dict[float, int] = {}
    for rank in table:
        try:
            rank_value = round(float(rank), 6)
        except ValueError:
            raise InputError(
                source, f"bad percentile {rank!r}", field=f"{where}.clat_ns.percentile"
            ) from None
        if rank_value > 0:
            by_rank[rank_value] = int(_number(table, rank, f"{where}.clat_ns.percentile", source) * scale)
    return tuple(by_rank.get(rank) for rank in (50.0, 99.0, 99.9))


def _number(mapping: dict[str, Any], key: str, where: str, source: str) -> float:
    value = mapping.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(source, f"expected a number, got {_shown(value)}", field=f"{where}.{key}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise InputError(
            source, f"expected a finite number >= 0, got {_shown(value)}", field=f"{where}.{key}"
        )
    return number


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
