"""netconsole as the kernel shows it: configfs target attributes and the ``netconsole=`` parameter.

Shared by the facts module (which reports targets) and the netconsole target module (which changes one).
Standard library only, Python 3.8+ (it runs on the managed hosts).
"""

from __future__ import annotations

import os
import re

CONFIGFS = "/sys/kernel/config"
TARGETS_DIR = CONFIGFS + "/netconsole"
# Every attribute a configfs target can have (Documentation/networking/netconsole.rst); older kernels lack
# ``extended`` and ``release``.
TARGET_ATTRS = (
    "enabled",
    "extended",
    "release",
    "dev_name",
    "local_ip",
    "local_port",
    "remote_ip",
    "remote_port",
    "remote_mac",
)


def read_target_attrs(read, path):
    """The attributes a configfs target directory has, as the kernel words them (stripped text).

    ``read(path)`` returns a file's text, or None when the file is absent; an absent attribute is left out.
    """
    found = {}
    for attr in TARGET_ATTRS:
        value = read(os.path.join(path, attr))
        if value is not None:
            found[attr] = value.strip()
    return found


def read_file(path):
    """A file's text, None when it cannot be read (the reader for ``read_target_attrs`` on a live host)."""
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def parse_netconsole_param(value, name):
    """``[+][r][src-port]@[src-ip]/[<dev>],[tgt-port]@<tgt-ip>/[tgt-macaddr]``, several joined by ``;``.

    Defaults documented in Documentation/networking/netconsole.rst are applied: ports 6665 and 6666,
    broadcast remote MAC. Raises ValueError on a target the kernel would reject.
    """
    targets = []
    for spec in (s.strip() for s in value.split(";")):
        if not spec:
            continue
        flags = re.match(r"[+r]*", spec).group(0)
        local, comma, remote = spec[len(flags) :].partition(",")
        local_port, at_local, local_rest = local.partition("@")
        remote_port, at_remote, remote_rest = remote.partition("@")
        ports_ok = all(p.isdigit() for p in (local_port, remote_port) if p)
        if not (comma and at_local and at_remote and ports_ok):
            raise ValueError(f"not a netconsole target: {spec!r}")
        local_ip, _, dev = local_rest.partition("/")
        remote_ip, _slash, mac = remote_rest.rpartition("/") if "/" in remote_rest else (remote_rest, "", "")
        if not remote_ip:
            raise ValueError(f"netconsole target without a remote IP: {spec!r}")
        targets.append(
            {
                "name": name,
                "enabled": None,
                "extended": "+" in flags,
                "release": "r" in flags,
                "dev_name": dev or None,
                "local_ip": local_ip or None,
                "local_port": int(local_port) if local_port else 6665,
                "remote_ip": remote_ip,
                "remote_port": int(remote_port) if remote_port else 6666,
                "remote_mac": mac.lower() if mac else "ff:ff:ff:ff:ff:ff",
            }
        )
    return targets
