"""What a progress display is told while a play runs, and which job events tell it."""

from __future__ import annotations

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
