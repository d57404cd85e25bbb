"""kdump's dump directories: the time in their names and the kernel log file inside them.

Shared by the facts module (which lists dumps) and the kernel log module (which reads a dump's log after a
reboot). Standard library only, Python 3.8+ (it runs on the managed hosts).
"""

from __future__ import annotations

import re
from datetime import datetime

DEBIAN_DUMP_STAMP = re.compile(r"(?:^|-)(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})$")
EL_DUMP_STAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})-(\d{2}):(\d{2}):(\d{2})$")


def crash_dir_time(name):
    """Local time encoded in a dump directory name: kdump-tools' YYYYMMDDHHMM (after an optional host tag)
    or EL's ``<host>-YYYY-MM-DD-HH:MM:SS``; None when the name has neither."""
    for pattern in (EL_DUMP_STAMP, DEBIAN_DUMP_STAMP):
        match = pattern.search(name)
        if match:
            try:
                return datetime(*(int(g) for g in match.groups()))
            except ValueError:
                return None
    return None


def is_dmesg_file(name):
    return name.startswith("dmesg.") or name == "vmcore-dmesg.txt"
