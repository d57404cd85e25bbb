"""Where an OSV record's ranges apply, in the advisory schema's terms.

- ``Linux`` (the kernel CNA's records, package ``Kernel``): ECOSYSTEM/SEMVER ranges over upstream releases
  become ``affected.kernel`` items (``introduced: "0"`` means no lower bound: ``{below: fixed}``). GIT ranges
  name commits, not releases, and give none.
- A distribution's ranges for its kernel *source* package become ``affected.distributions`` items, the
  ecosystem in fleetfix's spelling: ``Debian:12``, ``Ubuntu:22.04`` (OSV's ``Ubuntu:22.04:LTS``),
  ``AlmaLinux:9``, ``Rocky Linux:9``, ``Red Hat:9`` (OSV's ``Red Hat:enterprise_linux:9::baseos``). An
  erratum lists every binary package it ships (``kernel-core``, ``bpftool``, ``perf``); only the source
  package's range is kept, since that is what a host's kernel identity names.
- Anything else (Ubuntu Pro/FIPS streams, Red Hat EUS streams, distributions fleetfix does not name) is left
  out and said so: their numbering is not the one a plain release's hosts are judged by.

    >>> [r.yaml() for r in ranges_of(record).kernel]   # CVE-2025-21772, abridged
    [{'below': '5.4.291'}, {'introduced': '5.5.0', 'fixed': '5.10.235'}]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fleetfix.advisories.osv.record import Affected, Range, Record
from fleetfix.errors import InputError
from fleetfix.versions import ECOSYSTEM_SCHEMES, DriverVersion, PackageVersion, package_version, parse_version

_RELEASE = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_UBUNTU = re.compile(r"Ubuntu:(?P<release>[0-9]+\.[0-9]+)(?::LTS)?")
_RED_HAT = re.compile(r"Red Hat:enterprise_linux:(?P<major>[0-9]+)(?:::[a-z0-9_]+)?")
_EL_SOURCE_PACKAGES = frozenset({"kernel", "kernel-rt", "kernel-64k", "kernel-uek"})
_NOT_KERNEL_SOURCES = ("linux-firmware", "linux-meta", "linux-signed", "linux-restricted", "linux-base")
_UPSTREAM_TYPES = frozenset({"ECOSYSTEM", "SEMVER"})


@dataclass(frozen=True, slots=True)
class KernelRange:
    introduced: str | None
    fixed: str | None

    def yaml(self) -> dict[str, str]:
        if self.introduced is None and self.fixed is not None:
            return {"below": self.fixed}
        bounds = {"introduced": self.introduced or "0"}
        return bounds | ({"fixed": self.fixed} if self.fixed else {})


@dataclass(frozen=True, slots=True)
class PackageRange:
    ecosystem: str
    package: str
    introduced: str | None
    fixed: str | None

    def yaml(self) -> dict[str, str]:
        item = {"ecosystem": self.ecosystem, "package": self.package}
        item |= {"introduced": self.introduced} if self.introduced else {}
        return item | ({"fixed": self.fixed} if self.fixed else {})


@dataclass
class Ranges:
    kernel: list[KernelRange] = field(default_factory=list)
    distributions: list[PackageRange] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # one line each, for the reviewer


def distribution(ecosystem: str) -> str | None:
    """OSV's ecosystem as fleetfix names a distribution release, or None when it names none."""
    if ubuntu := _UBUNTU.fullmatch(ecosystem):
        return f"Ubuntu:{ubuntu['release']}"
    if red_hat := _RED_HAT.fullmatch(ecosystem):
        return f"Red Hat:{red_hat['major']}"
    name, _, release = ecosystem.partition(":")
    if name in ECOSYSTEM_SCHEMES and name not in ("Ubuntu", "Red Hat") and _RELEASE.fullmatch(release):
        return f"{name}:{release.split('.')[0]}"
    return None


def is_kernel_source(scheme: str, package: str) -> bool:
    """Whether ``package`` is a kernel source package (what a host's kernel identity names)."""
    if scheme == "rpm":
        return package in _EL_SOURCE_PACKAGES
    named = package == "linux" or package.startswith("linux-")
    return named and not package.startswith(_NOT_KERNEL_SOURCES)


def ranges_of(record: Record) -> Ranges:
    """The record's upstream and distribution ranges; ``InputError`` for a version that is not one."""
    found = Ranges()
    left_out: dict[str, None] = {}
    for entry in record.affected:
        if entry.ecosystem is None or entry.package is None:
            continue
        if entry.ecosystem == "Linux":
            for rng in entry.ranges:
                if rng.type in _UPSTREAM_TYPES:
                    found.kernel += _kernel_ranges(record, rng, left_out)
            continue
        release = distribution(entry.ecosystem)
        if release is None:
            left_out[f"ranges for {entry.ecosystem} left out: not a release fleetfix names"] = None
            continue
        scheme = ECOSYSTEM_SCHEMES[release.split(":")[0]]
        if is_kernel_source(scheme, entry.package):
            found.distributions += _package_ranges(record, entry, release, scheme, left_out)
    found.left_out = list(left_out)
    return found


def _intervals(rng: Range, left_out: dict[str, None]) -> list[tuple[str | None, str | None]]:
    """``(introduced, fixed)`` pairs of one range's events; "0" (every version) becomes None."""
    intervals: list[tuple[str | None, str | None]] = []
    opened = False
    start: str | None = None
    for kind, version in rng.events:
        if kind == "introduced":
            if opened:
                intervals.append((start, None))
            opened, start = True, None if version == "0" else version
        elif kind == "fixed":
            intervals.append((start if opened else None, version))
            opened = False
        elif kind == "last_affected":
            left_out[f"{rng.field}: last_affected {version} left out (a range ends at its fix)"] = None
            opened = False
    if opened:
        intervals.append((start, None))
    return intervals


def _kernel_ranges(record: Record, rng: Range, left_out: dict[str, None]) -> list[KernelRange]:
    found = []
    for introduced, fixed in _intervals(rng, left_out):
        where = f"{record.id} {rng.field}"
        low = parse_version(introduced, record.source, field=where) if introduced else None
        high = parse_version(fixed, record.source, field=where) if fixed else None
        _check_order(record, where, low, high, introduced, fixed)
        found.append(KernelRange(introduced, fixed))
    return found


def _package_ranges(
    record: Record, entry: Affected, release: str, scheme: str, left_out: dict[str, None]
) -> list[PackageRange]:
    found = []
    for rng in entry.ranges:
        if rng.type != "ECOSYSTEM":
            continue
        for introduced, fixed in _intervals(rng, left_out):
            where = f"{record.id} {rng.field}"
            bounds = []
            for text in (introduced, fixed):
                try:
                    bounds.append(package_version(scheme, text) if text else None)
                except ValueError as exc:
                    raise InputError(record.source, str(exc), field=where) from None
            _check_order(record, where, bounds[0], bounds[1], introduced, fixed)
            found.append(PackageRange(release, entry.package, introduced, fixed))
    return found


def _check_order(
    record: Record,
    where: str,
    low: DriverVersion | PackageVersion | None,
    high: DriverVersion | PackageVersion | None,
    introduced: str | None,
    fixed: str | None,
) -> None:
    if low is not None and high is not None and not low < high:
        message = f"fixed {fixed} is not newer than introduced {introduced}"
        raise InputError(record.source, message, field=where)
