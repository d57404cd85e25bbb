"""What a progress display is told while a play runs, and which job events tell it."""

from __future__ import annotations

import threading
from typing import Any, Protocol

_ANSWERS = frozenset({"ok", "failed", "skipped", "unreachable"})


class RunObserver(Protocol):
    def task_started(self, name: str, hosts: int) -> None: ...

    def host_answered(self, host: str, status: str) -> None: ...


def answer_status(event: dict[str, Any]) -> str | None:
    """``ok``/``failed``/``skipped``/``unreachable`` for a host's result event, else None (a task starting on
    a host, an item of a loop, anything else)."""
    status = str(event.get("event", "")).removeprefix("runner_on_")
    has_host = bool((event.get("event_data") or {}).get("host"))
    return status if has_host and status in _ANSWERS else None


class MergedProgress:
    """Job events of one or more streams (a local run, or the slice attempts of a sliced one) told to an
    observer as one run: each slice attempt counts its own task starts, a task is shown when the first
    stream reaches it, and each host's answer to it once, so a slice retried on another node does not count
    its hosts twice.
    """

    def __init__(self, observer: RunObserver | None, hosts: int) -> None:
        self._observer = observer
        self._hosts = hosts
        self._lock = threading.Lock()
        self._shown = 0
        self._tasks_seen: dict[str, int] = {}
        self._answered: set[tuple[int, str]] = set()

    def feed(self, stream: str, event: dict[str, Any]) -> None:
        if self._observer is None:
            return
        data = event.get("event_data") or {}
        with self._lock:
            if event.get("event") == "playbook_on_task_start":
                index = self._tasks_seen.get(stream, 0) + 1
                self._tasks_seen[stream] = index
                if index > self._shown:
                    self._shown = index
                    self._observer.task_started(str(data.get("task", "")), self._hosts)
                return
            status = answer_status(event)
            key = (self._tasks_seen.get(stream, 0), str(data.get("host")))
            if status and key not in self._answered:
                self._answered.add(key)
                self._observer.host_answered(key[1], status)
