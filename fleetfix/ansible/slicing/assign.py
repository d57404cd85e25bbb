"""Which node runs which slice: one worker thread per node, a node that fails once is retired.

A failed attempt gives its slice back to the queue, where the next free node takes it. The run ends when
every slice has one finished attempt, or when no node is left (an EnvironmentProblem naming what was not run
and why the last node failed).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from fleetfix.ansible.slicing.cut import Slice
from fleetfix.errors import EnvironmentProblem


class _Outcome(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def error(self) -> str: ...


Outcome = TypeVar("Outcome", bound=_Outcome)


def schedule(
    slices: Sequence[Slice], nodes: Sequence[str], run_on: Callable[[Slice, str], Outcome]
) -> dict[int, Outcome]:
    queue = deque(slices)
    done: dict[int, Outcome] = {}
    errors: list[str] = []
    alive = set(nodes)
    changed = threading.Condition()

    def finished() -> bool:
        return len(done) == len(slices) or not alive

    def work(node: str) -> None:
        while True:
            with changed:
                while not queue and not finished():
                    changed.wait()
                if finished():
                    return
                piece = queue.popleft()
            outcome = run_on(piece, node)
            with changed:
                if outcome.ok:
                    done[piece.index] = outcome
                else:
                    errors.append(outcome.error)
                    queue.appendleft(piece)
                    alive.discard(node)
                changed.notify_all()
                if not outcome.ok:
                    return

    threads = [
        threading.Thread(target=work, args=(node,), name=f"node {node}", daemon=True) for node in nodes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(done) < len(slices):
        left = sum(len(s.hosts) for s in slices if s.index not in done)
        last = errors[-1] if errors else "unknown"
        raise EnvironmentProblem(f"every execution node failed, {left} host(s) not run; last: {last}")
    return done
