"""Read and check a scenario file; every problem is one ``InputError`` naming the file, field and line."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from croniter import croniter

from fleetfix.errors import InputError
from fleetfix.lab import scenario as sc
from fleetfix.lab.distro import DEFAULT, DISTROS
from fleetfix.lab.yamlnodes import Node, get, load

SHIPPED = Path(__file__).resolve().parent / "scenarios"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_DISK = re.compile(r"^(sd[a-z]{1,2}|nvme\d+n\d+|vd[a-z])$")
_TAINT_LETTERS = set("PFSRMBUDAWCIOELKXTN")
_FIO_RW = {"read", "write", "randread", "randwrite", "rw", "readwrite", "randrw", "trim", "randtrim"}
_FAULT_KINDS = {"null_deref", "use_after_free"}
_HCIL = re.compile(r"^\d+:\d+:\d+:\d+$")
_WWID = re.compile(r"^[0-9a-f]{8,40}$")
_PARTITION = re.compile(r"^(sd[a-z]{1,2}|vd[a-z])\d+$")
_MD_NAME = re.compile(r"^md\d+$")
_PATH_STATES = {"active", "failed", "offline"}
_MD_LEVELS = {"raid1", "raid5", "raid6", "raid10"}
_MD_STATES = {"clean", "degraded", "recovery", "resync"}
_SIZE = re.compile(r"^(\d+)\s*([KMGT]?)i?B?$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def resolve(name_or_path: str) -> Path:
    """A scenario given as a file path, or as the name of a shipped one (``seed``, ``large``, ``mixed``)."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    shipped = SHIPPED / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    known = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.yaml")))
    raise InputError(name_or_path, f"no such scenario file, nor a shipped scenario (shipped: {known})")


def load_scenario(name_or_path: str) -> sc.Scenario:
    path = resolve(name_or_path)
    root = load(path)
    fields = root.mapping({"name", "description", "groups", "packages", "faults"})
    groups = tuple(_group(n) for n in get(fields, "groups", root).items())
    if not groups:
        raise fields["groups"].fail("at least one group is needed")
    scenario = sc.Scenario(
        name=_text(fields, "name", root, path.stem),
        description=_text(fields, "description", root, ""),
        source=str(path),
        groups=groups,
        packages=tuple(_package(n) for n in _list(fields, "packages")),
        faults=tuple(_fault(n) for n in _list(fields, "faults")),
    )
    _check_unique_names(scenario, fields["groups"])
    _check_preinstalled(scenario, fields["groups"])
    return scenario


def _text(fields: dict[str, Node], key: str, parent: Node, default: str | None = None) -> str:
    node = get(fields, key, parent, None) if default is not None else get(fields, key, parent)
    return default if node is None else node.text()


def _flag(fields: dict[str, Node], key: str, default: bool) -> bool:
    return fields[key].boolean() if key in fields else default


def _list(fields: dict[str, Node], key: str) -> list[Node]:
    return list(fields[key].items()) if key in fields else []


def _matching(node: Node, pattern: re.Pattern[str], what: str) -> str:
    value = node.text()
    if not pattern.match(value):
        raise node.fail(f"{value!r} is not a valid {what}")
    return value


def _taint(node: Node | None) -> str:
    if node is None:
        return "OE"
    letters = node.text() if node.scalar() is not None else ""
    bad = set(letters) - _TAINT_LETTERS
    if bad:
        raise node.fail(f"unknown taint letters {''.join(sorted(bad))!r}")
    return letters


def _size(node: Node) -> int:
    match = _SIZE.match(node.text())
    if not match or int(match.group(1)) == 0:
        raise node.fail("expected a size such as 1G, 512M or a byte count")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def _disk(node: Node) -> sc.Disk:
    fields = node.mapping({"name", "size", "rotational"})
    return sc.Disk(
        name=_matching(get(fields, "name", node), _DISK, "disk name (sdb, nvme0n1, ...)"),
        size_bytes=_size(get(fields, "size", node)),
        rotational=_flag(fields, "rotational", False),
    )


def _module(node: Node) -> sc.Module:
    fields = node.mapping({"name", "version", "srcversion", "taint", "boot_disk", "deps", "disks", "package"})
    return sc.Module(
        name=_matching(get(fields, "name", node), _NAME, "module name"),
        version=_text(fields, "version", node),
        srcversion=_text(fields, "srcversion", node),
        taint=_taint(fields.get("taint")),
        boot_disk=_flag(fields, "boot_disk", False),
        deps=tuple(_matching(n, _NAME, "module name") for n in _list(fields, "deps")),
        disks=tuple(_disk(n) for n in _list(fields, "disks")),
        package=fields["package"].text() if "package" in fields else None,
    )


