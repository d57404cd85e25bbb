"""Reboot and power-off requests: the host's PID 1 carries them out a moment after the command returns.

Returning first lets the ssh command that asked for the reboot end cleanly, as ``shutdown -r`` does on a
systemd host; the connection then drops when PID 1 takes every process down.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

REQUEST = Path("/run/fleetfix-lab/power")
_DELAY_SECONDS = 0.5


def request(action: str, delay: float = _DELAY_SECONDS) -> int:
    REQUEST.parent.mkdir(parents=True, exist_ok=True)
    REQUEST.write_text(f"{action}\n")
    if os.fork() == 0:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        time.sleep(delay)
        os.kill(1, signal.SIGTERM)
        os._exit(0)
    return 0


def shutdown_main(argv: list[str]) -> int:
    """``shutdown [-r|-h|-P|-c] [TIME] [MESSAGE]`` as systemd's shutdown reads it."""
    if "-c" in argv:
        REQUEST.unlink(missing_ok=True)
        return 0
    action = "reboot" if any(a in ("-r", "--reboot") for a in argv) else "poweroff"
    times = [a for a in argv if not a.startswith("-")]
    when = times[0] if times else "+1"
    minutes = 0 if when == "now" else int(when.lstrip("+")) if when.lstrip("+").isdigit() else 0
    if minutes:
        print(f"{action.capitalize()} scheduled in {minutes} minutes.", file=sys.stderr)
    return request(action, delay=_DELAY_SECONDS + 60 * minutes)


def reboot_main(argv: list[str]) -> int:
    return request("reboot")


def poweroff_main(argv: list[str]) -> int:
    return request("reboot" if "--reboot" in argv else "poweroff")
