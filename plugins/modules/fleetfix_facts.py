#!/usr/bin/python
"""Read every host surface a fleetfix audit needs, in one module call (docs/facts.md is the contract).

Runs on the target's Python 3 (3.8 or later) with the standard library only. Pure ``parse_*`` functions
turn each surface's text into data; the ``read_*`` functions around them only fetch text through ``Host``,
which prefixes every path with ``root`` and turns a failed read into an ``errors`` entry.
"""

from __future__ import annotations

import errno
import lzma
import os
import re
import shlex
import socket
import stat
import struct
from datetime import datetime

from ansible_collections.fleetfix.hba.plugins.module_utils import dump_target
from ansible_collections.fleetfix.hba.plugins.module_utils.capture_readiness import capture_readiness
from ansible_collections.fleetfix.hba.plugins.module_utils.crash_dumps import crash_dir_time, is_dmesg_file
from ansible_collections.fleetfix.hba.plugins.module_utils.initramfs_image import (
    module_builds,
    tool_decompressor,
)
from ansible_collections.fleetfix.hba.plugins.module_utils.mountinfo import (
    fstypes,
    parse_mountinfo,
    root_mount,
)
from ansible_collections.fleetfix.hba.plugins.module_utils.netconsole import (
    TARGET_ATTRS,
    TARGETS_DIR,
    parse_netconsole_param,
    read_target_attrs,
)
from ansible_collections.fleetfix.hba.plugins.module_utils.next_boot import (
    decompress_module,
    module_path,
    next_kernel,
    parse_modinfo,
)
from ansible_collections.fleetfix.hba.plugins.module_utils.panic_settings import (
    SYSCTL_CONF,
    SYSCTL_DIRS,
    configured,
    sysctl_files,
)
from ansible_collections.fleetfix.hba.plugins.module_utils.secure_boot import (
    EFI_SECURE_BOOT,
    LOCKDOWN,
    efivar_secure_boot,
    enforcement,
    lockdown_mode,
    secure_boot_state,
)
from ansible_collections.fleetfix.hba.plugins.module_utils.write_safety import write_safety

DOCUMENTATION = r"""
module: fleetfix_facts
short_description: Read kernel, driver, crash-capture, disk and schedule facts in one call
description:
  - Reads /proc/modules with taint letters, /sys/module/*/version and srcversion, the kernel command line,
    kexec crash memory, the kdump service and its dump target, netconsole targets and their persistent
    configuration, block devices with the driver behind each, cron jobs and systemd timers, and crash dumps.
  - Judges two safety rules once, for every reader of these facts (roles, playbooks, fleetfix).
    Crash-capture readiness with the reason for each check is C(crash_capture.readiness); whether a
    workload may write to a block device, and why not, is C(block_devices[].write_safety).
  - Never changes the host. A surface that cannot be read is listed in C(errors); it never fails the module.
  - An ssh or NFS dump target is probed on a live host (docs/facts.md, C(crash_capture.dump_target)). Over
    ssh in batch mode with the kdump key, one file is created and removed in the dump path on the server; a
    mounted read-write NFS export gets the same probe; an unmounted one is mounted as kdump mounts it, in a
    mount namespace of the probe's own (never visible on the host), for the same probe.
  - The returned dictionary is described in docs/facts.md of fleetfix.
  - The collection's action plugin of the same name sends the read to the host's Python without AnsiballZ
    where pipelining is on, in one round trip and writing nothing on the host; elsewhere, or with the host
    variable C(fleetfix_facts_transport=module), this module runs as any module does, with the same result.
options:
  crash_dir:
    description:
      - Directory holding kdump crash dumps.
      - Default is the local dump directory of the kdump configuration, else /var/crash.
    type: path
  max_crash_dumps:
    description: Newest crash dumps to list; C(crash_dumps_total) counts them all.
    type: int
    default: 20
  root:
    description:
      - Prefix for every path read, for testing against a captured directory tree.
      - When not C(/), os.uname() is not used, systemctl is asked with C(--root) for is-enabled and
        never for is-active, and block device images are read from C(ROOT/dev).
    type: path
    default: /
attributes:
  check_mode:
    support: full
author: fleetfix
"""

EXAMPLES = r"""
- name: Read every surface the audit needs
  fleetfix.hba.fleetfix_facts:

- name: Read a captured tree instead of the live host
  fleetfix.hba.fleetfix_facts:
    root: /srv/captures/db01
"""

RETURN = r"""
ansible_facts:
  description: The host facts, once (a registered result reads them as C(result.ansible_facts.fleetfix)).
  returned: always
  type: dict
  contains:
    fleetfix:
      description: Every surface read; see docs/facts.md.
      returned: always
      type: dict
"""

SCHEMA = 2

# Documentation/admin-guide/tainted-kernels.rst: bit n of /proc/sys/kernel/tainted -> letter.
TAINT_LETTERS = "PFSRMBUDAWCIOELKXTNJ"

UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
MODPROBE_DIRS = (
    "/etc/modprobe.d",
    "/run/modprobe.d",
    "/usr/local/lib/modprobe.d",
    "/lib/modprobe.d",
    "/usr/lib/modprobe.d",
)
MODULES_LOAD_DIRS = (
    "/etc/modules-load.d",
    "/run/modules-load.d",
    "/usr/local/lib/modules-load.d",
    "/lib/modules-load.d",
    "/usr/lib/modules-load.d",
)
KDUMP_SERVICES = (("kdump-tools", "/etc/default/kdump-tools"), ("kdump", "/etc/kdump.conf"))

# Drivers bound to the disk itself (SCSI upper-level drivers, MMC block): the host adapter sits above them.
UPPER_LEVEL_DRIVERS = frozenset({"sd", "sr", "st", "ses", "ch", "osst", "mmcblk"})
VIRTUAL_DISK_PREFIXES = ("loop", "ram", "zram", "dm-", "md", "sr", "nbd")