def _crash_capture(node: Node | None) -> sc.CrashCapture:
    if node is None:
        return sc.CrashCapture(None, sc.Kdump(False, False, False), False)
    fields = node.mapping({"crashkernel", "kdump", "netconsole", "panic_on_oops"})
    crashkernel = fields["crashkernel"].scalar() if "crashkernel" in fields else None
    kdump = sc.Kdump(False, False, False)
    if "kdump" in fields:
        kd = fields["kdump"].mapping({"installed", "enabled", "active"})
        kdump = sc.Kdump(_flag(kd, "installed", True), _flag(kd, "enabled", True), _flag(kd, "active", True))
        if (kdump.enabled or kdump.active) and not kdump.installed:
            raise fields["kdump"].fail("enabled or active needs installed: true")
        if kdump.active != (kdump.enabled and crashkernel is not None):
            raise fields["kdump"].fail(
                "active must follow: kdump starts at boot when enabled, and loads only with crashkernel="
            )
    return sc.CrashCapture(
        None if crashkernel is None else str(crashkernel),
        kdump,
        _flag(fields, "netconsole", False),
        fields["panic_on_oops"].boolean() if "panic_on_oops" in fields else None,
    )


def _cron(node: Node) -> sc.CronJob:
    fields = node.mapping({"name", "schedule", "user", "command"})
    schedule = get(fields, "schedule", node)
    if not croniter.is_valid(schedule.text()):
        raise schedule.fail(f"{schedule.text()!r} is not a cron schedule")
    return sc.CronJob(
        name=_matching(get(fields, "name", node), re.compile(r"^[A-Za-z0-9_-]+$"), "cron.d file name"),
        schedule=schedule.text(),
        user=_text(fields, "user", node, "root"),
        command=_text(fields, "command", node),
    )


def _timer(node: Node) -> sc.Timer:
    fields = node.mapping({"name", "on_calendar", "command", "enabled"})
    return sc.Timer(
        name=_matching(get(fields, "name", node), re.compile(r"^[A-Za-z0-9_.-]+$"), "unit name"),
        on_calendar=_text(fields, "on_calendar", node),
        command=_text(fields, "command", node),
        enabled=_flag(fields, "enabled", True),
    )


def _file(node: Node) -> sc.File:
    fields = node.mapping({"path", "content", "mode"})
    path = get(fields, "path", node)
    if not path.text().startswith(("/etc/", "/usr/", "/var/", "/boot/")):
        raise path.fail("must be under /etc, /usr, /var or /boot (the host's own layers)")
    mode = fields["mode"].text() if "mode" in fields else "0644"
    if not re.match(r"^0?[0-7]{3,4}$", mode):
        raise fields["mode"].fail(f"{mode!r} is not an octal file mode")
    return sc.File(path.text(), _text(fields, "content", node), int(mode, 8))


def _multipath_map(node: Node) -> sc.MultipathMap:
    fields = node.mapping({"name", "wwid", "paths"})
    paths = []
    for path_node in get(fields, "paths", node).items():
        path = path_node.mapping({"dev", "hcil", "state"})
        state = _text(path, "state", path_node, "active")
        if state not in _PATH_STATES:
            raise path["state"].fail(f"must be one of {', '.join(sorted(_PATH_STATES))}")
        paths.append(
            sc.MultipathPath(
                dev=_matching(get(path, "dev", path_node), _DISK, "disk name (sdb, ...)"),
                hcil=_matching(get(path, "hcil", path_node), _HCIL, "host:channel:id:lun"),
                state=state,
            )
        )
    if not paths:
        raise fields["paths"].fail("a map needs at least one path")
    return sc.MultipathMap(
        name=_matching(get(fields, "name", node), _NAME, "map name"),
        wwid=_matching(get(fields, "wwid", node), _WWID, "WWID (hex digits)"),
        paths=tuple(paths),
    )


