"""Host facts as typed, validated values: built from the ``fleetfix_facts`` module's JSON (docs/facts.md).

``HostFacts.from_dict`` (msgspec) checks every field's type and raises ``InputError`` naming the offending
field path, so a facts JSON read back from a run made elsewhere (``--from-artifacts``) fails with one clear
line. Every type is keyword-only: a reordered field can never be silently misassigned.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
from msgspec import Struct

from fleetfix import serde
from fleetfix.facts.crash_capture import CrashCapture
from fleetfix.facts.history import Anacron, CrashDump, RunParts, ScheduledJob
from fleetfix.facts.kernel_package import KernelPackage, identify

SCHEMA = 2

# Module names (as /proc/modules spells them) of host bus adapter and storage controller drivers: the ones
# vendors ship out of tree and publish advisories for, plus NVMe and the paravirtual disks. Generic ahci,
# libata and usb-storage are left out: they are on every host and never the subject of such an incident.
STORAGE_DRIVERS = frozenset(
    {
        # SAS / SATA / RAID host adapters
        "mpt3sas", "mpt2sas", "mptsas", "mptspi", "mptfc", "mpi3mr", "megaraid_sas", "megaraid_mbox",
        "megaraid", "smartpqi", "hpsa", "cciss", "aacraid", "arcmsr", "isci", "pm80xx", "mvsas", "hptiop",
        "3w_9xxx", "3w_sas", "3w_xxxx", "esas2r", "stex", "aic94xx", "aic79xx", "aic7xxx", "myrs", "myrb",
        # Fibre Channel, FCoE and iSCSI offload
        "qla2xxx", "qla4xxx", "lpfc", "bfa", "qedf", "qedi", "be2iscsi", "fnic", "bnx2fc", "bnx2i",
        "csiostor", "zfcp",
        # NVMe and paravirtual disks
        "nvme", "nvme_fc", "nvme_tcp", "nvme_rdma", "virtio_blk", "virtio_scsi", "vmw_pvscsi",
        "hv_storvsc", "xen_blkfront",
    }
)  # fmt: skip


class Kernel(Struct, frozen=True, kw_only=True, gc=False):
    release: str | None = None
    version: str | None = None
    machine: str | None = None
    version_signature: str | None = None  # Ubuntu's /proc/version_signature


class OsRelease(Struct, frozen=True, kw_only=True, gc=False):
    id: str | None = None
    version_id: str | None = None
    id_like: tuple[str, ...] = ()
    family: str | None = None


class Taint(Struct, frozen=True, kw_only=True, gc=False):
    value: int
    letters: tuple[str, ...] = ()


class TaintedBuild(Struct, frozen=True, kw_only=True, gc=False):
    """A module build with the kernel's taint letters for it: what both the facts and the audit read."""

    taint: tuple[str, ...] = ()  # e.g. ("O", "E"): out-of-tree, unsigned

    @property
    def out_of_tree(self) -> bool:
        return "O" in self.taint

    @property
    def unsigned(self) -> bool:
        return "E" in self.taint


class LoadedModule(TaintedBuild, frozen=True, kw_only=True, gc=False):
    name: str
    size: int
    refcount: int | None = None  # None without CONFIG_MODULE_UNLOAD
    used_by: tuple[str, ...] = ()
    permanent: bool = False  # can never be unloaded: a new version needs a reboot
    state: str  # Live, Loading, Unloading
    version: str | None = None  # /sys/module/<name>/version, absent for many in-tree drivers
    srcversion: str | None = None
    holds_boot_disk: bool = False


class WriteSafety(Struct, frozen=True, kw_only=True, gc=False):
    """May a workload write to a disk? Judged by the facts module (plugins/module_utils/write_safety.py);
    fleetfix reads the verdict and never judges again, so the fio_soak role and fleetfix cannot disagree."""

    safe: bool  # a write destroys nothing that can be seen
    overwritable: bool  # an explicit destructive request may still write (never on the boot disk)
    reasons: tuple[str, ...] = ()  # why it is not safe, each a clause about the disk


class BlockDevice(Struct, frozen=True, kw_only=True, gc=False):
    name: str
    driver: str | None = None  # the adapter's driver (mpt3sas, nvme, virtio_blk...), None if none was found
    module: str | None = None  # the module that driver belongs to, when sysfs links one
    scsi_host: str | None = None
    proc_name: str | None = None
    size_bytes: int | None = None
    rotational: bool | None = None
    partitions: tuple[str, ...] = ()
    holders: tuple[str, ...] = ()  # of the disk or any of its partitions (dm-0, md0...)
    partition_table: str | None = None  # gpt or dos
    fstype: str | None = None
    has_data: bool | None = None  # None: the first sectors could not be read and there are no partitions
    boot_disk: bool = False
    write_safety: WriteSafety

    @property
    def driver_module(self) -> str | None:
        """The module name to match against /proc/modules: sysfs's link, else the driver name."""
        name = self.module or self.driver
        return name.replace("-", "_") if name else None


