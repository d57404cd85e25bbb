"""The local crash store ``fleetfix collect`` fills, and reading crashes and host schedules out of it.

Layout::

    <store>/<host>/crash/<dump dir>/dmesg.*     kdump's kernel log of one crash (vmcore-dmesg.txt on EL)
    <store>/<host>/jobs.json                    the host's schedule (below)
    <store>/<host>/pstore/live-<epoch>/<record> a record of /sys/fs/pstore, by its modification time
    <store>/<host>/pstore/archive/<path>        a file of systemd-pstore's /var/lib/systemd/pstore archive
                                                (records, each dump's reassembled dmesg.txt); every file
                                                keeps the host's modification time (``fleetfix collect``)
    <store>/netconsole/<address>_<port>.log     the receiver's files: "<ISO-8601 UTC receive time> <line>"
    <store>/netconsole/events.jsonl             the receiver's flagged lines; triage reads the reports in
                                                full from the .log files, and takes from the events which
                                                address each .log file belongs to

``jobs.json`` is ``{"timezone": "Europe/Berlin", "addresses": ["10.0.0.5"], "scheduled_jobs": [...],
"anacron": {...}, "run_parts": {...}, "systemd_analyze": "..."}``: the host's IANA zone (UTC when absent),
the source addresses its netconsole messages arrive from, its scheduled jobs, anacron and run-parts
directories as the facts give them (docs/facts.md), and the output of
``systemd-analyze calendar --iterations=N [--base-time=...] EXPR...`` for its timers' expressions.
A bare list is taken as the scheduled jobs alone.

Triage reads any PATH: a crash store (a directory of hosts with ``crash/`` or ``jobs.json``), a receiver's
directory (``fleetfix listen --dir``: ``events.jsonl`` or ``<address>_<port>.log`` files), any other
directory as a tree of logs (``state.log_files``: the host is the first directory under it, or the file's
stem for a file at its top), or one log file (dmesg, /var/log/messages, journalctl -k, plain or compressed)
of the host named by its file stem.

When did a crash happen? Kernel ``[seconds]`` stamps count from boot, so a report gets a wall-clock time
only from (1) its line's prefix: syslog or journald (no year: the file's modification year, one year
earlier if that puts it in the future), ISO-8601, or the netconsole receive time, in the host's zone when
the prefix names none; else (2) for a kdump log, the dump directory's name (kdump-tools
``YYYYMMDDHHMM``, EL ``<address>-YYYY-MM-DD-HH:MM:SS``, in the host's zone), taken as the moment of the
log's last ``[seconds]`` stamp, minus the report's distance in seconds from that stamp (the capture
kernel writes the dump within a minute or so of the panic); else (3) none: the crash is grouped but not
correlated. A pstore record is timed by the moment its dump was written (efi-pstore's id, else the file's
time: "pstore file time", which systemd-pstore's archive sets when it moves the record at the next boot),
less the report's distance from the dump's last stamp. One crash seen by kdump, netconsole and pstore is
kept once, with the better time, the fuller report and every source (``fleetfix.triage.merge``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleetfix import serde
from fleetfix.errors import InputError
from fleetfix.facts.history import Anacron, RunParts, ScheduledJob
from fleetfix.state.log_files import (
    DECOMPRESSION_ERRORS,
    Chunks,
    host_of,
    is_compressed,
    log_files,
    open_log,
)
from fleetfix.triage.calendar.analyze import parse_analyze_calendar
from fleetfix.triage.cascade import fold_cascades
from fleetfix.triage.correlate.job_schedule import HostJobs
from fleetfix.triage.group import Crash, Tally
from fleetfix.triage.merge import combine, same_event, stamps
from fleetfix.triage.oops.find_all import Oops, iter_oopses, signature
from fleetfix.triage.pstore import Dump, Record, assemble, read_record, strip_headers
from fleetfix.triage.result import ReadStats

_KDUMP_TOOLS_DIR = re.compile(r"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)")
_EL_DIR = re.compile(r".*-(\d{4})-(\d\d)-(\d\d)-(\d\d):(\d\d):(\d\d)")
_STAMP = re.compile(rb"\[ *(\d+\.\d+)\]")
T = TypeVar("T")
_RECEIVER_LOG = re.compile(r"[0-9A-Za-z.-]+_\d+\.log")
# Fields of a report that crashes of one bug mostly share: a brief crash points to one copy of each text.
_REPEATED = (
    "kind", "first_line", "warning_site", "oops_code", "panic_message", "kernel", "comm", "hardware",
    "workqueue", "rip", "rip_offset", "rip_module", "taint_raw", "last_unloaded", "implicated_module",
)  # fmt: skip


@dataclass(frozen=True)
class StoredHost(HostJobs):
    addresses: tuple[str, ...] = ()  # netconsole source addresses


@dataclass(frozen=True)
class Collected:
    groups: dict[str, Tally]  # the crashes by signature, counted as read (``triage.group.Tally``)
    hosts: dict[str, StoredHost]
    stats: ReadStats = dataclasses.field(default_factory=ReadStats)

    @property
    def crashes(self) -> tuple[Crash, ...]:
        """The crashes listed, group by group (all of them for groups of up to ``LISTED``)."""
        return tuple(c for counted in self.groups.values() for c in counted.listed())


@dataclass(frozen=True)
class LogSource:
    """One kernel log to read, the host it belongs to and that host's zone; ``dumped_at`` for a kdump
    log: its dump directory's time."""

    path: Path
    host: str
    zone: tzinfo = UTC
    dumped_at: datetime | None = None
    strict: bool = True  # an unreadable file is an error, else counted as unreadable


