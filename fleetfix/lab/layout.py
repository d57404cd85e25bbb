"""Where one lab keeps its state and what it names things, so that two labs can run side by side."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetfix.state import paths

STATE_FILE = "lab.json"


def labs_root() -> Path:
    return paths.state_dir() / "lab"


@dataclass(frozen=True)
class Layout:
    """Names and paths of the lab called ``name``; nothing here touches the system."""

    name: str
    root: Path | None = None  # the labs directory; default: the one under this process's state directory

    @property
    def lab_id(self) -> str:
        return hashlib.sha1(self.name.encode()).hexdigest()[:6]

    @property
    def dir(self) -> Path:
        return (self.root or labs_root()) / self.name

    @property
    def bridge(self) -> str:
        return f"ffl{self.lab_id}"

    def veth(self, index: int) -> str:
        return f"fv{self.lab_id}{index:03d}"

    def netns(self, host: str) -> str:
        return f"ffl-{self.name}-{host}"

    def host_dir(self, host: str) -> Path:
        return self.dir / "hosts" / host

    @property
    def repo_dir(self) -> Path:
        return self.dir / "repo"

    @property
    def key_file(self) -> Path:
        return self.dir / "ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "ssh" / "known_hosts"

    @property
    def status_file(self) -> Path:
        return self.dir / "status.json"

    @property
    def supervisor_log(self) -> Path:
        return self.dir / "supervisor.log"

    def read_state(self) -> dict[str, Any] | None:
        path = self.dir / STATE_FILE
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def write_state(self, state: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        tmp.replace(self.dir / STATE_FILE)
