"""Host facts as typed, validated values: built from the ``fleetfix_facts`` module's JSON (docs/facts.md).

``HostFacts.from_dict`` checks every field's type and raises ``InputError`` naming the offending field, so a
facts JSON read back from a run made elsewhere (``--from-artifacts``) fails with one clear line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleetfix.errors import InputError
from fleetfix.facts.crash_capture import CrashCapture
from fleetfix.facts.fields import Fields
from fleetfix.facts.history import CrashDump, ScheduledJob

SCHEMA = 1

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


@dataclass(frozen=True)
class Kernel:
    release: str | None
    version: str | None
    machine: str | None

    @classmethod
    def parse(cls, f: Fields) -> Kernel:
        return cls(f.text("release"), f.text("version"), f.text("machine"))


@dataclass(frozen=True)
class OsRelease:
    id: str | None
    version_id: str | None
    family: str | None

    @classmethod
    def parse(cls, f: Fields) -> OsRelease:
        return cls(f.text("id"), f.text("version_id"), f.text("family"))


@dataclass(frozen=True)
class Taint:
    value: int
    letters: tuple[str, ...]

    @classmethod
    def parse(cls, f: Fields) -> Taint:
        return cls(f.whole("value", optional=False), f.texts("letters"))


@dataclass(frozen=True)
class LoadedModule:
    name: str
    size: int
    refcount: int | None  # None without CONFIG_MODULE_UNLOAD
    used_by: tuple[str, ...]
    permanent: bool  # can never be unloaded: a new version needs a reboot
    state: str  # Live, Loading, Unloading
    taint: tuple[str, ...]  # e.g. ("O", "E"): out-of-tree, unsigned
    version: str | None  # /sys/module/<name>/version, absent for many in-tree drivers
    srcversion: str | None
    holds_boot_disk: bool

    @property
    def out_of_tree(self) -> bool:
        return "O" in self.taint

    @property
    def unsigned(self) -> bool:
        return "E" in self.taint

    @classmethod
    def parse(cls, f: Fields) -> LoadedModule:
        return cls(
            f.text("name", optional=False),
            f.whole("size", optional=False),
            f.whole("refcount"),
            f.texts("used_by"),
            bool(f.flag("permanent")),
            f.text("state", optional=False),
            f.texts("taint"),
            f.text("version"),
            f.text("srcversion"),
            bool(f.flag("holds_boot_disk")),
        )


@dataclass(frozen=True)
class BlockDevice:
    name: str
    driver: str | None  # the adapter's driver (mpt3sas, nvme, virtio_blk...), None if none was found
    module: str | None  # the module that driver belongs to, when sysfs links one
    scsi_host: str | None
    proc_name: str | None
    size_bytes: int | None
    rotational: bool | None
    partitions: tuple[str, ...]
    holders: tuple[str, ...]  # of the disk or any of its partitions (dm-0, md0...)
    partition_table: str | None  # gpt or dos
    fstype: str | None
    has_data: bool | None  # None: the first sectors could not be read and there are no partitions
    boot_disk: bool

    @property
    def driver_module(self) -> str | None:
        """The module name to match against /proc/modules: sysfs's link, else the driver name."""
        name = self.module or self.driver
        return name.replace("-", "_") if name else None

    @classmethod
    def parse(cls, f: Fields) -> BlockDevice:
        return cls(
            f.text("name", optional=False),
            f.text("driver"),
            f.text("module"),
            f.text("scsi_host"),
            f.text("proc_name"),
            f.whole("size_bytes"),
            f.flag("rotational"),
            f.texts("partitions"),
            f.texts("holders"),
            f.text("partition_table"),
            f.text("fstype"),
            f.flag("has_data"),
            bool(f.flag("boot_disk")),
        )


@dataclass(frozen=True)
class FactError:
    surface: str
    error: str

    @classmethod
    def parse(cls, f: Fields) -> FactError:
        return cls(f.text("surface", optional=False), f.text("error", optional=False))


@dataclass(frozen=True)
class HostFacts:
    schema: int
    hostname: str | None
    kernel: Kernel
    os: OsRelease
    boot_id: str | None
    uptime_seconds: float | None
    tainted: Taint | None
    module_support: bool
    modules: tuple[LoadedModule, ...]
    crash_capture: CrashCapture
    block_devices: tuple[BlockDevice, ...]
    scheduled_jobs: tuple[ScheduledJob, ...]
    crash_dumps: tuple[CrashDump, ...]
    crash_dumps_total: int
    errors: tuple[FactError, ...]

    @classmethod
    def from_dict(cls, data: Any, source: str) -> HostFacts:
        """Validate and convert; ``source`` names the facts' origin in errors (a file, ``host:name``)."""
        f = Fields(data, source, "")
        schema = f.whole("schema", optional=False)
        if schema != SCHEMA:
            raise InputError(
                source, f"unsupported facts schema {schema} (this fleetfix reads {SCHEMA})", field="schema"
            )
        tainted = f.optional_sub("tainted")
        dumps = tuple(CrashDump.parse(d) for d in f.subs("crash_dumps"))
        return cls(
            schema,
            f.text("hostname"),
            Kernel.parse(f.sub("kernel")),
            OsRelease.parse(f.sub("os")),
            f.text("boot_id"),
            f.number("uptime_seconds"),
            Taint.parse(tainted) if tainted else None,
            bool(f.flag("module_support", optional=False)),
            tuple(LoadedModule.parse(m) for m in f.subs("modules")),
            CrashCapture.parse(f.sub("crash_capture")),
            tuple(BlockDevice.parse(d) for d in f.subs("block_devices")),
            tuple(ScheduledJob.parse(j) for j in f.subs("scheduled_jobs")),
            dumps,
            f.whole("crash_dumps_total") or len(dumps),
            tuple(FactError.parse(e) for e in f.subs("errors")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape ``from_dict`` reads (docs/facts.md)."""
        return _plain(self)

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


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
