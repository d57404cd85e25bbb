"""Crash capture facts: kdump (service, config, crash memory), netconsole (live and persistent), and the
readiness the facts module judged from them (plugins/module_utils/capture_readiness.py is the rule; fleetfix
reads its verdict and never judges again, so the roles and fleetfix cannot disagree).
"""

from __future__ import annotations

from msgspec import Struct


class KdumpService(Struct, frozen=True, kw_only=True, gc=False):
    name: str  # kdump-tools (Debian, Ubuntu) or kdump (EL)
    installed: bool
    enabled: bool | None = None
    active: bool | None = None  # None when not asked (a captured tree) or systemctl could not say
    enabled_state: str | None = None  # systemctl's own word: enabled, disabled, masked...
    active_state: str | None = None


class KdumpConfig(Struct, frozen=True, kw_only=True, gc=False):
    path: str
    kind: str  # local, ssh, nfs, raw, ftp
    target: str | None = None
    directory: str | None = None
    enabled: bool | None = None  # kdump-tools' USE_KDUMP; None where the configuration has no such switch
    flavour: str | None = None  # kdump-tools (/etc/default/kdump-tools) or kdump.conf (EL)
    ssh_key: str | None = None  # the private key an ssh target is reached with
    host_tag: str | None = None  # what names a remote dump directory: ip, or hostname (kdump-tools' HOSTTAG)


class DumpTarget(Struct, frozen=True, kw_only=True, gc=False):
    """A remote dump target as the host sees it now (plugins/module_utils/dump_target.py)."""

    kind: str  # ssh, nfs
    target: str  # user@server, server:/export
    server: str | None = None
    directory: str | None = None  # where this host's dump directories appear on the server
    directory_pattern: str | None = None  # a regular expression matching their names
    tags: tuple[str, ...] = ()  # what their names start with: addresses, the host name (before -<stamp>)
    naming_note: str | None = None  # kdump-tools HOSTTAG=ip on a host of several addresses
    probed: bool = False  # False for a captured tree, or a target that could not be read
    ok: bool | None = None
    reachable: bool | None = None
    writable: bool | None = None
    detail: str = ""


class NetconsoleTarget(Struct, frozen=True, kw_only=True, gc=False):
    name: str  # configfs directory, or where a persistent target is written: cmdline, modprobe, modules
    enabled: bool | None = None
    extended: bool | None = None
    release: bool | None = None
    dev_name: str | None = None
    local_ip: str | None = None
    local_port: int | None = None
    remote_ip: str | None = None
    remote_port: int | None = None
    remote_mac: str | None = None


class NetconsolePersistent(Struct, frozen=True, kw_only=True, gc=False):
    modprobe: str | None = None
    modprobe_file: str | None = None
    cmdline: str | None = None
    load_at_boot: str | None = None  # the modules-load.d file or enabled unit that loads netconsole at boot
    targets: tuple[NetconsoleTarget, ...] = ()


class Netconsole(Struct, frozen=True, kw_only=True, gc=False):
    module_loaded: bool
    targets: tuple[NetconsoleTarget, ...] = ()
    persistent: NetconsolePersistent


# A check's short name, as the tables show it; the detail of each check says what was found.
CHECK_LABELS = {
    "kdump.crash_memory": "crash memory",
    "kdump.loaded": "capture kernel",
    "kdump.service": "kdump service",
    "kdump.target": "dump target",
    "kdump.panic_on_oops": "panic on oops",
    "netconsole.target": "netconsole",
    "netconsole.persistent": "netconsole at boot",
}


class CaptureCheck(Struct, frozen=True, kw_only=True, gc=False):
    name: str  # kdump.crash_memory, kdump.loaded, kdump.service, kdump.target, netconsole.target, ...
    ok: bool
    detail: str

    @property
    def label(self) -> str:
        return CHECK_LABELS.get(self.name, self.name)


