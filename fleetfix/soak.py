"""The post-upgrade fio soak: the fio command from a profile, fio's JSON output read back, and the verdict.

Pure: nothing here runs fio or reads a file; callers hand in text and facts. The soak is read-only by default
(``--readonly`` is passed to fio for read profiles, so fio itself refuses any write), and a write profile is
refused on a device that holds data unless the user said ``--destructive``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import yaml

from fleetfix.errors import FleetfixError, InputError

_READ_ONLY_RW = frozenset({"read", "randread"})
_ALL_RW = _READ_ONLY_RW | {"write", "randwrite", "rw", "readwrite", "randrw", "trim", "randtrim", "trimwrite"}
# These engines complete each I/O before issuing the next: an iodepth above 1 is silently ignored.
_SYNC_ENGINES = frozenset({"sync", "psync", "vsync", "pvsync", "pvsync2"})
_BLOCK_SIZE = re.compile(r"^\d+(?:[kmg](?:i?b)?)?$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class FioProfile:
    """One fio workload. ``destructive`` follows from ``rw``: anything but read/randread writes or trims."""

    name: str
    rw: str
    bs: str
    iodepth: int
    numjobs: int
    ioengine: str = "libaio"
    direct: bool = True
    description: str = ""

    @property
    def destructive(self) -> bool:
        return self.rw not in _READ_ONLY_RW

    def to_args(self, devices: Sequence[str], runtime: int, output_path: str) -> list[str]:
        """fio's arguments (without the program name), JSON written to ``output_path``."""
        if not devices or any(not d or "\0" in d or "\n" in d for d in devices):
            raise InputError("soak", f"no usable device paths: {list(devices)!r}", field="devices")
        if isinstance(runtime, bool) or not isinstance(runtime, int) or runtime < 1:
            raise InputError(
                "soak", f"must be a whole number of seconds >= 1, got {runtime!r}", field="runtime"
            )
        # fio splits --filename on ':'; /dev/disk/by-path names contain colons and must be escaped.
        filenames = ":".join(device.replace(":", "\\:") for device in devices)
        args = [
            f"--name={self.name}",
            f"--filename={filenames}",
            f"--rw={self.rw}",
            f"--bs={self.bs}",
            f"--iodepth={self.iodepth}",
            f"--numjobs={self.numjobs}",
            f"--direct={int(self.direct)}",
            f"--ioengine={self.ioengine}",
            "--time_based",
            f"--runtime={runtime}",
            "--group_reporting",
            "--output-format=json",
            f"--output={output_path}",
        ]
        return args if self.destructive else [*args, "--readonly"]


BUILTIN_PROFILES: Mapping[str, FioProfile] = {
    p.name: p
    for p in (
        FioProfile("thrash", "randread", "4k", 64, 8, description="Deep random reads on every queue."),
        FioProfile("qd1", "randread", "4k", 1, 1, description="One I/O at a time: the latency baseline."),
        FioProfile("backup-seqread", "read", "1m", 16, 1, description="Large sequential reads, as a backup."),
        FioProfile("randwrite", "randwrite", "4k", 32, 4, description="Random writes: destroys device data."),
    )
}

_PROFILE_FIELDS = {"rw", "bs", "iodepth", "numjobs", "ioengine", "direct", "description"}