class Briefs:
    """Keeps the whole report of the first crash of each signature only; later ones go without their call
    trace and module list (``Crash.signature`` still groups them), so memory does not grow with the trace
    count of a log."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.taints: dict[tuple[str, ...], tuple[str, ...]] = {}

    def crash(self, host: str, oops: Oops, source: str, time: datetime | None, basis: str) -> Crash:
        key = signature(oops)
        if key in self.seen:
            oops = self._brief(oops)
        else:
            self.seen.add(key)
        return Crash(sys.intern(host), oops, sys.intern(source), time, basis, sys.intern(key))

    def _brief(self, oops: Oops) -> Oops:
        """The report without its trace and module list, its repeated texts shared with earlier crashes."""
        shared = {
            name: sys.intern(value) for name in _REPEATED if isinstance(value := getattr(oops, name), str)
        }
        taint = self.taints.setdefault(oops.taint, oops.taint)
        return dataclasses.replace(oops, call_trace=(), modules_linked_in=(), taint=taint, **shared)


def directory_kind(path: Path) -> Literal["store", "receiver", "logs"]:
    """A crash store, a netconsole receiver's directory, or any other directory of logs."""
    if (path / "events.jsonl").is_file() or any(_RECEIVER_LOG.fullmatch(p.name) for p in path.glob("*.log")):
        return "receiver"
    for child in _subdirs(path):
        if child.name == "netconsole" or (child / "crash").is_dir() or (child / "jobs.json").is_file():
            return "store"
    return "logs"


def read_paths(paths: Sequence[Path]) -> Collected:
    """Crash stores, receiver directories, directories of logs and log files, merged; duplicates kept once.

    The logs to read are listed first, then read one at a time, each crash counted into its signature's
    ``Tally`` as it is found: nothing is kept per crash beyond ``Deduplicator``'s index for hosts read from
    more than one file. kdump logs are read last, so the copy of a crash a log prefix dates comes first.
    """
    hosts: dict[str, StoredHost] = {}
    sources: list[LogSource] = []
    for path in paths:
        if path.is_dir():
            kind = directory_kind(path)
            if kind == "store":
                sources += store_sources(path, hosts)
            elif kind == "receiver":
                sources += receiver_sources(path, {})
            else:
                sources += tree_sources(path, hosts)
        elif path.exists():
            host = hosts.get(host_of(path))
            sources.append(LogSource(path, host_of(path), host.zone if host else UTC))
        else:
            raise InputError(str(path), "no such file or directory")
    sources.sort(key=lambda s: s.dumped_at is not None)
    pstores = [(d, host) for path in paths if path.is_dir() and directory_kind(path) == "store"
               for host in _subdirs_named(path) if (d := path / host / "pstore").is_dir()]  # fmt: skip
    dedup = Deduplicator([*(s.host for s in sources), *(host for _, host in pstores)])
    stats = ReadStats()
    briefs = Briefs()
    for source in sources:
        stats += read_log(source, briefs, dedup.add)
    for directory, host in pstores:
        crashes, read = read_pstore(directory, host, briefs)
        for crash in crashes:
            dedup.add(crash)
        stats += read
    return Collected(dedup.groups, hosts, stats)


