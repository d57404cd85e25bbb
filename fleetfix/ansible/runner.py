"""Where Ansible is driven: resolve the inventories, run a playbook here or in slices on execution nodes
(``slice_run``), fold its events into per-host results.

Every run gets a fresh private data directory under the state directory, kept afterwards with the runner's
artifacts (job events included), so any run can be re-evaluated with ``--from-artifacts``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ansible_runner

from fleetfix.ansible import interrupt
from fleetfix.ansible.artifacts import write_event
from fleetfix.ansible.events import EventFold
from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.ansible.observer import MergedProgress, RunObserver
from fleetfix.ansible.slicing import cut as slices
from fleetfix.ansible.slicing.prepare import ANSIBLE_SETTINGS, SliceJob
from fleetfix.ansible.slicing.stream import run_slices
from fleetfix.errors import EnvironmentProblem, ExitStatus, FleetfixError, InputError
from fleetfix.host_result import HostResult
from fleetfix.state import paths

__all__ = [
    "RunObserver",
    "RunOutcome",
    "RunRequest",
    "inventory_hosts",
    "inventory_hostvars",
    "list_hosts",
    "run_playbook",
]

MAX_FORKS = 100
RUN_IDENT = "ansible"  # a local run's artifacts directory: <run dir>/artifacts/ansible
log = logging.getLogger("fleetfix.ansible")


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
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise EnvironmentProblem(
            f"{run_dir.parent}: cannot write the state directory ({exc.strerror or exc}); "
            "set FLEETFIX_STATE_DIR to a writable directory"
        ) from None
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
        # The collection fleetfix.hba this fleetfix ships, ahead of any copy installed elsewhere.
        "ANSIBLE_COLLECTIONS_PATH": str(paths.collections_dir()),
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


def _warnings(text: str) -> list[str]:
    """Ansible's ``[WARNING]:`` messages in ``text``, each joined onto one line."""
    found: list[str] = []
    for line in text.splitlines():
        if line.startswith("[WARNING]:"):
            found.append(line.removeprefix("[WARNING]:").strip())
        elif found and line.startswith(" ") and line.strip():
            found[-1] += " " + line.strip()  # a wrapped continuation of the last warning
    return found


_warned: set[str] = set()


def _report_warnings(text: str, where: str) -> None:
    """Ansible's warnings, as one line on stderr (through the ``fleetfix.ansible`` logger), once each."""
    found = [warning for warning in _warnings(text) if warning not in _warned]
    _warned.update(found)
    if found:
        more = f" (and {len(found) - 1} more warnings)" if len(found) > 1 else ""
        log.warning("ansible warns about %s: %s%s", where, found[0], more)


