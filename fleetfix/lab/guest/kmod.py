"""Loading and unloading modules in a lab host: /proc/modules, /sys/module and the taint mask.

Module files are looked up the way depmod orders them (``updates/``, ``extra/``, the kernel's own, then EL's
``weak-updates/``), so an upgraded driver package's build wins over the one shipped with the kernel.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import netconsole
from .elfmodinfo import read_modinfo

# Bit of each taint letter in /proc/sys/kernel/tainted, in the kernel's printing order.
TAINT_BITS = {letter: bit for bit, letter in enumerate("PFSRMBUDAWCIOELKXTN")}
_SEARCH_ORDER = ("updates", "extra", "kernel", "weak-updates")
_GPL_COMPATIBLE = {
    "GPL",
    "GPL v2",
    "GPL and additional rights",
    "Dual BSD/GPL",
    "Dual MIT/GPL",
    "Dual MPL/GPL",
}
# Core sizes of the real modules (bytes), so /proc/modules reads like a real host's.
_SIZES = {
    "mpt3sas": 438272,
    "megaraid_sas": 192512,
    "qla2xxx": 1130496,
    "smartpqi": 110592,
    "lpfc": 1126400,
    "raid_class": 16384,
    "scsi_transport_sas": 53248,
    "scsi_transport_fc": 86016,
    "nvme_fc": 61440,
    "netconsole": 24576,
}
HARDWARE = "usr/lib/fleetfix-lab/hardware.json"


class KeyRequired(Exception):
    """The kernel enforces module signatures (Secure Boot, lockdown) and the build carries none."""


@dataclass(frozen=True)
class Loaded:
    name: str
    size: int
    refcount: int
    used_by: tuple[str, ...]
    taint: str


def canonical(name: str) -> str:
    return name.replace("-", "_")


def taint_letters(info: dict[str, str]) -> str:
    """P for a non-GPL licence, O for out-of-tree (no intree=Y), E for unsigned (no signer)."""
    letters = ""
    if info.get("license", "GPL") not in _GPL_COMPATIBLE:
        letters += "P"
    if info.get("intree") != "Y":
        letters += "O"
    if "signer" not in info:
        letters += "E"
    return letters


class Kernel:
    """The module state of one host, reached through ``root`` (``/`` inside it, /proc/<pid>/root outside)."""

    def __init__(self, root: str = "/") -> None:
        self.root = Path(root)

    def release(self) -> str:
        return (self.root / "proc/sys/kernel/osrelease").read_text().strip()

    def find(self, name: str, release: str | None = None) -> Path | None:
        base = self.root / "lib/modules" / (release or self.release())
        for top in _SEARCH_ORDER:
            for candidate in sorted((base / top).rglob("*.ko")) if (base / top).is_dir() else []:
                if canonical(candidate.stem) == canonical(name):
                    return candidate
        return None

    def modinfo(self, name_or_path: str) -> tuple[Path, dict[str, str]]:
        path = Path(name_or_path) if "/" in name_or_path else self.find(name_or_path)
        if path is None or not path.is_file():
            raise LookupError(f"Module {name_or_path} not found in directory /lib/modules/{self.release()}")
        return path, dict(read_modinfo(path))

    def loaded(self) -> list[Loaded]:
        out = []
        for line in (self.root / "proc/modules").read_text().splitlines():
            parts = line.split()
            used_by = tuple(u for u in parts[3].split(",") if u and u != "-")
            taint = parts[6].strip("()") if len(parts) > 6 else ""
            out.append(Loaded(parts[0], int(parts[1]), int(parts[2]), used_by, taint))
        return out

    def is_loaded(self, name: str) -> bool:
        return any(m.name == canonical(name) for m in self.loaded())

    def load(self, name: str, params: dict[str, str] | None = None, path: Path | None = None) -> list[str]:
        """Load ``name`` (from ``path``, else as found) and what it depends on; returns what was loaded."""
        name = canonical(name)
        if self.is_loaded(name):
            return []
        _path, info = self.modinfo(str(path) if path else name)
        if "signer" not in info and self.enforces_signatures():
            raise KeyRequired(f"could not insert '{name}': Required key not available")
        newly = []
        deps = [canonical(d) for d in info.get("depends", "").split(",") if d]
        for dep in deps:
            newly += self.load(dep)
        letters = taint_letters(info)
        pinned = 2 if name in self._boot_disk_drivers() else 0
        self._add(Loaded(name, _SIZES.get(name, 32768), pinned, (), letters), info, params or {})
        for dep in deps:
            self._hold(dep, name, +1)
        self._taint(letters)
        if name == "netconsole":
            netconsole.on_load(self.root, params or {})
        return [*newly, name]

    def enforces_signatures(self) -> bool:
        """Secure Boot on (the SecureBoot efivar's value byte) or a lockdown mode other than none."""
        lockdown = self.root / "sys/kernel/security/lockdown"
        mode = lockdown.read_text() if lockdown.is_file() else "[none]"
        if "[integrity]" in mode or "[confidentiality]" in mode:
            return True
        efivar = self.root / "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
        return efivar.is_file() and efivar.read_bytes()[4:5] == b"\x01"

    def unload(self, name: str) -> None:
        name = canonical(name)
        module = next((m for m in self.loaded() if m.name == name), None)
        if module is None:
            raise LookupError(f"Module {name} is not currently loaded")
        if module.refcount or module.used_by:
            raise PermissionError(
                f"Module {name} is in use" + (f" by: {' '.join(module.used_by)}" * bool(module.used_by))
            )
        lines = [ln for ln in self._modules_lines() if ln.split()[0] != name]
        self._write_modules(lines)
        shutil.rmtree(self.root / "sys/module" / name, ignore_errors=True)
        if name == "netconsole":
            netconsole.on_unload(self.root)
        for other in self.loaded():
            if name in self._depends_of(other.name):
                self._hold(other.name, name, -1)

    def _boot_disk_drivers(self) -> set[str]:
        path = self.root / HARDWARE
        hardware = json.loads(path.read_text()) if path.is_file() else {"controllers": []}
        return {c["driver"] for c in hardware["controllers"] if c["boot_disk"]}

    def _depends_of(self, name: str) -> list[str]:
        holders = self.root / "sys/module" / name / "holders"
        return [h.name for h in holders.iterdir()] if holders.is_dir() else []

    def _modules_lines(self) -> list[str]:
        return (self.root / "proc/modules").read_text().splitlines()

    def _write_modules(self, lines: list[str]) -> None:
        (self.root / "proc/modules").write_text("".join(f"{ln}\n" for ln in lines))

    @staticmethod
    def _line(module: Loaded) -> str:
        address = 0xFFFFFFFFC0000000 + random.randrange(0x100, 0x3FFF) * 0x1000
        used = "".join(f"{u}," for u in module.used_by) or "-"
        taint = f" ({module.taint})" if module.taint else ""
        return f"{module.name} {module.size} {module.refcount} {used} Live 0x{address:016x}{taint}"

    def _add(self, module: Loaded, info: dict[str, str], params: dict[str, str]) -> None:
        self._write_modules([self._line(module), *self._modules_lines()])
        sysdir = self.root / "sys/module" / module.name
        (sysdir / "holders").mkdir(parents=True, exist_ok=True)
        (sysdir / "parameters").mkdir(exist_ok=True)
        values = {"refcnt": str(module.refcount), "initstate": "live", "taint": module.taint}
        values["coresize"] = str(module.size)
        values |= {k: info[k] for k in ("version", "srcversion") if k in info}
        for key, value in values.items():
            (sysdir / key).write_text(f"{value}\n")
        for key, value in params.items():
            (sysdir / "parameters" / key).write_text(f"{value}\n")

    def _hold(self, module: str, holder: str, delta: int) -> None:
        """Count ``holder`` as a user of ``module`` (delta +1) or drop it (-1)."""
        lines = []
        for line in self._modules_lines():
            parts = line.split()
            if parts[0] == module:
                users = [u for u in parts[3].split(",") if u and u != "-" and u != holder]
                users += [holder] * (delta > 0)
                parts[2] = str(max(0, int(parts[2]) + delta))
                parts[3] = "".join(f"{u}," for u in users) or "-"
                line = " ".join(parts)
                (self.root / "sys/module" / module / "refcnt").write_text(f"{parts[2]}\n")
            lines.append(line)
        self._write_modules(lines)
        link = self.root / "sys/module" / module / "holders" / holder
        if delta > 0 and not link.is_symlink():
            os.symlink(f"../../{holder}", link)
        elif delta < 0 and link.is_symlink():
            link.unlink()

    def _taint(self, letters: str) -> None:
        path = self.root / "proc/sys/kernel/tainted"
        value = int(path.read_text().strip() or "0")
        for letter in letters:
            value |= 1 << TAINT_BITS[letter]
        path.write_text(f"{value}\n")