def _md_array(node: Node) -> sc.MdArray:
    fields = node.mapping({"name", "level", "members", "state"})
    level = _text(fields, "level", node, "raid1")
    if level not in _MD_LEVELS:
        raise fields["level"].fail(f"must be one of {', '.join(sorted(_MD_LEVELS))}")
    state = _text(fields, "state", node, "clean")
    if state not in _MD_STATES:
        raise fields["state"].fail(f"must be one of {', '.join(sorted(_MD_STATES))}")
    members = tuple(_matching(n, _PARTITION, "partition (sda1, ...)") for n in _list(fields, "members"))
    if len(members) < 2:
        raise get(fields, "members", node).fail("a redundant array needs at least two members")
    return sc.MdArray(
        name=_matching(get(fields, "name", node), _MD_NAME, "md device name (md0, ...)"),
        level=level,
        members=members,
        state=state,
    )


def _storage(node: Node) -> sc.Storage:
    fields = node.mapping({"multipath", "md"})
    return sc.Storage(
        multipath=tuple(_multipath_map(n) for n in _list(fields, "multipath")),
        md=tuple(_md_array(n) for n in _list(fields, "md")),
    )


def _past_crash(node: Node) -> sc.PastCrash:
    fields = node.mapping({"time", "module"})
    when = get(fields, "time", node)
    value = when.scalar()
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise when.fail(f"{value!r} is not an ISO date and time") from None
    return sc.PastCrash(moment, _matching(get(fields, "module", node), _NAME, "module name"))


def _dump_server(node: Node) -> sc.DumpServer:
    fields = node.mapping({"user"})
    return sc.DumpServer(_matching(get(fields, "user", node), _USER, "user name"))


def _group(node: Node) -> sc.Group:
    allowed = {
        "name",
        "count",
        "first",
        "pattern",
        "groups",
        "state",
        "os",
        "kernel",
        "kernel_version",
        "cmdline",
    }
    allowed |= {
        "crash_capture",
        "modules",
        "cron",
        "timers",
        "files",
        "crash_history",
        "storage",
        "secure_boot",
        "dump_server",
    }
    fields = node.mapping(allowed)
    name = _matching(get(fields, "name", node), _NAME, "group name")
    kernel = _text(fields, "kernel", node)
    state = _text(fields, "state", node, "up")
    if state not in ("up", "down"):
        raise fields["state"].fail("must be up or down")
    pattern = _text(fields, "pattern", node, "{group}{n:02d}")
    os_key = _text(fields, "os", node, DEFAULT)
    if os_key not in DISTROS:
        raise fields["os"].fail(f"{os_key!r} is not an OS the lab simulates ({', '.join(sorted(DISTROS))})")
    group = sc.Group(
        name=name,
        count=fields["count"].integer(minimum=1) if "count" in fields else 1,
        first=fields["first"].integer(minimum=0) if "first" in fields else 1,
        pattern=pattern,
        extra_groups=tuple(_matching(n, _NAME, "group name") for n in _list(fields, "groups")),
        state=state,
        os=os_key,
        kernel=kernel,
        kernel_version=_text(fields, "kernel_version", node, DISTROS[os_key].kernel_version),
        cmdline=_text(fields, "cmdline", node, "quiet"),
        crash_capture=_crash_capture(fields.get("crash_capture")),
        modules=tuple(_module(n) for n in _list(fields, "modules")),
        cron=tuple(_cron(n) for n in _list(fields, "cron")),
        timers=tuple(_timer(n) for n in _list(fields, "timers")),
        files=tuple(_file(n) for n in _list(fields, "files")),
        crash_history=tuple(_past_crash(n) for n in _list(fields, "crash_history")),
        storage=_storage(fields["storage"]) if "storage" in fields else sc.Storage(),
        secure_boot=_secure_boot(fields["secure_boot"]) if "secure_boot" in fields else None,
        dump_server=_dump_server(fields["dump_server"]) if "dump_server" in fields else None,
    )
    where = fields.get("pattern", node)
    try:
        names = group.host_names()
    except (KeyError, ValueError, IndexError) as exc:
        raise where.fail(f"bad host name pattern {pattern!r}: {exc}") from None
    for host in names:
        if not _HOST.match(host):
            raise where.fail(f"makes {host!r}, not a valid host name")
    disks = [d.name for m in group.modules for d in m.disks]
    if len(disks) != len(set(disks)):
        raise fields["modules"].fail("a disk name is used twice")
    if "crashkernel" in group.cmdline or "BOOT_IMAGE" in group.cmdline or "root=" in group.cmdline:
        raise fields["cmdline"].fail(
            "give only extra arguments: BOOT_IMAGE, root= and crashkernel= come from the lab"
        )
    return group