CRON_SPECIALS = frozenset(
    {"@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-]+$")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*=")
SKIPPED_CRON_FILE = re.compile(r"^\.|~$|\.(dpkg-[a-z]+|rpmsave|rpmnew|rpmorig|swp)$")
RUN_PARTS_DIR = re.compile(r"\brun-parts\b(?:\s+-\S+)*\s+(/[^\s;|&)}]+)")
STANDARD_JOB_DIRS = ("/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly")
# Debian's run-parts (debianutils) without --lsbsysinit or --regex: run-parts(8).
DEBIAN_RUN_PARTS_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# EL's run-parts (crontabs, a shell script): the names it passes over.
EL_RUN_PARTS_SKIPPED = re.compile(r"^\.|[~,]$|\.(rpmsave|rpmorig|rpmnew|swp|cfsaved)$")
ANACRON_JOB = re.compile(r"^[ \t]*([0-9]+|@[^ \t]+)[ \t]+([0-9]+)[ \t]+([^ \t/]+)[ \t]+([^ \t].*)$")
ANACRON_ENV = re.compile(r"^[ \t]*([^ \t=]+)[ \t]*=(.*)$")
ANACRON_SPOOL = "/var/spool/anacron"
SERIAL_PORT = re.compile(r"^tty[A-Za-z]+[0-9]+$")  # ttyS0, ttyAMA0, ttyUSB0; tty0..tty63 are virtual
GRUB_LINUX_LINE = re.compile(r"^\s*linux(?:efi|16)?\s+\S+(.*)$", re.MULTILINE)
BLS_ENTRIES = "/boot/loader/entries"
PSTORE_ARCHIVE = "/var/lib/systemd/pstore"  # where systemd-pstore moves records at boot
TIMER_MONOTONIC = ("OnActiveSec", "OnBootSec", "OnStartupSec", "OnUnitActiveSec", "OnUnitInactiveSec")

SIGNATURE_HEAD = 8192
SIGNATURE_FULL = 0x10048  # up to the btrfs magic at 64 KiB + 0x40


# --- pure parsers ------------------------------------------------------------------------------------------


def decode_taint(value):
    """Letters of the set taint bits, in bit order; bits beyond the documented table are left out."""
    return [letter for bit, letter in enumerate(TAINT_LETTERS) if value >> bit & 1]


def parse_proc_modules(text):
    """/proc/modules: ``name size refcount deps state address [(taint)]`` (kernel/module/procfs.c).

    Without CONFIG_MODULE_UNLOAD refcount and deps are both ``-``; deps end with a comma; a module that can
    never be unloaded lists ``[permanent],``; the taint field may carry ``+``/``-`` for loading/unloading.
    """
    modules = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or not fields[1].isdigit():
            continue
        name, size, refcount, deps, state = fields[:5]
        marker = next((f for f in fields[5:] if f.startswith("(") and f.endswith(")")), "")
        used_by = [d for d in deps.split(",") if d and d != "-"]
        modules.append(
            {
                "name": name,
                "size": int(size),
                "refcount": int(refcount) if refcount.isdigit() else None,
                "used_by": [d for d in used_by if not d.startswith("[")],
                "permanent": "[permanent]" in used_by,
                "state": state,
                "taint": [c for c in marker if c.isalpha()],
            }
        )
    return modules


def split_kernel_args(text):
    """Kernel-style arguments (/proc/cmdline, modprobe options): ``key[=value]``, double quotes group."""
    args, current, quoted, started = [], [], False, False
    for char in text:
        if char == '"':
            quoted, started = not quoted, True
        elif char.isspace() and not quoted:
            if started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
            started = True
    if started:
        args.append("".join(current))
    return [(arg.partition("=")[0], arg.partition("=")[2] if "=" in arg else None) for arg in args]


def kernel_arg_values(text, key):
    return [value for name, value in split_kernel_args(text) if name == key and value is not None]


def logical_lines(text, comment_chars="#"):
    """Lines with comments and blanks dropped and backslash continuations joined (modprobe.d, kdump.conf)."""
    lines, pending = [], ""
    for raw in text.splitlines():
        line = pending + raw.lstrip() if pending else raw
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        pending = ""
        stripped = line.strip()
        if stripped and stripped[0] not in comment_chars:
            lines.append(stripped)
    return lines


def parse_modprobe_options(text, module):
    """The option strings of ``options <module> ...`` lines of a modprobe.d file."""
    found = []
    for line in logical_lines(text):
        words = line.split(None, 2)
        if len(words) >= 2 and words[0] == "options" and words[1].replace("-", "_") == module:
            found.append(words[2] if len(words) == 3 else "")
    return found


def parse_module_list(text):
    """modules-load.d / /etc/modules: one module per line (Debian's /etc/modules may add arguments)."""
    return [([*line.split(None, 1), ""])[:2] for line in logical_lines(text, "#;")]


def parse_shell_assignments(text):
    """``NAME=value`` lines of a sourced shell file, unquoted; expansions are kept as written."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        if not ENV_ASSIGNMENT.match(line):
            continue
        name, _, rest = line.partition("=")
        try:
            words = shlex.split(rest, comments=True)
        except ValueError:
            continue
        values[name.strip()] = words[0] if words else ""
    return values


def parse_kdump_tools(text, path):
    """Debian/Ubuntu kdump-tools defaults: USE_KDUMP, KDUMP_COREDIR (default /var/crash), SSH, NFS, FTP."""
    values = parse_shell_assignments(text)
    directory = values.get("KDUMP_COREDIR") or "/var/crash"
    use = values.get("USE_KDUMP")
    kind, target = "local", directory
    for key, remote_kind in (("SSH", "ssh"), ("NFS", "nfs"), ("FTP", "ftp")):
        if values.get(key):
            kind, target = remote_kind, values[key]
            break
    return {
        "path": path,
        "kind": kind,
        "target": target,
        "directory": directory,
        "enabled": None if use is None else use.strip() == "1",
        "flavour": "kdump-tools",
        # kdump-config's defaults: the key kdump-config propagate makes, the address as the directory's tag
        "ssh_key": (values.get("SSH_KEY") or DEFAULT_SSH_KEY) if kind == "ssh" else None,
        "host_tag": "hostname" if values.get("HOSTTAG") == "hostname" else "ip",
    }


DEFAULT_SSH_KEY = "/root/.ssh/kdump_id_rsa"  # both kdump-config's and kdumpctl's default
KDUMP_CONF_FILESYSTEMS = ("ext2", "ext3", "ext4", "xfs", "btrfs", "minix", "virtiofs")


def parse_kdump_conf(text, path):
    """EL kdump.conf: one dump target (raw, nfs, ssh or ``<fs type> <device>``) and ``path`` (/var/crash)."""
    directives = {}
    for line in logical_lines(text):
        key, _, value = line.partition(" ")
        directives.setdefault(key, value.split("#", 1)[0].strip())
    directory = directives.get("path") or "/var/crash"
    kind, target = "local", directory
    for key in ("ssh", "nfs", "raw", *KDUMP_CONF_FILESYSTEMS):
        if directives.get(key):
            kind = key if key in ("ssh", "nfs", "raw") else "local"
            target = directives[key]
            break
    return {
        "path": path,
        "kind": kind,
        "target": target,
        "directory": directory,
        "enabled": None,
        "flavour": "kdump.conf",
        "ssh_key": (directives.get("sshkey") or DEFAULT_SSH_KEY) if kind == "ssh" else None,
        "host_tag": "ip",  # EL names a remote dump directory by the address kdump sends from
    }


def parse_crontab(text, source, has_user_field):
    """Jobs of one crontab. System crontabs carry a user field; a user crontab's user is its file name."""
    jobs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ENV_ASSIGNMENT.match(line):
            continue
        width = 1 if line.startswith("@") else 5
        parts = line.split(None, width + (1 if has_user_field else 0))
        if len(parts) < width + (2 if has_user_field else 1):
            continue
        schedule = parts[:width]
        valid = schedule[0] in CRON_SPECIALS if width == 1 else all(CRON_FIELD.match(f) for f in schedule)
        if not valid:
            continue
        user = parts[width] if has_user_field else None
        jobs.append(
            {
                "kind": "cron",
                "source": source,
                "user": user,
                "command": parts[-1],
                "schedule": " ".join(schedule),
                "unit": None,
                "on_calendar": [],
                "monotonic": [],
                "enabled": None,
            }
        )
    return jobs


def parse_anacrontab(text):
    """anacrontab(5): jobs ``period delay job-identifier command`` and the variables anacron itself reads.

    >>> parse_anacrontab("RANDOM_DELAY=45\\n1 5 cron.daily nice run-parts /etc/cron.daily")["jobs"][0]
    {'period': '1', 'delay': '5', 'identifier': 'cron.daily', 'command': 'nice run-parts /etc/cron.daily'}
    """
    variables, jobs = {}, []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        job = ANACRON_JOB.match(line)
        if job:
            period, delay, identifier, command = job.groups()
            jobs.append({"period": period, "delay": delay, "identifier": identifier, "command": command})
            continue
        assignment = ANACRON_ENV.match(line)
        if assignment and assignment.group(1) in ("RANDOM_DELAY", "START_HOURS_RANGE"):
            variables[assignment.group(1)] = assignment.group(2).strip()
    return {
        "random_delay": variables.get("RANDOM_DELAY"),
        "start_hours_range": variables.get("START_HOURS_RANGE"),
        "jobs": jobs,
    }


def run_parts_directories(commands):
    """The directories ``run-parts`` is given in these commands, with the four standard ones."""
    found = {m.group(1).rstrip("/") for c in commands for m in RUN_PARTS_DIR.finditer(c or "")}
    return sorted(found | set(STANDARD_JOB_DIRS))


def run_parts_selects(name, flavour, allowed, denied):
    """Whether ``flavour``'s run-parts runs a file of this name (its executable bit is checked apart)."""
    if flavour == "debianutils":
        return bool(DEBIAN_RUN_PARTS_NAME.match(name))
    if EL_RUN_PARTS_SKIPPED.search(name) or name in ("jobs.allow", "jobs.deny") or name in denied:
        return False
    return allowed is None or name in allowed


def parse_consoles(args):
    """``console=`` values of a kernel command line, in order, as ``{port, options}``.

    >>> parse_consoles("ro console=tty0 console=ttyS0,115200n8")
    [{'port': 'tty0', 'options': None}, {'port': 'ttyS0', 'options': '115200n8'}]
    """
    consoles = []
    for value in kernel_arg_values(args or "", "console"):
        port, _, options = value.partition(",")
        consoles.append({"port": port, "options": options or None})
    return consoles


def grub_default_args(text):
    """The arguments of grub.cfg's first ``linux`` line (the default entry as update-grub writes it)."""
    found = GRUB_LINUX_LINE.search(text or "")
    return found.group(1).strip() if found else None


def bls_options(text):
    """``options`` of a Boot Loader Specification entry (what grubby edits on EL)."""
    for line in (text or "").splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "options":
            return value.strip()
    return None


def parse_unit_file(text):
    """systemd unit file: {section: [(key, value), ...]} in file order, continuations joined."""
    sections, current = {}, None
    for line in logical_lines(text, "#;"):
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif current is not None and "=" in line:
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


def parse_timer_unit(text):
    """[Timer] of a .timer (drop-ins appended): Unit=, OnCalendar= list, monotonic triggers.

    An empty assignment resets a list setting, as systemd does for drop-ins.
    """
    unit, calendar, monotonic = None, [], []
    for key, value in parse_unit_file(text).get("Timer", []):
        if key == "Unit":
            unit = value or None
        elif key == "OnCalendar":
            calendar = [*calendar, value] if value else []
        elif key in TIMER_MONOTONIC:
            monotonic = [m for m in monotonic if not m.startswith(key + "=")] + (
                [f"{key}={value}"] if value else []
            )
    return {"unit": unit, "on_calendar": calendar, "monotonic": monotonic}


def parse_service_unit(text):
    """[Service] ExecStart= commands (prefixes like ``-`` and ``+`` dropped) and User= (default root)."""
    commands, user = [], None
    for key, value in parse_unit_file(text).get("Service", []):
        if key == "ExecStart":
            commands = [*commands, value.lstrip("-@:+!")] if value else []
        elif key == "User":
            user = value or None
    return {"command": " ; ".join(commands) or None, "user": user or "root"}


def modprobes_at_start(text, module):
    """True if a service unit's ExecStart= runs ``modprobe <module>`` (``modprobe -r`` does not count)."""
    for key, value in parse_unit_file(text).get("Service", []):
        words = value.lstrip("-@:+!").split() if key == "ExecStart" else []
        if not words or os.path.basename(words[0]) != "modprobe" or {"-r", "--remove"} & set(words):
            continue
        names = [w for w in words[1:] if not w.startswith("-")]
        if names and names[0].replace("-", "_") == module:
            return True
    return False


def _ext_flavour(data):
    compat, incompat = struct.unpack_from("<II", data, 1024 + 0x5C)
    if incompat & 0x40:  # EXT4_FEATURE_INCOMPAT_EXTENTS
        return "ext4"
    return "ext3" if compat & 0x4 else "ext2"  # EXT3_FEATURE_COMPAT_HAS_JOURNAL


def detect_signature(data):
    """(partition_table, fstype) from a disk's first bytes: only what fits in ``data`` is checked.

    Partition tables: GPT's "EFI PART" header at LBA 1 (512 or 4096-byte sectors), else an MBR's 0x55AA.
    Signatures: xfs, LUKS, ext2/3/4, LVM2 label, md 1.1/1.2 superblock, swap (4-64 KiB pages), btrfs.
    """

    def at(offset, magic):
        return data[offset : offset + len(magic)] == magic

    fstype = None
    if at(0, b"XFSB"):
        fstype = "xfs"
    elif at(0, b"LUKS\xba\xbe"):
        fstype = "crypto_LUKS"
    elif at(1080, b"\x53\xef") and len(data) >= 1024 + 0x64:
        fstype = _ext_flavour(data)
    elif any(at(s * 512, b"LABELONE") and at(s * 512 + 24, b"LVM2 001") for s in range(4)):
        fstype = "LVM2_member"
    elif at(0, b"\xfc\x4e\x2b\xa9") or at(4096, b"\xfc\x4e\x2b\xa9"):
        fstype = "linux_raid_member"
    elif any(
        at(page - 10, b"SWAPSPACE2") or at(page - 10, b"SWAP-SPACE") for page in (4096, 8192, 16384, 65536)
    ):
        fstype = "swap"
    elif at(0x10040, b"_BHRfS_M"):
        fstype = "btrfs"
    if at(512, b"EFI PART") or at(4096, b"EFI PART"):
        table = "gpt"
    elif at(510, b"\x55\xaa"):
        table = "dos"
    else:
        table = None
    return table, fstype


def parse_os_release(text):
    values = parse_shell_assignments(text)
    os_id = values.get("ID") or None
    ids = [os_id or "", *values.get("ID_LIKE", "").split()]
    family = os_id
    for name, members in (
        ("debian", ("debian", "ubuntu")),
        ("redhat", ("rhel", "fedora", "centos")),
        ("suse", ("suse", "sles", "opensuse")),
    ):
        if any(i in members for i in ids):
            family = name
            break
    return {
        "id": os_id,
        "version_id": values.get("VERSION_ID") or None,
        "id_like": values.get("ID_LIKE", "").split(),
        "family": family,
    }


def systemctl_enabled(state):
    """``systemctl is-enabled`` output -> True/False, None when it is not a state this module knows."""
    if state in ("enabled", "enabled-runtime", "alias", "generated"):
        return True
    if state in (
        "disabled",
        "masked",
        "masked-runtime",
        "linked",
        "linked-runtime",
        "indirect",
        "static",
        "not-found",
        "bad",
    ):
        return False
    return None


def systemctl_active(state):
    if state in ("active", "reloading", "activating", "refreshing"):
        return True
    if state in ("inactive", "failed", "deactivating", "maintenance"):
        return False
    return None


# --- reading through the root prefix ----------------------------------------------------------------------


class Host:
    """The target's files seen under ``root``: absent files are normal (None, []), other failures errors."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.errors = []

    def real(self, path):
        return path if self.root == "/" else self.root + path

    def target(self, real_path):
        """The target's own view of a path found under root."""
        if self.root == "/":
            return real_path
        return real_path[len(self.root) :] or "/"

    def fail(self, surface, error):
        self.errors.append({"surface": surface, "error": getattr(error, "strerror", None) or str(error)})

    def text(self, path):
        try:
            with open(self.real(path), encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            self.fail(path, error)
            return None

    def value(self, path):
        text = self.text(path)
        return None if text is None else text.strip()

    def integer(self, path):
        value = self.value(path)
        try:
            return None if value is None else int(value)
        except ValueError as error:
            self.fail(path, error)
            return None

    def listdir(self, path):
        try:
            return sorted(os.listdir(self.real(path)))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as error:
            self.fail(path, error)
            return []

    def exists(self, path):
        return os.path.exists(self.real(path))

    def lexists(self, path):
        return os.path.lexists(self.real(path))

    def isdir(self, path):
        return os.path.isdir(self.real(path))

    def read_bytes(self, path, size, offset=0):
        """Read-only look at a device's first bytes; never writes, never keeps the descriptor."""
        fd = os.open(self.real(path), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            return os.pread(fd, size, offset)
        finally:
            os.close(fd)


# --- surfaces ----------------------------------------------------------------------------------------------


def read_identity(host):
    release = host.value("/proc/sys/kernel/osrelease")
    version = host.value("/proc/sys/kernel/version")
    hostname = host.value("/proc/sys/kernel/hostname")
    machine = None
    if host.root == "/":
        uname = os.uname()
        release, version = release or uname.release, version or uname.version
        hostname, machine = hostname or uname.nodename, uname.machine
    os_release = host.text("/etc/os-release") or host.text("/usr/lib/os-release")
    uptime = (host.value("/proc/uptime") or "").split()
    tainted = host.integer("/proc/sys/kernel/tainted")
    return {
        "hostname": hostname,
        "kernel": {
            "release": release,
            "version": version,
            "machine": machine,
            # Ubuntu kernels only: "Ubuntu 5.15.0-79.86-generic 5.15.111", the package and its upstream base.
            "version_signature": host.value("/proc/version_signature"),
        },
        "os": parse_os_release(os_release or ""),
        "boot_id": host.value("/proc/sys/kernel/random/boot_id"),
        "uptime_seconds": float(uptime[0]) if uptime and re.match(r"^\d+(\.\d+)?$", uptime[0]) else None,
        "tainted": None if tainted is None else {"value": tainted, "letters": decode_taint(tainted)},
    }


def read_modules(host):
    text = host.text("/proc/modules")
    if text is None:
        return [], host.lexists("/proc/modules")
    modules = parse_proc_modules(text)
    for module in modules:
        base = "/sys/module/" + module["name"]
        module["version"] = host.value(base + "/version")
        module["srcversion"] = host.value(base + "/srcversion")
        module["holds_boot_disk"] = False
    return modules, True


def _walk_to_adapter(host, device_path):
    """From a disk's sysfs device up to the first ancestor bound to a driver other than the disk's own."""
    devices_root = host.real("/sys/devices")
    path, scsi_host = device_path, None
    while path.startswith(devices_root + "/"):
        base = os.path.basename(path)
        if scsi_host is None and re.match(r"^host\d+$", base):
            scsi_host = base
        link = os.path.join(path, "driver")
        if os.path.islink(link):
            driver = os.path.basename(os.readlink(link))
            if driver not in UPPER_LEVEL_DRIVERS:
                module_link = os.path.join(link, "module")
                module = (
                    os.path.basename(os.path.realpath(module_link)) if os.path.exists(module_link) else None
                )
                return driver, module, scsi_host
        path = os.path.dirname(path)
    return None, None, scsi_host


def _adapter(host, name):
    device = host.real(f"/sys/block/{name}/device")
    if not os.path.exists(device):
        return None, None, None
    driver, module, scsi_host = _walk_to_adapter(host, os.path.realpath(device))
    if driver is None:
        # NVMe native multipath: the namespace head hangs off a subsystem that links its controllers.
        for entry in host.listdir(f"/sys/block/{name}/device/"):
            if re.match(r"^nvme\d+$", entry):
                return _walk_to_adapter(host, os.path.realpath(os.path.join(device, entry)))
    return driver, module, scsi_host


def _disk_data(host, name, partitions):
    node = "/dev/" + name.replace("!", "/")
    try:
        data = host.read_bytes(node, SIGNATURE_HEAD)
        table, fstype = detect_signature(data)
        if table is None and fstype is None and len(data) == SIGNATURE_HEAD:
            data += host.read_bytes(node, SIGNATURE_FULL - SIGNATURE_HEAD, SIGNATURE_HEAD)
            table, fstype = detect_signature(data)
    except OSError as error:
        if not isinstance(error, FileNotFoundError) and error.errno != errno.ENOMEDIUM:  # empty optical drive
            host.fail(node, error)
        return None, None, True if partitions else None
    return table, fstype, bool(table or fstype or partitions)


def read_block_devices(host, mounts):
    """Disks under /sys/block with their adapter driver, partitions, holders, data, and the boot disk (the
    one under ``/`` in ``mounts``, /proc/self/mountinfo parsed)."""
    names = host.listdir("/sys/block")
    owner, slaves, disks = {}, {}, []
    for name in names:
        base = "/sys/block/" + name
        owner[name] = name
        owner[host.value(base + "/dev")] = name
        slaves[name] = host.listdir(base + "/slaves")
        partitions = [p for p in host.listdir(base) if host.exists(f"{base}/{p}/partition")]
        holders = set(host.listdir(base + "/holders"))
        for part in partitions:
            owner[part] = name
            owner[host.value(f"{base}/{part}/dev")] = name
            holders.update(host.listdir(f"{base}/{part}/holders"))
        driver, module, scsi_host = _adapter(host, name)
        if driver is None and (name.startswith(VIRTUAL_DISK_PREFIXES) or not host.exists(base + "/device")):
            continue
        size = host.integer(base + "/size")
        rotational = host.value(base + "/queue/rotational")
        table, fstype, has_data = _disk_data(host, name, partitions)
        disks.append(
            {
                "name": name,
                "driver": driver,
                "module": module,
                "scsi_host": scsi_host,
                "proc_name": host.value(f"/sys/class/scsi_host/{scsi_host}/proc_name") if scsi_host else None,
                "size_bytes": None if size is None else size * 512,
                "rotational": None if rotational is None else rotational == "1",
                "partitions": partitions,
                "holders": sorted(holders),
                "partition_table": table,
                "fstype": fstype,
                "has_data": has_data,
                "boot_disk": False,
            }
        )
    boot = _boot_disks(host, owner, slaves, mounts)
    for disk in disks:
        disk["boot_disk"] = disk["name"] in boot
        disk["write_safety"] = write_safety(disk)
    return disks


def _boot_disks(host, owner, slaves, mounts):
    """Physical disks under the root filesystem: through partitions, device-mapper and md slaves."""
    devnum, source = root_mount(mounts)
    start = owner.get(devnum)
    if start is None and source and source.startswith("/dev/"):
        start = owner.get(os.path.basename(os.path.realpath(host.real(source))))
    found, pending, seen = set(), [start] if start else [], set()
    while pending:
        name = owner.get(pending.pop(), None)
        if name is None or name in seen:
            continue
        seen.add(name)
        if slaves.get(name):
            pending.extend(slaves[name])
        else:
            found.add(name)
    return found


def _systemctl(module, host, verb, unit):
    """One ``systemctl is-enabled|is-active`` answer, or None with an errors entry."""
    binary = module.get_bin_path("systemctl")
    if binary is None:
        host.fail("systemctl", "systemctl not found")
        return None
    args = [binary] + ([] if host.root == "/" else ["--root=" + host.root]) + [verb, unit]
    _, out, err = module.run_command(args)
    state = out.strip() or None
    if state is None:
        host.fail(f"systemctl {verb} {unit}", err.strip() or "no answer")
    return state


def unit_states(module, host, units):
    """{unit: (is-enabled word, is-active word)}: one ``systemctl show`` for all of ``units`` on a live host
    (one process however many units are asked about); on a captured tree (``root``) only ``--root
    is-enabled`` can answer, one unit at a time."""
    if not units:
        return {}
    if host.root != "/":
        return {unit: (_systemctl(module, host, "is-enabled", unit), None) for unit in units}
    binary = module.get_bin_path("systemctl")
    if binary is None:
        host.fail("systemctl", "systemctl not found")
        return {unit: (None, None) for unit in units}
    # One block of properties per unit, in the order asked, separated by a blank line; Id is never empty,
    # so no unit's block can vanish and shift the others.
    _, out, err = module.run_command([binary, "show", "--property=Id,UnitFileState,ActiveState", *units])
    blocks = [
        dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        for block in re.split(r"\n[ \t]*\n", out.strip())
    ]
    if len(blocks) != len(units):
        blocks = [{} for _ in units]
    states = {}
    for index, unit in enumerate(units):
        properties = blocks[index]
        enabled, active = properties.get("UnitFileState") or None, properties.get("ActiveState") or None
        if enabled is None or active is None:
            host.fail(f"systemctl show {unit}", err.strip() or "no UnitFileState/ActiveState")
        states[unit] = (enabled, active)
    return states


def _service_installed(host, name):
    unit = name + ".service"
    return any(host.lexists(d + "/" + unit) for d in UNIT_DIRS) or host.exists("/etc/init.d/" + name)


def _installed_kdump(host):
    """(service, configuration file) of the installed kdump service, kdump-tools before kdump; or None."""
    return next((entry for entry in KDUMP_SERVICES if _service_installed(host, entry[0])), None)


def units_asked(host):
    """The units whose state systemd is asked for: the installed kdump service and systemd-pstore's."""
    kdump = _installed_kdump(host)
    units = [kdump[0] + ".service"] if kdump else []
    return units + (["systemd-pstore.service"] if _service_installed(host, "systemd-pstore") else [])


def read_kdump(host, states):
    """The installed kdump service (kdump-tools, else kdump) and the dump target of its configuration;
    ``states`` is what ``unit_states`` said of it.

    With no service installed, whichever configuration file exists still tells where dumps would go.
    """
    installed = _installed_kdump(host)
    service = None
    if installed:
        name = installed[0]
        enabled_state, active_state = states.get(name + ".service", (None, None))
        service = {
            "name": name,
            "installed": True,
            "enabled": systemctl_enabled(enabled_state),
            "active": systemctl_active(active_state),
            "enabled_state": enabled_state,
            "active_state": active_state,
        }
    for name, config_path in [installed] if installed else KDUMP_SERVICES:
        text = host.text(config_path)
        if text is not None:
            parse = parse_kdump_tools if name == "kdump-tools" else parse_kdump_conf
            return service, parse(text, config_path)
    return service, None


def read_netconsole(host, modules, cmdline):
    targets = []
    for name in host.listdir(TARGETS_DIR):
        base = TARGETS_DIR + "/" + name
        if not host.isdir(base):
            continue
        attrs = read_target_attrs(host.value, base)
        target = {"name": name}
        for attr in TARGET_ATTRS:
            value = attrs.get(attr)
            if attr in ("enabled", "extended", "release"):
                target[attr] = None if value is None else value == "1"
            elif attr in ("local_port", "remote_port"):
                target[attr] = int(value) if value and value.isdigit() else None
            else:
                target[attr] = value or None
        targets.append(target)

    persistent_targets, modprobe, modprobe_file = [], None, None

    def add(value, origin, surface):
        try:
            persistent_targets.extend(parse_netconsole_param(value, origin))
        except ValueError as error:
            host.fail(surface, error)

    for directory in MODPROBE_DIRS:
        for filename in (f for f in host.listdir(directory) if f.endswith(".conf")):
            path = directory + "/" + filename
            for options in parse_modprobe_options(host.text(path) or "", "netconsole"):
                if modprobe is None:
                    modprobe, modprobe_file = "options netconsole " + options, path
                    for value in kernel_arg_values(options, "netconsole"):
                        add(value, "modprobe", path)
    load_at_boot = None
    load_files = [d + "/" + f for d in MODULES_LOAD_DIRS for f in host.listdir(d) if f.endswith(".conf")]
    for path in [*load_files, "/etc/modules"]:
        for name, args in parse_module_list(host.text(path) or ""):
            if name.replace("-", "_") == "netconsole":
                load_at_boot = load_at_boot or path
                for value in kernel_arg_values(args, "netconsole"):
                    add(value, "modules", path)
    for unit in _services_enabled_at_boot(host):
        path, text = _unit_text(host, unit)
        if load_at_boot is None and path and modprobes_at_start(text, "netconsole"):
            load_at_boot = path
    on_cmdline = kernel_arg_values(cmdline or "", "netconsole")
    for value in on_cmdline:
        add(value, "cmdline", "/proc/cmdline")
    return {
        "module_loaded": any(m["name"] == "netconsole" for m in modules)
        or host.isdir("/sys/module/netconsole"),
        "targets": targets,
        "persistent": {
            "modprobe": modprobe,
            "modprobe_file": modprobe_file,
            "cmdline": ";".join(on_cmdline) or None,
            "load_at_boot": load_at_boot,
            "targets": persistent_targets,
        },
    }


def read_next_boot_args(host):
    """The next boot's command line: grub.cfg's default entry, else the BLS entries (all of them agreeing)."""
    args = grub_default_args(host.text("/boot/grub/grub.cfg") or host.text("/boot/grub2/grub.cfg"))
    if args is not None and "$kernelopts" not in args:
        return args
    entries = [
        options
        for name in sorted(host.listdir(BLS_ENTRIES))
        if name.endswith(".conf")
        and (options := bls_options(host.text(BLS_ENTRIES + "/" + name))) is not None
    ]
    if entries and all(parse_consoles(e) == parse_consoles(entries[0]) for e in entries):
        return entries[0]
    return None


def read_serial_console(host, cmdline):
    """Consoles on the running command line, the kernel's active consoles, and the next boot's."""
    active = host.value("/sys/class/tty/console/active")
    next_boot = read_next_boot_args(host)
    return {
        "consoles": parse_consoles(cmdline),
        "active": None if active is None else active.split(),
        "next_boot": None if next_boot is None else parse_consoles(next_boot),
    }


def read_pstore(host, states, mounts):
    """pstore: the filesystem mounted, the backend registered, systemd-pstore enabled (``states``: what
    ``unit_states`` said of it), records waiting; ``mounts``: /proc/self/mountinfo parsed."""
    mounted = fstypes(mounts)
    backend = host.value("/sys/module/pstore/parameters/backend")
    installed = _service_installed(host, "systemd-pstore")
    enabled_state = states.get("systemd-pstore.service", (None, None))[0] if installed else None
    return {
        "mounted": mounted.get("/sys/fs/pstore") == "pstore",
        "backend": None if backend in (None, "", "(null)") else backend,
        "service_installed": installed,
        "service_enabled": systemctl_enabled(enabled_state) if installed else False,
        "records": sorted(host.listdir("/sys/fs/pstore")),
        "archived": sorted(host.listdir(PSTORE_ARCHIVE)),
        "files": read_pstore_files(host),
        # Y: the panic notifiers (pstore's kmsg dump) run before kdump's kexec; N: kdump takes the panic first
        "crash_kexec_post_notifiers": _yes_no(
            host.value("/sys/module/kernel/parameters/crash_kexec_post_notifiers")
        ),
    }


PSTORE_FILES_MAX = 2000  # a pstore holds kilobytes; an archive this large is left to the operator


def read_pstore_files(host):
    """Every file of /sys/fs/pstore and of systemd-pstore's archive (two levels: ``<seconds>/<count>``), with
    its modification time: ``collect`` fetches them and keeps each file's time, the record's time."""
    found = []
    for origin, top, depth in (("live", "/sys/fs/pstore", 0), ("archive", PSTORE_ARCHIVE, 2)):
        pending = [("", 0)]
        while pending and len(found) < PSTORE_FILES_MAX:
            relative, level = pending.pop()
            directory = top + ("/" + relative if relative else "")
            for name in host.listdir(directory):
                path = directory + "/" + name
                inner = relative + "/" + name if relative else name
                try:
                    info = os.lstat(host.real(path))
                except OSError as error:
                    host.fail(path, error)
                    continue
                if stat.S_ISDIR(info.st_mode) and level < depth:
                    pending.append((inner, level + 1))
                elif stat.S_ISREG(info.st_mode):
                    found.append(
                        {"origin": origin, "path": path, "relative": inner, "mtime": int(info.st_mtime),
                         "size": info.st_size}
                    )  # fmt: skip
    return sorted(found, key=lambda f: (f["origin"], f["relative"]))[:PSTORE_FILES_MAX]


def _yes_no(value):
    return {"Y": True, "N": False}.get(value or "")


def read_panic(host):
    """Live kernel.panic_on_oops, hung_task_panic and softlockup_panic, and what sysctl.d sets at boot."""
    listing = {directory: host.listdir(directory) for directory in SYSCTL_DIRS}
    listing[SYSCTL_CONF] = host.exists(SYSCTL_CONF)
    files = [(path, host.text(path) or "") for path in sysctl_files(listing)]
    return {
        "panic_on_oops": host.integer("/proc/sys/kernel/panic_on_oops"),
        "hung_task_panic": host.integer("/proc/sys/kernel/hung_task_panic"),
        "softlockup_panic": host.integer("/proc/sys/kernel/softlockup_panic"),
        "configured": configured(files),
    }


def _source_address(server):
    """The local address the kernel picks to reach ``server`` (a UDP connect sends nothing)."""
    try:
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((server, 9))
            return probe.getsockname()[0]
    except OSError:
        return None


def _tag_addresses(module, host, config, server):
    """The addresses that may name this host's dump directories: for kdump-tools with ``HOSTTAG=ip``
    every IPv4 address of its up interfaces but loopback (``ip -4 -o addr show up``; the capture boot takes
    the last one it lists); else, and where ip cannot answer, the address the kernel sends from to the
    server. A captured tree has none."""
    if host.root != "/":
        return []
    if config.get("flavour") == "kdump-tools" and config.get("host_tag") != "hostname":
        ip = module.get_bin_path("ip")
        if ip is not None:
            rc, out, _err = module.run_command([ip, "-4", "-o", "addr", "show", "up"])
            addresses = dump_target.host_addresses(dump_target.ipv4_addresses(out)) if rc == 0 else []
            if addresses:
                return addresses
    address = _source_address(server) if server else None
    return [address] if address else []


def _hostname(host):
    return os.uname().nodename if host.root == "/" else (host.value("/etc/hostname") or None)


def _probe_ssh(module, config, found):
    parts = dump_target.split_ssh(config["target"])
    key = config.get("ssh_key") or ""
    if parts is None or not dump_target.PATH.match(key) or found["directory"] is None:
        return dump_target.not_probed("ssh", config["target"], "not probed: target, key or path unreadable")
    ssh = module.get_bin_path("ssh")
    if ssh is None:
        return dump_target.not_probed("ssh", config["target"], "unreachable: no ssh client on this host")
    argv = dump_target.ssh_probe_argv(
        ssh, key, config["target"], found["directory"], module.get_bin_path("timeout")
    )
    rc, _out, err = module.run_command(argv)
    return dump_target.ssh_verdict(config["target"], found["directory"], rc, err)


def _probe_nfs(module, host, config, server, export, mounts):
    """Mounted here: a file created and removed in the dump directory (never on a read-only mount). Not
    mounted: a TCP connection to the NFS port, then the export mounted as kdump mounts it, in a mount
    namespace of the probe's own, and a file created and removed in the dump directory
    (dump_target.nfs_probe_argv); the port alone where that probe cannot run."""
    inside = config.get("directory") if config.get("flavour") == "kdump.conf" else "/"
    mount = dump_target.nfs_mount(mounts, server, export)
    if mount is not None:
        write_error = None
        if "ro" not in mount["options"]:
            directory = mount["mount_point"].rstrip("/") + "/" + (inside or "/").strip("/")
            name = directory.rstrip("/") + "/" + dump_target.PROBE_PREFIX + os.urandom(6).hex()
            try:
                os.close(os.open(host.real(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                os.unlink(host.real(name))
            except OSError as error:
                write_error = error.strerror or str(error)
        return dump_target.nfs_verdict(config["target"], mount, write_error, None)
    try:
        socket.create_connection((server, dump_target.NFS_PORT), dump_target.SSH_CONNECT_TIMEOUT).close()
    except OSError as error:
        port_error = f"port {dump_target.NFS_PORT}: {error.strerror or error}"
        return dump_target.nfs_verdict(config["target"], None, None, port_error)
    if module.get_bin_path("mount.nfs") is None:
        return dump_target.no_nfs_client(config["target"])
    unshare = module.get_bin_path("unshare")
    if unshare is None or os.geteuid() != 0:
        why = "no unshare here" if unshare is None else "the mount probe needs root"
        return dump_target.nfs_verdict(config["target"], None, None, None, why)
    argv = dump_target.nfs_probe_argv(unshare, config["target"], inside, module.get_bin_path("timeout"))
    rc, _out, err = module.run_command(argv)
    verdict = dump_target.nfs_mount_verdict(config["target"], inside or "/", rc, err)
    if verdict is None:
        why = f"the mount probe could not run: {' '.join(err.split())[:200] or f'exit status {rc}'}"
        return dump_target.nfs_verdict(config["target"], None, None, None, why)
    return verdict


def read_dump_target(module, host, config, mounts):
    """A remote dump target (ssh, nfs): the server, the directory there, the names of this host's dump
    directories, and whether the host can write there now (probed on a live host only); ``mounts`` is
    /proc/self/mountinfo parsed."""
    if not config or config["kind"] not in ("ssh", "nfs"):
        return None
    parts = (dump_target.split_ssh if config["kind"] == "ssh" else dump_target.split_nfs)(config["target"])
    server = None if parts is None else parts[0 if config["kind"] == "nfs" else 1]
    addresses = _tag_addresses(module, host, config, server)
    tags = dump_target.host_tags(config, addresses, _hostname(host))
    found = {
        "kind": config["kind"],
        "target": config["target"],
        "server": server,
        "directory": dump_target.server_directory(config),
        "directory_pattern": dump_target.directory_pattern(config, tags),
        "tags": tags,
        "naming_note": dump_target.naming_note(config, addresses),
        "probed": host.root == "/" and server is not None,
    }
    if not found["probed"]:
        return dict(found, ok=None, reachable=None, writable=None, detail="not probed")
    if config["kind"] == "ssh":
        return dict(found, **_probe_ssh(module, config, found))
    return dict(found, **_probe_nfs(module, host, config, server, parts[1], mounts))


def read_crash_capture(module, host, modules, mounts):
    cmdline = host.value("/proc/cmdline")
    loaded = host.value("/sys/kernel/kexec_crash_loaded")
    states = unit_states(module, host, units_asked(host))
    service, config = read_kdump(host, states)
    capture = {
        "cmdline": cmdline,
        "crashkernel": " ".join(kernel_arg_values(cmdline or "", "crashkernel")) or None,
        "kexec_crash_size": host.integer("/sys/kernel/kexec_crash_size"),
        "kexec_crash_loaded": None if loaded is None else loaded == "1",
        "kdump_service": service,
        "kdump_config": config,
        "dump_target": read_dump_target(module, host, config, mounts),
        "netconsole": read_netconsole(host, modules, cmdline),
        "serial_console": read_serial_console(host, cmdline),
        "pstore": read_pstore(host, states, mounts),
        "panic": read_panic(host),
    }
    capture["readiness"] = capture_readiness(capture)
    return capture


def _unit_path(host, filename):
    """First unit directory holding ``filename`` (systemd's precedence); None if absent or masked."""
    for directory in UNIT_DIRS:
        path = directory + "/" + filename
        if host.lexists(path):
            real = host.real(path)
            if os.path.islink(real) and os.readlink(real) == "/dev/null":
                return None
            return path
    return None


def _services_enabled_at_boot(host):
    """Service units some target wants (the ``*.wants/`` links ``systemctl enable`` makes)."""
    names = set()
    for directory in UNIT_DIRS:
        for wants in (w for w in host.listdir(directory) if w.endswith(".wants")):
            names.update(n for n in host.listdir(f"{directory}/{wants}") if n.endswith(".service"))
    return sorted(names)


def _unit_text(host, filename):
    path = _unit_path(host, filename)
    if path is None:
        return None, None
    dropins = {}
    for directory in UNIT_DIRS:
        for conf in host.listdir(f"{directory}/{filename}.d"):
            if conf.endswith(".conf"):
                dropins.setdefault(conf, f"{directory}/{filename}.d/{conf}")
    texts = [host.text(path) or ""] + [host.text(dropins[c]) or "" for c in sorted(dropins)]
    return path, "\n".join(texts)


def read_timers(host):
    names = sorted({f for d in UNIT_DIRS for f in host.listdir(d) if f.endswith(".timer") and "@." not in f})
    jobs = []
    for name in names:
        path, text = _unit_text(host, name)
        if path is None:
            continue
        timer = parse_timer_unit(text)
        unit = timer["unit"] or name[: -len(".timer")] + ".service"
        _, service_text = _unit_text(host, unit)
        service = parse_service_unit(service_text or "")
        jobs.append(
            {
                "kind": "timer",
                "source": path,
                "user": service["user"],
                "command": service["command"],
                "schedule": None,
                "unit": unit,
                "on_calendar": timer["on_calendar"],
                "monotonic": timer["monotonic"],
                "enabled": any(host.lexists(f"{d}/timers.target.wants/{name}") for d in UNIT_DIRS),
            }
        )
    return jobs


def read_scheduled_jobs(host):
    jobs = parse_crontab(host.text("/etc/crontab") or "", "/etc/crontab", True)
    for filename in host.listdir("/etc/cron.d"):
        if not SKIPPED_CRON_FILE.search(filename):
            path = "/etc/cron.d/" + filename
            jobs.extend(parse_crontab(host.text(path) or "", path, True))
    for directory in ("/var/spool/cron/crontabs", "/var/spool/cron"):
        for user in host.listdir(directory):
            path = directory + "/" + user
            if host.isdir(path) or SKIPPED_CRON_FILE.search(user):
                continue
            for job in parse_crontab(host.text(path) or "", path, False):
                job["user"] = user
                jobs.append(job)
    return jobs + read_timers(host)


def run_parts_flavour(host):
    """``debianutils`` (an ELF program) or ``crontabs`` (EL's shell script); None without run-parts."""
    for path in ("/usr/bin/run-parts", "/bin/run-parts"):
        try:
            head = host.read_bytes(path, 4)
        except OSError:
            continue
        if head:
            return "crontabs" if head.startswith(b"#!") else "debianutils"
    return None


def _name_list(host, path):
    text = host.text(path)
    return None if text is None else {line.strip() for line in text.splitlines() if line.strip()}


def read_job_directory(host, path, flavour):
    """What run-parts would run in ``path``: executable regular files its name rules accept, in order."""
    allowed, denied = _name_list(host, path + "/jobs.allow"), _name_list(host, path + "/jobs.deny") or set()
    scripts, passed_over = [], []
    for name in sorted(host.listdir(path)):
        try:
            info = os.stat(host.real(path + "/" + name))
        except OSError as error:
            host.fail(path + "/" + name, error)
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        if info.st_mode & 0o111 and run_parts_selects(name, flavour, allowed, denied):
            scripts.append(name)
        else:
            passed_over.append(name)
    return {"path": path, "exists": host.isdir(path), "scripts": scripts, "passed_over": passed_over}


def read_anacron(host):
    """The anacrontab as anacron reads it, each job's last run day, and whether anacron is installed."""
    text = host.text("/etc/anacrontab")
    table = parse_anacrontab(text) if text is not None else None
    for job in table["jobs"] if table else ():
        stamp = host.value(ANACRON_SPOOL + "/" + job["identifier"])
        job["last_run"] = stamp if stamp and re.match(r"^[0-9]{8}$", stamp) else None
    return {"installed": host.exists("/usr/sbin/anacron"), "anacrontab": table}


def read_run_parts(host, jobs, anacron):
    flavour = run_parts_flavour(host)
    commands = [job["command"] for job in jobs if job["kind"] == "cron"]
    commands += [job["command"] for job in (anacron["anacrontab"] or {}).get("jobs", ())]
    return {
        "flavour": flavour,
        "directories": [read_job_directory(host, d, flavour) for d in run_parts_directories(commands)],
    }


def local_dump_directory(config):
    if config and config["kind"] == "local" and config["target"] == config["directory"]:
        return config["directory"]
    return None


def read_crash_dumps(host, crash_dir, limit):
    dumps = []
    for name in host.listdir(crash_dir):
        path = crash_dir.rstrip("/") + "/" + name
        if not host.isdir(path):
            continue
        stamp, source = crash_dir_time(name), "name"
        if stamp is None:
            try:
                stamp, source = datetime.fromtimestamp(os.stat(host.real(path)).st_mtime), "mtime"
            except OSError as error:
                host.fail(path, error)
                continue
        files = host.listdir(path)
        dmesg = next((f for f in files if is_dmesg_file(f)), None)
        dumps.append(
            {
                "path": path,
                "time": stamp.astimezone().isoformat(),
                "time_source": source,
                "has_dmesg": dmesg is not None,
                "dmesg_file": path + "/" + dmesg if dmesg else None,
                "files": files,
            }
        )
    dumps.sort(key=lambda d: datetime.fromisoformat(d["time"]), reverse=True)
    return dumps[:limit], len(dumps)


# Host adapter drivers whose next-boot build is always looked up when loaded; any out-of-tree module and
# any module driving a disk is looked up too.
NEXT_BOOT_MODULES = frozenset(
    {
        "mpt3sas", "mpt2sas", "mpi3mr", "megaraid_sas", "smartpqi", "hpsa", "aacraid", "arcmsr", "qla2xxx",
        "qla4xxx", "lpfc", "bfa", "qedf", "qedi", "be2iscsi", "fnic", "bnx2fc", "csiostor", "pm80xx", "isci",
        "mvsas", "esas2r", "nvme", "nvme_fc",
    }
)  # fmt: skip


def _grubby_default(module, host):
    """``grubby --default-kernel`` on a live host where grubby exists; None elsewhere."""
    if host.root != "/":
        return None
    binary = module.get_bin_path("grubby")
    if binary is None:
        return None
    rc, out, err = module.run_command([binary, "--default-kernel"])
    if rc != 0:
        host.fail("grubby --default-kernel", err.strip() or f"exit status {rc}")
        return None
    return out


def _image_decompressor(module):
    """zstd, lz4 or lzo images through the host's own tool (the standard library reads the others)."""

    def run(argv, data):
        rc, out, _err = module.run_command(argv, data=data, binary_data=True, encoding=None)
        return rc, out

    return tool_decompressor(module.get_bin_path, run)


def read_initramfs_builds(module, host, release, names):
    """{name: the build of that module inside the initramfs of ``release``}, the image read and decompressed
    once for all of ``names``; {} when the kernel has no image."""
    for image in (f"/boot/initrd.img-{release}", f"/boot/initramfs-{release}.img"):
        if not names or not host.exists(image):
            continue
        try:
            with open(host.real(image), "rb") as handle:
                data = handle.read()
        except OSError as error:
            host.fail(image, error)
            unknown = {"image": image, "status": "unknown", "path": None, "version": None, "srcversion": None,
                       "reason": str(error)}  # fmt: skip
            return {name: dict(unknown) for name in names}
        builds = module_builds(data, release, names, _image_decompressor(module))
        return {name: dict(build, image=image) for name, build in builds.items()}
    return {}


def read_next_boot(module, host, modules, disk_modules):
    """The kernel that boots next and, for the storage modules loaded now, the build it will load: from its
    module tree and from its initramfs."""
    installed = [r for r in host.listdir("/lib/modules") if host.exists("/boot/vmlinuz-" + r)]
    release, source = next_kernel(
        installed,
        _grubby_default(module, host),
        host.text("/etc/default/grub"),
        host.text("/boot/grub/grubenv") or host.text("/boot/grub2/grubenv"),
    )
    dep = host.text(f"/lib/modules/{release}/modules.dep") if release else None
    wanted = [
        loaded["name"]
        for loaded in (modules if release else ())
        if loaded["name"] in NEXT_BOOT_MODULES or loaded["name"] in disk_modules or "O" in loaded["taint"]
    ]
    images = read_initramfs_builds(module, host, release, wanted)
    builds = []
    for name in wanted:
        path = module_path(dep, name)
        build = {"name": name, "path": path, "version": None, "srcversion": None}
        if path is not None:
            full = f"/lib/modules/{release}/{path}"
            try:
                with open(host.real(full), "rb") as handle:
                    info = parse_modinfo(decompress_module(path, handle.read()))
            except (OSError, ValueError, EOFError, struct.error, lzma.LZMAError) as error:
                host.fail(full, error)
            else:
                build["version"] = info.get("version") or None
                build["srcversion"] = info.get("srcversion") or None
        build["initramfs"] = images.get(name)
        builds.append(build)
    return {"kernel": release, "source": source, "modules": builds}


def read_secure_boot(module, host):
    """Secure Boot (the SecureBoot efivar, and ``mokutil --sb-state`` on a live host where the efivar does not
    say disabled), the lockdown mode."""
    try:
        with open(host.real(EFI_SECURE_BOOT), "rb") as handle:
            efivar = handle.read(8)
    except OSError:
        efivar = None
    # mokutil can only turn an enabled or unreadable efivar into another state: a disabled one is final.
    asked = host.root == "/" and efivar_secure_boot(efivar) is not False
    mokutil = module.get_bin_path("mokutil") if asked else None
    said = None
    if mokutil is not None:
        _rc, out, err = module.run_command([mokutil, "--sb-state"])
        said = out + "\n" + err
    state, source = secure_boot_state(efivar, said)
    lockdown = lockdown_mode(host.text(LOCKDOWN))
    return {
        "state": state,
        "source": source,
        "lockdown": lockdown,
        "enforced": enforcement(state, lockdown)[0],
    }


def gather(module, root="/", crash_dir=None, max_crash_dumps=20):
    """Every surface, in one dict. ``module`` runs the host's own tools, each once at most: ``systemctl
    show`` (all units in one call), ``grubby`` and ``mokutil`` where installed, and a decompressor for a
    zstd, lz4 or lzo initramfs image."""
    host = Host(root)
    facts = {"schema": SCHEMA}
    facts.update(read_identity(host))
    modules, support = read_modules(host)
    mounts = parse_mountinfo(host.text("/proc/self/mountinfo"))
    disks = read_block_devices(host, mounts)
    boot_modules = set()
    for disk in disks:
        if disk["boot_disk"]:
            boot_modules.update(
                n.replace("-", "_") for n in (disk["module"], disk["driver"], disk["proc_name"]) if n
            )
    for entry in modules:
        entry["holds_boot_disk"] = entry["name"] in boot_modules
    capture = read_crash_capture(module, host, modules, mounts)
    disk_modules = {(d["module"] or d["driver"] or "").replace("-", "_") for d in disks}
    dumps, total = read_crash_dumps(
        host, crash_dir or local_dump_directory(capture["kdump_config"]) or "/var/crash", max_crash_dumps
    )
    jobs = read_scheduled_jobs(host)
    anacron = read_anacron(host)
    facts.update(
        {
            "module_support": support,
            "modules": modules,
            "crash_capture": capture,
            "block_devices": disks,
            "next_boot": read_next_boot(module, host, modules, disk_modules),
            "secure_boot": read_secure_boot(module, host),
            "scheduled_jobs": jobs,
            "anacron": anacron,
            "run_parts": read_run_parts(host, jobs, anacron),
            "crash_dumps": dumps,
            "crash_dumps_total": total,
            "errors": host.errors,
        }
    )
    return facts


def main():
    # Imported here alone: the collection's action plugin runs gather() with HostTools instead, and the
    # host then compiles none of ansible.module_utils (see plugins/action/fleetfix_facts.py).
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "crash_dir": {"type": "path"},
            "max_crash_dumps": {"type": "int", "default": 20},
            "root": {"type": "path", "default": "/"},
        },
        supports_check_mode=True,
    )
    params = module.params
    facts = gather(module, params["root"], params["crash_dir"], params["max_crash_dumps"])
    module.exit_json(changed=False, ansible_facts={"fleetfix": facts})


if __name__ == "__main__":
    main()
