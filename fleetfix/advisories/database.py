"""The known-bad database: advisories about storage drivers, loaded from YAML and matched against hosts.

An advisory names a module and what identifies an affected build of it, in any of three ways:
driver version ranges (``/sys/module/<m>/version``), exact ``srcversion`` builds, or kernel release ranges
for in-tree drivers whose fixes reach stable kernels without a driver version bump. A host's module is
affected when any of them matches. The file format is documented in docs/advisories.md; the files are
read by ``fleetfix.advisories.schema``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from fleetfix.versions import DriverVersion, kernel_version

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
class Affected:
    driver: tuple[VersionSpec, ...] = ()
    srcversions: frozenset[str] = frozenset()  # upper-case hex, as /sys/module/<m>/srcversion shows it
    kernel: tuple[VersionSpec, ...] = ()


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


@dataclass(frozen=True, slots=True)
class Match:
    advisory: Advisory
    why: str


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
            module: (any(a.affected.srcversions for a in entries), any(a.affected.kernel for a in entries))
            for module, entries in self._by_module.items()
        }
        self._cached = lru_cache(maxsize=1 << 16)(self._evaluate)

    def __len__(self) -> int:
        return len(self.advisories)

    def for_module(self, module: str) -> tuple[Advisory, ...]:
        return self._by_module.get(module, ())

    def match(
        self, module: str, version: str | None, srcversion: str | None = None, kernel: str | None = None
    ) -> list[Match]:
        """Advisories hitting this module build, each with the reason.

        Pass ``kernel`` only for the in-tree driver: its version string does not move when a fix is backported
        to a stable kernel, so an advisory's kernel ranges, when it has any, decide for an in-tree build and
        its driver ranges are not consulted. An out-of-tree build (taint ``O``) is judged by its version.
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
            )
        )

    def _evaluate(
        self, module: str, version: str | None, srcversion: str | None, kernel: str | None
    ) -> tuple[Match, ...]:
        driver = DriverVersion(version) if version else None
        build = srcversion.upper() if srcversion else None
        running = kernel_version(kernel) if kernel else None
        matches = []
        for advisory in self._by_module[module]:
            affected = advisory.affected
            if running is not None and affected.kernel:
                reasons = [
                    spec.explain("kernel", kernel) for spec in affected.kernel if spec.contains(running)
                ]
            elif driver is not None:
                reasons = [
                    spec.explain("version", version) for spec in affected.driver if spec.contains(driver)
                ]
            else:
                reasons = []
            if build is not None and build in affected.srcversions:
                reasons.append(f"srcversion {srcversion} is a known-bad build")
            if reasons:
                matches.append(Match(advisory, "; ".join(reasons)))
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