class InitramfsBuild(Struct, frozen=True, kw_only=True, gc=False):
    """The build of a module inside the next kernel's initramfs, where the boot disk's driver loads from."""

    image: str  # /boot/initrd.img-<kernel>, /boot/initramfs-<kernel>.img
    status: str  # found, absent (the image holds no such module), unknown (it cannot be read: see reason)
    path: str | None = None  # relative to the image's modules/<kernel> directory
    version: str | None = None
    srcversion: str | None = None
    reason: str | None = None


class NextBootModule(Struct, frozen=True, kw_only=True, gc=False):
    """The build of a loaded storage module that the next boot will load (its file under /lib/modules)."""

    name: str
    path: str | None = None  # relative to /lib/modules/<kernel>, as modules.dep names it; None: not installed
    version: str | None = None  # from the file's .modinfo
    srcversion: str | None = None
    initramfs: InitramfsBuild | None = None  # None: the kernel has no initramfs, or older facts

    @property
    def out_of_tree(self) -> bool:
        """Installed outside the kernel package's own tree (updates/, extra/, weak-updates/, dkms)."""
        return self.path is not None and not self.path.startswith("kernel/")


class NextBoot(Struct, frozen=True, kw_only=True, gc=False):
    kernel: str | None = None  # the release that boots next
    source: str = ""  # how it was chosen: grubby --default-kernel, grubenv saved_entry, newest installed...
    modules: tuple[NextBootModule, ...] = ()

    def module(self, name: str) -> NextBootModule | None:
        return next((m for m in self.modules if m.name == name), None)


class SecureBoot(Struct, frozen=True, kw_only=True, gc=False):
    state: str | None = None  # enabled, disabled, unsupported (a BIOS boot); None: unread
    source: str | None = None  # efivars, mokutil --sb-state
    lockdown: str | None = None  # none, integrity, confidentiality; None: no lockdown support or unread
    enforced: bool = False  # the kernel refuses modules no trusted key signed


class FactError(Struct, frozen=True, kw_only=True, gc=False):
    surface: str
    error: str


class HostFacts(Struct, frozen=True, kw_only=True, gc=False):
    schema: int
    hostname: str | None = None
    kernel: Kernel
    os: OsRelease
    boot_id: str | None = None
    uptime_seconds: float | None = None
    tainted: Taint | None = None
    module_support: bool
    modules: tuple[LoadedModule, ...] = ()
    crash_capture: CrashCapture
    block_devices: tuple[BlockDevice, ...] = ()
    next_boot: NextBoot | None = None  # absent from facts of older collections
    secure_boot: SecureBoot | None = None  # absent from facts of older collections
    scheduled_jobs: tuple[ScheduledJob, ...] = ()
    anacron: Anacron | None = None  # absent in facts from before it was read
    run_parts: RunParts | None = None
    crash_dumps: tuple[CrashDump, ...] = ()
    crash_dumps_total: int | None = None  # absent or null: as many as ``crash_dumps`` lists
    errors: tuple[FactError, ...] = ()

    def __post_init__(self) -> None:
        if self.schema != SCHEMA:
            raise ValueError(f"schema: unsupported facts schema {self.schema} (this fleetfix reads {SCHEMA})")
        if not self.crash_dumps_total:
            msgspec.structs.force_setattr(self, "crash_dumps_total", len(self.crash_dumps))

    @classmethod
    def from_dict(cls, data: Any, source: str) -> HostFacts:
        """Validate and convert; ``source`` names the facts' origin in errors (a file, ``host:name``)."""
        return serde.convert(data, cls, source)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape ``from_dict`` reads (docs/facts.md), times written as the module writes them."""
        data = serde.to_builtins(self)
        for dump, plain in zip(self.crash_dumps, data["crash_dumps"], strict=True):
            plain["time"] = dump.time.isoformat()
        return data

    @property
    def kernel_package(self) -> KernelPackage | None:
        """The distribution package the running kernel comes from (facts/kernel_package.py), if any."""
        return identify(
            self.kernel.release,
            self.kernel.version,
            self.kernel.version_signature,
            self.os.id,
            self.os.version_id,
            self.os.id_like,
        )

    def module(self, name: str) -> LoadedModule | None:
        """A loaded module by name; ``-`` and ``_`` are the same to the kernel."""
        wanted = name.replace("-", "_")
        return next((m for m in self.modules if m.name.replace("-", "_") == wanted), None)

    def storage_modules(self, names: Iterable[str] = STORAGE_DRIVERS) -> tuple[LoadedModule, ...]:
        """Loaded modules among ``names``, plus any module that drives one of this host's disks."""
        wanted = {n.replace("-", "_") for n in names}
        wanted.update(d.driver_module for d in self.block_devices if d.driver_module)
        return tuple(m for m in self.modules if m.name.replace("-", "_") in wanted)

    def disks_of(self, module: str) -> tuple[BlockDevice, ...]:
        """The block devices whose adapter is driven by ``module``."""
        wanted = module.replace("-", "_")
        return tuple(d for d in self.block_devices if d.driver_module == wanted)
