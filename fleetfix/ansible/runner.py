"""Where Ansible is driven: resolve the inventories, run a playbook here or in slices on execution nodes
(``slice_run``), fold its events into per-host results.

Every run gets a fresh private data directory under the state directory, kept afterwards with the runner's
artifacts (job events included), so any run can be re-evaluated with ``--from-artifacts``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ansible_runner

from fleetfix.ansible import interrupt
from fleetfix.ansible.events import EventFold
from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.ansible.observer import MergedProgress, RunObserver
from fleetfix.ansible.slicing import cut as slices
from fleetfix.ansible.slicing.prepare import ANSIBLE_SETTINGS, SliceJob
from fleetfix.ansible.slicing.stream import run_slices
from fleetfix.errors import EnvironmentProblem, ExitStatus, FleetfixError, InputError
from fleetfix.host_result import HostResult
from fleetfix.state import paths

__all__ = ["RunObserver", "RunOutcome", "RunRequest", "inventory_hostvars", "list_hosts", "run_playbook"]

MAX_FORKS = 100
_LIST_HOSTS = re.compile(r"^\s+hosts \((\d+)\):\s*$")


@dataclass(frozen=True)
class RunRequest:
    playbook: str
    inventories: tuple[Path, ...] = ()
    limit: str | None = None
    extravars: Mapping[str, Any] = field(default_factory=dict)
    check: bool = False
    diff: bool = False
    nodes: ExecutionNodes | None = None  # run in slices on these execution nodes instead of here
    fetch_var: str | None = None  # the extra var naming the local directory the play fetches into


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    hosts: dict[str, HostResult]
    rc: int


def new_run_dir(kind: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = paths.state_dir() / "runs" / f"{stamp}-{kind}-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir(parents=True)
    return run_dir


def ansible_executable(name: str) -> str:
    """The Ansible command installed with this Python (a venv need not be on PATH), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise EnvironmentProblem(f"{name} not found: install ansible-core in this Python environment")
    return found


def _ansible_env() -> dict[str, str]:
    content = paths.content_dir()
    ansible_bin = str(Path(ansible_executable("ansible-playbook")).parent)
    return {
        "PATH": os.pathsep.join([ansible_bin, os.environ.get("PATH", "")]),
        "ANSIBLE_CONFIG": str(content / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(content / "roles"),
        **ANSIBLE_SETTINGS,
    }


def _inventory_args(inventories: Sequence[Path], run_dir: Path) -> list[str]:
    """The -i sources; with none, localhost over the local connection."""
    for source in inventories:
        if not source.exists():
            raise InputError(str(source), "inventory not found")
    if inventories:
        return [str(source.resolve()) for source in inventories]
    local = run_dir / "localhost.ini"
    local.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    return [str(local)]


def _ansible_error(text: str, fallback: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("ERROR", "[ERROR]"))]
    chosen = errors[0] if errors else (lines[-1] if lines else fallback)
    return " ".join(chosen.split())[:400]


def list_hosts(inventories: Sequence[str], limit: str | None, run_dir: Path) -> list[str]:
    """Resolve inventories and limit to host names; a broken inventory or an unknown pattern is an error."""
    out, err, rc = ansible_runner.run_command(
        executable_cmd=ansible_executable("ansible"),
        cmdline_args=[limit or "all", "--list-hosts", *[a for src in inventories for a in ("-i", src)]],
        envvars=_ansible_env(),
        quiet=True,
        suppress_env_files=True,
    )
    if rc != 0:
        where = ",".join(inventories)
        raise InputError(where, _ansible_error(err or out, "ansible could not read the inventory"))
    hosts: list[str] = []
    listing = False
    for line in out.splitlines():
        if _LIST_HOSTS.match(line):
            listing = True
        elif listing and line.strip():
            hosts.append(line.strip())
    return hosts


def _inventory_list(sources: Sequence[str]) -> dict[str, Any]:
    """``ansible-inventory --list``: every group with its hosts and children, and ``_meta.hostvars``."""
    out, err, rc = ansible_runner.run_command(
        executable_cmd=ansible_executable("ansible-inventory"),
        cmdline_args=["--list", *[a for src in sources for a in ("-i", src)]],
        envvars=_ansible_env(),
        quiet=True,
        suppress_env_files=True,
    )
    if rc != 0:
        raise InputError(",".join(sources), _ansible_error(err or out, "ansible-inventory failed"))
    return json.loads(out)


