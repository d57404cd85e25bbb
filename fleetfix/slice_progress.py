"""One progress display for a run whose slices report from several nodes at once.

Each slice attempt counts its own task starts; the display shows a task when the first slice reaches it, and
each host's answer to it once, so a slice retried on another node does not count its hosts twice.
"""

from __future__ import annotations

import threading
from typing import Any

from fleetfix.run_observer import RunObserver, answer_status


class MergedProgress:
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
