"""Crash capture facts: kdump (service, config, crash memory) and netconsole (live and persistent)."""

from __future__ import annotations

from dataclasses import dataclass

from fleetfix.facts.fields import Fields


@dataclass(frozen=True)
class KdumpService:
    name: str  # kdump-tools (Debian, Ubuntu) or kdump (EL)
    installed: bool
    enabled: bool | None
    active: bool | None  # None when not asked (a captured tree) or systemctl could not say
    enabled_state: str | None  # systemctl's own word: enabled, disabled, masked...
    active_state: str | None

    @classmethod
    def parse(cls, f: Fields) -> KdumpService:
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
    def parse(cls, f: Fields) -> KdumpConfig:
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
    def parse(cls, f: Fields) -> NetconsoleTarget:
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
    def parse(cls, f: Fields) -> NetconsolePersistent:
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
    def parse(cls, f: Fields) -> Netconsole:
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
    def parse(cls, f: Fields) -> CrashCapture:
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
