"""pstore on a lab host: a ramoops backend in a region the command line reserves, and systemd-pstore.

A lab host has no firmware and no RAM of its own, so the memory ramoops writes to is a directory beside the
host's disks (``<host dir>/pstore``), which outlives a boot as reserved RAM outlives a warm reboot. PID 1
registers the backend when the booted command line reserves a region for it (``memmap=<size>$<address>``
covering ``ramoops.mem_address`` and ``ramoops.mem_size``), as the kernel's ramoops probe does; the
directory is bound at ``RECORDS`` in every boot. The supervisor writes a panic's record there
(``dmesg-ramoops-0``: the first dump of a boot always lands in zone 0) when the backend is registered and
pstore's dump runs before kdump's kexec (kdump not loaded, or ``crash_kexec_post_notifiers``).

/sys/fs/pstore is the machine's own pstore filesystem mounted read-only, so the facts see the mount as on a
real host without any lab host writing to the machine's records; the lab's records are not listed there.
``systemd-pstore`` (the stand-in installed over /usr/lib/systemd/systemd-pstore) moves them into
/var/lib/systemd/pstore at boot as systemd-pstore moves records of backends it does not reassemble: flat,
under their own names, the file's time that of the move.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from . import nscalls

RECORDS = Path("/var/lib/fleetfix-lab/pstore")  # the host's view of its ramoops memory
ARCHIVE = Path("/var/lib/systemd/pstore")
_SIZE = re.compile(r"(0[xX][0-9A-Fa-f]+|\d+)([KMG]?)")


def _number(text: str) -> int | None:
    match = _SIZE.fullmatch(text)
    if match is None:
        return None
    return int(match.group(1), 0) << {"": 0, "K": 10, "M": 20, "G": 30}[match.group(2)]


def ramoops_region(args: str) -> tuple[int, int, int] | None:
    """(address, size, record size) of ramoops on this command line, when a ``memmap=`` reservation holds
    it. One ``memmap=`` may list several regions, comma-separated, as the kernel reads it."""
    words = dict(w.split("=", 1) for w in args.split() if "=" in w and w.startswith("ramoops."))
    address = _number(words.get("ramoops.mem_address", ""))
    size = _number(words.get("ramoops.mem_size", ""))
    record = _number(words.get("ramoops.record_size", "4096")) or 4096
    if not address or not size:
        return None
    regions = [r for w in args.split() if w.startswith("memmap=") for r in w[len("memmap=") :].split(",")]
    for region in regions:
        if "$" in region:
            amount, _, start = region.partition("$")
            begin, length = _number(start), _number(amount)
            if (
                begin is not None
                and length is not None
                and begin <= address
                and address + size <= begin + length
            ):
                return address, size, record
    return None


def post_notifiers(args: str) -> bool:
    """``crash_kexec_post_notifiers`` on the command line (the bare flag, or a true value)."""
    for word in args.split():
        name, _, value = word.partition("=")
        if name == "crash_kexec_post_notifiers":
            return value.lower() in ("", "1", "y", "yes", "on", "true")
    return False


def sys_files(args: str) -> dict[str, str]:
    """The module parameters the facts read: the registered backend and the notifier order."""
    return {
        "module/pstore/parameters/backend": ("ramoops" if ramoops_region(args) else "(null)") + "\n",
        "module/kernel/parameters/crash_kexec_post_notifiers": ("Y" if post_notifiers(args) else "N") + "\n",
    }


def bind_memory(host_dir: Path) -> None:
    """The host's ramoops memory at ``RECORDS``, bound while ``host_dir`` is still in view."""
    memory = host_dir / "pstore"
    memory.mkdir(exist_ok=True)
    RECORDS.mkdir(parents=True, exist_ok=True)
    nscalls.mount(str(memory), str(RECORDS), None, nscalls.MS_BIND)


def mount_sysfs() -> None:
    """/sys/fs/pstore: the machine's pstore filesystem, read-only, in a /sys/fs of the host's own."""
    real = Path("/sys/.kernel/fs")
    fs = Path("/sys/fs")
    if fs.is_symlink():
        fs.unlink()
    fs.mkdir(exist_ok=True)
    for name in os.listdir(real):
        if name != "pstore" and not (fs / name).exists():
            os.symlink(f"../.kernel/fs/{name}", fs / name)
    (fs / "pstore").mkdir(exist_ok=True)
    try:
        flags = nscalls.MS_RDONLY | nscalls.MS_NOSUID | nscalls.MS_NODEV | nscalls.MS_NOEXEC
        nscalls.mount("pstore", "/sys/fs/pstore", "pstore", flags)
    except OSError as exc:  # a kernel without pstore: the facts say it is not mounted
        print(f"pstore: not mounted: {exc}", flush=True)


def archive_main(argv: list[str]) -> int:
    """systemd-pstore: move every record out of the backend into the archive."""
    if not RECORDS.is_dir():
        return 0
    ARCHIVE.mkdir(parents=True, exist_ok=True)
    for record in sorted(RECORDS.iterdir()):
        if record.is_file():
            shutil.copyfile(record, ARCHIVE / record.name)
            record.unlink()
            print(f"PStore {record.name} moved.", flush=True)
    return 0