def load_profiles(text: str, source: str) -> dict[str, FioProfile]:
    """Profiles from a YAML document ``profiles: {name: {rw:, bs:, iodepth:, numjobs:, ...}}``."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise InputError(source, problem, line=mark.line + 1 if mark else None) from None
    profiles = document.get("profiles") if isinstance(document, dict) else None
    if not isinstance(profiles, dict) or not profiles:
        raise InputError(source, "expected a non-empty mapping of profile names", field="profiles")
    return {str(name): _profile(str(name), spec, source) for name, spec in profiles.items()}


def _profile(name: str, spec: Any, source: str) -> FioProfile:
    where = f"profiles.{name}"
    if not _NAME.match(name):
        raise InputError(source, "a profile name is letters, digits, '_', '.', '-' (max 64)", field=where)
    if not isinstance(spec, dict):
        raise InputError(source, "expected a mapping of fio options", field=where)
    unknown = sorted(set(map(str, spec)) - _PROFILE_FIELDS)
    if unknown:
        raise InputError(source, f"unknown field {unknown[0]!r}", field=where)
    for required in ("rw", "bs", "iodepth", "numjobs"):
        if required not in spec:
            raise InputError(source, "missing", field=f"{where}.{required}")
    rw, bs, engine = str(spec["rw"]), str(spec["bs"]), str(spec.get("ioengine", "libaio"))
    if rw not in _ALL_RW:
        raise InputError(source, f"unknown fio rw {rw!r}; one of {sorted(_ALL_RW)}", field=f"{where}.rw")
    if not _BLOCK_SIZE.match(bs):
        raise InputError(source, f"not a block size like 4k or 1m: {bs!r}", field=f"{where}.bs")
    if not re.fullmatch(r"[a-z0-9_]+", engine):
        raise InputError(source, f"not an fio engine name: {engine!r}", field=f"{where}.ioengine")
    iodepth = _count(spec["iodepth"], 1, 65536, source, f"{where}.iodepth")
    numjobs = _count(spec["numjobs"], 1, 1024, source, f"{where}.numjobs")
    if engine in _SYNC_ENGINES and iodepth > 1:
        raise InputError(source, f"{engine} ignores iodepth {iodepth}; use libaio or io_uring", field=where)
    direct = spec.get("direct", True)
    if not isinstance(direct, bool):
        raise InputError(source, f"expected true or false, got {direct!r}", field=f"{where}.direct")
    return FioProfile(name, rw, bs, iodepth, numjobs, engine, direct, str(spec.get("description", "")))


def _count(value: Any, low: int, high: int, source: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(source, f"expected a whole number from {low} to {high}, got {value!r}", field=field)
    return value


def select_profile(name: str, custom: Mapping[str, FioProfile] | None = None) -> FioProfile:
    """A profile by name: the user's file first, then the built-in ones."""
    known = {**BUILTIN_PROFILES, **(custom or {})}
    if name not in known:
        raise InputError("--profile", f"unknown profile {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


class BlockDevice(Protocol):
    """What the destructive check reads from a host's block device facts (docs/facts.md)."""

    name: str
    partitions: Sequence[str]
    holders: Sequence[str]
    fstype: str | None
    boot_disk: bool


def refuse_destructive(profile: FioProfile, device_facts: Iterable[BlockDevice], destructive: bool) -> None:
    """Raise unless ``profile`` may run on every device: writes need ``destructive`` where data lives.

    The boot disk is refused to a write profile even with ``destructive``: no soak is worth the OS.
    """
    if not profile.destructive:
        return
    for device in device_facts:
        if device.boot_disk:
            raise FleetfixError(
                f"refusing write profile {profile.name!r} on {device.name}: it is the boot disk"
            )
        holds = []
        if device.partitions:
            holds.append(f"partitions {', '.join(device.partitions)}")
        if device.fstype:
            holds.append(f"a {device.fstype} filesystem")
        if device.holders:
            holds.append(f"holders {', '.join(device.holders)}")
        if holds and not destructive:
            raise FleetfixError(
                f"refusing write profile {profile.name!r} on {device.name}: it holds {'; '.join(holds)}"
                " (pass --destructive to overwrite it)"
            )


# --- fio's JSON output ---------------------------------------------------------------------------------


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
    return FioResult(
        source=source,
        fio_version=version if isinstance(version, str) else None,
        jobs=tuple(_job(job, f"jobs[{i}]", global_rw, source) for i, job in enumerate(jobs)),
        notes=tuple(notes),
    )


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


# --- the verdict ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IopsFloor:
    """The IOPS a soak must reach: absolute, or a fraction of the pre-upgrade baseline."""

    iops: float
    basis: str

    @classmethod
    def absolute(cls, iops: float) -> IopsFloor:
        if not math.isfinite(iops) or iops < 0:
            raise InputError("--iops-floor", f"expected IOPS >= 0, got {iops}")
        return cls(iops, f"{iops:g} IOPS")

    @classmethod
    def relative(cls, fraction: float, baseline_iops: float) -> IopsFloor:
        if not 0 < fraction <= 1:
            raise InputError("--iops-floor", f"a fraction of the baseline is in (0, 1], got {fraction}")
        if not math.isfinite(baseline_iops) or baseline_iops <= 0:
            raise InputError(
                "--iops-floor", f"the baseline must be a positive IOPS figure, got {baseline_iops}"
            )
        return cls(fraction * baseline_iops, f"{fraction:.0%} of the baseline {baseline_iops:g} IOPS")


def parse_iops_floor(spec: str, baseline_iops: float | None) -> IopsFloor:
    """``5000`` (absolute) or ``80%`` (of the baseline, which must then be known)."""
    text = spec.strip()
    try:
        if text.endswith("%"):
            if baseline_iops is None:
                raise InputError(
                    "--iops-floor", f"{spec!r} is relative but there is no baseline to compare to"
                )
            return IopsFloor.relative(float(text[:-1]) / 100, baseline_iops)
        return IopsFloor.absolute(float(text))
    except ValueError:
        raise InputError(
            "--iops-floor", f"expected IOPS like 5000 or a share like 80%, got {spec!r}"
        ) from None


@dataclass(frozen=True)
class SoakVerdict:
    passed: bool
    reasons: tuple[str, ...]  # why it failed; empty when it passed
    figures: Mapping[str, float | int | str | None]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": list(self.reasons), "figures": dict(self.figures)}


_FAULT_MARKERS = (
    ("panic", re.compile(r"Kernel panic - not syncing")),
    ("bug", re.compile(r"\bBUG: |kernel BUG at ")),
    ("gpf", re.compile(r"general protection fault")),
    ("oops", re.compile(r"\bOops: |Unable to handle kernel")),
    # "WARNING: CPU: 3 PID: 1 at ...", older "WARNING: at file:line", newer "WARNING: file:line at ..."
    ("warning", re.compile(r"\bWARNING: (?:CPU: \d+ PID: |at |\S+:\d+ at )")),
)


# One cheap search rules out almost every line before the precise patterns run (the receiver calls this
# on every line it gets).
_FAULT_HINT = re.compile(
    r"Kernel panic - not syncing|BUG: |BUG at |general protection fault|Oops: |Unable to handle kernel"
    r"|WARNING: "
)


def kernel_fault_kind(line: str) -> str | None:
    """The fault a kernel log line announces (panic, bug, gpf, oops, warning), or None."""
    if not _FAULT_HINT.search(line):
        return None
    for kind, pattern in _FAULT_MARKERS:
        if pattern.search(line):
            return kind
    return None


def judge_fio(result: FioResult, iops_floor: IopsFloor | None) -> SoakVerdict:
    """The part of the verdict fio's output alone can give (``fleetfix soak --evaluate``)."""
    reasons = [
        f"fio job {job.name!r} reported error {job.error} ({job.error_text})" for job in result.failed_jobs
    ]
    if result.total_ios == 0:
        reasons.append("fio completed no I/O")
    if iops_floor is not None and result.iops < iops_floor.iops:
        reasons.append(f"IOPS {result.iops:.0f} below the floor {iops_floor.iops:.0f} ({iops_floor.basis})")
    figures = {
        "iops": result.iops,
        "read_iops": result.read_iops,
        "write_iops": result.write_iops,
        "bandwidth_bytes": result.bandwidth_bytes,
        "worst_clat_p99_ns": result.worst_clat_p99_ns,
        "iops_floor": None if iops_floor is None else iops_floor.iops,
        "failed_jobs": len(result.failed_jobs),
    }
    return SoakVerdict(not reasons, tuple(reasons), figures)


def judge_soak(
    result: FioResult,
    boot_id_before: str | None,
    boot_id_after: str | None,
    new_kernel_log_lines: Sequence[str],
    iops_floor: IopsFloor,
) -> SoakVerdict:
    """Pass only if fio saw no error, the host did not reboot, the kernel logged no fault, IOPS held."""
    fio = judge_fio(result, iops_floor)
    reasons = list(fio.reasons)
    if not boot_id_before or not boot_id_after:
        reasons.append("boot id not known before and after the soak: cannot tell whether the host rebooted")
    elif boot_id_before.strip() != boot_id_after.strip():
        reasons.append(f"host rebooted during the soak (boot id {boot_id_before} -> {boot_id_after})")
    faults = [(kind, line) for line in new_kernel_log_lines if (kind := kernel_fault_kind(line))]
    if faults:
        kind, line = faults[0]
        reasons.append(
            f"kernel logged {len(faults)} fault line(s) during the soak, first ({kind}): {line.strip()}"
        )
    figures = {**fio.figures, "kernel_fault_lines": len(faults)}
    return SoakVerdict(not reasons, tuple(reasons), figures)


@dataclass(frozen=True)
class FioEvaluation:
    result: FioResult
    verdict: SoakVerdict

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), "verdict": self.verdict.to_dict()}


def evaluate_file_text(text: str, source: str, iops_floor: IopsFloor | None = None) -> FioEvaluation:
    """``fleetfix soak --evaluate FILE``: a saved fio JSON output judged on its own."""
    result = parse_fio_json(text, source)
    return FioEvaluation(result, judge_fio(result, iops_floor))
