"""/proc/self/mountinfo, read once by the facts module and parsed here for every question asked of it.

Standard library only, Python 3.8+ (it runs on the managed hosts). A line (proc(5))::

    36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue

mount ID, parent ID, major:minor, root, mount point, per-mount options, optional fields, ``-``, then the
filesystem type, the source and the per-superblock options. The kernel escapes space, tab, newline and
backslash in the mount point and the source as octal (``\\040``).
"""

from __future__ import annotations

import re

_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(field):
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text):
    """``[{device, mount_point, fstype, source, options}]`` in the file's order (options: per-mount and
    per-superblock together). A line without the separator or its fields is skipped."""
    mounts = []
    for line in (text or "").splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 6 or len(tail) < 2:
            continue
        mounts.append(
            {
                "device": fields[2],
                "mount_point": _unescape(fields[4]),
                "fstype": tail[0],
                "source": _unescape(tail[1]),
                "options": fields[5].split(",") + (tail[2].split(",") if len(tail) > 2 else []),
            }
        )
    return mounts


def root_mount(mounts):
    """(major:minor, source) of the mount on ``/``: the last one, which hides those before it."""
    found = (None, None)
    for mount in mounts:
        if mount["mount_point"] == "/":
            found = (mount["device"], mount["source"])
    return found


def fstypes(mounts):
    """{mount point: filesystem type}; the last mount on a point wins."""
    return {mount["mount_point"]: mount["fstype"] for mount in mounts}
