"""Execution nodes: where slices of a run go, from ``--execution-nodes`` and the config file.

The config file (``$FLEETFIX_CONFIG``, else ``$XDG_CONFIG_HOME/fleetfix/config.yml``)::

    execution_nodes:
      nodes: [runner01, root@runner02]   # ssh destinations
      ssh_options: [-i, /etc/fleetfix/node_key, -o, StrictHostKeyChecking=yes]
      runner: /opt/ee/bin/ansible-runner # the ansible-runner command on the nodes
      slice_by: count                    # or group: keep each inventory group on one node

``--execution-nodes a,b`` replaces ``nodes`` and keeps the rest.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fleetfix import serde
from fleetfix.errors import InputError
from fleetfix.state import paths

SLICE_BY = ("count", "group")


@dataclass(frozen=True)
class ExecutionNodes:
    nodes: tuple[str, ...]
    ssh_options: tuple[str, ...] = ()
    runner: str = "ansible-runner"
    slice_by: str = "count"

    def worker_command(self) -> str:
        """ssh arguments after the destination: a private data dir of its own, removed when the job ends.

        ansible-runner starts ``ansible-playbook`` from PATH, so a runner given by its full path (a venv
        not on PATH) brings its directory onto PATH.
        """
        path = (
            f'PATH={shlex.quote(os.path.dirname(self.runner))}:"$PATH" ' if os.path.isabs(self.runner) else ""
        )
        runner = shlex.quote(self.runner)
        return f'dir=$(mktemp -d) && {path}exec {runner} worker --delete --private-data-dir "$dir"'


def _strings(value: Any, where: str, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InputError(where, "must be a list of non-empty strings", field=field)
    return tuple(value)


def _from_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = serde.load_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(str(path), "not valid YAML", line=mark.line + 1 if mark else None) from None
    except OSError as exc:
        raise InputError(str(path), exc.strerror or str(exc)) from None
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"not UTF-8 text (byte {exc.start})") from None
    section = data.get("execution_nodes", {}) if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise InputError(str(path), "must be a mapping", field="execution_nodes")
    unknown = sorted(set(section) - {"nodes", "ssh_options", "runner", "slice_by"})
    if unknown:
        raise InputError(str(path), f"unknown key {unknown[0]}", field="execution_nodes")
    return section


def load(cli_nodes: str | None) -> ExecutionNodes | None:
    """The nodes to run on, or None to run on this machine as usual."""
    path = paths.config_file()
    where = str(path)
    section = _from_file(path)
    nodes = _strings(section["nodes"], where, "execution_nodes.nodes") if "nodes" in section else ()
    if cli_nodes is not None:
        where = "--execution-nodes"
        nodes = tuple(n.strip() for n in cli_nodes.split(",") if n.strip())
        if not nodes:
            raise InputError(where, "names no node")
    if not nodes:
        return None
    if len(set(nodes)) != len(nodes):
        raise InputError(where, "names a node twice")
    runner = section.get("runner", "ansible-runner")
    if not isinstance(runner, str) or not runner:
        raise InputError(str(path), "must be a command", field="execution_nodes.runner")
    slice_by = section.get("slice_by", "count")
    if slice_by not in SLICE_BY:
        raise InputError(str(path), f"must be one of {', '.join(SLICE_BY)}", field="execution_nodes.slice_by")
    ssh = section.get("ssh_options", [])
    return ExecutionNodes(nodes, _strings(ssh, str(path), "execution_nodes.ssh_options"), runner, slice_by)
