"""What a host's kernel does when a fault fires: print the oops, keep it in pstore where a ramoops region is
reserved, save it with kdump if a capture kernel is loaded (locally, or to an ssh dump server with the host's
own ssh client), send it to every enabled netconsole target (from the host's own network namespace)."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from fleetfix.lab import oopstext
from fleetfix.lab.guest import nscalls, pstore

DUMP_BYTES = b"KDUMP   \x00" + bytes(64)  # what the lab's dumps hold in place of a vmcore


def _read(path: Path, default: str = "") -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return default


def oops_lines(root: Path, module: str, kind: str, pid: int, uptime: float, kernel_version: str) -> list[str]:
    loaded = []
    for line in _read(root / "proc/modules").splitlines():
        parts = line.split()
        loaded.append((parts[0], parts[6].strip("()") if len(parts) > 6 else ""))
    ctx = oopstext.OopsContext(
        module=module,
        kind=kind,
        release=_read(root / "proc/sys/kernel/osrelease"),
        kernel_version=kernel_version,
        tainted=int(_read(root / "proc/sys/kernel/tainted", "0") or 0),
        loaded=tuple(loaded),
        comm="fio",
        pid=pid,
        uptime=uptime,
        kdump_loaded=_read(root / "sys/kernel/kexec_crash_loaded") == "1",
    )
    return oopstext.render(ctx, seed=pid)


@dataclass(frozen=True)
class RemoteTarget:
    """An ssh dump target as the host's kdump configuration names it."""

    el: bool
    destination: str  # user@server
    key: str
    directory: str  # on the server
    host_tag: str  # kdump-tools' HOSTTAG: ip or hostname


def _kdump_tools_values(root: Path) -> dict[str, str]:
    """The plain assignments of the sourced file; a line shlex cannot read (a command substitution such as
    crash_capture's KDUMP_CMDLINE) is skipped: it names nothing this reads."""
    values = {}
    for line in _read(root / "etc/default/kdump-tools").splitlines():
        name, equals, value = line.strip().partition("=")
        if equals and name.isidentifier():
            try:
                words = shlex.split(value, comments=True) if value else []
            except ValueError:
                continue
            values[name] = words[0] if words else ""
    return values


def remote_target(root: Path) -> RemoteTarget | None:
    """The ssh target of the host's kdump-tools defaults or kdump.conf; None for a local dump."""
    if (root / "etc/default/kdump-tools").is_file():
        values = _kdump_tools_values(root)
        if not values.get("SSH"):
            return None
        key = values.get("SSH_KEY") or "/root/.ssh/kdump_id_rsa"
        coredir = values.get("KDUMP_COREDIR") or "/var/crash"
        return RemoteTarget(False, values["SSH"], key, coredir, values.get("HOSTTAG") or "ip")
    directives: dict[str, str] = {}
    for line in _read(root / "etc/kdump.conf").splitlines():
        words = line.split(None, 1)
        if len(words) == 2 and not words[0].startswith("#"):
            directives.setdefault(words[0], words[1].strip())
    if "ssh" not in directives:
        return None
    key = directives.get("sshkey") or "/root/.ssh/kdump_id_rsa"
    return RemoteTarget(True, directives["ssh"], key, directives.get("path") or "/var/crash", "ip")


def capture_boot_tag(ip_output: str, hostname: str) -> str:
    """kdump-tools' ``HOSTTAG=ip`` name for a dump directory (kdump-config 1.8, ``define_stampdir``): the
    last IPv4 address ``ip addr show up`` lists, loopback's included, whichever interface carries it; the
    host name when none shows up. ``ip_output`` is ``ip -4 -o addr show up``, one address a line::

        2: eth0    inet 10.0.2.15/24 brd 10.0.2.255 scope global eth0\\       valid_lft forever ...
    """
    addresses = [
        words[3].split("/", 1)[0]
        for words in (line.split() for line in ip_output.splitlines())
        if len(words) >= 4 and words[2] == "inet"
    ]
    return addresses[-1] if addresses else hostname


def _listed_addresses(netns: str) -> str:
    """``ip -4 -o addr show up`` in the host's network namespace (what the capture boot would list)."""
    listed = subprocess.run(
        ["ip", "-n", netns, "-4", "-o", "addr", "show", "up"], capture_output=True, text=True, check=False
    )
    return listed.stdout if listed.returncode == 0 else ""


