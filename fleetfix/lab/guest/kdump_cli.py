"""``kdump-config`` for a lab host: load/unload the capture kernel against the reserved crash memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CRASH_SIZE = Path("/sys/kernel/kexec_crash_size")
CRASH_LOADED = Path("/sys/kernel/kexec_crash_loaded")


def _setting(name: str, default: str) -> str:
    script = (
        f'[ -f /etc/default/kdump-tools ] && . /etc/default/kdump-tools; printf %s "${{{name}:-{default}}}"'
    )
    return subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=False).stdout


def _loaded() -> bool:
    return CRASH_LOADED.is_file() and CRASH_LOADED.read_text().strip() == "1"


def main(argv: list[str]) -> int:
    verb = argv[0] if argv else "help"
    if verb == "load":
        if _setting("USE_KDUMP", "0") != "1":
            print(" * kdump-tools: USE_KDUMP is 0, not loading", file=sys.stderr)
            return 0
        if int(CRASH_SIZE.read_text().strip() or "0") == 0:
            print(" * no crashkernel= parameter in the kernel cmdline", file=sys.stderr)
            return 1
        CRASH_LOADED.write_text("1\n")
        print(" * loaded kdump kernel")
        return 0
    if verb == "unload":
        CRASH_LOADED.write_text("0\n")
        print(" * unloaded kdump kernel")
        return 0
    if verb in ("status", "show"):
        if verb == "show":
            print(f"USE_KDUMP:        {_setting('USE_KDUMP', '0')}")
            print(f"KDUMP_COREDIR:    {_setting('KDUMP_COREDIR', '/var/crash')}")
            print(f"crashkernel addr: {'0x' if _loaded() else ''}")
        print(f"current state:    {'ready to kdump' if _loaded() else 'Not ready to kdump'}")
        return 0 if _loaded() or verb == "show" else 1
    if verb == "test":
        return 0
    print("Usage: kdump-config {help|test|show|status|load|unload}", file=sys.stderr)
    return 0 if verb == "help" else 1
