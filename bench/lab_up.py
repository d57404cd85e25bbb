"""Time `fleetfix lab up` and `down` for 30 and 100 hosts of the large scenario (root only).

Prints seconds and the ratio to the one-minute budget for 30 hosts.
"""

from __future__ import annotations

import sys
import time

from fleetfix.lab import Lab

BUDGET_30 = 60.0


def measure(count: int) -> tuple[float, float]:
    lab = Lab(f"bench-{count}")
    started = time.perf_counter()
    lab.up("large", hosts=count)
    up = time.perf_counter() - started
    started = time.perf_counter()
    lab.down()
    return up, time.perf_counter() - started


def main() -> None:
    counts = [int(a) for a in sys.argv[1:]] or [30, 100]
    for count in counts:
        up, down = measure(count)
        line = f"lab up {count:>3} hosts: {up:6.2f} s   down: {down:5.2f} s"
        line += f"   per host: {up / count * 1000:5.0f} ms"
        if count == 30:
            line += f"   budget ratio (60 s): {up / BUDGET_30:.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
