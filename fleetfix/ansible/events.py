"""Ansible job events -> typed per-host results.

The same fold serves a live ansible-runner run, a runner artifacts directory and an AWX job's event export,
so a facts run made elsewhere is judged exactly like one made here. Results come from the per-host events,
never from the play recap: the recap has no messages and cannot say which task failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleetfix.host_result import HostResult, HostStatus, TaskResult

_OK_EVENTS = {"runner_on_ok", "runner_item_on_ok"}
_FAILED_EVENTS = {"runner_on_failed", "runner_item_on_failed"}
_SKIPPED_EVENTS = {"runner_on_skipped", "runner_item_on_skipped"}


@dataclass
class _HostFold:
    status: HostStatus = "skipped"
    message: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    tasks: list[TaskResult] = field(default_factory=list)
    item_failure: str = ""  # the first failed item's message, until its task's own event says what it meant


# A failure message is one line; a role's own messages (every unready check of crash capture, say) run to
# several hundred characters and are kept whole, a runaway stderr is cut.
MESSAGE_LIMIT = 2000


def _message(result: Mapping[str, Any]) -> str:
    message = result.get("msg") or result.get("stderr") or result.get("module_stderr") or ""
    line = " ".join(str(message).split())
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 1] + "…"


class EventFold:
    """Accumulates job events into per-host results; feed it events in the order they happened."""

    def __init__(self) -> None:
        self._hosts: dict[str, _HostFold] = {}

    def add(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event", "") if isinstance(event, Mapping) else ""
        data = event.get("event_data") if isinstance(event, Mapping) else None
        data = data if isinstance(data, Mapping) else {}
        host = data.get("host")
        if not isinstance(host, str) or not host:
            return
        if kind not in _OK_EVENTS | _FAILED_EVENTS | _SKIPPED_EVENTS | {"runner_on_unreachable"}:
            return
        # Events from elsewhere (an AWX export, a hand-edited artifact) may carry any shape here.
        raw = data.get("res")
        result: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        fold = self._hosts.setdefault(host, _HostFold())
        status = self._status(kind, data)
        fold.tasks.append(
            TaskResult(
                task=str(data.get("task", "")),
                action=str(data.get("task_action", "")),
                status=status,
                changed=bool(result.get("changed")),
                message=_message(result),
                result=result,
            )
        )
        facts = result.get("ansible_facts")
        if status == "ok" and isinstance(facts, Mapping):
            fold.facts.update(facts)
        if kind.startswith("runner_item_"):
            # An item's event carries no ignore_errors: the task's own event, which follows its items, says
            # whether the failure counts. Its message ("One or more items failed") says less than the item's.
            if status == "failed" and not fold.item_failure:
                fold.item_failure = _message(result)
            return
        item_failure, fold.item_failure = fold.item_failure, ""
        if status in ("failed", "unreachable") and fold.status not in ("failed", "unreachable"):
            fold.status, fold.message = status, item_failure or _message(result) or status
        elif status == "ok" and fold.status == "skipped":
            fold.status = "ok"

    @staticmethod
    def _status(kind: str, data: Mapping[str, Any]) -> HostStatus:
        if kind == "runner_on_unreachable":
            return "unreachable"
        if kind in _FAILED_EVENTS:
            return "ok" if data.get("ignore_errors") else "failed"
        return "skipped" if kind in _SKIPPED_EVENTS else "ok"

    def results(self, expected_hosts: Iterable[str] = ()) -> dict[str, HostResult]:
        """Per-host results; a host that was expected but produced no event is reported, not dropped."""
        names = list(dict.fromkeys([*expected_hosts, *self._hosts]))
        out: dict[str, HostResult] = {}
        for name in names:
            fold = self._hosts.get(name)
            if fold is None:
                out[name] = HostResult(name, "failed", "no result: the host never ran the play", {}, ())
                continue
            out[name] = HostResult(name, fold.status, fold.message, dict(fold.facts), tuple(fold.tasks))
        return out
