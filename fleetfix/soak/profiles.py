"""fio workloads for the post-upgrade soak: profiles, their fio arguments, and the guard on write profiles.

Pure: nothing here runs fio or reads a file; callers hand in text and facts. The soak is read-only by default
(``--readonly`` is passed to fio for read profiles, so fio itself refuses any write), and a write profile is
refused on a device that holds data unless the user said ``--destructive``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import yaml

from fleetfix import serde
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
        document = serde.load_yaml(text)
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


class WriteSafety(Protocol):
    """The facts module's verdict on writing to a disk (docs/facts.md, ``block_devices[].write_safety``)."""

    safe: bool
    overwritable: bool
    reasons: Sequence[str]


class BlockDevice(Protocol):
    """What the destructive check reads from a host's block device facts."""

    name: str
    write_safety: WriteSafety


def refuse_destructive(profile: FioProfile, device_facts: Iterable[BlockDevice], destructive: bool) -> None:
    """Raise unless ``profile`` may run on every device.

    Whether a disk may be written is the facts module's verdict (the one rule the fio_soak role reads too):
    a write profile needs a safe disk, or ``destructive`` and a disk that may be overwritten (never the boot
    disk). Read profiles always run: fio gets ``--readonly``.
    """
    if not profile.destructive:
        return
    for device in device_facts:
        verdict = device.write_safety
        if verdict.safe or (destructive and verdict.overwritable):
            continue
        hint = " (pass --destructive to overwrite it)" if verdict.overwritable else ""
        raise FleetfixError(
            f"refusing write profile {profile.name!r} on {device.name}: {'; '.join(verdict.reasons)}{hint}"
        )