def _subdirs_named(store: Path) -> list[str]:
    return [d.name for d in _subdirs(store) if d.name != "netconsole"]


def read_pstore(directory: Path, host: str, briefs: Briefs | None = None) -> tuple[list[Crash], ReadStats]:
    """The crashes in a host's pstore records (layout above), each timed by the moment its dump was written.

    A directory of systemd-pstore's archive holding its reassembled ``dmesg.txt`` and no records (they were
    removed) is read through that file, without the part headers it keeps.
    """
    briefs = briefs or Briefs()
    records: list[Record] = []
    paths: dict[int, Path] = {}
    reassembled: list[Path] = []
    try:
        for path in log_files(directory) if directory.is_dir() else ():
            where = path.parent.relative_to(directory).as_posix()
            origin = "live" if where.startswith("live-") else where
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            record = read_record(path.name, path.read_bytes(), origin, modified)
            if record is not None:
                records.append(record)
                paths[id(record)] = path
            elif path.name == "dmesg.txt":
                reassembled.append(path)
    except OSError as exc:
        raise InputError(str(directory), f"cannot read pstore records: {exc.strerror or exc}") from None
    dumps = [(dump, str(paths[id(dump.records[0])])) for dump in assemble(records)]
    kept = {paths[id(r)].parent for r in records}
    for path in reassembled:
        if path.parent not in kept:
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            text = strip_headers(path.read_bytes())
            dumps.append((Dump(path.parent.name, "", "dmesg", None, None, (), text, modified), str(path)))
    crashes: list[Crash] = []
    lines = 0
    for dump, source in dumps:
        lines += dump.text.count(b"\n")
        last = _STAMP.findall(dump.text[-16384:])
        for oops in fold_cascades(iter_oopses(dump.text)):
            time, basis = dump.written, "pstore record" if dump.timed_by_name else "pstore file time"
            basis = basis if time is not None else "unknown"
            if time is not None and last and oops.timestamp is not None and float(last[-1]) >= oops.timestamp:
                time -= timedelta(seconds=float(last[-1]) - oops.timestamp)
            crashes.append(briefs.crash(host, oops, source, time, basis))
    problems = tuple(p for dump, _ in dumps for p in dump.problems)
    return crashes, ReadStats(len(records) + len(reassembled), lines, 0, problems)


def store_sources(store: Path, hosts: dict[str, StoredHost]) -> list[LogSource]:
    """A crash store's kdump logs and receiver files; its hosts' schedules are added to ``hosts``."""
    found = {d.name: read_jobs(d / "jobs.json", d.name) for d in _subdirs(store) if d.name != "netconsole"}
    sources = [
        LogSource(log, name, host.zone, dump_time(dump.name, host.zone))
        for name, host in found.items()
        for dump in _subdirs(store / name / "crash")
        for log in _kernel_logs(dump)
    ]
    hosts.update(found)
    return sources + receiver_sources(store / "netconsole", found)


def receiver_sources(directory: Path, hosts: dict[str, StoredHost]) -> list[LogSource]:
    """A netconsole receiver's ``<address>_<port>.log`` files, each given to the host its sender is."""
    addresses = {a: h.host for h in hosts.values() for a in h.addresses}
    senders = _senders(directory / "events.jsonl")
    sources = []
    for log in sorted(directory.glob("*.log")) if directory.is_dir() else ():
        name = source_host(log, senders, addresses)
        sources.append(LogSource(log, name, hosts[name].zone if name in hosts else UTC))
    return sources


def tree_sources(directory: Path, hosts: dict[str, StoredHost]) -> list[LogSource]:
    """Every file under ``directory``; a file in a subdirectory belongs to the host the subdirectory names.
    Files that cannot be opened or decompressed are counted, not fatal: one unreadable rotation must not
    hide the crashes in the others."""
    sources = []
    try:
        for path in log_files(directory):
            parts = path.relative_to(directory).parts
            name = parts[0] if len(parts) > 1 else host_of(path)
            sources.append(LogSource(path, name, hosts[name].zone if name in hosts else UTC, strict=False))
    except OSError as exc:
        raise InputError(str(directory), f"cannot read directory: {exc.strerror or exc}") from None
    return sources


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InputError(str(path), f"cannot read directory: {exc.strerror or exc}") from None


