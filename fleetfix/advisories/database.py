"""The known-bad database: advisories about storage drivers, loaded from YAML and matched against hosts.

An advisory names a module and what identifies an affected build of it: driver version ranges
(``/sys/module/<m>/version``), exact ``srcversion`` builds, and for in-tree drivers, whose fixes reach
kernels without a driver version bump, upstream kernel ranges and distribution package ranges (the kernel
source package of ``Debian:12``, ``Ubuntu:22.04``, ``Rocky Linux:9``...). The file format is documented in
docs/advisories.md; the files are read by ``fleetfix.advisories.schema``.

An in-tree driver on a distribution kernel is judged by the distribution's own data when the advisory has
some for the host's ecosystem and package; else by the upstream ranges through the upstream release the
package is built on, when its version says (Debian, Ubuntu); else it is *unknown*: the kernel's release
does not carry the upstream number and the distribution backports fixes, so no honest verdict exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from fleetfix.facts.kernel_package import KernelPackage
from fleetfix.versions import DriverVersion, PackageVersion, kernel_version, package_version

FAULT_KINDS = frozenset(
    {
        "race",
        "panic",
        "oops",
        "null_deref",
        "hang",
        "deadlock",
        "data_corruption",
        "queue_depth",
        "use_after_free",
        "double_free",
        "out_of_bounds",
        "memory_leak",
        "warning_call_trace",
        "io_error",
        "firmware_fault",
        "device_loss",
        "boot_failure",
    }
)
SEVERITIES = ("low", "medium", "high", "critical")
RW_PATTERNS = frozenset(
    {"read", "write", "randread", "randwrite", "rw", "readwrite", "randrw", "trim", "randtrim"}
)
INFERABLE_FIELDS = frozenset({"affected", "fixed_in", "fault", "trigger", "severity"})


@dataclass(frozen=True, slots=True)
class VersionRange:
    """``introduced <= v < fixed``; either bound may be absent, never both (``below: Y`` has no lower)."""

    introduced: DriverVersion | None = None
    fixed: DriverVersion | None = None

    def contains(self, version: DriverVersion) -> bool:
        return (self.introduced is None or version >= self.introduced) and (
            self.fixed is None or version < self.fixed
        )

    def explain(self, what: str, shown: str) -> str:
        if self.introduced is None:
            return f"{what} {shown} < fixed {self.fixed}"
        if self.fixed is None:
            return f"{what} {shown} >= introduced {self.introduced}, no fixed release known"
        return f"{what} {shown} in affected range [{self.introduced}, {self.fixed})"


@dataclass(frozen=True, slots=True)
class VersionSet:
    """An explicit list of affected versions."""

    versions: frozenset[DriverVersion]

    def contains(self, version: DriverVersion) -> bool:
        return version in self.versions

    def explain(self, what: str, shown: str) -> str:
        return f"{what} {shown} is a listed affected version"


VersionSpec = VersionRange | VersionSet


@dataclass(frozen=True, slots=True)
class DistributionRange:
    """Affected builds of a distribution's kernel source package: ``introduced <= v < fixed`` in the
    distribution's own version order; neither bound means every version (no fix released yet)."""

    ecosystem: str  # "Debian:12", "Ubuntu:22.04", "AlmaLinux:9"
    package: str  # the kernel source package: linux, linux-hwe-5.15, kernel
    introduced: PackageVersion | None = None
    fixed: PackageVersion | None = None

    def covers(self, package: KernelPackage) -> bool:
        return self.ecosystem == package.ecosystem and self.package == package.package

    def contains(self, version: PackageVersion) -> bool:
        return (self.introduced is None or not version < self.introduced) and (
            self.fixed is None or version < self.fixed
        )

    def explain(self, package: KernelPackage) -> str:
        shown = package.describe()
        if self.fixed is None:
            return f"{shown}: no fixed {self.ecosystem} package known"
        if self.introduced is None:
            return f"{shown} < fixed {self.fixed}"
        return f"{shown} in affected range [{self.introduced}, {self.fixed})"


@dataclass(frozen=True, slots=True)
class Affected:
    driver: tuple[VersionSpec, ...] = ()
    srcversions: frozenset[str] = frozenset()  # upper-case hex, as /sys/module/<m>/srcversion shows it
    kernel: tuple[VersionSpec, ...] = ()
    distributions: tuple[DistributionRange, ...] = ()

    @property
    def judged_by_kernel(self) -> bool:
        """In-tree builds of the module are judged by the kernel, not the driver version."""
        return bool(self.kernel or self.distributions)


@dataclass(frozen=True, slots=True)
class Trigger:
    """The workload that provokes the fault: free text, plus hints a soak profile can use."""

    description: str
    rw: tuple[str, ...] = ()
    min_iodepth: int | None = None


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    module: str
    vendor: str
    title: str
    affected: Affected
    fixed_in: DriverVersion | None  # first driver version with the fix; None when only kernels carry it
    fault: tuple[str, ...]
    trigger: Trigger
    severity: str
    references: tuple[str, ...]
    notes: str = ""
    inferred: tuple[str, ...] = ()  # fields the source implies rather than states
    source: str = ""
    line: int = 0


AFFECTED, UNKNOWN = "affected", "unknown"


@dataclass(frozen=True, slots=True)
class Match:
    advisory: Advisory
    why: str
    status: str = AFFECTED  # UNKNOWN: no data speaks for this host's kernel


