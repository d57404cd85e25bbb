"""A running lab found from the system, not from the state directory: its supervisor process and its
network namespaces.

``fleetfix lab status|down --name X`` run under another ``FLEETFIX_STATE_DIR`` (or another user's XDG
directories) must still see lab X: its supervisor (``python -m fleetfix.lab.supervisor X``) carries the
state directory it was started with in its environment, and its hosts are the namespaces ``ffl-X-<host>``.
"""

from __future__ import annotations

import os
from pathlib import Path

from fleetfix.lab.layout import Layout

_SUPERVISOR_MODULE = b"fleetfix.lab.supervisor"
_NETNS_DIR = Path("/run/netns")


def _state_dir_of(environment: dict[str, str]) -> Path:
    """The state directory a process with ``environment`` uses (the rule of fleetfix.state.paths)."""
    if environment.get("FLEETFIX_STATE_DIR"):
        return Path(environment["FLEETFIX_STATE_DIR"])
    base = environment.get("XDG_STATE_HOME") or str(Path(environment.get("HOME", "/root")) / ".local/state")
    return Path(base) / "fleetfix"


def supervisors(name: str) -> list[tuple[int, Path]]:
    """(pid, labs root) of every live supervisor of the lab called ``name``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
            if _SUPERVISOR_MODULE not in argv or argv[argv.index(_SUPERVISOR_MODULE) + 1] != name.encode():
                continue
            raw = Path(f"/proc/{entry.name}/environ").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        environment = dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)
        found.append((int(entry.name), _state_dir_of(environment) / "lab"))
    return found


def namespaces(name: str, hosts: list[str] | None = None) -> list[str]:
    """The network namespaces of lab ``name`` that exist: of ``hosts`` when known, else every
    ``ffl-<name>-*`` (a lab named ``a-b`` would match ``a``'s prefix: pass its hosts where known)."""
    try:
        present = sorted(p.name for p in _NETNS_DIR.iterdir())
    except OSError:
        return []
    layout = Layout(name)
    if hosts is not None:
        wanted = {layout.netns(host) for host in hosts}
        return [n for n in present if n in wanted]
    return [n for n in present if n.startswith(layout.netns(""))]


def pids_in(netns: str) -> list[int]:
    """Processes whose network namespace is ``netns`` (a host's init, sshd and what they started)."""
    try:
        target = os.stat(_NETNS_DIR / netns).st_ino
    except OSError:
        return []
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and entry.name != "1":
            try:
                if os.stat(f"/proc/{entry.name}/ns/net").st_ino == target:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids
