"""Unit state for a lab host's ``systemctl``: enablement as systemd keeps it, activity per boot.

Enablement lives where systemd keeps it (``.wants/`` symlinks and ``/dev/null`` masks under
/etc/systemd/system), so it persists across reboots and real tools (deb-systemd-helper) agree with it.
Activity lives in /run, which every boot starts empty. ``start`` runs the ExecStart= lines of oneshot
units (kdump-tools loads its capture kernel that way); other units are only marked active: no daemon
beyond sshd runs in a lab host.

Paths are plain strings and subprocess is imported only to run a unit's commands: ``systemctl show``,
which every audit runs on every host, then costs a Python start and little more, as close as a stand-in
gets to the real systemctl's few milliseconds (pathlib and subprocess would triple it).
"""

from __future__ import annotations

import os

UNIT_DIRS = ("etc/systemd/system", "run/systemd/system", "usr/lib/systemd/system")
ACTIVE_DIR = "run/fleetfix-lab/units"
_SUFFIXES = (".service", ".timer", ".socket", ".target", ".mount", ".path", ".slice", ".scope")


def unit_name(name: str) -> str:
    return name if name.endswith(_SUFFIXES) else f"{name}.service"


def _run(command: str) -> int:
    """Run one Exec*= line (its prefixes stripped) as systemd would, without a shell."""
    import shlex
    import subprocess

    return subprocess.run(shlex.split(command.lstrip("-@+!:")), check=False).returncode


class Units:
    def __init__(self, root: str = "/") -> None:
        self.root = os.path.abspath(root)

    def _at(self, relative: str) -> str:
        return os.path.join(self.root, relative)

    def path(self, unit: str) -> str | None:
        """The unit file's path on the host (under ``root``), or None."""
        for directory in UNIT_DIRS:
            candidate = self._at(f"{directory}/{unit}")
            if os.path.lexists(candidate):
                return candidate
        return None

    def host_path(self, path: str) -> str:
        """``path`` (under ``root``) as the host names it: absolute from its own /."""
        return "/" + os.path.relpath(path, self.root)

    def sections(self, unit: str) -> dict[str, dict[str, list[str]]]:
        path = self.path(unit)
        out: dict[str, dict[str, list[str]]] = {}
        if path is None or self.masked(unit):
            return out
        section = ""
        with open(path, encoding="utf-8", errors="replace") as text:
            for raw in text:
                line = raw.strip()
                if line.startswith("[") and line.endswith("]"):
                    section = line[1:-1]
                elif "=" in line and not line.startswith(("#", ";")):
                    key, value = line.split("=", 1)
                    out.setdefault(section, {}).setdefault(key.strip(), []).append(value.strip())
        return out

    def masked(self, unit: str) -> bool:
        link = self._at(f"etc/systemd/system/{unit}")
        return os.path.islink(link) and os.readlink(link) == "/dev/null"

    def _wanted_by(self, unit: str) -> list[str]:
        install = self.sections(unit).get("Install", {})
        return [t for key in ("WantedBy", "RequiredBy") for v in install.get(key, []) for t in v.split()]

    def _links(self, unit: str) -> list[str]:
        return [self._at(f"etc/systemd/system/{target}.wants/{unit}") for target in self._wanted_by(unit)]

    def enablement(self, unit: str) -> str:
        if self.masked(unit):
            return "masked"
        if self.path(unit) is None:
            return "not-found"
        links = self._links(unit)
        if not links:
            return "static"
        return "enabled" if any(os.path.islink(link) for link in links) else "disabled"

    def enable(self, unit: str) -> list[str]:
        made = []
        path = self.path(unit)
        target = f"/{UNIT_DIRS[2]}/{unit}" if path is None else self.host_path(path)
        for link in self._links(unit):
            if not os.path.islink(link):
                os.makedirs(os.path.dirname(link), exist_ok=True)
                os.symlink(target, link)
                made.append(f"Created symlink {self.host_path(link)} → {target}.")
        return made

    def disable(self, unit: str) -> list[str]:
        removed = []
        for link in self._links(unit):
            if os.path.islink(link):
                os.unlink(link)
                removed.append(f'Removed "{self.host_path(link)}".')
        return removed

    def mask(self, unit: str) -> None:
        link = self._at(f"etc/systemd/system/{unit}")
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink("/dev/null", link)

    def unmask(self, unit: str) -> None:
        if self.masked(unit):
            os.unlink(self._at(f"etc/systemd/system/{unit}"))

    def active_state(self, unit: str) -> str:
        try:
            with open(self._at(f"{ACTIVE_DIR}/{unit}"), encoding="utf-8") as state:
                return state.read().strip()
        except (FileNotFoundError, IsADirectoryError):
            return "inactive"

    def _set_active(self, unit: str, state: str) -> None:
        directory = self._at(ACTIVE_DIR)
        os.makedirs(directory, exist_ok=True)
        if state == "inactive":
            if os.path.lexists(os.path.join(directory, unit)):
                os.unlink(os.path.join(directory, unit))
        else:
            with open(os.path.join(directory, unit), "w", encoding="utf-8") as out:
                out.write(f"{state}\n")

    def start(self, unit: str) -> bool:
        """Start ``unit``: run a oneshot's ExecStart= lines, else mark it active. False if it failed."""
        service = self.sections(unit).get("Service", {})
        if service.get("Type", ["simple"])[-1] == "oneshot":
            for command in service.get("ExecStart", []):
                if _run(command) != 0 and not command.startswith("-"):
                    self._set_active(unit, "failed")
                    return False
            remain = service.get("RemainAfterExit", ["no"])[-1] in ("yes", "true", "1")
            self._set_active(unit, "active" if remain else "inactive")
            return True
        self._set_active(unit, "active")
        return True

    def stop(self, unit: str) -> None:
        for command in self.sections(unit).get("Service", {}).get("ExecStop", []):
            _run(command)
        self._set_active(unit, "inactive")

    def all_units(self) -> list[str]:
        names: set[str] = set()
        for directory in UNIT_DIRS:
            base = self._at(directory)
            if os.path.isdir(base):
                names |= {
                    entry.name
                    for entry in os.scandir(base)
                    if entry.name.endswith(_SUFFIXES) and not entry.is_dir()
                }
        return sorted(names)

    def enabled_at_boot(self) -> list[str]:
        base = self._at("etc/systemd/system")
        if not os.path.isdir(base):
            return []
        wants = [entry.path for entry in os.scandir(base) if entry.name.endswith(".wants") and entry.is_dir()]
        return sorted({name for directory in wants for name in os.listdir(directory)})
