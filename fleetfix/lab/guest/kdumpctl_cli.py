"""``kdumpctl`` for an EL lab host: arm or disarm the capture kernel against the reserved crash memory.

As the real one does, ``start`` builds the kdump initramfs beside the kernel's own and fails where the
running kernel reserved no crash memory; ``status`` answers 0 only while the capture kernel is loaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import initramfs
from .kdump_cli import CRASH_LOADED, CRASH_SIZE
from .kmod import Kernel

CONFIG = Path("/etc/kdump.conf")


def _loaded() -> bool:
    return CRASH_LOADED.is_file() and CRASH_LOADED.read_text().strip() == "1"


def _reserved() -> int:
    return int(CRASH_SIZE.read_text().strip() or "0") if CRASH_SIZE.is_file() else 0


def _start() -> int:
    if _loaded():
        print("kdump: Kdump already running: [WARNING]", file=sys.stderr)
        return 0
    if _reserved() == 0:
        print("kdump: No memory reserved for crash kernel", file=sys.stderr)
        print("kdump: Starting kdump: [FAILED]", file=sys.stderr)
        return 1
    if not CONFIG.is_file():
        print(f"kdump: Error: {CONFIG} not found", file=sys.stderr)
        print("kdump: Starting kdump: [FAILED]", file=sys.stderr)
        return 1
    release = Kernel().release()
    kdump_image = Path(f"/boot/initramfs-{release}kdump.img")
    if not kdump_image.exists():
        print(f"kdump: Rebuilding {kdump_image}", file=sys.stderr)
        initramfs.write(kdump_image, release)
    CRASH_LOADED.write_text("1\n")
    print("kdump: kexec: loaded kdump kernel", file=sys.stderr)
    print("kdump: Starting kdump: [OK]", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    verb = argv[0] if argv else ""
    if verb == "start":
        return _start()
    if verb == "stop":
        CRASH_LOADED.write_text("0\n")
        print("kdump: kexec: unloaded kdump kernel", file=sys.stderr)
        print("kdump: Stopping kdump: [OK]", file=sys.stderr)
        return 0
    if verb in ("restart", "reload"):
        CRASH_LOADED.write_text("0\n")
        return _start()
    if verb == "status":
        print(f"kdump: Kdump is {'operational' if _loaded() else 'not operational'}", file=sys.stderr)
        return 0 if _loaded() else 3
    if verb == "showmem":
        print(f"kdump: Reserved {_reserved() >> 20}MB memory for crash kernel", file=sys.stderr)
        return 0
    print(
        "Usage: kdumpctl {estimate|start|stop|status|restart|reload|rebuild|reset-crashkernel|propagate"
        "|showmem"
        "|test}",
        file=sys.stderr,
    )
    return 1