def _boot_lines(root: Path) -> list[str]:
    return [
        f"[    0.000000] Linux version {_read(root / 'proc/sys/kernel/osrelease')}",
        f"[    0.000000] Command line: {_read(root / 'proc/cmdline')}",
    ]


def ship_dump(pid: int, netns: str, host_ip: str, hostname: str, root: Path, lines: list[str]) -> str | None:
    """What kdump does with an ssh target, with the host's own ssh client, key and known_hosts (inside its
    network and mount namespaces): EL's kdump makes ``<path>/<address>-<date>/`` and streams
    ``vmcore.flat`` and ``vmcore-dmesg.txt`` through ``ssh ... dd``; kdump-tools makes
    ``<KDUMP_COREDIR>/<HOSTTAG>-<stamp>/`` (HOSTTAG=ip: capture_boot_tag of the host's up interfaces),
    streams ``dump.<stamp>`` and copies ``dmesg.<stamp>`` with scp.
    Returns ``user@server:<directory>``, or None when no capture kernel is loaded or the target is local."""
    target = remote_target(root)
    if target is None or _read(root / "sys/kernel/kexec_crash_loaded") != "1":
        return None
    log = "\n".join([*_boot_lines(root), *lines]) + "\n"
    if target.el:
        directory = f"{target.directory.rstrip('/')}/{host_ip}-{time.strftime('%Y-%m-%d-%H:%M:%S')}"
        steps = [
            (["mkdir", "-p", directory], None),
            (["dd", f"of={directory}/vmcore-incomplete"], DUMP_BYTES),
            (["mv", f"{directory}/vmcore-incomplete", f"{directory}/vmcore.flat"], None),
            (["dd", f"of={directory}/vmcore-dmesg-incomplete.txt"], log.encode()),
            (["mv", f"{directory}/vmcore-dmesg-incomplete.txt", f"{directory}/vmcore-dmesg.txt"], None),
        ]
        scp = None
    else:
        stamp = time.strftime("%Y%m%d%H%M")
        tag = (
            hostname
            if target.host_tag == "hostname"
            else capture_boot_tag(_listed_addresses(netns), hostname)
        )
        directory = f"{target.directory.rstrip('/')}/{tag}-{stamp}"
        steps = [
            (["mkdir", "-p", directory], None),
            (["dd", f"of={directory}/dump-incomplete"], DUMP_BYTES),
            (["mv", f"{directory}/dump-incomplete", f"{directory}/dump.{stamp}"], None),
        ]
        scp = (log.encode(), f"{directory}/dmesg.{stamp}")
    child = os.fork()
    if child == 0:
        code = 1
        try:
            nscalls.setns(f"/run/netns/{netns}", nscalls.CLONE_NEWNET)
            nscalls.setns(f"/proc/{pid}/ns/mnt", nscalls.CLONE_NEWNS)
            os.chdir("/")
            code = _run_ssh_steps(target, steps, scp)
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    return f"{target.destination}:{directory}" if ok else f"{target.destination}: dump not saved"


_SSH_OPTIONS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5"]


def _run_ssh_steps(target: RemoteTarget, steps: list, scp: tuple[bytes, str] | None) -> int:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
    ssh = ["ssh", "-i", target.key, *_SSH_OPTIONS, "--", target.destination]
    for remote, data in steps:
        command = " ".join(shlex.quote(word) for word in remote)
        done = subprocess.run([*ssh, command], input=data or b"", env=env, timeout=60, check=False)
        if done.returncode != 0:
            return done.returncode
    if scp is not None:
        data, remote_path = scp
        local = Path("/tmp") / Path(remote_path).name
        local.write_bytes(data)
        copy = [
            "scp",
            "-q",
            "-i",
            target.key,
            *_SSH_OPTIONS,
            str(local),
            f"{target.destination}:{remote_path}",
        ]
        done = subprocess.run(copy, env=env, timeout=60, check=False)
        local.unlink()
        return done.returncode
    return 0