class _InventoryListing:
    """``ansible-inventory --list --output FILE`` started in the background: every group with its hosts and
    children, and ``_meta.hostvars``. Read from the file, never from the command's output, where Ansible
    also writes its warnings (a group named ``db-servers`` earns one).

    A local run starts it beside ansible-playbook, which parses the same inventories and fails on them as
    it does, and reads it when the play needs it: a user then waits for one Ansible start-up, not two.
    """

    def __init__(self, sources: Sequence[str], limit: str | None, run_dir: Path) -> None:
        self._where = ",".join(sources)
        self._limit = limit
        name = f"inventory-{uuid.uuid4().hex[:8]}"
        self._output, self._said = run_dir / f"{name}.json", run_dir / f"{name}.log"
        args = ["--list", "--output", str(self._output), *[a for src in sources for a in ("-i", src)]]
        with self._said.open("wb") as said:
            self._process = subprocess.Popen(
                [ansible_executable("ansible-inventory"), *args, *(["--limit", limit] if limit else [])],
                env={**os.environ, **_ansible_env()},
                stdin=subprocess.DEVNULL,
                stdout=said,
                stderr=subprocess.STDOUT,
            )
        self._listing: dict[str, Any] | None = None
        self._error: InputError | None = None

    def result(self) -> dict[str, Any]:
        """The listing, waited for; a broken inventory or a limit that matches nothing is an InputError."""
        if self._error is not None:
            raise self._error
        if self._listing is None:
            try:
                self._listing = self._read(self._process.wait())
            except InputError as exc:
                self._error = exc
                raise
        return self._listing

    def close(self) -> None:
        """Stop it if it still runs (the run it served failed); remove what it wrote."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._output.unlink(missing_ok=True)
        self._said.unlink(missing_ok=True)

    def _read(self, rc: int) -> dict[str, Any]:
        said = self._said.read_text(encoding="utf-8", errors="replace")
        if rc != 0 or not self._output.exists():
            if self._limit and "Could not match supplied host pattern" in said:
                raise InputError(f"--limit {self._limit}", "matches no host in the inventory")
            why = _ansible_error(said, "ansible-inventory could not read the inventory")
            raise InputError(self._where, why)
        _report_warnings(said, self._where)
        try:
            listing = json.loads(self._output.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(self._where, f"ansible-inventory wrote no readable JSON: {exc}") from None
        if not isinstance(listing, dict):
            raise InputError(self._where, "ansible-inventory wrote no inventory mapping")
        return _plain(listing)


def _inventory_list(sources: Sequence[str], limit: str | None, run_dir: Path) -> dict[str, Any]:
    """The inventories resolved by ``ansible-inventory``, waited for (see ``_InventoryListing``)."""
    pending = _InventoryListing(sources, limit, run_dir)
    try:
        return pending.result()
    finally:
        pending.close()


def _plain(value: Any) -> Any:
    """ansible-inventory's JSON with Ansible's tags removed: a value templated by an inventory plugin (the
    constructed plugin's ``compose``) is written as ``{"__ansible_unsafe": "text"}``."""
    if isinstance(value, dict):
        if len(value) == 1 and "__ansible_unsafe" in value:
            return _plain(value["__ansible_unsafe"])
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _hosts_of(listing: Mapping[str, Any]) -> list[str]:
    """Every host of an ``ansible-inventory --list`` document, in the order the groups name them."""
    seen: dict[str, None] = {}

    def visit(group: str, path: tuple[str, ...]) -> None:
        entry = listing.get(group)
        if not isinstance(entry, Mapping) or group in path:
            return
        for host in entry.get("hosts") or []:
            seen.setdefault(str(host), None)
        for child in entry.get("children") or []:
            visit(str(child), (*path, group))

    visit("all", ())
    hostvars = (listing.get("_meta") or {}).get("hostvars") or {}
    for host in hostvars:
        seen.setdefault(str(host), None)
    return list(seen)


def list_hosts(inventories: Sequence[str], limit: str | None, run_dir: Path) -> list[str]:
    """Resolve inventories and limit to host names; a broken inventory or an unknown pattern is an error."""
    return _hosts_of(_inventory_list(inventories, limit, run_dir))


def _groups_of(listing: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each host's groups in an ``ansible-inventory --list`` document: those naming it and their parents
    (``all`` and ``ungrouped`` left out), sorted."""
    found: dict[str, set[str]] = {}

    def visit(group: str, path: tuple[str, ...]) -> None:
        entry = listing.get(group)
        if not isinstance(entry, Mapping) or group in path:
            return
        lineage = {g for g in (*path, group) if g not in ("all", "ungrouped")}
        for host in entry.get("hosts") or []:
            found.setdefault(str(host), set()).update(lineage)
        for child in entry.get("children") or []:
            visit(str(child), (*path, group))

    visit("all", ())
    return {host: sorted(groups) for host, groups in found.items()}


def inventory_hosts(
    inventories: Sequence[Path], limit: str | None
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Every host's variables (group vars merged) and groups, as the inventories resolve them, after the
    limit: one ``ansible-inventory`` run."""
    run_dir = new_run_dir("inventory")
    sources = _inventory_args(inventories, run_dir)
    listing = _inventory_list(sources, limit, run_dir)
    hostvars = (listing.get("_meta") or {}).get("hostvars") or {}
    hosts = sorted(_hosts_of(listing))
    groups = _groups_of(listing)
    return {h: dict(hostvars.get(h) or {}) for h in hosts}, {h: groups.get(h, []) for h in hosts}


def inventory_hostvars(inventories: Sequence[Path], limit: str | None) -> dict[str, dict[str, Any]]:
    """Every host's variables as the inventories resolve them (group vars merged), after the limit."""
    return inventory_hosts(inventories, limit)[0]


def run_playbook(request: RunRequest, observer: RunObserver | None = None, kind: str = "run") -> RunOutcome:
    run_dir = new_run_dir(kind)
    sources = _inventory_args(request.inventories, run_dir)
    playbook = paths.playbook(request.playbook)
    cmdline = " ".join(flag for flag, on in (("--check", request.check), ("--diff", request.diff)) if on)
    with interrupt.stop_on_signals() as stop:
        try:
            if request.nodes is not None and request.inventories:  # localhost alone is not sliced
                listing = _inventory_list(sources, request.limit, run_dir)
                hosts = _matched(_hosts_of(listing), request.limit, sources)
                ran = _run_sliced(request, request.nodes, listing, hosts, run_dir, cmdline, observer)
            else:
                ran = _run_here(request, playbook, sources, run_dir, cmdline, observer, stop)
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


def _matched(hosts: list[str], limit: str | None, sources: Sequence[str]) -> list[str]:
    if not hosts:
        where = f"--limit {limit}" if limit else ",".join(sources)
        raise InputError(where, "matches no host in the inventory")
    return hosts


def _run_here(
    request: RunRequest,
    playbook: Path,
    sources: list[str],
    run_dir: Path,
    cmdline: str,
    observer: RunObserver | None,
    stop: interrupt.StopRequest,
) -> tuple[dict[str, HostResult], int, str]:
    """The play on this machine, the inventory listed beside it (``_InventoryListing``).

    Ansible starts no more workers than a play has hosts, so forks need not wait for the listing; the
    progress display does, from the play's first event on. Job events are kept as ansible-runner keeps them
    (``artifacts/ansible/job_events/<counter>-<uuid>.json``), written here with msgspec's encoder instead of
    the runner's pure-Python ``json.dump``.
    """
    fold = EventFold()
    progress: MergedProgress | None = None
    # ansible-runner polls its cancel callback between reads of the playbook's output: every second here.
    (run_dir / "env").mkdir(exist_ok=True)
    (run_dir / "env" / "settings").write_text("pexpect_timeout: 1\n")
    events_dir = run_dir / "artifacts" / RUN_IDENT / "job_events"
    pending = _InventoryListing(sources, request.limit, run_dir)

    def host_count() -> int:
        try:
            return len(_hosts_of(pending.result()))
        except InputError:
            return 0  # the play fails on the same inventory; the error is raised once it has

    def on_event(event: dict[str, Any]) -> bool:
        nonlocal progress
        fold.add(event)
        if progress is None:
            progress = MergedProgress(observer, host_count())
        progress.feed(RUN_IDENT, event)
        write_event(events_dir, event)
        return False  # written above

    try:
        runner = ansible_runner.run(
            private_data_dir=str(run_dir),
            playbook=str(playbook),
            inventory=sources,
            limit=request.limit,
            extravars=dict(request.extravars),
            forks=MAX_FORKS,
            cmdline=cmdline or None,
            envvars=_ansible_env(),
            suppress_env_files=True,
            quiet=True,
            ident=RUN_IDENT,
            event_handler=on_event,
            cancel_callback=stop.give_up,
            fact_cache_type="memory",  # jsonfile would name a file after each host: a "/" in a name breaks it
        )
        if stop.signum is not None:  # the listing was stopped too: what answered is what there is
            return fold.results(), runner.rc, ""
        hosts = _matched(_hosts_of(pending.result()), request.limit, sources)
    finally:
        pending.close()
    output = runner.stdout.read() if runner.stdout and runner.rc not in (0, 2, 4) else ""
    return fold.results(hosts), runner.rc, output


def _run_sliced(
    request: RunRequest,
    nodes: ExecutionNodes,
    listing: dict[str, Any],
    hosts: list[str],
    run_dir: Path,
    cmdline: str,
    observer: RunObserver | None,
) -> tuple[dict[str, HostResult], int, str]:
    """The run cut into slices over ``nodes``; each host's result comes from its slice's finished attempt."""
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