def _kernel_logs(dump: Path) -> list[Path]:
    """kdump-tools' ``dmesg.<stamp>`` and EL's ``vmcore-dmesg.txt``."""
    try:
        return sorted(
            p for p in dump.iterdir() if p.name.startswith(("dmesg", "vmcore-dmesg")) and p.is_file()
        )
    except OSError as exc:
        raise InputError(str(dump), f"cannot read directory: {exc.strerror or exc}") from None


def _senders(events: Path) -> dict[str, str]:
    """Log file name -> sender address (without the port), from the receiver's ``events.jsonl``.

    The events only index what the logs hold, so a line that is not a readable event (the receiver may have
    been stopped mid-write) is passed over rather than failing the triage.
    """
    senders: dict[str, str] = {}
    try:
        with events.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if (
                    isinstance(event, dict)
                    and isinstance(event.get("log"), str)
                    and isinstance(event.get("source"), str)
                ):
                    senders[event["log"]] = event["source"].rpartition(":")[0] or event["source"]
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InputError(str(events), f"cannot read: {exc.strerror or exc}") from None
    return senders


def source_host(log: Path, senders: dict[str, str], addresses: dict[str, str]) -> str:
    """The host a netconsole log belongs to: its sender's address among the hosts' ``addresses``, else the
    address itself (from ``events.jsonl``, else the file name ``<address>_<port>.log``)."""
    sender = senders.get(log.name) or re.sub(r"_\d+$", "", log.stem)
    return addresses.get(sender, sender)


def dump_time(name: str, zone: tzinfo) -> datetime | None:
    """The crash time a kdump directory name gives, or None."""
    for pattern in (_KDUMP_TOOLS_DIR, _EL_DIR):
        match = pattern.fullmatch(name)
        if match:
            try:
                return datetime(*map(int, match.groups())).replace(tzinfo=zone)  # type: ignore[misc]
            except ValueError:
                return None
    return None