class SerialConsoleReadiness(Struct, frozen=True, kw_only=True, gc=False):
    """Reported beside readiness, not part of it: a host without a serial line can still be ready."""

    present: bool  # on the running command line and among the kernel's active consoles
    next_boot: bool | None = None  # None: the next boot's command line could not be read
    port: str | None = None  # e.g. ttyS0,115200n8
    detail: str = ""


class PstoreReadiness(Struct, frozen=True, kw_only=True, gc=False):
    """Reported beside readiness, not part of it."""

    usable: bool  # mounted, a backend registered, systemd-pstore enabled
    backend: str | None = None  # efi_pstore, ramoops...
    detail: str = ""


class CaptureReadiness(Struct, frozen=True, kw_only=True, gc=False):
    """Can this host leave evidence the next time it panics? Ready only with kdump and netconsole both
    working now and after a reboot."""

    ready: bool
    kdump_ready: bool
    netconsole_ready: bool
    missing: tuple[str, ...] = ()  # the details of the failed checks
    checks: tuple[CaptureCheck, ...] = ()
    notes: tuple[str, ...] = ()  # worth a look, not part of ready: how dump directories are named
    serial_console: SerialConsoleReadiness | None = None
    pstore: PstoreReadiness | None = None


class Console(Struct, frozen=True, kw_only=True, gc=False):
    port: str  # ttyS0, tty0
    options: str | None = None  # 115200n8


class SerialConsole(Struct, frozen=True, kw_only=True, gc=False):
    consoles: tuple[Console, ...] = ()  # console= on /proc/cmdline, in order
    active: tuple[str, ...] | None = None  # /sys/class/tty/console/active
    next_boot: tuple[Console, ...] | None = None  # console= of the next boot (grub.cfg, BLS entries)


class PstoreFile(Struct, frozen=True, kw_only=True, gc=False):
    origin: str  # live (/sys/fs/pstore) or archive (/var/lib/systemd/pstore)
    path: str
    relative: str  # the path under its origin's directory
    mtime: int  # seconds since the epoch: the record's time where its name carries none
    size: int


class Pstore(Struct, frozen=True, kw_only=True, gc=False):
    mounted: bool = False  # a pstore filesystem on /sys/fs/pstore
    backend: str | None = None  # /sys/module/pstore/parameters/backend
    service_installed: bool = False  # systemd-pstore.service
    service_enabled: bool | None = None
    records: tuple[str, ...] = ()  # /sys/fs/pstore: not archived yet
    archived: tuple[str, ...] = ()  # /var/lib/systemd/pstore
    files: tuple[PstoreFile, ...] = ()  # every file of both, for collect
    crash_kexec_post_notifiers: bool | None = None  # False: with kdump loaded, a panic never reaches pstore


class PanicSetting(Struct, frozen=True, kw_only=True, gc=False):
    value: int | None = None  # None: the text is no integer, so boot cannot set it
    text: str = ""
    source: str = ""  # the sysctl.d file whose assignment applies last


class Panic(Struct, frozen=True, kw_only=True, gc=False):
    """Whether a fault becomes a panic (and so a dump): live values and what sysctl.d sets at boot."""

    panic_on_oops: int | None = None  # /proc/sys/kernel/panic_on_oops; 0: an oops leaves no dump
    hung_task_panic: int | None = None
    softlockup_panic: int | None = None
    configured: dict[str, PanicSetting] = {}  # kernel.panic_on_oops... -> the boot-time assignment


class CrashCapture(Struct, frozen=True, kw_only=True, gc=False):
    cmdline: str | None = None
    crashkernel: str | None = None
    kexec_crash_size: int | None = None
    kexec_crash_loaded: bool | None = None
    kdump_service: KdumpService | None = None
    kdump_config: KdumpConfig | None = None
    dump_target: DumpTarget | None = None  # ssh and nfs targets only
    netconsole: Netconsole
    serial_console: SerialConsole | None = None  # absent in facts from before it was read
    pstore: Pstore | None = None
    panic: Panic | None = None  # absent in facts from before it was read
    readiness: CaptureReadiness
