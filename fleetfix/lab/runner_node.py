"""Make lab hosts execution nodes: ansible-runner and ansible-core from this environment, installed on them.

A lab host sees the machine's /usr (so its python3) but not this virtualenv, and has no network. So the
Python distributions ansible-runner and ansible-core need are copied from this environment's site-packages
to ``/usr/local/lib/fleetfix-runner/lib`` on the host over ssh, with their console scripts as small
wrappers in ``bin/`` beside it; the compiled parts fit because the host runs the same Python minor version.
The lab's ssh key and known_hosts go to the same paths on the node, so the inventory works there unchanged.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from fleetfix.errors import EnvironmentProblem
from fleetfix.lab import inventory
from fleetfix.lab.lab import Lab

PREFIX = "/usr/local/lib/fleetfix-runner"
RUNNER = f"{PREFIX}/bin/ansible-runner"
_ROOTS = ("ansible-runner", "ansible-core")


def _closure(roots: tuple[str, ...]) -> list[metadata.Distribution]:
    seen: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        dist = metadata.distribution(name)
        seen[name] = dist
        for spec in dist.requires or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(seen.values())


def _wrapper(module: str, function: str) -> str:
    return (
        f"#!/usr/bin/python3\nimport sys\nsys.path.insert(0, {PREFIX + '/lib'!r})\n"
        f"from {module} import {function}\nsys.exit({function}())\n"
    )


def bundle() -> bytes:
    """A gzipped tar of ``lib/`` (the distributions' files) and ``bin/`` (their console scripts)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for dist in _closure(_ROOTS):
            base = Path(str(dist.locate_file("")))
            for file in dist.files or []:
                if file.parts[0] == ".." or "__pycache__" in file.parts:
                    continue
                tar.add(base / file, arcname=f"lib/{file}", recursive=False)
            for entry in dist.entry_points.select(group="console_scripts"):
                module, _, function = entry.value.partition(":")
                data = _wrapper(module, function).encode()
                info = tarfile.TarInfo(f"bin/{entry.name}")
                info.size, info.mode = len(data), 0o755
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _ssh(lab: Lab, host: str, command: str, payload: bytes = b"") -> None:
    destination = f"root@{lab.host(host).ip}"
    options = inventory.ssh_options(lab.key_file, lab.known_hosts)
    done = subprocess.run(
        ["ssh", *options, destination, command], input=payload, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise EnvironmentProblem(
            f"{host}: {command.split()[0]} failed: {done.stderr.decode(errors='replace')}"
        )


def make_execution_nodes(lab: Lab, hosts: list[str]) -> dict[str, object]:
    """Install the runner on ``hosts``; returns the ``execution_nodes`` config section that reaches them."""
    if sys.version_info[:2] != (3, 11):
        raise EnvironmentProblem(
            "lab execution nodes need this environment on Python 3.11, as the lab's /usr"
        )
    payload = bundle()
    for host in hosts:
        _ssh(lab, host, f"rm -rf {PREFIX} && mkdir -p {PREFIX} && tar -xzf - -C {PREFIX}", payload)
        for secret in (lab.key_file, lab.known_hosts):
            command = f"mkdir -p {secret.parent} && cat > {secret} && chmod 600 {secret}"
            _ssh(lab, host, command, secret.read_bytes())
    return {
        "nodes": [f"root@{lab.host(h).ip}" for h in hosts],
        "ssh_options": inventory.ssh_options(lab.key_file, lab.known_hosts),
        "runner": RUNNER,
    }