def _secure_boot(node: Node) -> sc.SecureBoot:
    """``secure_boot: {enabled: true, lockdown: integrity}``; lockdown defaults to what a distribution kernel
    does under Secure Boot (integrity when enabled, else none)."""
    fields = node.mapping({"enabled", "lockdown"})
    enabled = fields["enabled"].boolean() if "enabled" in fields else True
    lockdown = _text(fields, "lockdown", node, "integrity" if enabled else "none")
    if lockdown not in ("none", "integrity", "confidentiality"):
        raise fields["lockdown"].fail("must be none, integrity or confidentiality")
    return sc.SecureBoot(enabled=enabled, lockdown=lockdown)


def _package(node: Node) -> sc.Package:
    keys = {"name", "version", "module", "module_version", "srcversion", "taint", "broken", "leaves_module"}
    fields = node.mapping(keys | {"signer"})
    taint = _taint(fields.get("taint"))
    if "signer" in fields and "E" in taint:
        raise fields["signer"].fail("an unsigned build (taint E) names no signer: drop E to sign it")
    broken = _flag(fields, "broken", False)
    leaves_module = _flag(fields, "leaves_module", False)
    if leaves_module and not broken:
        raise fields["leaves_module"].fail("only a broken build (broken: true) can fail after its module")
    return sc.Package(
        name=_matching(get(fields, "name", node), re.compile(r"^[a-z0-9][a-z0-9+.-]+$"), "package name"),
        version=_matching(get(fields, "version", node), re.compile(r"^[0-9][A-Za-z0-9.+~:-]*$"), "version"),
        module=_matching(get(fields, "module", node), _NAME, "module name"),
        module_version=_text(fields, "module_version", node),
        srcversion=_text(fields, "srcversion", node),
        taint=taint,
        broken=broken,
        signer=_text(fields, "signer", node, sc.DEFAULT_SIGNER),
        leaves_module=leaves_module,
    )


def _fault(node: Node) -> sc.Fault:
    fields = node.mapping({"module", "version", "srcversion", "workload", "kind"})
    if "version" not in fields and "srcversion" not in fields:
        raise node.fail("a fault needs the build it affects: version, srcversion or both")
    workload_node = get(fields, "workload", node)
    wl = workload_node.mapping({"rw", "min_iodepth", "sustain_seconds"})
    rw = get(wl, "rw", workload_node)
    if rw.text() not in _FIO_RW:
        raise rw.fail(f"{rw.text()!r} is not a fio rw mode")
    kind = _text(fields, "kind", node, "null_deref")
    if kind not in _FAULT_KINDS:
        raise fields["kind"].fail(f"must be one of {', '.join(sorted(_FAULT_KINDS))}")
    return sc.Fault(
        module=_matching(get(fields, "module", node), _NAME, "module name"),
        version=fields["version"].text() if "version" in fields else None,
        srcversion=fields["srcversion"].text() if "srcversion" in fields else None,
        workload=sc.Workload(
            rw=rw.text(),
            min_iodepth=wl["min_iodepth"].integer(1) if "min_iodepth" in wl else 1,
            sustain_seconds=wl["sustain_seconds"].integer(0) if "sustain_seconds" in wl else 0,
        ),
        kind=kind,
    )


def _check_preinstalled(scenario: sc.Scenario, groups_node: Node) -> None:
    """A module's ``package`` must be a package of the scenario that ships exactly this build."""
    for group, node in zip(scenario.groups, groups_node.items(), strict=True):
        for module in group.modules:
            if module.package is None:
                continue
            if scenario.preinstalled(module) is None:
                raise node.fail(
                    f"module {module.name} names package version {module.package!r}, but no package of the"
                    f" scenario at that version ships {module.name} {module.version} ({module.srcversion})"
                )


def _check_unique_names(scenario: sc.Scenario, groups_node: Node) -> None:
    seen_groups: set[str] = set()
    seen_hosts: set[str] = set()
    for group, node in zip(scenario.groups, groups_node.items(), strict=True):
        if group.name in seen_groups:
            raise node.fail(f"group {group.name!r} is defined twice")
        seen_groups.add(group.name)
        for host in group.host_names():
            if host in seen_hosts:
                raise node.fail(f"host {host!r} is in two groups")
            seen_hosts.add(host)
