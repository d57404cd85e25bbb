"""Ctrl-C and SIGTERM during a run: the playbook is stopped, waited for, and the run reported interrupted.

ansible-runner starts ansible-playbook in a session of its own, so a Ctrl-C at the terminal never reaches
it, and its own handler kills it with SIGKILL only when it next polls. Here the signal is forwarded to the
process group of every descendant of this process (ansible-playbook, each of its forks in a session of its
own, their modules; the ssh processes of a sliced run), which get ``GRACE_SECONDS`` to stop as Ansible
stops on Ctrl-C; then what is left gets SIGKILL. A second signal skips the grace. The run then ends with
:class:`Interrupted` (exit 130 for SIGINT, 143 for SIGTERM), never as a run whose hosts failed.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any

from fleetfix.errors import ExitStatus, FleetfixError

GRACE_SECONDS = 10.0
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(FleetfixError):
    """The run was stopped by a signal; ``hosts`` holds what the hosts had answered by then."""

    def __init__(self, signum: int, run_dir: Path | None = None, hosts: dict[str, Any] | None = None) -> None:
        name = signal.Signals(signum).name
        what = f": the playbook was stopped; what ran is kept in {run_dir}" if run_dir is not None else ""
        status = ExitStatus.TERMINATED if signum == signal.SIGTERM else ExitStatus.INTERRUPTED
        super().__init__(f"interrupted by {name}{what}", status)
        self.signum, self.run_dir, self.hosts = signum, run_dir, hosts or {}


def _processes() -> list[tuple[int, int, int]]:
    """(pid, parent, process group) of every living process, read from /proc. Zombies are left out: they
    have stopped already, and where PID 1 does not reap orphans (some containers) they never go away."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()  # after "pid (comm) "
        if len(fields) > 2 and fields[0] not in (b"Z", b"X"):
            found.append((int(entry.name), int(fields[1]), int(fields[2])))
    return found


def signal_children(signum: int) -> set[int]:
    """``signum`` to the process group of every descendant of this process (its own group aside: there the
    children are signalled one by one).

    Returns the groups signalled. ansible-playbook runs in a session of its own and so does each of its
    forks, whose modules ignore SIGINT as the forks do and can outlive ansible-playbook: ``reap`` ends them.
    """
    me, own_group = os.getpid(), os.getpgrp()
    processes = _processes()
    children: dict[int, list[tuple[int, int]]] = {}
    for pid, parent, group in processes:
        children.setdefault(parent, []).append((pid, group))
    descendants, frontier = [], [me]
    while frontier:
        for pid, group in children.get(frontier.pop(), []):
            descendants.append((pid, group))
            frontier.append(pid)
    groups = {group for _, group in descendants if group != own_group}
    for group in groups:
        with suppress(ProcessLookupError):
            os.killpg(group, signum)
    for pid, group in descendants:
        if group == own_group:
            with suppress(ProcessLookupError):
                os.kill(pid, signum)
    return groups


def reap(groups: set[int], deadline: float) -> None:
    """Wait until every process of ``groups`` is gone; SIGKILL what is left at ``deadline``."""
    while True:
        left = {group for _, _, group in _processes() if group in groups}
        if not left:
            return
        if time.monotonic() >= deadline:
            for group in left:
                with suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
            deadline = float("inf")  # killed: only wait for the kernel to take them away
        time.sleep(0.1)


class StopRequest:
    """The first stop signal seen during a run, and when the grace for the playbook to stop runs out."""

    def __init__(self, grace: float = GRACE_SECONDS) -> None:
        self.grace = grace
        self.signum: int | None = None
        self._deadline: float | None = None
        self._groups: set[int] = set()
        self._lock = threading.Lock()

    def handle(self, signum: int, _frame: FrameType | None = None) -> None:
        with self._lock:
            first = self.signum is None
            if first:
                self.signum = signum
                self._deadline = time.monotonic() + self.grace
            else:
                self._deadline = time.monotonic()  # a second signal: no more grace
        self._groups |= signal_children(signum if first else signal.SIGKILL)

    def requested(self) -> bool:
        return self.signum is not None

    def finish(self) -> None:
        """After the run returned: wait out the grace for what is left of the playbook, then kill it."""
        if self._deadline is not None:
            reap(self._groups, self._deadline)

    def give_up(self) -> bool:
        """ansible-runner's cancel callback: True once the grace is over (it then SIGKILLs the group)."""
        return self._deadline is not None and time.monotonic() >= self._deadline


_current: StopRequest | None = None


def raise_interrupted(signum: int, _frame: FrameType | None = None) -> None:
    """The handler outside playbook runs: stop where the command is, as Ctrl-C does, with the signal's
    status (a remediation between two steps is then recorded interrupted like one inside a step)."""
    raise Interrupted(signum)


def current() -> StopRequest | None:
    """The stop request of the run in progress (slices check it before starting an attempt)."""
    return _current


@contextmanager
def stop_on_signals(grace: float = GRACE_SECONDS) -> Iterator[StopRequest]:
    """Forward SIGINT/SIGTERM to the run's children while the block runs; handlers restored after.

    Outside the main thread signal handlers cannot be set: the request then only ever stays empty.
    """
    global _current
    stop = StopRequest(grace)
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, stop.handle) for sig in _SIGNALS}
    _current = stop
    try:
        yield stop
    finally:
        _current = None
        for sig, handler in previous.items():
            signal.signal(sig, handler)
