"""pstore records: what a crashing kernel left in firmware (efi-pstore, ERST) or reserved memory (ramoops).

Sample input: the files of ``/sys/fs/pstore`` or of systemd-pstore's archive ``/var/lib/systemd/pstore``,
named ``<type>-<backend>-<id>`` (``.enc.z`` when the kernel could not decompress them)::

    dmesg-efi-167442547001001       Panic#1 Part1      the newest lines of the kernel log
    dmesg-efi-167442547002001       Panic#1 Part2      older lines
    dmesg-ramoops-0                 Panic#1 Part1      ramoops keeps one part per dump
    console-ramoops-0               (no header)        the console ring of the previous boot
    dmesg-efi_pstore-167442547001001                   efi-pstore's name since Linux 6.2

    >>> dumps = assemble([read_record("dmesg-efi-167442547002001", b"Panic#1 Part2\\nolder\\n"),
    ...                   read_record("dmesg-efi-167442547001001", b"Panic#1 Part1\\nnewest\\n")])
    >>> dumps[0].reason, dumps[0].number, dumps[0].text, dumps[0].written.isoformat()
    ('Panic', 1, b'older\\nnewest\\n', '2023-01-22T22:11:10+00:00')

A kernel log dump is cut into parts from its end: Part1 holds the newest lines (the panic), the highest
part the oldest, so a dump is read back by joining its parts from the highest down. Parts of one dump share
the header's reason and dump number (``Panic#1``), and on efi-pstore the id's seconds
(``<seconds><part:02><count:03>``): that second is when the dump was written. Other backends give the time
only as the file's modification time, which the caller passes in. A compressed record is raw deflate (the
kernel's zlib with -MAX_WBITS), or zlib or gzip; one that inflates under none is kept with its problem said.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

_NAME = re.compile(
    r"(?P<type>dmesg|console|ftrace|pmsg|mce|rtas|powerpc-[a-z]+)-(?P<backend>[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*?)"
    r"-(?P<id>\d+)(?P<enc>\.enc\.z)?"
)
_HEADER = re.compile(rb"(?P<reason>[A-Z][A-Za-z]*)#(?P<dump>\d+) Part(?P<part>\d+)\r?\n")
_EFI_BACKENDS = ("efi", "efi_pstore")
_EFI_EPOCH_FLOOR = 10**9  # ids below this many seconds (2001) are not efi-pstore's time-based ids


@dataclass(frozen=True, slots=True)
class RecordName:
    kind: str  # dmesg, console, ftrace, pmsg...
    backend: str  # efi, efi_pstore, ramoops, erst, pstore-blk...
    id: int
    compressed: bool

    @property
    def efi_seconds(self) -> int | None:
        """The second an efi-pstore record was written, from its id; None for other backends."""
        if self.backend not in _EFI_BACKENDS:
            return None
        seconds = self.id // 100_000
        return seconds if seconds >= _EFI_EPOCH_FLOOR else None


def parse_name(name: str) -> RecordName | None:
    """A pstore record's name read, or None when ``name`` is not one (``dmesg.txt``, ``jobs.json``)."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    return RecordName(match["type"], match["backend"], int(match["id"]), bool(match["enc"]))


@dataclass(frozen=True, slots=True)
class Record:
    name: str
    origin: str  # where it was kept: "live" (/sys/fs/pstore) or an archive directory
    kind: str
    backend: str
    reason: str | None  # Panic, Oops, Emergency...; None without a dump header (console, pmsg)
    number: int | None  # the dump's number in the header (``Panic#2``)
    part: int | None
    body: bytes  # the text after the header
    written: datetime | None  # aware
    problem: str | None = None  # why the body could not be read (compressed by an unknown algorithm)
    timed_by_name: bool = False  # ``written`` is the second in the name (efi-pstore), not the file's time


def inflate(data: bytes) -> bytes | None:
    """A compressed record's bytes: raw deflate, zlib or gzip; None when none of them fits."""
    for wbits in (-15, 47):  # raw deflate; then zlib or gzip by their header
        try:
            decompressor = zlib.decompressobj(wbits)
            text = decompressor.decompress(data) + decompressor.flush()
        except zlib.error:
            continue
        if decompressor.eof:
            return text
    return None


