"""What a host's kernel does when a fault fires: print the oops, keep it in pstore where a ramoops region is
reserved, save it with kdump if a capture kernel is loaded, send it to every enabled netconsole target (from
the host's own network namespace)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from fleetfix.lab import oopstext
from fleetfix.lab.guest import nscalls, pstore


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


def save_dump(root: Path, lines: list[str]) -> Path | None:
    """Where kdump leaves the crashed kernel's log: kdump-tools' <KDUMP_COREDIR>/<YYYYMMDDHHMM>/dmesg.<stamp>
    on Debian, EL kdump's <path>/127.0.0.1-<YYYY-MM-DD-HH:MM:SS>/vmcore-dmesg.txt (local dumps); the dump
    beside it."""
    if _read(root / "sys/kernel/kexec_crash_loaded") != "1":
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
    cmdline = _read(root / "proc/cmdline")
    boot = [
        f"[    0.000000] Linux version {_read(root / 'proc/sys/kernel/osrelease')}",
        f"[    0.000000] Command line: {cmdline}",
    ]
    log.write_text("\n".join([*boot, *lines]) + "\n")
    dump.write_bytes(b"KDUMP   \x00" + bytes(64))
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
