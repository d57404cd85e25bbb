"""What one host answered in a run: its status, message, the facts it set and each task's result.

Built from job events by ``fleetfix.ansible.events``; read by the decisions (audit, soak, remediation), which
never import the transport that produced it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

HostStatus = Literal["ok", "failed", "unreachable", "skipped"]


@dataclass(frozen=True)
class TaskResult:
    task: str
    action: str
    status: HostStatus
    changed: bool
    message: str
    result: Mapping[str, Any]


@dataclass(frozen=True)
class HostResult:
    host: str
    status: HostStatus
    message: str
    facts: Mapping[str, Any]
    tasks: tuple[TaskResult, ...]

    @property
    def changed(self) -> bool:
        return any(task.changed for task in self.tasks)
