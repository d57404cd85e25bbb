"""The paced netconsole sender both listen benches run in a separate process.

Four source ports (four "hosts") send datagrams from a list, round robin, at ``rate`` per second for
``seconds`` (as fast as the loop goes when ``rate`` is 0). Separate process, so the receiver under test
has its own interpreter and CPU.
"""

from __future__ import annotations

import socket
import time
from typing import Any

Shared = Any  # a multiprocessing.Value; its class is not public


def send_paced(
    target: tuple[str, int],
    datagrams: list[bytes],
    rate: float,
    seconds: float,
    sent_count: Shared,
    began: Shared | None = None,
) -> None:
    """Send for ``seconds``; the count sent goes to ``sent_count``, the start time (CLOCK_MONOTONIC, the same
    clock in every process) to ``began`` when given."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    sent = 0
    start = time.monotonic()
    if began is not None:
        began.value = start
    while (now := time.monotonic()) < start + seconds:
        due = int((now - start) * rate) if rate else sent + 256
        if due <= sent:
            time.sleep(0.0005)
            continue
        for _ in range(min(due - sent, 4096)):
            socks[sent & 3].sendto(datagrams[sent % len(datagrams)], target)
            sent += 1
    sent_count.value = sent
