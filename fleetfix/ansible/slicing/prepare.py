"""A slice's job for an execution node: the project, the slice's inventory, and ansible-runner's transmit.

What a node receives is self-contained: as ``project/``, the playbooks, ansible.cfg and the collection
fleetfix.hba (roles, modules) under ``collections/``, where that ansible.cfg finds it; the slice's hosts with
the variables the controller resolved for them as a static inventory; and the extra vars. The stream is built
once per slice and sent unchanged to whichever node runs it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansible_runner
import yaml

from fleetfix.ansible.slicing.cut import Slice
from fleetfix.state import paths

# How every run reads inventories and reports, here or on a node (the paths to content are set per place).
ANSIBLE_SETTINGS = {
    "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
    "ANSIBLE_HOST_PATTERN_MISMATCH": "error",
    "ANSIBLE_NOCOLOR": "True",
}
NODE_IDENT = "ansible"  # the artifacts directory's name on the node
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


# What of the collection a run needs: the rest of a checkout (fleetfix's Python, tests) stays here.
_COLLECTION_PARTS = ("galaxy.yml", "meta", "plugins", "roles")


def copy_project(target: Path) -> None:
    """The playbooks, ansible.cfg and the collection fleetfix.hba, copied as a node's ``project/``."""
    content = paths.content_dir()
    skip = shutil.ignore_patterns("molecule", "__pycache__", "*.pyc")
    shutil.copytree(content / "playbooks", target / "playbooks", ignore=skip)
    shutil.copy2(content / "ansible.cfg", target / "ansible.cfg")
    collection = paths.collection_root()
    copied = target / "collections" / "ansible_collections" / "fleetfix" / "hba"
    for name in _COLLECTION_PARTS:
        if (collection / name).is_dir():
            shutil.copytree(collection / name, copied / name, ignore=skip)
        else:
            copied.mkdir(parents=True, exist_ok=True)
            shutil.copy2(collection / name, copied / name)


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
            envvars=dict(ANSIBLE_SETTINGS),
            ident=NODE_IDENT,
            fact_cache_type="memory",  # as a local run: a "/" in a host name breaks the jsonfile cache
            streamer="transmit",
            _output=output,
        )


def prepare(run_dir: Path, piece: Slice, inventory: Mapping[str, Any], job: SliceJob) -> None:
    """The slice's transmit stream (``slices/<index>.stream``), built once and sent unchanged to whichever
    node runs it."""
    slice_dir = run_dir / "slices" / str(piece.index)
    copy_project(slice_dir / "project")
    (slice_dir / "inventory").mkdir(parents=True)
    listing = yaml.safe_dump(slice_inventory(piece.hosts, inventory), sort_keys=False)
    (slice_dir / "inventory" / "hosts.yml").write_text(listing)
    _transmit(slice_dir, job, forks=max(1, min(len(piece.hosts), 100)))
