"""A playbook run cut into slices, each run on an execution node through ansible-runner's streaming protocol.

Per slice: ``ansible-runner transmit`` packs a private data directory (the playbooks and roles as
``project/``, the slice's hosts as a static inventory, extra vars) into a stream; ``ssh NODE ansible-runner
worker`` runs it there; ``ansible-runner process`` turns the node's stream back into job events here, which
fold into the same typed results as a local run. This is the protocol AWX's execution nodes speak.

The controller resolves the inventory (plugins, group_vars, limit) and sends each slice its hosts with their
variables, so a node needs ansible-core and ansible-runner, and whatever the inventory's connection
variables name (key files, known_hosts), nothing else.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansible_runner
import yaml

from fleetfix import paths
from fleetfix.events import EventFold, HostResult
from fleetfix.nodes import ExecutionNodes
from fleetfix.slice_schedule import schedule
from fleetfix.slices import Slice

_ENV = {
    "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
    "ANSIBLE_HOST_PATTERN_MISMATCH": "error",
    "ANSIBLE_NOCOLOR": "True",
}
_FINISHED = ("successful", "failed")  # the worker ran the play; anything else is the node's failure
_NODE_IDENT = "ansible"  # the artifacts directory's name on the node
_NODE_FETCH_DIR = "{{ lookup('ansible.builtin.env', 'AWX_ISOLATED_DATA_DIR') }}/fetched"


@dataclass(frozen=True)
class SliceJob:
    """What every slice runs: the same playbook, variables and mode.

    ``fetch_var`` names the extra var holding this machine's directory the play fetches files into. On a
    node that directory does not exist, so the play fetches into the runner's artifacts directory there
    instead (which the worker streams back at the end); the files then move to the real directory and the
    paths in the events are rewritten to match.
    """

    playbook: str
    extravars: Mapping[str, Any]
    cmdline: str | None
    fetch_var: str | None = None

    def node_extravars(self) -> dict[str, Any]:
        if self.fetch_var is None:
            return dict(self.extravars)
        return {**self.extravars, self.fetch_var: _NODE_FETCH_DIR}

    @property
    def fetch_dir(self) -> Path | None:
        return Path(self.extravars[self.fetch_var]) if self.fetch_var else None


@dataclass(frozen=True)
class Attempt:
    ok: bool
    results: dict[str, HostResult]
    rc: int
    error: str = ""
    output: str = ""


def slice_inventory(hosts: Sequence[str], inventory: Mapping[str, Any]) -> dict[str, Any]:
    """A static YAML inventory of ``hosts`` from ``ansible-inventory --list`` output: every host with its
    resolved variables, every group with its direct members among them and its child groups."""
    wanted = set(hosts)
    hostvars = inventory.get("_meta", {}).get("hostvars", {})
    groups: dict[str, Any] = {}
    for name, group in inventory.items():
        if name in ("_meta", "all") or not isinstance(group, dict):
            continue
        entry: dict[str, Any] = {}
        members = [h for h in group.get("hosts", []) if h in wanted]
        if members:
            entry["hosts"] = dict.fromkeys(members)
        if group.get("children"):
            entry["children"] = dict.fromkeys(group["children"])
        groups[name] = entry
    return {"all": {"hosts": {h: dict(hostvars.get(h, {})) for h in hosts}, "children": groups}}


def _project(target: Path) -> None:
    content = paths.content_dir()
    skip = shutil.ignore_patterns("molecule", "__pycache__", "*.pyc")
    for name in ("playbooks", "roles"):
        shutil.copytree(content / name, target / name, ignore=skip)
    shutil.copy2(content / "ansible.cfg", target / "ansible.cfg")


def _transmit(slice_dir: Path, job: SliceJob, forks: int) -> None:
    stream = slice_dir.with_name(f"{slice_dir.name}.stream")
    with stream.open("wb") as output:  # the transmitter needs a named file, not a memory buffer
        ansible_runner.run(
            private_data_dir=str(slice_dir),
            playbook=str(slice_dir / "project" / "playbooks" / job.playbook),
            inventory=str(slice_dir / "inventory" / "hosts.yml"),
            extravars=job.node_extravars(),
            cmdline=job.cmdline,
            forks=forks,
            envvars=dict(_ENV),
            ident=_NODE_IDENT,
            streamer="transmit",
            _output=output,
        )


def prepare(run_dir: Path, piece: Slice, inventory: Mapping[str, Any], job: SliceJob) -> None:
    """The slice's transmit stream (``slices/<index>.stream``), built once and sent unchanged to whichever
    node runs it."""
    slice_dir = run_dir / "slices" / str(piece.index)
    _project(slice_dir / "project")
    (slice_dir / "inventory").mkdir(parents=True)
    listing = yaml.safe_dump(slice_inventory(piece.hosts, inventory), sort_keys=False)
    (slice_dir / "inventory" / "hosts.yml").write_text(listing)
    _transmit(slice_dir, job, forks=max(1, min(len(piece.hosts), 100)))


def _feed(stream: bytes, pipe: Any) -> None:
    try:
        pipe.write(stream)
        pipe.close()
    except (BrokenPipeError, OSError):
        pass  # the node went away: the processor sees the stream end and reports it


def _rc(status: str, results: Mapping[str, HostResult]) -> int:
    if any(r.status == "unreachable" for r in results.values()):
        return 4
    if any(r.status == "failed" for r in results.values()):
        return 2
    return 0 if status == "successful" else 1


def _rewrite(value: Any, pattern: re.Pattern[str], replacement: str) -> Any:
    if isinstance(value, str):
        return pattern.sub(replacement, value)
    if isinstance(value, list):
        return [_rewrite(v, pattern, replacement) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite(v, pattern, replacement) for k, v in value.items()}
    return value


def _bring_home(fetched: Path, fetch_dir: Path) -> None:
    """Files the node fetched into its artifacts, moved into ``fetch_dir`` at the same relative paths."""
    if not fetched.is_dir():
        return
    for source in sorted(p for p in fetched.rglob("*") if p.is_file()):
        target = fetch_dir / source.relative_to(fetched)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
    shutil.rmtree(fetched)


def attempt(
    nodes: ExecutionNodes,
    node: str,
    run_dir: Path,
    piece: Slice,
    job: SliceJob,
    try_number: int,
    on_event: Callable[[str, dict[str, Any]], None],
) -> Attempt:
    """Run one slice on one node; events reach ``on_event`` as they arrive."""
    ident = f"slice-{piece.index}-try-{try_number}"
    stream = (run_dir / "slices" / f"{piece.index}.stream").read_bytes()
    node_paths = re.compile(r"[^\s'\"]*/artifacts/" + _NODE_IDENT + "/fetched")
    command = ["ssh", "-o", "BatchMode=yes", *nodes.ssh_options, node, *nodes.worker_command()]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    feeder = threading.Thread(target=_feed, args=(stream, proc.stdin), daemon=True)
    feeder.start()
    fold, statuses, output = EventFold(), [], []

    def event(data: dict[str, Any]) -> bool:
        if job.fetch_dir is not None and "event_data" in data:
            data["event_data"] = _rewrite(data["event_data"], node_paths, str(job.fetch_dir))
        fold.add(data)
        if data.get("stdout"):
            output.append(str(data["stdout"]))
        on_event(ident, data)
        return True

    def status(data: dict[str, Any], runner_config: Any = None) -> None:
        statuses.append(data)

    ansible_runner.run(
        streamer="process",
        _input=proc.stdout,
        private_data_dir=str(run_dir),
        ident=ident,
        quiet=True,
        event_handler=event,
        status_handler=status,
    )
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.wait()
    feeder.join(timeout=5)
    final = statuses[-1] if statuses else {}
    state = str(final.get("status", "no status"))
    results = fold.results(piece.hosts)
    if state in _FINISHED:
        if job.fetch_dir is not None:
            _bring_home(run_dir / "artifacts" / ident / "fetched", job.fetch_dir)
        return Attempt(True, results, _rc(state, results), output="\n".join(output))
    attempt_dir = run_dir / "artifacts" / ident
    if attempt_dir.exists():  # keep it for a post-mortem, out of the run's artifacts
        (run_dir / "failed-attempts").mkdir(exist_ok=True)
        attempt_dir.rename(run_dir / "failed-attempts" / ident)
    why = final.get("job_explanation") or state
    detail = " ".join(stderr.split())[-300:]
    return Attempt(
        False, {}, 1, error=f"{node}: {why}{'; ' + detail if detail else ''} (ssh exit {proc.returncode})"
    )


def run_slices(
    nodes: ExecutionNodes,
    run_dir: Path,
    slices: Sequence[Slice],
    inventory: Mapping[str, Any],
    job: SliceJob,
    on_event: Callable[[str, dict[str, Any]], None],
) -> dict[int, Attempt]:
    """Every slice run to completion on some node; raises EnvironmentProblem when the nodes run out."""
    for piece in slices:
        prepare(run_dir, piece, inventory, job)
    tries: dict[int, int] = {}
    lock = threading.Lock()

    def run_on(piece: Slice, node: str) -> Attempt:
        with lock:
            tries[piece.index] = tries.get(piece.index, 0) + 1
            number = tries[piece.index]
        return attempt(nodes, node, run_dir, piece, job, number, on_event)

    return schedule(slices, nodes.nodes, run_on)