class AdvisoryDB:
    """Advisories indexed by module, with matching cached per (module, version, srcversion, kernel).

    A fleet repeats the same few builds on thousands of hosts, so after the first host each question is one
    dictionary lookup; modules without advisories never reach the cache.
    """

    def __init__(self, advisories: Iterable[Advisory]) -> None:
        self.advisories = tuple(advisories)
        index: dict[str, list[Advisory]] = {}
        for advisory in self.advisories:
            index.setdefault(advisory.module, []).append(advisory)
        self._by_module = {module: tuple(entries) for module, entries in index.items()}
        # Per module: do its advisories read srcversion, the kernel? If not, those stay out of the cache key.
        self._keys_used = {
            module: (
                any(a.affected.srcversions for a in entries),
                any(a.affected.judged_by_kernel for a in entries),
            )
            for module, entries in self._by_module.items()
        }
        self._cached = lru_cache(maxsize=1 << 16)(self._evaluate)

    def __len__(self) -> int:
        return len(self.advisories)

    def for_module(self, module: str) -> tuple[Advisory, ...]:
        return self._by_module.get(module, ())

    def match(
        self,
        module: str,
        version: str | None,
        srcversion: str | None = None,
        kernel: str | None = None,
        package: KernelPackage | None = None,
    ) -> list[Match]:
        """Advisories hitting this module build, each with the reason and whether it is known or unknown.

        Pass ``kernel`` (and the kernel's ``package`` when it comes from a distribution) only for the in-tree
        driver: its version string does not move when a fix is backported, so an advisory's kernel and
        distribution ranges, when it has any, decide for an in-tree build and its driver ranges are not
        consulted. An out-of-tree build (taint ``O``) is judged by its version.
        """
        keys_used = self._keys_used.get(module)
        if keys_used is None:
            return []
        uses_srcversion, uses_kernel = keys_used
        return list(
            self._cached(
                module,
                version or None,
                (srcversion or None) if uses_srcversion else None,
                (kernel or None) if uses_kernel else None,
                package if uses_kernel and kernel else None,
            )
        )

    def _evaluate(
        self,
        module: str,
        version: str | None,
        srcversion: str | None,
        kernel: str | None,
        package: KernelPackage | None,
    ) -> tuple[Match, ...]:
        driver = DriverVersion(version) if version else None
        build = srcversion.upper() if srcversion else None
        matches = []
        for advisory in self._by_module[module]:
            affected = advisory.affected
            status = AFFECTED
            if kernel is not None and affected.judged_by_kernel:
                reasons, status = _judge_kernel(affected, kernel, package)
            elif driver is not None:
                reasons = [
                    spec.explain("version", version) for spec in affected.driver if spec.contains(driver)
                ]
            else:
                reasons = []
            if build is not None and build in affected.srcversions:
                reasons.append(f"srcversion {srcversion} is a known-bad build")
                status = AFFECTED
            if reasons:
                matches.append(Match(advisory, "; ".join(reasons), status))
        return tuple(matches)

    def lowest_fix(self, module: str) -> DriverVersion | None:
        """The lowest driver version that leaves every advisory on ``module`` behind, or None.

        Ranges may differ (a fix on two branches, a regression fixed later), so the lowest version that is
        merely unaffected could sit below a known-bad range some hosts are already in: upgrading them to it
        would be a downgrade. The target is therefore the highest of all fix bounds (every range's ``fixed``
        or ``below`` and every ``fixed_in``), and only if that version is itself unaffected and newer than
        every explicitly listed bad version. Kernel-only advisories have no driver version to offer.
        """
        advisories = self._by_module.get(module, ())
        bounds = [advisory.fixed_in for advisory in advisories if advisory.fixed_in is not None]
        bounds += [
            spec.fixed
            for advisory in advisories
            for spec in advisory.affected.driver
            if isinstance(spec, VersionRange) and spec.fixed is not None
        ]
        if not bounds:
            return None
        target = max(bounds)
        for advisory in advisories:
            for spec in advisory.affected.driver:
                if spec.contains(target):
                    return None
                if isinstance(spec, VersionSet) and any(target < bad for bad in spec.versions):
                    return None
        return target


def _judge_kernel(affected: Affected, kernel: str, package: KernelPackage | None) -> tuple[list[str], str]:
    """Reasons an in-tree build on this kernel is affected, with AFFECTED or UNKNOWN; no reasons: unaffected.

    The distribution's own ranges decide for its package; upstream ranges reach a distribution kernel only
    through the upstream release its version names; a kernel with no package identity is an upstream build
    whose release is its upstream version.
    """
    if package is None:
        if not affected.kernel:
            return [
                f"unknown for kernel {kernel}: only distribution data, and this kernel is none of theirs"
            ], UNKNOWN
        running = kernel_version(kernel)
        return [
            spec.explain("kernel", kernel) for spec in affected.kernel if spec.contains(running)
        ], AFFECTED
    ranges = [entry for entry in affected.distributions if entry.covers(package)]
    if ranges:
        try:
            installed = package_version(package.scheme, package.version)
        except ValueError:
            return [f"unknown for {package.describe()}: not a {package.scheme} version"], UNKNOWN
        return [entry.explain(package) for entry in ranges if entry.contains(installed)], AFFECTED
    if package.upstream and affected.kernel:
        base = kernel_version(package.upstream)
        what = f"{package.describe()}, upstream base"
        return [
            spec.explain(what, package.upstream) for spec in affected.kernel if spec.contains(base)
        ], AFFECTED
    return [f"unknown for {package.describe()}: no data for this distribution's kernel"], UNKNOWN