def inventory_hostvars(inventories: Sequence[Path], limit: str | None) -> dict[str, dict[str, Any]]:
    """Every host's variables as the inventories resolve them (group vars merged), after the limit."""
    run_dir = new_run_dir("inventory")
    sources = _inventory_args(inventories, run_dir)
    hosts = set(list_hosts(sources, limit, run_dir))
    hostvars = _inventory_list(sources).get("_meta", {}).get("hostvars", {})
    return {host: dict(hostvars.get(host, {})) for host in sorted(hosts)}


def run_playbook(request: RunRequest, observer: RunObserver | None = None, kind: str = "run") -> RunOutcome:
    run_dir = new_run_dir(kind)
    sources = _inventory_args(request.inventories, run_dir)
    hosts = list_hosts(sources, request.limit, run_dir)
    if not hosts:
        where = f"--limit {request.limit}" if request.limit else ",".join(sources)
        raise InputError(where, "matches no host in the inventory")
    playbook = paths.playbook(request.playbook)
    cmdline = " ".join(flag for flag, on in (("--check", request.check), ("--diff", request.diff)) if on)
    with interrupt.stop_on_signals() as stop:
        try:
            if request.nodes is not None and request.inventories:  # localhost alone is not sliced
                ran = _run_sliced(request, request.nodes, sources, hosts, run_dir, cmdline, observer)
            else:
                ran = _run_here(request, playbook, sources, hosts, run_dir, cmdline, observer, stop)
        except FleetfixError:
            if stop.signum is None:
                raise
            ran = ({}, 1, "")  # the slices that were cut short
        stop.finish()
    results, rc, output = ran
    if stop.signum is not None:
        answered = {h: r for h, r in results.items() if r.tasks and r.status != "skipped"}
        raise interrupt.Interrupted(stop.signum, run_dir, answered)
    if rc not in (0, 2, 4) and all(r.status == "skipped" or not r.tasks for r in results.values()):
        raise FleetfixError(
            f"{playbook.name}: {_ansible_error(output, f'ansible-playbook exited {rc}')}",
            ExitStatus.BAD_INPUT,
        )
    return RunOutcome(run_dir=run_dir, hosts=results, rc=rc)


def _run_here(
    request: RunRequest,
    playbook: Path,
    sources: list[str],
    hosts: list[str],
    run_dir: Path,
    cmdline: str,
    observer: RunObserver | None,
    stop: interrupt.StopRequest,
) -> tuple[dict[str, HostResult], int, str]:
    fold, progress = EventFold(), MergedProgress(observer, len(hosts))
    # ansible-runner polls its cancel callback between reads of the playbook's output: every second here.
    (run_dir / "env").mkdir(exist_ok=True)
    (run_dir / "env" / "settings").write_text("pexpect_timeout: 1\n")

    def on_event(event: dict[str, Any]) -> bool:
        fold.add(event)
        progress.feed("ansible", event)
        return True

    runner = ansible_runner.run(
        private_data_dir=str(run_dir),
        playbook=str(playbook),
        inventory=sources,
        limit=request.limit,
        extravars=dict(request.extravars),
        forks=min(len(hosts), MAX_FORKS),
        cmdline=cmdline or None,
        envvars=_ansible_env(),
        suppress_env_files=True,
        quiet=True,
        ident="ansible",
        event_handler=on_event,
        cancel_callback=stop.give_up,
    )
    output = runner.stdout.read() if runner.stdout and runner.rc not in (0, 2, 4) else ""
    return fold.results(hosts), runner.rc, output


def _run_sliced(
    request: RunRequest,
    nodes: ExecutionNodes,
    sources: list[str],
    hosts: list[str],
    run_dir: Path,
    cmdline: str,
    observer: RunObserver | None,
) -> tuple[dict[str, HostResult], int, str]:
    """The run cut into slices over ``nodes``; each host's result comes from its slice's finished attempt."""
    listing = _inventory_list(sources)
    if nodes.slice_by == "group":
        groups = {g: v.get("hosts", []) for g, v in listing.items() if g not in ("_meta", "all", "ungrouped")}
        pieces = slices.by_group(hosts, groups, len(nodes.nodes))
    else:
        pieces = slices.by_count(hosts, len(nodes.nodes))
    progress = MergedProgress(observer, len(hosts))
    job = SliceJob(request.playbook, dict(request.extravars), cmdline or None, request.fetch_var)
    done = run_slices(nodes, run_dir, pieces, listing, job, progress.feed)
    results = {host: done[p.index].results[host] for p in pieces for host in p.hosts}
    output = "\n".join(a.output for a in done.values())
    return {h: results[h] for h in hosts}, slices.merged_rc([a.rc for a in done.values()]), output
