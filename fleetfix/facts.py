"""Host facts as typed, validated values: built from the ``fleetfix_facts`` module's JSON (docs/facts.md).

``HostFacts.from_dict`` checks every field's type and raises ``InputError`` naming the offending field, so a
facts JSON read back from a run made elsewhere (``--from-artifacts``) fails with one clear line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleetfix.errors import InputError

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


class _Fields:
    """Typed access to one JSON object of the facts, naming ``field`` paths like ``modules[3].version``."""

    def __init__(self, data: Any, source: str, where: str) -> None:
        if not isinstance(data, Mapping):
            raise InputError(source, f"expected an object, got {_kind(data)}", field=where or None)
        self.data, self.source, self.where = data, source, where

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, expected: str) -> InputError:
        return InputError(
            self.source, f"expected {expected}, got {_kind(self.data.get(key))}", field=self.path(key)
        )

    def _get(self, key: str, types: tuple[type, ...], expected: str, optional: bool) -> Any:
        value = self.data.get(key)
        if value is None and optional:
            return None
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise self.fail(key, expected)
        return value

    def text(self, key: str, optional: bool = True) -> str | None:
        return self._get(key, (str,), "a string", optional)

    def whole(self, key: str, optional: bool = True) -> int | None:
        return self._get(key, (int,), "a whole number", optional)

    def number(self, key: str) -> float | None:
        value = self._get(key, (int, float), "a number", True)
        return None if value is None else float(value)

    def flag(self, key: str, optional: bool = True) -> bool | None:
        return self._get(key, (bool,), "true or false", optional)

    def texts(self, key: str) -> tuple[str, ...]:
        items = self._get(key, (list,), "a list of strings", True) or []
        if not all(isinstance(item, str) for item in items):
            raise self.fail(key, "a list of strings")
        return tuple(items)

    def sub(self, key: str) -> _Fields:
        return _Fields(self.data.get(key), self.source, self.path(key))

    def optional_sub(self, key: str) -> _Fields | None:
        return None if self.data.get(key) is None else self.sub(key)

    def subs(self, key: str) -> list[_Fields]:
        items = self._get(key, (list,), "a list", True) or []
        return [_Fields(item, self.source, f"{self.path(key)}[{i}]") for i, item in enumerate(items)]


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


@dataclass(frozen=True)
class Kernel:
    release: str | None
    version: str | None
    machine: str | None

    @classmethod
    def parse(cls, f: _Fields) -> Kernel:
        return cls(f.text("release"), f.text("version"), f.text("machine"))


@dataclass(frozen=True)
class OsRelease:
    id: str | None
    version_id: str | None
    family: str | None

    @classmethod
    def parse(cls, f: _Fields) -> OsRelease:
        return cls(f.text("id"), f.text("version_id"), f.text("family"))


@dataclass(frozen=True)
class Taint:
    value: int
    letters: tuple[str, ...]

    @classmethod
    def parse(cls, f: _Fields) -> Taint:
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
    def parse(cls, f: _Fields) -> LoadedModule:
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
class KdumpService:
    name: str  # kdump-tools (Debian, Ubuntu) or kdump (EL)
    installed: bool
    enabled: bool | None
    active: bool | None  # None when not asked (a captured tree) or systemctl could not say
    enabled_state: str | None  # systemctl's own word: enabled, disabled, masked...
    active_state: str | None

    @classmethod
    def parse(cls, f: _Fields) -> KdumpService:
        return cls(
            f.text("name", optional=False),
            bool(f.flag("installed", optional=False)),
            f.flag("enabled"),
            f.flag("active"),
            f.text("enabled_state"),
            f.text("active_state"),
        )


@dataclass(frozen=True)
class KdumpConfig:
    path: str
    kind: str  # local, ssh, nfs, raw, ftp
    target: str | None
    directory: str | None
    enabled: bool | None  # kdump-tools' USE_KDUMP; None where the configuration has no such switch

    @classmethod
    def parse(cls, f: _Fields) -> KdumpConfig:
        return cls(
            f.text("path", optional=False),
            f.text("kind", optional=False),
            f.text("target"),
            f.text("directory"),
            f.flag("enabled"),
        )


@dataclass(frozen=True)
class NetconsoleTarget:
    name: str  # configfs directory, or where a persistent target is written: cmdline, modprobe, modules
    enabled: bool | None
    extended: bool | None
    release: bool | None
    dev_name: str | None
    local_ip: str | None
    local_port: int | None
    remote_ip: str | None
    remote_port: int | None
    remote_mac: str | None

    @classmethod
    def parse(cls, f: _Fields) -> NetconsoleTarget:
        return cls(
            f.text("name", optional=False),
            f.flag("enabled"),
            f.flag("extended"),
            f.flag("release"),
            f.text("dev_name"),
            f.text("local_ip"),
            f.whole("local_port"),
            f.text("remote_ip"),
            f.whole("remote_port"),
            f.text("remote_mac"),
        )


@dataclass(frozen=True)
class NetconsolePersistent:
    modprobe: str | None
    modprobe_file: str | None
    cmdline: str | None
    load_at_boot: str | None  # the modules-load.d file or enabled unit that loads netconsole at boot
    targets: tuple[NetconsoleTarget, ...]

    @classmethod
    def parse(cls, f: _Fields) -> NetconsolePersistent:
        return cls(
            f.text("modprobe"),
            f.text("modprobe_file"),
            f.text("cmdline"),
            f.text("load_at_boot"),
            tuple(NetconsoleTarget.parse(t) for t in f.subs("targets")),
        )


@dataclass(frozen=True)
class Netconsole:
    module_loaded: bool
    targets: tuple[NetconsoleTarget, ...]
    persistent: NetconsolePersistent

    @classmethod
    def parse(cls, f: _Fields) -> Netconsole:
        return cls(
            bool(f.flag("module_loaded", optional=False)),
            tuple(NetconsoleTarget.parse(t) for t in f.subs("targets")),
            NetconsolePersistent.parse(f.sub("persistent")),
        )


@dataclass(frozen=True)
class CrashCapture:
    cmdline: str | None
    crashkernel: str | None
    kexec_crash_size: int | None
    kexec_crash_loaded: bool | None
    kdump_service: KdumpService | None
    kdump_config: KdumpConfig | None
    netconsole: Netconsole

    @classmethod
    def parse(cls, f: _Fields) -> CrashCapture:
        service, config = f.optional_sub("kdump_service"), f.optional_sub("kdump_config")
        return cls(
            f.text("cmdline"),
            f.text("crashkernel"),
            f.whole("kexec_crash_size"),
            f.flag("kexec_crash_loaded"),
            KdumpService.parse(service) if service else None,
            KdumpConfig.parse(config) if config else None,
            Netconsole.parse(f.sub("netconsole")),
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
    def parse(cls, f: _Fields) -> BlockDevice:
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
class ScheduledJob:
    kind: str  # cron or timer
    source: str
    user: str | None
    command: str | None
    schedule: str | None = None  # cron: five fields or @daily-style
    unit: str | None = None  # timer: the unit it starts
    on_calendar: tuple[str, ...] = ()
    monotonic: tuple[str, ...] = ()  # e.g. "OnUnitActiveSec=1d"
    enabled: bool | None = None

    @classmethod
    def from_dict(cls, data: Any, source: str, where: str = "") -> ScheduledJob:
        """One ``scheduled_jobs[]`` entry (docs/facts.md); ``where`` is its field path in ``source``."""
        return cls.parse(_Fields(data, source, where))

    @classmethod
    def parse(cls, f: _Fields) -> ScheduledJob:
        kind = f.text("kind", optional=False)
        if kind not in ("cron", "timer"):
            raise f.fail("kind", '"cron" or "timer"')
        return cls(
            kind,
            f.text("source", optional=False),
            f.text("user"),
            f.text("command"),
            f.text("schedule", optional=kind != "cron"),
            f.text("unit"),
            f.texts("on_calendar"),
            f.texts("monotonic"),
            f.flag("enabled"),
        )


@dataclass(frozen=True)
class CrashDump:
    path: str
    time: datetime  # with the host's UTC offset
    time_source: str  # name (kdump's directory stamp) or mtime
    has_dmesg: bool
    dmesg_file: str | None
    files: tuple[str, ...]

    @classmethod
    def parse(cls, f: _Fields) -> CrashDump:
        stamp = f.text("time", optional=False)
        try:
            time = datetime.fromisoformat(stamp)
        except ValueError:
            raise f.fail("time", "an ISO 8601 time") from None
        return cls(
            f.text("path", optional=False),
            time,
            f.text("time_source", optional=False),
            bool(f.flag("has_dmesg", optional=False)),
            f.text("dmesg_file"),
            f.texts("files"),
        )


@dataclass(frozen=True)
class FactError:
    surface: str
    error: str

    @classmethod
    def parse(cls, f: _Fields) -> FactError:
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
        f = _Fields(data, source, "")
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
