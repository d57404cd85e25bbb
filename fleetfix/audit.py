"""Facts and advisories -> what is at risk on each host, and why.

Pure: the input is the per-host results of a facts run (live, or read back from artifacts) and a loaded
advisory database; the output is an ``AuditReport`` the renderers turn into a table, JSON, Markdown or JUnit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from msgspec import Struct

from fleetfix.advisories.database import UNKNOWN, AdvisoryDB, Match
from fleetfix.errors import ExitStatus
from fleetfix.facts.crash_capture import CaptureReadiness
from fleetfix.facts.host import (
    STORAGE_DRIVERS,
    HostFacts,
    InitramfsBuild,
    LoadedModule,
    NextBootModule,
    TaintedBuild,
)
from fleetfix.facts.kernel_package import KernelPackage
from fleetfix.host_result import HostResult


class DriverView(TaintedBuild, frozen=True, kw_only=True, gc=False):
    name: str
    version: str | None
    srcversion: str | None
    disks: tuple[str, ...]
    refcount: int | None = None  # None: the kernel cannot unload modules, or the facts did not say
    used_by: tuple[str, ...] = ()
    holds_boot_disk: bool = False
    permanent: bool = False
    # The build the next boot loads, when it is not the one loaded now (another kernel, an upgrade not yet
    # activated): "loaded X, next boot Y". next_boot_path None with next_boot_kernel set: not installed there.
    next_boot_kernel: str | None = None
    next_boot_path: str | None = None
    next_boot_version: str | None = None
    next_boot_srcversion: str | None = None
    # The build inside the next kernel's initramfs (where the boot disk's driver loads from), when it is not
    # the next boot's module file: found (version, srcversion), or unknown with the reason.
    initramfs_image: str | None = None
    initramfs_status: str | None = None
    initramfs_version: str | None = None
    initramfs_srcversion: str | None = None
    initramfs_reason: str | None = None
    # What the builds say together: "fixed on disk, reboot pending", "the initramfs still carries the bad
    # build", each naming the advisory.
    boot_findings: tuple[str, ...] = ()

    @property
    def next_boot_note(self) -> str | None:
        """``loaded 43.100.00.00, next boot 46.00.00.00 (6.1.0-21-amd64)`` when they differ, with the
        initramfs's build when it is another; else None."""
        notes = []
        if self.next_boot_kernel is not None and self.next_boot_path is None:
            notes.append(
                f"loaded {self.version or '?'}, not installed for next boot ({self.next_boot_kernel})"
            )
        elif self.next_boot_kernel is not None:
            notes.append(
                f"loaded {self.version or '?'}, next boot {self.next_boot_version or '?'} "
                f"({self.next_boot_kernel}, {self.next_boot_path})"
            )
        if not self.initramfs_differs:
            return "; ".join(notes) or None
        if not notes:
            notes.append(f"loaded {self.version or '?'}, next boot the same build")
        if self.initramfs_status == "found":
            notes.append(f"initramfs {self.initramfs_version or '?'} ({self.initramfs_image})")
        elif self.initramfs_status == "unknown":
            notes.append(f"initramfs unknown ({self.initramfs_image}: {self.initramfs_reason})")
        return "; ".join(notes) or None

    @property
    def initramfs_differs(self) -> bool:
        """The initramfs's build is worth a word: unreadable, or not the build the next boot's module tree
        holds (a stale image loads the boot disk's driver from its own copy)."""
        if self.initramfs_status == "unknown":
            return True
        if self.initramfs_status != "found":
            return False
        if self.next_boot_kernel is not None:
            expected = (self.next_boot_version, self.next_boot_srcversion)
        else:
            expected = (self.version, self.srcversion)
        return (self.initramfs_version, self.initramfs_srcversion) != expected


class Finding(Struct, frozen=True, kw_only=True, gc=False):
    advisory: str
    module: str
    version: str | None
    fixed_in: str | None
    severity: str
    fault: tuple[str, ...]
    trigger: str
    why: str
    references: tuple[str, ...]
    status: str = "affected"  # or "unknown": no data settles it for this host's kernel


def _finding(match: Match, module: str, version: str | None, where: str = "") -> Finding:
    """A database match as the audit reports it; ``where`` names a build other than the loaded one."""
    advisory = match.advisory
    return Finding(
        advisory=advisory.id,
        module=module,
        version=version,
        fixed_in=str(advisory.fixed_in) if advisory.fixed_in else None,
        severity=advisory.severity,
        fault=tuple(advisory.fault),
        trigger=advisory.trigger.description,
        why=where + match.why,
        references=tuple(advisory.references),
        status=match.status,
    )


class HostAudit(Struct, frozen=True, kw_only=True, gc=False):
    host: str
    status: str
    message: str
    kernel: str | None = None
    kernel_package: KernelPackage | None = None  # the distribution package the kernel comes from
    module_support: bool | None = None
    drivers: tuple[DriverView, ...] = ()
    capture: CaptureReadiness | None = None
    findings: tuple[Finding, ...] = ()
    # Advisories no data can settle for this kernel ("unknown for Rocky Linux:9 kernel 5.14.0-..."): shown,
    # never counted as at risk unless the operator asks (``--fail-on unknown``).
    unknown: tuple[Finding, ...] = ()

    @property
    def reachable(self) -> bool:
        return self.status == "ok"

    @property
    def at_risk(self) -> bool:
        return bool(self.findings) or (self.capture is not None and not self.capture.ready)