def read_record(
    name: str, data: bytes, origin: str = "live", modified: datetime | None = None
) -> Record | None:
    """One record from its file name and bytes; None when the name is not a pstore record's.

    ``modified`` is the file's modification time on the host (aware): the record's time where its name does
    not carry one.
    """
    parsed = parse_name(name)
    if parsed is None:
        return None
    seconds = parsed.efi_seconds
    written = datetime.fromtimestamp(seconds, UTC) if seconds is not None else modified
    problem = None
    if parsed.compressed:
        inflated = inflate(data)
        if inflated is None:
            problem = "compressed with an algorithm other than deflate (lzo, lz4, zstd?): not read"
            data = b""
        else:
            data = inflated
    header = _HEADER.match(data)
    reason = number = part = None
    if header is not None:
        reason, number, part = header["reason"].decode(), int(header["dump"]), int(header["part"])
        data = data[header.end() :]
    return Record(
        name,
        origin,
        parsed.kind,
        parsed.backend,
        reason,
        number,
        part,
        data,
        written,
        problem,
        seconds is not None,
    )


@dataclass(frozen=True, slots=True)
class Dump:
    """One kernel log dump, its parts joined oldest first."""

    origin: str
    backend: str
    kind: str
    reason: str | None
    number: int | None
    records: tuple[Record, ...]  # highest part first, as joined
    text: bytes
    written: datetime | None
    missing_parts: tuple[int, ...] = ()  # parts below the highest one that are not there
    problems: tuple[str, ...] = ()
    timed_by_name: bool = False  # ``written`` comes from the records' names

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.records)


def assemble(records: Iterable[Record]) -> list[Dump]:
    """Records grouped into dumps, each dump's parts joined from the highest down; in time order.

    A dump is the records of one origin and backend with the same header (``Panic#1``) and, on efi-pstore,
    the same second in the id. ramoops never splits a dump (it refuses any part but the first), so each of
    its records is a dump of its own; so is a record without a header (a console ring). A part number seen
    twice in one group starts another dump: two boots' ``Panic#1`` left side by side.
    """
    groups: dict[tuple[object, ...], list[list[Record]]] = {}
    for record in records:
        if record.kind != "dmesg" or record.reason is None or record.backend == "ramoops":
            key: tuple[object, ...] = ("single", record.origin, record.name)
        else:
            name = parse_name(record.name)
            seconds = name.efi_seconds if name else None
            key = (record.origin, record.backend, record.reason, record.number, seconds)
        dumps = groups.setdefault(key, [])
        target = next((d for d in dumps if all(r.part != record.part for r in d)), None)
        if target is None:
            dumps.append([record])
        else:
            target.append(record)
    found = [_dump(parts) for dumps in groups.values() for parts in dumps]
    return sorted(found, key=lambda d: (d.written is None, d.written or datetime.min.replace(tzinfo=UTC)))


def _dump(parts: list[Record]) -> Dump:
    ordered = sorted(parts, key=lambda r: -(r.part or 0))
    first = ordered[0]
    present = {r.part for r in ordered if r.part is not None}
    missing = tuple(p for p in range(1, max(present, default=0)) if p not in present)
    text = b"".join(r.body if r.body.endswith(b"\n") or not r.body else r.body + b"\n" for r in ordered)
    times = [r.written for r in ordered if r.written is not None]
    return Dump(
        first.origin,
        first.backend,
        first.kind,
        first.reason,
        first.number,
        tuple(ordered),
        text,
        max(times) if times else None,
        missing,
        tuple(f"{r.name}: {r.problem}" for r in ordered if r.problem),
        all(r.timed_by_name for r in ordered),
    )


def strip_headers(text: bytes) -> bytes:
    """systemd-pstore's reassembled ``dmesg.txt`` without the part headers it copies in."""
    return re.sub(rb"(?m)^[A-Z][A-Za-z]*#\d+ Part\d+\r?\n", b"", text)
