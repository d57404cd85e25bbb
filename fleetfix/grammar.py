"""Strict grammars for every value that reaches a host's files or command lines.

A value from an operator (an option) or an inventory (a host or group variable) ends up in a file a
shell sources as root (``/etc/default/kdump-tools``, a grub drop-in update-grub sources), in kdump.conf,
in a systemd unit, or in an argv. Quoting at the destination is the second line; the first is refusing
anything outside these grammars before a host is contacted.

The roles carry the same patterns (``roles/crash_capture/vars/main.yml``, ``roles/hba_driver/vars/main.yml``)
so a plain ansible-playbook or AWX run is held to them too; a unit test keeps the two copies equal.
Every pattern is anchored with ``\\Z``, never ``$``: ``$`` also matches before a trailing newline.

>>> problem("path", "/var/crash")
>>> problem("path", "/var/crash/$(reboot)")
"'/var/crash/$(reboot)' is not an absolute path of letters, digits and . _ + - (no . or .. parts)"
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

_PATH = r"(?:/(?!\.\.?(?:/|\Z))[A-Za-z0-9_.+-]{1,255})+/?"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]{{2,45}}\])"
_USER = r"[a-z_][a-z0-9_-]{0,31}"


@dataclass(frozen=True)
class Grammar:
    pattern: str
    description: str

    def matches(self, value: object) -> bool:
        return isinstance(value, str) and re.match(self.pattern, value) is not None


GRAMMARS: dict[str, Grammar] = {
    "path": Grammar(
        rf"^{_PATH}\Z",
        "an absolute path of letters, digits and . _ + - (no . or .. parts)",
    ),
    "host": Grammar(rf"^{_HOST}\Z", "a host name or an IP address"),
    "address": Grammar(
        r"^(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f.]{0,15}){2,8})\Z",
        "an IPv4 or IPv6 address",
    ),
    "ssh": Grammar(rf"^{_USER}@{_HOST}\Z", "user@host (a lower-case user name, a host name or address)"),
    "nfs": Grammar(rf"^{_HOST}:{_PATH}\Z", "server:/export (a host name or address, an absolute path)"),
    "interface": Grammar(
        r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}\Z", "a network interface name (at most 15 of A-Z a-z 0-9 _ . -)"
    ),
    "module": Grammar(
        r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,54}\Z", "a kernel module name (letters, digits, _ and -, not first)"
    ),
    "crash_size": Grammar(
        r"^(?:[0-9]+[KMG]?(?:@[0-9]+[KMG]?|,high|,low)?|(?:[0-9]+[KMG]?-(?:[0-9]+[KMG]?)?:[0-9]+[KMG]?,?)+(?:@[0-9]+[KMG]?)?)\Z",
        "a size (256M, 512M,high) or ranges (1G-4G:256M,4G-:512M)",
    ),
    "name": Grammar(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z", "a name of letters, digits and _ . -"),
    "host_key": Grammar(
        r"^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) [A-Za-z0-9+/]{20,1400}={0,2}\Z",
        "an ssh public host key: its type and base64 blob, as in ssh_host_*_key.pub without the comment",
    ),
}

# Role variables an inventory may set, with the grammar each must follow. Empty strings mean "unset"
# for the ones the roles treat as optional.
ROLE_VARIABLES: dict[str, str] = {
    "crash_capture_kdump_path": "path",
    "crash_capture_kdump_ssh": "ssh",
    "crash_capture_kdump_ssh_key": "path",
    "crash_capture_kdump_nfs": "nfs",
    "crash_capture_kdump_ssh_from": "address",
    "crash_capture_kdump_ssh_host_key": "host_key",
    "crash_capture_crash_size": "crash_size",
    "crash_capture_netconsole_log_host": "address",
    "crash_capture_netconsole_interface": "interface",
    "crash_capture_netconsole_source_ip": "address",
    "crash_capture_netconsole_target_name": "name",
    "hba_driver_module": "module",
    "fio_soak_module": "module",
}
_OPTIONAL = {
    "crash_capture_kdump_ssh",
    "crash_capture_kdump_nfs",
    "crash_capture_kdump_ssh_from",
    "crash_capture_kdump_ssh_host_key",
    "crash_capture_netconsole_log_host",
    "crash_capture_netconsole_interface",
    "crash_capture_netconsole_source_ip",
    "fio_soak_module",
}


def problem(kind: str, value: object) -> str | None:
    """None when ``value`` follows the grammar ``kind``, else why not (one line, the value repr'd)."""
    grammar = GRAMMARS[kind]
    if grammar.matches(value):
        if kind == "address":
            try:
                ipaddress.ip_address(str(value))
            except ValueError:
                return f"{value!r} is not {grammar.description}"
        return None
    return f"{value!r} is not {grammar.description}"


def variable_problems(variables: Mapping[str, object]) -> list[str]:
    """``name: why`` for each role variable in ``variables`` that breaks its grammar."""
    found = []
    for name, kind in ROLE_VARIABLES.items():
        if name not in variables:
            continue
        value = variables[name]
        if name in _OPTIONAL and (value is None or value == ""):
            continue
        why = problem(kind, value)
        if why is not None:
            found.append(f"{name}: {why}")
    return found
