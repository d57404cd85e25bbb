"""Slicing a run for execution nodes: cutting, scheduling with retries, the slice inventory, the config."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fleetfix.ansible.nodes import ExecutionNodes, load
from fleetfix.ansible.observer import MergedProgress, answer_status
from fleetfix.ansible.slicing.assign import schedule
from fleetfix.ansible.slicing.cut import Slice, by_count, by_group, merged_rc
from fleetfix.ansible.slicing.prepare import SliceJob, copy_project, slice_inventory
from fleetfix.errors import EnvironmentProblem, InputError

HOSTS = [f"h{n:02d}" for n in range(10)]


def test_by_count_balances_and_keeps_order() -> None:
    pieces = by_count(HOSTS, 3)
    assert [len(p.hosts) for p in pieces] == [4, 3, 3]
    assert [h for p in pieces for h in p.hosts] == HOSTS
    assert by_count(HOSTS[:2], 5) == [Slice(0, ("h00",)), Slice(1, ("h01",))]


def test_by_group_keeps_groups_whole_and_every_host_once() -> None:
    groups = {"db": HOSTS[:6], "app": HOSTS[4:8], "web": ["h08"]}
    pieces = by_group(HOSTS, groups, 2)
    placed = [h for p in pieces for h in p.hosts]
    assert sorted(placed) == HOSTS and len(placed) == len(set(placed))
    assert pieces[0].hosts == tuple(HOSTS[:6])  # db, the largest, whole
    assert pieces[1].hosts == ("h06", "h07", "h08", "h09")  # app's hosts not in db, web, the ungrouped


def test_merged_rc_prefers_the_unexpected_then_unreachable() -> None:
    assert merged_rc([0, 0]) == 0
    assert merged_rc([0, 2]) == 2
    assert merged_rc([2, 4, 0]) == 4
    assert merged_rc([4, 1, 2]) == 1


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    error: str = ""


def test_a_failed_node_gives_its_slice_to_another_and_is_retired() -> None:
    pieces = by_count(HOSTS, 4)
    calls: list[tuple[int, str]] = []
    lock = threading.Lock()
    bad_tried = threading.Event()

    def run_on(piece: Slice, node: str) -> _Outcome:
        with lock:
            calls.append((piece.index, node))
        if node == "bad":
            bad_tried.set()
        else:
            bad_tried.wait(timeout=10)  # the bad node takes a slice before the others finish theirs
        return _Outcome(node != "bad", "bad: connection refused")

    done = schedule(pieces, ["good", "bad", "other"], run_on)
    assert sorted(done) == [0, 1, 2, 3]
    assert [node for _, node in calls].count("bad") == 1
    finished = [index for index, node in calls if node != "bad"]
    assert sorted(finished) == [0, 1, 2, 3]  # each slice finished exactly once


def test_no_node_left_names_what_was_not_run() -> None:
    def run_on(piece: Slice, node: str) -> _Outcome:
        return _Outcome(False, f"{node}: ansible-runner: command not found")

    with pytest.raises(EnvironmentProblem, match=r"10 host\(s\) not run; last: n\d: ansible-runner"):
        schedule(by_count(HOSTS, 2), ["n1", "n2"], run_on)


LISTING = {
    "_meta": {"hostvars": {"a": {"ansible_host": "10.0.0.1", "x": 1}, "b": {"ansible_host": "10.0.0.2"}}},
    "all": {"children": ["ungrouped", "prod"]},
    "prod": {"children": ["db"]},
    "db": {"hosts": ["a", "b"]},
    "ungrouped": {"hosts": ["c"]},
}


def test_slice_inventory_carries_resolved_vars_and_group_membership() -> None:
    document = slice_inventory(["a"], LISTING)
    assert document["all"]["hosts"] == {"a": {"ansible_host": "10.0.0.1", "x": 1}}
    groups = document["all"]["children"]
    assert groups["db"] == {"hosts": {"a": None}}
    assert groups["prod"] == {"children": {"db": None}}
    assert groups["ungrouped"] == {}
    assert yaml.safe_load(yaml.safe_dump(document)) == document


def test_slice_job_fetches_into_the_runners_artifacts_on_the_node() -> None:
    job = SliceJob("soak.yml", {"fio_soak_fetch_dir": "/srv/soak", "n": 1}, None, "fio_soak_fetch_dir")
    assert job.fetch_dir == Path("/srv/soak")
    assert job.node_extravars()["fio_soak_fetch_dir"].endswith("'AWX_ISOLATED_DATA_DIR') }}/fetched")
    assert SliceJob("audit.yml", {"n": 1}, None).node_extravars() == {"n": 1}


def test_config_file_and_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.yml"
    monkeypatch.setenv("FLEETFIX_CONFIG", str(config))
    assert load(None) is None  # no file: run here
    config.write_text(
        "execution_nodes:\n  nodes: [n1, n2]\n  ssh_options: [-p, '2222']\n"
        "  runner: /opt/ee/bin/ansible-runner\n"
    )
    assert load(None) == ExecutionNodes(("n1", "n2"), ("-p", "2222"), "/opt/ee/bin/ansible-runner", "count")
    assert load("n3").nodes == ("n3",)  # type: ignore[union-attr]
    with pytest.raises(InputError, match="names a node twice"):
        load("n3,n3")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("execution_nodes: [a]\n", "execution_nodes: must be a mapping"),
        ("execution_nodes:\n  nodes: a\n", "execution_nodes.nodes: must be a list"),
        ("execution_nodes:\n  nodes: [a]\n  slice_by: rack\n", "slice_by: must be one of count, group"),
        ("execution_nodes:\n  node: [a]\n", "unknown key node"),
        ("execution_nodes:\n  nodes: [a\n", "config.yml:3: not valid YAML"),
    ],
)
def test_config_errors_name_the_file_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    (tmp_path / "config.yml").write_text(text)
    monkeypatch.setenv("FLEETFIX_CONFIG", str(tmp_path / "config.yml"))
    with pytest.raises(InputError, match=message):
        load(None)


def test_worker_command_puts_a_venv_runner_on_path() -> None:
    command = ExecutionNodes(("n",), runner="/opt/ee/bin/ansible-runner").worker_command()
    assert 'PATH=/opt/ee/bin:"$PATH" exec /opt/ee/bin/ansible-runner worker --delete' in command
    plain = ExecutionNodes(("n",)).worker_command()
    assert "PATH=" not in plain and "exec ansible-runner worker" in plain


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, object]] = []

    def task_started(self, name: str, hosts: int) -> None:
        self.calls.append(("task", name, hosts))

    def host_answered(self, host: str, status: str) -> None:
        self.calls.append(("answer", host, status))


def _task(name: str) -> dict:
    return {"event": "playbook_on_task_start", "event_data": {"task": name}}


def _answer(host: str, status: str = "ok") -> dict:
    return {"event": f"runner_on_{status}", "event_data": {"host": host}}


def test_merged_progress_shows_each_task_once_and_each_answer_once() -> None:
    recorder = _Recorder()
    progress = MergedProgress(recorder, 3)
    progress.feed("s0-try-1", _task("facts"))
    progress.feed("s0-try-1", _answer("a"))
    progress.feed("s1-try-1", _task("facts"))
    progress.feed("s1-try-1", {"event": "runner_on_start", "event_data": {"host": "c"}})
    progress.feed("s1-try-1", _answer("c", "unreachable"))
    progress.feed("s0-try-2", _task("facts"))  # slice 0 again, on another node
    progress.feed("s0-try-2", _answer("a"))
    assert recorder.calls == [("task", "facts", 3), ("answer", "a", "ok"), ("answer", "c", "unreachable")]


def test_answer_status() -> None:
    assert answer_status(_answer("a", "failed")) == "failed"
    assert answer_status({"event": "runner_on_start", "event_data": {"host": "a"}}) is None
    assert answer_status({"event": "runner_on_ok", "event_data": {}}) is None


def test_a_nodes_project_finds_the_collection_with_its_own_ansible_cfg(tmp_path: Path) -> None:
    """A node has the project's files only: its ansible.cfg must lead Ansible to the copied collection."""
    project = tmp_path / "project"
    copy_project(project)
    collection = project / "collections" / "ansible_collections" / "fleetfix" / "hba"
    assert not any(collection.rglob("molecule")) and not (collection / "fleetfix").exists()
    assert (collection / "plugins" / "module_utils" / "write_safety.py").is_file()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        ["ansible-doc", "-t", "role", "-l", "fleetfix.hba"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    roles = {line.rstrip(":") for line in result.stdout.splitlines() if line.startswith("fleetfix.hba.")}
    assert roles == {"fleetfix.hba.crash_capture", "fleetfix.hba.fio_soak", "fleetfix.hba.hba_driver"}
    module = subprocess.run(
        ["ansible", "localhost", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
         "-m", "fleetfix.hba.fleetfix_facts", "-a", "root=/nonexistent", "-o"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert module.returncode == 0 and '"schema": 2' in module.stdout, module.stdout + module.stderr
