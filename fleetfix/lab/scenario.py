"""What a lab scenario describes: host groups and their kernel surfaces, a package repository, faults.

The YAML reading and checking lives in ``scenario_load``; this module holds the shapes and the expansion
of groups into hosts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fleetfix.lab.distro import DISTROS, Distro


@dataclass(frozen=True)
class Disk:
    name: str  # as presented in the host's /dev and /sys/block, e.g. "sdb"
    size_bytes: int
    rotational: bool = False


@dataclass(frozen=True)
class Module:
    name: str
    version: str
    srcversion: str
    taint: str  # letters as in /sys/module/<m>/taint, e.g. "OE"; "" for an in-tree signed build
    boot_disk: bool
    deps: tuple[str, ...]  # modules this one uses, shown in /proc/modules' dependency column
    disks: tuple[Disk, ...]
    # The scenario package version this build came from: installed on the host (its dpkg record and files)
    # as the package manager would have left it, so a rollback can reinstall it. None: no package record.
    package: str | None = None


@dataclass(frozen=True)
class Kdump:
    installed: bool
    enabled: bool
    active: bool


@dataclass(frozen=True)
class CrashCapture:
    crashkernel: str | None  # the crashkernel= value on the boot command line, or None
    kdump: Kdump
    netconsole: bool  # a configfs target, enabled, sending to the lab controller
    # kernel.panic_on_oops at boot; None: 1 where kdump is active (capture was set up) or on EL (Red Hat's
    # kernels default to 1), else 0 (Debian's default)
    panic_on_oops: bool | None = None

    def panic_on_oops_at_boot(self, el: bool) -> bool:
        return self.panic_on_oops if self.panic_on_oops is not None else (self.kdump.active or el)


@dataclass(frozen=True)
class SecureBoot:
    """The host's firmware and lockdown as its kernel shows them: a UEFI boot with Secure Boot on or off
    (its SecureBoot efivar) and the lockdown mode; under enforcement its modprobe refuses unsigned builds."""

    enabled: bool
    lockdown: str  # none, integrity, confidentiality


@dataclass(frozen=True)
class CronJob:
    name: str  # file name under /etc/cron.d
    schedule: str
    user: str
    command: str


@dataclass(frozen=True)
class Timer:
    name: str  # unit base name: <name>.timer and <name>.service under /etc/systemd/system
    on_calendar: str
    command: str
    enabled: bool


@dataclass(frozen=True)
class File:
    path: str
    content: str
    mode: int


@dataclass(frozen=True)
class MultipathPath:
    dev: str  # the path's SCSI disk, e.g. "sdd"
    hcil: str  # host:channel:id:lun
    state: str  # "active", "failed" (the kernel failed it, checker faulty) or "offline" (SCSI device offline)


@dataclass(frozen=True)
class MultipathMap:
    name: str  # alias, e.g. "mpatha"
    wwid: str
    paths: tuple[MultipathPath, ...]


@dataclass(frozen=True)
class MdArray:
    name: str  # e.g. "md0"
    level: str  # raid1, raid5, raid6, raid10
    members: tuple[str, ...]  # partitions in slot order, e.g. ("sda1", "sdb1")
    state: str  # "clean", "degraded" (last member failed), "recovery" (rebuilding onto it) or "resync"


@dataclass(frozen=True)
class Storage:
    """What the host's multipath-tools and /proc/mdstat show; no maps means no multipath-tools installed."""

    multipath: tuple[MultipathMap, ...] = ()
    md: tuple[MdArray, ...] = ()


@dataclass(frozen=True)
class PastCrash:
    time: datetime
    module: str  # the module whose oops the dump holds


@dataclass(frozen=True)
class DumpServer:
    """An account kdump's ssh target writes to: a system user with a home under /var and a login shell."""

    user: str


@dataclass(frozen=True)
class Group:
    name: str
    count: int
    first: int  # number of the first host, so that groups can continue one naming sequence
    pattern: str  # str.format pattern with {group} and {n}, e.g. "{group}{n:02d}"
    extra_groups: tuple[str, ...]
    state: str  # "up", or "down": address and namespaces exist but no sshd answers
    os: str  # a key of fleetfix.lab.distro.DISTROS: debian12, el9
    kernel: str
    kernel_version: str  # `uname -v`
    cmdline: str  # extra kernel arguments (GRUB_CMDLINE_LINUX_DEFAULT); root=, ro, crashkernel= are added
    crash_capture: CrashCapture
    modules: tuple[Module, ...]
    cron: tuple[CronJob, ...]
    timers: tuple[Timer, ...]
    files: tuple[File, ...]
    crash_history: tuple[PastCrash, ...]
    storage: Storage = Storage()
    secure_boot: SecureBoot | None = None  # None: a BIOS boot, no efivars, lockdown none
    dump_server: DumpServer | None = None  # None: no dump account

    @property
    def distro(self) -> Distro:
        return DISTROS[self.os]

    def host_names(self) -> list[str]:
        return [self.pattern.format(group=self.name, n=n) for n in range(self.first, self.first + self.count)]


DEFAULT_SIGNER = "Debian Secure Boot CA"  # what the lab's signed builds name unless a package says otherwise


@dataclass(frozen=True)
class Package:
    """A driver package in the lab repository: installing it puts a module build under /lib/modules."""

    name: str
    version: str
    module: str
    module_version: str
    srcversion: str
    taint: str
    broken: bool  # its postinst fails, as a bad vendor build does
    signer: str = DEFAULT_SIGNER  # the key a signed build (no E in taint) names: modinfo -F signer
    # A broken build whose Debian postinst fails only after it put its module in the running kernel's tree:
    # its initramfs update fails, as on a full /boot. EL builds fail in %pre either way: rpm 4.6 to 5.x (EL 9
    # and 10) does not fail a transaction for a %post error.
    leaves_module: bool = False


@dataclass(frozen=True)
class Workload:
    rw: str  # fio rw= value, e.g. "randread"
    min_iodepth: int
    sustain_seconds: int


@dataclass(frozen=True)
class Fault:
    """A module build (by version and/or srcversion) that panics its host under a workload."""

    module: str
    version: str | None
    srcversion: str | None
    workload: Workload
    kind: str  # "null_deref" or "use_after_free": the shape of the oops it prints

    def matches(self, version: str, srcversion: str) -> bool:
        return (self.version is None or self.version == version) and (
            self.srcversion is None or self.srcversion == srcversion
        )


@dataclass(frozen=True)
class HostSpec:
    name: str
    group: Group

    @property
    def groups(self) -> tuple[str, ...]:
        return (self.group.name, *self.group.extra_groups)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    source: str
    groups: tuple[Group, ...]
    packages: tuple[Package, ...]
    faults: tuple[Fault, ...]

    def el_kernels(self) -> dict[str, tuple[str, ...]]:
        """Kernel releases of the scenario's EL hosts per OS (el9, el10): each release's kmod packages hold
        a module file for each."""
        found: dict[str, set[str]] = {}
        for group in self.groups:
            if group.distro.is_el:
                found.setdefault(group.os, set()).add(group.kernel)
        return {key: tuple(sorted(kernels)) for key, kernels in sorted(found.items())}

    def hosts(self) -> list[HostSpec]:
        return [HostSpec(name, group) for group in self.groups for name in group.host_names()]

    def preinstalled(self, module: Module) -> Package | None:
        """The package ``module.package`` names: one of this scenario's, shipping exactly that build."""
        return next(
            (
                p
                for p in self.packages
                if p.module == module.name
                and p.version == module.package
                and (p.module_version, p.srcversion) == (module.version, module.srcversion)
            ),
            None,
        )
