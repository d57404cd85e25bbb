"""Unit state for a lab host's ``systemctl``: enablement as systemd keeps it, activity per boot.

Enablement lives where systemd keeps it (``.wants/`` symlinks and ``/dev/null`` masks under
/etc/systemd/system), so it persists across reboots and real tools (deb-systemd-helper) agree with it.
Activity lives in /run, which every boot starts empty. ``start`` runs the ExecStart= lines of oneshot
units (kdump-tools loads its capture kernel that way); other units are only marked active: no daemon
beyond sshd runs in a lab host.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

UNIT_DIRS = ("etc/systemd/system", "run/systemd/system", "usr/lib/systemd/system")
ACTIVE_DIR = "run/fleetfix-lab/units"
_SUFFIXES = (".service", ".timer", ".socket", ".target", ".mount", ".path", ".slice", ".scope")


def unit_name(name: str) -> str:
    return name if name.endswith(_SUFFIXES) else f"{name}.service"


class Units:
    def __init__(self, root: str = "/") -> None:
        self.root = Path(root)

    def path(self, unit: str) -> Path | None:
        for directory in UNIT_DIRS:
            candidate = self.root / directory / unit
            if candidate.exists() or candidate.is_symlink():
                return candidate
        return None

    def sections(self, unit: str) -> dict[str, dict[str, list[str]]]:
        path = self.path(unit)
        out: dict[str, dict[str, list[str]]] = {}
        if path is None or self.masked(unit):
            return out
        section = ""
        for raw in path.read_text(errors="replace").splitlines():
            line = raw.strip()
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
            elif "=" in line and not line.startswith(("#", ";")):
                key, value = line.split("=", 1)
                out.setdefault(section, {}).setdefault(key.strip(), []).append(value.strip())
        return out

    def masked(self, unit: str) -> bool:
        link = self.root / "etc/systemd/system" / unit
        return link.is_symlink() and os.readlink(link) == "/dev/null"

    def _wanted_by(self, unit: str) -> list[str]:
        install = self.sections(unit).get("Install", {})
        return [t for key in ("WantedBy", "RequiredBy") for v in install.get(key, []) for t in v.split()]

    def _links(self, unit: str) -> list[Path]:
        base = self.root / "etc/systemd/system"
        return [base / f"{t}.wants" / unit for t in self._wanted_by(unit)]

    def enablement(self, unit: str) -> str:
        if self.masked(unit):
            return "masked"
        if self.path(unit) is None:
            return "not-found"
        links = self._links(unit)
        if not links:
            return "static"
        return "enabled" if any(link.is_symlink() for link in links) else "disabled"

    def enable(self, unit: str) -> list[str]:
        made = []
        target = f"/{UNIT_DIRS[2]}/{unit}"
        path = self.path(unit)
        if path is not None:
            target = "/" + str(path.relative_to(self.root))
        for link in self._links(unit):
            if not link.is_symlink():
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(target, link)
                made.append(f"Created symlink /{link.relative_to(self.root)} → {target}.")
        return made

    def disable(self, unit: str) -> list[str]:
        removed = []
        for link in self._links(unit):
            if link.is_symlink():
                link.unlink()
                removed.append(f'Removed "/{link.relative_to(self.root)}".')
        return removed

    def mask(self, unit: str) -> None:
        link = self.root / "etc/systemd/system" / unit
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink("/dev/null", link)

    def unmask(self, unit: str) -> None:
        if self.masked(unit):
            (self.root / "etc/systemd/system" / unit).unlink()

    def active_state(self, unit: str) -> str:
        state = self.root / ACTIVE_DIR / unit
        return state.read_text().strip() if state.is_file() else "inactive"

    def _set_active(self, unit: str, state: str) -> None:
        directory = self.root / ACTIVE_DIR
        directory.mkdir(parents=True, exist_ok=True)
        if state == "inactive":
            (directory / unit).unlink(missing_ok=True)
        else:
            (directory / unit).write_text(f"{state}\n")

    def start(self, unit: str) -> bool:
        """Start ``unit``: run a oneshot's ExecStart= lines, else mark it active. False if it failed."""
        service = self.sections(unit).get("Service", {})
        if service.get("Type", ["simple"])[-1] == "oneshot":
            for command in service.get("ExecStart", []):
                ignore = command.startswith("-")
                argv = shlex.split(command.lstrip("-@+!:"))
                if subprocess.run(argv, check=False).returncode != 0 and not ignore:
                    self._set_active(unit, "failed")
                    return False
            remain = service.get("RemainAfterExit", ["no"])[-1] in ("yes", "true", "1")
            self._set_active(unit, "active" if remain else "inactive")
            return True
        self._set_active(unit, "active")
        return True

    def stop(self, unit: str) -> None:
        for command in self.sections(unit).get("Service", {}).get("ExecStop", []):
            subprocess.run(shlex.split(command.lstrip("-@+!:")), check=False)
        self._set_active(unit, "inactive")

    def all_units(self) -> list[str]:
        names: set[str] = set()
        for directory in UNIT_DIRS:
            base = self.root / directory
            if base.is_dir():
                names |= {p.name for p in base.iterdir() if p.name.endswith(_SUFFIXES) and not p.is_dir()}
        return sorted(names)

    def enabled_at_boot(self) -> list[str]:
        base = self.root / "etc/systemd/system"
        wants = [d for d in base.glob("*.wants") if d.is_dir()] if base.is_dir() else []
        return sorted({link.name for d in wants for link in d.iterdir()})