class AuditReport(Struct, frozen=True, kw_only=True, gc=False):
    hosts: tuple[HostAudit, ...]
    generated_at: datetime

    def hosts_per_advisory(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for host in self.hosts:
            for finding in host.findings:
                out.setdefault(finding.advisory, []).append(host.host)
        return out

    def counts(self) -> dict[str, int]:
        reachable = [h for h in self.hosts if h.reachable]
        return {
            "hosts": len(self.hosts),
            "reachable": len(reachable),
            "unreachable_or_failed": len(self.hosts) - len(reachable),
            "with_findings": sum(1 for h in reachable if h.findings),
            "with_unknown": sum(1 for h in reachable if h.unknown),
            "capture_not_ready": sum(1 for h in reachable if h.capture and not h.capture.ready),
        }

    def exit_status(self, fail_on_unknown: bool = False) -> ExitStatus:
        """Unreachable or failed hosts outrank findings: an audit that could not see a host is incomplete.
        Unknown verdicts count as findings only when ``fail_on_unknown``."""
        if any(not h.reachable for h in self.hosts):
            return ExitStatus.HOSTS_FAILED
        if any(h.at_risk or (fail_on_unknown and h.unknown) for h in self.hosts):
            return ExitStatus.FINDINGS
        return ExitStatus.OK


class Auditor:
    """Judges hosts against one advisory database, building each distinct finding once.

    A fleet runs a handful of builds of each driver, so findings are memoised per (module, version,
    srcversion, kernel): 10,000 hosts cost a few dictionary lookups each.
    """

    def __init__(self, db: AdvisoryDB) -> None:
        self._db = db
        self._memo: dict[
            tuple[str, str | None, str | None, str | None, KernelPackage | None], tuple[Finding, ...]
        ] = {}

    def findings(
        self, module: LoadedModule, kernel: str | None, package: KernelPackage | None = None
    ) -> tuple[Finding, ...]:
        """Every match for this build, known and unknown (``Finding.status``)."""
        # Kernel-range advisories describe the in-tree driver; an out-of-tree build loaded in its place is
        # judged by its own version and srcversion only.
        in_tree = not module.out_of_tree
        key = (
            module.name,
            module.version,
            module.srcversion,
            kernel if in_tree else None,
            package if in_tree else None,
        )
        cached = self._memo.get(key)
        if cached is None:
            cached = self._memo[key] = tuple(
                _finding(match, module.name, module.version) for match in self._db.match(*key)
            )
        return cached

    def next_boot_findings(self, build: NextBootModule, kernel: str) -> tuple[Finding, ...]:
        """Findings for the build the next boot loads, when it is installed outside the kernel's own tree
        (judged by its version and srcversion, as a loaded out-of-tree build is)."""
        if not build.out_of_tree:
            return ()
        where = f"next boot ({kernel}, {build.path}): "
        matches = self._db.match(build.name, build.version, build.srcversion)
        return tuple(_finding(match, build.name, build.version, where) for match in matches)

    def initramfs_findings(self, name: str, image: InitramfsBuild) -> tuple[Finding, ...]:
        """Findings for the build inside the next kernel's initramfs (judged by version and srcversion)."""
        where = f"initramfs ({image.image}): "
        matches = self._db.match(name, image.version, image.srcversion)
        return tuple(_finding(match, name, image.version, where) for match in matches)

    def _bad(self, name: str, version: str | None, srcversion: str | None) -> set[str]:
        return {m.advisory.id for m in self._db.match(name, version, srcversion) if m.status != UNKNOWN}

    def boot_findings(self, facts: HostFacts, module: LoadedModule) -> tuple[str, ...]:
        """What the loaded, next-boot and initramfs builds say together, per advisory:
        "fixed on disk, reboot pending" (the loaded build is bad, what the next boot loads is not) and "the
        initramfs still carries the bad build" (the module tree was fixed, the image was not rebuilt)."""
        next_boot = facts.next_boot
        build = next_boot.module(module.name) if next_boot is not None and next_boot.kernel else None
        if build is None or build.path is None:
            return ()
        loaded = self.findings(module, facts.kernel.release, facts.kernel_package)
        loaded_bad = {f.advisory for f in loaded if f.status != UNKNOWN}
        disk_bad = self._bad(module.name, build.version, build.srcversion)
        image = build.initramfs
        image_bad = (
            self._bad(module.name, image.version, image.srcversion)
            if image is not None and image.status == "found"
            else set()
        )
        notes = []
        for advisory in sorted(image_bad - disk_bad):
            notes.append(
                f"{advisory}: the initramfs still carries the bad build {image.version or '?'} "
                f"({image.image}) while {build.path} has {build.version or '?'}: "
                "rebuild the image before any reboot"
            )
        for advisory in sorted(loaded_bad - disk_bad - image_bad):
            unknown_image = image is not None and image.status == "unknown"
            notes.append(
                f"{advisory}: fixed on disk ({build.version or '?'} for {next_boot.kernel}), reboot pending"
                + (
                    " (the initramfs could not be read: " + (image.reason or "?") + ")"
                    if unknown_image
                    else ""
                )
            )
        return tuple(notes)

    def host(self, host: str, facts: HostFacts) -> HostAudit:
        disks: dict[str, list[str]] = {}
        for device in facts.block_devices:
            if device.driver_module:
                disks.setdefault(device.driver_module, []).append(device.name)
        kernel = facts.kernel.release
        package = facts.kernel_package
        drivers: list[DriverView] = []
        findings: list[Finding] = []
        for module in facts.modules:
            advised = bool(self._db.for_module(module.name))
            if advised:
                findings.extend(self.findings(module, kernel, package))
            if advised or module.name in STORAGE_DRIVERS or module.name in disks:
                after = _next_build(facts, module)
                if advised and after is not None and after.path is not None and facts.next_boot is not None:
                    findings.extend(self.next_boot_findings(after, facts.next_boot.kernel or "?"))
                image = _initramfs_build(facts, module)
                stale = (
                    image is not None and image.status == "found" and not _same_build(image, facts, module)
                )
                if advised and stale:
                    findings.extend(self.initramfs_findings(module.name, image))
                view = DriverView(
                    name=module.name,
                    version=module.version,
                    srcversion=module.srcversion,
                    taint=module.taint,
                    disks=tuple(disks.get(module.name, ())),
                    refcount=module.refcount,
                    used_by=module.used_by,
                    holds_boot_disk=module.holds_boot_disk,
                    permanent=module.permanent,
                    next_boot_kernel=facts.next_boot.kernel if after and facts.next_boot else None,
                    next_boot_path=after.path if after else None,
                    next_boot_version=after.version if after else None,
                    next_boot_srcversion=after.srcversion if after else None,
                    initramfs_image=image.image if image else None,
                    initramfs_status=image.status if image else None,
                    initramfs_version=image.version if image else None,
                    initramfs_srcversion=image.srcversion if image else None,
                    initramfs_reason=image.reason if image else None,
                    boot_findings=self.boot_findings(facts, module) if advised else (),
                )
                drivers.append(view)
        return HostAudit(
            host=host,
            status="ok",
            message="" if facts.module_support else "no loadable module support: no storage drivers to check",
            kernel=kernel,
            kernel_package=package,
            module_support=facts.module_support,
            drivers=tuple(drivers),
            capture=facts.crash_capture.readiness,
            findings=tuple(f for f in findings if f.status != UNKNOWN),
            unknown=tuple(f for f in findings if f.status == UNKNOWN),
        )


def _initramfs_build(facts: HostFacts, module: LoadedModule) -> InitramfsBuild | None:
    """The build inside the next kernel's initramfs (found or unknown); None when the image holds no such
    module, the kernel has no image, or the facts do not say."""
    next_boot = facts.next_boot
    build = next_boot.module(module.name) if next_boot is not None and next_boot.kernel else None
    image = build.initramfs if build is not None else None
    return None if image is None or image.status == "absent" else image


def _same_build(image: InitramfsBuild, facts: HostFacts, module: LoadedModule) -> bool:
    """The image holds the build the next boot's module tree holds (with no tree entry: the loaded one)."""
    build = facts.next_boot.module(module.name) if facts.next_boot is not None else None
    reference = build if build is not None and build.path is not None else module
    return (image.version, image.srcversion) == (reference.version, reference.srcversion)


def _next_build(facts: HostFacts, module: LoadedModule) -> NextBootModule | None:
    """The next boot's build of ``module`` when it differs from the loaded one (another kernel, or another
    file for this kernel); None when it is the same build or the facts do not say."""
    next_boot = facts.next_boot
    if next_boot is None or next_boot.kernel is None:
        return None
    build = next_boot.module(module.name)
    if build is None:
        return None
    if build.path is None:
        return build  # the next kernel has no such module: it will not load at all
    if build.out_of_tree or module.out_of_tree:
        same = (build.version, build.srcversion) == (module.version, module.srcversion)
    else:
        same = build.version == module.version  # in-tree builds of two kernels differ in srcversion anyway
    return None if same else build


def audit_results(
    results: Mapping[str, HostResult], db: AdvisoryDB, now: datetime, source: str = "facts"
) -> AuditReport:
    """Judge every host of a facts run; unreachable and failed hosts stay in the report with their reason."""
    auditor = Auditor(db)
    hosts: list[HostAudit] = []
    for name, result in sorted(results.items()):
        raw = result.facts.get("fleetfix")
        if result.status != "ok" or raw is None:
            message = result.message or "no facts returned"
            status = result.status if result.status != "ok" else "failed"
            hosts.append(HostAudit(host=name, status=status, message=message))
            continue
        facts = HostFacts.from_dict(raw, source=f"{source}:{name}")
        hosts.append(auditor.host(name, facts))
    return AuditReport(hosts=tuple(hosts), generated_at=now)