def read_log(source: LogSource, briefs: Briefs, found: Callable[[Crash], object]) -> ReadStats:
    """The crashes in one kernel log (a cascade of reports is one crash), each with its wall-clock time by
    the rule above, handed to ``found`` as they are read; returns what reading the log came to."""
    path, zone, dumped_at = source.path, source.zone, source.dumped_at
    name = str(path)
    crashes = 0
    try:
        modified = datetime.fromtimestamp(path.stat().st_mtime, zone)
        with open_log(path) as handle:
            chunks = Chunks(handle)
            oopses = fold_cascades(iter_oopses(chunks, reference_year=modified.year))
            if dumped_at is None:
                for oops in oopses:
                    time, basis = _wallclock(oops, zone, modified, None, None)
                    found(briefs.crash(source.host, oops, name, time, basis))
                    crashes += 1
            else:  # a kdump log is small; its last stamp dates its reports
                reports = list(oopses)
                last = _last_stamp(handle) if not is_compressed(path) else None
                for oops in reports:
                    time, basis = _wallclock(oops, zone, modified, dumped_at, last)
                    found(briefs.crash(source.host, oops, name, time, basis))
                    crashes += 1
    except DECOMPRESSION_ERRORS as exc:
        if source.strict:
            raise InputError(name, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
        return ReadStats(unreadable=(name,))
    kernel = bool(crashes) or (chunks.kernel_signs and not chunks.binary)
    return ReadStats(1, chunks.lines, 0 if kernel else 1)


def _last_stamp(handle: BinaryIO) -> float | None:
    """The last ``[seconds]`` stamp of the file: the moment the log ends."""
    size = handle.seek(0, 2)
    handle.seek(max(0, size - 16384))
    stamps = _STAMP.findall(handle.read())
    return float(stamps[-1]) if stamps else None


def _wallclock(
    oops: Oops, zone: tzinfo, modified: datetime, dumped_at: datetime | None, last_seconds: float | None
) -> tuple[datetime | None, str]:
    if oops.wallclock is not None:
        if oops.wallclock.tzinfo is not None:
            return oops.wallclock, "log prefix"
        local = oops.wallclock.replace(tzinfo=zone)
        if local > modified + timedelta(days=1):  # a year-less syslog date from last year
            local = local.replace(year=local.year - 1)
        return local, "log prefix"
    if dumped_at is not None:
        if oops.timestamp is not None and last_seconds is not None and last_seconds >= oops.timestamp:
            return dumped_at - timedelta(seconds=last_seconds - oops.timestamp), "dump directory"
        return dumped_at, "dump directory"
    return None, "unknown"


class Deduplicator:
    """Counts each crash once into its signature's ``Tally``: a crash seen in two files of one host (kdump's
    log, the netconsole receiver's, a pstore record, or ``kern.log`` and ``syslog``) is one event by
    ``triage.merge.same_event`` (a shared ``[seconds]`` stamp, times close), and the copy it is counted as
    has the best time, the fuller report and every source (``triage.merge.combine``).

    Only hosts read from more than one file can have such copies, so only their crashes are indexed (by host
    and stamp); a host with one log, however many crashes it holds, costs nothing here.
    """

    def __init__(self, hosts: Iterable[str]) -> None:
        files = Counter(hosts)
        self.indexed = {host for host, count in files.items() if count > 1}
        self.groups: dict[str, Tally] = {}
        self.seen: dict[tuple[str, float], Crash] = {}

    def add(self, crash: Crash) -> None:
        seconds = stamps(crash) if crash.host in self.indexed else frozenset()
        kept = next((k for s in seconds if (k := self.seen.get((crash.host, s))) is not None), None)
        if kept is not None and same_event(kept, crash):
            # counted in the group of the copy first read; the fuller report may come from the other copy
            joined = dataclasses.replace(combine(kept, crash), signature=kept.key)
            self.groups[kept.key].replace(kept, joined)
            for second in stamps(kept) | seconds:
                self.seen[(crash.host, second)] = joined
            return
        group = self.groups.get(crash.key)
        if group is None:
            group = self.groups[crash.key] = Tally()
        group.add(crash)
        for second in seconds:
            self.seen.setdefault((crash.host, second), crash)


def read_jobs(path: Path, host: str) -> StoredHost:
    """A host's ``jobs.json``; a host without one has no jobs, in UTC."""
    source = str(path)
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return StoredHost(host, ())
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(source, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(source, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    if isinstance(data, list):
        data = {"scheduled_jobs": data}
    if not isinstance(data, dict):
        raise InputError(source, f"expected an object or a list, got {type(data).__name__}")
    zone = _zone(_optional(data, "timezone", str, "a string", source), source)
    entries = _optional(data, "scheduled_jobs", list, "a list", source) or []
    jobs = tuple(ScheduledJob.from_dict(j, source, f"scheduled_jobs[{i}]") for i, j in enumerate(entries))
    text = _optional(data, "systemd_analyze", str, "a string", source)
    analyzed = parse_analyze_calendar(text, f"{source}: systemd_analyze", zone) if text else []
    addresses = _optional(data, "addresses", list, "a list of strings", source) or []
    if not all(isinstance(a, str) for a in addresses):
        raise InputError(source, "expected a list of strings", field="addresses")
    return StoredHost(
        host,
        jobs,
        zone,
        {a.original: a for a in analyzed},
        anacron=_typed(data, "anacron", Anacron, source),
        run_parts=_typed(data, "run_parts", RunParts, source),
        addresses=tuple(addresses),
    )


def _typed(data: dict[str, Any], key: str, kind: type[T], source: str) -> T | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return serde.convert(value, kind, source)
    except InputError as exc:
        message = str(exc).removeprefix(f"{source}: ").removeprefix(f"{exc.field}: ")
        raise InputError(source, message, field=".".join(p for p in (key, exc.field) if p)) from None


def _optional(data: dict[str, Any], key: str, kind: type, expected: str, source: str) -> Any:
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise InputError(source, f"expected {expected}, got {type(value).__name__}", field=key)
    return value


def _zone(name: str | None, source: str) -> tzinfo:
    if not name or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InputError(source, f"unknown time zone {name!r}", field="timezone") from None
