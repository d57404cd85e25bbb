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

from fleetfix.ansible import interrupt
from fleetfix.ansible.events import EventFold
from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.ansible.slicing.assign import schedule
from fleetfix.ansible.slicing.cut import Slice
from fleetfix.ansible.slicing.prepare import NODE_IDENT, SliceJob, prepare
from fleetfix.host_result import HostResult

_FINISHED = ("successful", "failed")  # the worker ran the play; anything else is the node's failure


@dataclass(frozen=True)
class Attempt:
    ok: bool
    results: dict[str, HostResult]
    rc: int
    error: str = ""
    output: str = ""


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


def _launch(nodes: ExecutionNodes, node: str, stderr: Path) -> subprocess.Popen[bytes]:
    """``ssh NODE ansible-runner worker``; a node that stops answering is dropped within a minute."""
    command = [
        "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15",
        "-o", "ServerAliveCountMax=4", *nodes.ssh_options, node, nodes.worker_command(),
    ]  # fmt: skip
    with stderr.open("wb") as errors:  # a file: a pipe left unread could stall the node's stream
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)


def _set_aside(run_dir: Path, ident: str) -> None:
    """A failed attempt's events, kept for a post-mortem but out of the run's artifacts."""
    attempt_dir = run_dir / "artifacts" / ident
    if attempt_dir.exists():
        (run_dir / "failed-attempts").mkdir(exist_ok=True)
        attempt_dir.rename(run_dir / "failed-attempts" / ident)


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
    stderr = run_dir / "slices" / f"{ident}.stderr"
    proc = _launch(nodes, node, stderr)
    stream = (run_dir / "slices" / f"{piece.index}.stream").read_bytes()
    feeder = threading.Thread(target=_feed, args=(stream, proc.stdin), daemon=True)
    feeder.start()
    node_paths = re.compile(r"[^\s'\"]*/artifacts/" + NODE_IDENT + "/fetched")
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
    proc.wait()
    feeder.join(timeout=5)
    final = statuses[-1] if statuses else {}
    state = str(final.get("status", "no status"))
    if state in _FINISHED:
        if job.fetch_dir is not None:
            _bring_home(run_dir / "artifacts" / ident / "fetched", job.fetch_dir)
        results = fold.results(piece.hosts)
        return Attempt(True, results, _rc(state, results), output="\n".join(output))
    _set_aside(run_dir, ident)
    detail = " ".join(stderr.read_text(errors="replace").split())[-300:]  # ssh's or the worker's own words
    why = detail or final.get("job_explanation") or state
    return Attempt(False, {}, 1, error=f"{node}: {why} (ssh exit {proc.returncode})")


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
        stop = interrupt.current()
        if stop is not None and stop.requested():
            return Attempt(False, {}, 1, error=f"{node}: not started, the run was interrupted")
        with lock:
            tries[piece.index] = tries.get(piece.index, 0) + 1
            number = tries[piece.index]
        return attempt(nodes, node, run_dir, piece, job, number, on_event)

    return schedule(slices, nodes.nodes, run_on)