def save_dump(root: Path, lines: list[str]) -> Path | None:
    """Where kdump leaves the crashed kernel's log: kdump-tools' <KDUMP_COREDIR>/<YYYYMMDDHHMM>/dmesg.<stamp>
    on Debian, EL kdump's <path>/127.0.0.1-<YYYY-MM-DD-HH:MM:SS>/vmcore-dmesg.txt (local dumps); the dump
    beside it."""
    if _read(root / "sys/kernel/kexec_crash_loaded") != "1" or remote_target(root) is not None:
        return None
    el = (root / "etc/kdump.conf").is_file() and not (root / "etc/default/kdump-tools").is_file()
    coredir = "/var/crash"
    if el:
        for line in _read(root / "etc/kdump.conf").splitlines():
            words = line.split()
            if len(words) == 2 and words[0] == "path":
                coredir = words[1]
        directory = root / coredir.lstrip("/") / time.strftime("127.0.0.1-%Y-%m-%d-%H:%M:%S")
        log, dump = directory / "vmcore-dmesg.txt", directory / "vmcore"
    else:
        for line in _read(root / "etc/default/kdump-tools").splitlines():
            if line.startswith("KDUMP_COREDIR="):
                coredir = line.split("=", 1)[1].strip().strip("\"'") or coredir
        stamp = time.strftime("%Y%m%d%H%M")
        directory = root / coredir.lstrip("/") / stamp
        log, dump = directory / f"dmesg.{stamp}", directory / f"dump.{stamp}"
    directory.mkdir(parents=True, exist_ok=True)
    log.write_text("\n".join([*_boot_lines(root), *lines]) + "\n")
    dump.write_bytes(DUMP_BYTES)
    return log


def save_pstore(root: Path, memory: Path, lines: list[str], at: float) -> Path | None:
    """ramoops' record of the panic in the host's ramoops memory (``memory``: guest.pstore), when the booted
    command line reserves a region and pstore's dump runs before kdump's kexec: the dump header, then the
    newest lines that fit one record, each with its console level, as kmsg_dump hands them out."""
    args = _read(root / "proc/cmdline")
    region = pstore.ramoops_region(args)
    kdump_first = _read(root / "sys/kernel/kexec_crash_loaded") == "1" and not pstore.post_notifiers(args)
    if region is None or kdump_first:
        return None
    header = "Panic#1 Part1\n"
    room = region[2] - len(header)
    kept: list[str] = []
    for line in reversed(lines):
        level = "<0>" if "Kernel panic - not syncing" in line else "<4>"
        room -= len(level) + len(line) + 1
        if room < 0:
            break
        kept.append(f"{level}{line}\n")
    memory.mkdir(parents=True, exist_ok=True)
    record = memory / "dmesg-ramoops-0"  # a boot's first dump always takes zone 0
    record.write_text(header + "".join(reversed(kept)))
    os.utime(record, (at, at))
    return record


def netconsole_targets(root: Path) -> list[dict[str, str]]:
    base = root / "sys/kernel/config/netconsole"
    targets = []
    for target in sorted(base.iterdir()) if base.is_dir() else []:
        fields = {f.name: _read(f) for f in target.iterdir() if f.is_file()}
        if fields.get("enabled") == "1" and fields.get("remote_ip"):
            targets.append(fields)
    return targets


def send_netconsole(netns: str, host_ip: str, targets: list[dict[str, str]], lines: list[str]) -> None:
    """One datagram per message line, from the host's address, as netconsole sends them."""
    if not targets:
        return
    child = os.fork()
    if child == 0:
        try:
            nscalls.setns(f"/run/netns/{netns}", nscalls.CLONE_NEWNET)
            for target in targets:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.bind((target.get("local_ip") or host_ip, int(target.get("local_port") or 6665)))
                    destination = (target["remote_ip"], int(target.get("remote_port") or 6666))
                    for seq, line in enumerate(lines):
                        if target.get("extended") == "1":
                            stamp, _, text = line.partition("] ")
                            micros = int(float(stamp.strip("[ ")) * 1e6)
                            payload = f"4,{seq},{micros},-;{text}\n"
                        else:
                            payload = f"{line}\n"
                        sock.sendto(payload.encode(), destination)
        finally:
            os._exit(0)
    os.waitpid(child, 0)
