"""A storm of fault lines: ``fleetfix listen`` at 40,000 lines/s when half of them are fault lines.

A separate process sends paced netconsole traffic from four source ports for a few seconds: every other
datagram a ``BUG:``/``WARNING:``/``Call Trace`` line, the rest ordinary driver chatter. The receiver runs
as ``fleetfix listen`` does, with an alert callback that writes each alert to a terminal-like sink (a pipe
drained by another thread). The ratio is the lines kept (written to the per-sender logs) over the lines
sent; the floor is 0.99. Printed beside it, measured in the same run: the same traffic with no fault lines
(what the storm is compared with), the alerts delivered and folded, and the kernel's drops.

Run: .venv/bin/python bench/listen_fault_storm.py [--rate 40000] [--seconds 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from netconsole_sender import send_paced

from fleetfix.listen.receiver import Listener
from fleetfix.listen.text import ListenEvent

FLOOR = 0.99


def traffic(faults: bool) -> list[bytes]:
    datagrams = []
    for n in range(1000):
        if faults and n % 2:
            datagrams.append(
                (
                    b"[ %5d.%06d] BUG: unable to handle page fault for address: ffff%012x\n",
                    b"[ %5d.%06d] WARNING: CPU: 3 PID: 911 at drivers/scsi/mpt3sas/mpt3sas_base.c:%d\n",
                    b"[ %5d.%06d] Call Trace: <IRQ> _base_process_reply_queue+0x%x/0x2b0 [mpt3sas]\n",
                )[n % 3]
                % (n, n, n)
            )
        else:
            datagrams.append(
                b"[ %5d.%06d] mpt3sas_cm0: log_info(0x31120303): originator(PL), code(0x12), sub %d\n"
                % (n, n, n)
            )
    return datagrams


def measure(rate: float, seconds: float, faults: bool) -> tuple[int, int, int, int, int]:
    """(sent, lines kept, alerts delivered, alerts folded, kernel drops)."""
    spawn = multiprocessing.get_context("spawn")
    read_end, write_end = os.pipe()
    sink = os.fdopen(write_end, "w", buffering=1)
    threading.Thread(
        target=lambda: [None for _ in iter(lambda: os.read(read_end, 65536), b"")], daemon=True
    ).start()
    delivered = 0

    def alert(event: ListenEvent) -> None:  # as the terminal gets it: one formatted line each
        nonlocal delivered
        delivered += 1
        sink.write(f"{event.kind} {event.source} {event.line}\n")

    with tempfile.TemporaryDirectory(prefix="fleetfix-storm-bench.") as directory:
        listener = Listener("127.0.0.1", 0, Path(directory), alert)
        server = threading.Thread(target=listener.serve_forever)
        server.start()
        sent = spawn.Value("q", 0)
        datagrams = traffic(faults)
        sender = spawn.Process(target=send_paced, args=(listener.address, datagrams, rate, seconds, sent))
        sender.start()
        sender.join()
        last, last_change = -1, time.monotonic()
        while time.monotonic() - last_change < 0.5:
            if listener.stats.received != last:
                last, last_change = listener.stats.received, time.monotonic()
            time.sleep(0.02)
        drops = listener.kernel_drops()
        listener.stop()
        server.join()
        sink.close()
        return sent.value, listener.stats.lines, delivered, listener.stats.folded, drops


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=40_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3, help="storm runs; the median ratio is judged")
    args = parser.parse_args()

    sent, kept, _, _, drops = measure(args.rate, args.seconds, faults=False)
    plain = kept / sent
    print(f"no faults: sent {sent:,}, kept {kept:,} = {plain:.4f} (kernel drops {drops:,})")
    ratios = []
    for run in range(1, args.runs + 1):
        sent, kept, delivered, folded, drops = measure(args.rate, args.seconds, faults=True)
        ratios.append(kept / sent)
        print(
            f"storm {run}: sent {sent:,} ({sent / args.seconds:,.0f}/s, half fault lines), kept {kept:,} = "
            f"{ratios[-1]:.4f}; alerts delivered {delivered:,}, folded {folded:,}; kernel drops {drops:,}"
        )
    median = statistics.median(ratios)
    print(
        f"kept under the storm (median of {len(ratios)}): {median:.4f} = {median / FLOOR:.3f}x the {FLOOR} "
        f"floor ({'met' if median >= FLOOR else 'MISSED'}); {median / plain:.3f}x the no-fault run"
    )
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
