"""How fast ``fleetfix listen`` takes netconsole datagrams over loopback, and whether it loses any at 20k/s.

A separate process sends realistic netconsole traffic (plain lines, extended records, now and then a fault
line) from four source ports. Each measurement runs against a fresh receiver:

1. flood: the sender sends as fast as it can for a few seconds; the receiver's sustained rate is the
   datagrams it handled divided by the time from the first send until it had drained its queue. The
   sender shares the machine's cores with the receiver, as a busy log host's senders do not.
2. paced: 20,000 datagrams per second for several seconds; every datagram must arrive (loss 0).

Targets: >= 50,000 datagrams/s sustained, zero loss at 20,000/s.
Run: .venv/bin/python bench/listen_throughput.py [--runs 3]
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

SUSTAINED_TARGET = 50_000
PACED_RATE = 20_000


def traffic() -> list[bytes]:
    """1000 datagrams as an HBA in trouble sends them: mostly plain lines, some extended, a few warnings."""
    datagrams = []
    for n in range(1000):
        if n % 500 == 7:
            datagrams.append(
                b"[ %5d.%06d] WARNING: CPU: 3 PID: 911 at drivers/scsi/mpt3sas/mpt3sas_base.c:1234 "
                b"_base_process_reply_queue+0x1a/0x2b0 [mpt3sas]\n" % (n, n)
            )
        elif n % 10 == 0:
            datagrams.append(
                b"6,%d,%d,-;sd 0:0:%d:0: [sdb] tag#%d Sense Key : Medium Error" % (n, n * 1000, n % 8, n)
            )
        else:
            datagrams.append(
                b"[ %5d.%06d] mpt3sas_cm0: log_info(0x31120303): originator(PL), code(0x12), "
                b"sub_code(0x0303)\n" % (n, n)
            )
    return datagrams


def measure(rate: float, seconds: float) -> tuple[int, int, float, float, int]:
    """(sent, handled, seconds from first send until drained, receiver CPU seconds, kernel drops)."""
    spawn = multiprocessing.get_context("spawn")  # no fork of a process that runs the receiver thread
    with tempfile.TemporaryDirectory(prefix="fleetfix-listen-bench.") as directory:
        listener = Listener("127.0.0.1", 0, Path(directory))
        server = threading.Thread(target=listener.serve_forever)
        server.start()
        began, sent = spawn.Value("d", 0.0), spawn.Value("q", 0)
        sender = spawn.Process(
            target=send_paced, args=(listener.address, traffic(), rate, seconds, sent, began)
        )
        cpu_before = time.process_time()  # this process runs only the receiver (and a 20 ms poll)
        sender.start()
        sender.join()
        last, last_change = -1, time.monotonic()
        while time.monotonic() - last_change < 0.3:  # drained: nothing new for 0.3 s
            handled = listener.stats.received
            if handled != last:
                last, last_change = handled, time.monotonic()
            time.sleep(0.02)
        cpu = time.process_time() - cpu_before
        drops = listener.kernel_drops()
        listener.stop()
        server.join()
        return sent.value, listener.stats.received, last_change - began.value, cpu, drops


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--flood-seconds", type=float, default=3.0)
    parser.add_argument("--paced-seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3, help="flood runs; the median is judged")
    args = parser.parse_args()

    rates, capacities = [], []
    for run in range(1, args.runs + 1):
        sent, handled, elapsed, cpu, drops = measure(0, args.flood_seconds)
        rates.append(handled / elapsed)
        capacities.append(handled / cpu)
        print(
            f"flood {run}: sent {sent:,} ({sent / args.flood_seconds:,.0f}/s), "
            f"handled {handled:,} in {elapsed:.2f} s = {rates[-1]:,.0f}/s, "
            f"kernel drops {drops:,}; receiver CPU {cpu / handled * 1e6:.1f} us/datagram"
        )
    median = statistics.median(rates)
    print(
        f"sustained (median of {len(rates)}): {median:,.0f} datagrams/s = {median / SUSTAINED_TARGET:.2f}x "
        f"the {SUSTAINED_TARGET:,}/s target (min {min(rates):,.0f}, max {max(rates):,.0f})"
    )
    capacity = statistics.median(capacities)
    print(
        f"receiver CPU-bound capacity (handled per CPU second): {capacity:,.0f}/s = "
        f"{capacity / SUSTAINED_TARGET:.2f}x target (wall clock is lower while other work holds the cores)"
    )

    sent, handled, _, _, drops = measure(PACED_RATE, args.paced_seconds)
    lost = sent - handled
    print(
        f"paced {PACED_RATE:,}/s for {args.paced_seconds:g} s: sent {sent:,}, handled {handled:,}, "
        f"lost {lost:,} ({lost / max(sent, 1):.3%}), kernel drops {drops:,}: "
        f"target 0 lost {'met' if lost == 0 else 'MISSED'}"
    )
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
