"""A remote kdump target (ssh or NFS): where its dumps land on the server, whether the host can write there.

Pure decisions for the facts module (which runs the probes) and for `collect` (which fetches from the
server): the ssh probe's argument vector and its verdict, the NFS mount probe's and the NFS verdicts, the
server-side directory of each target and the names the dump tools give a host's dump directories. Standard
library only, Python 3.8+ (it runs on the managed hosts).

Where dumps land (the tools' own documentation):
- EL kdump.conf: ``ssh user@server`` writes ``<path>/<host-ip>-<YYYY-MM-DD-HH:MM:SS>/`` on the server
  (``vmcore`` or ``vmcore.flat`` with ``makedumpfile -F``, and ``vmcore-dmesg.txt``); ``nfs
  server:/export`` mounts the export and writes ``<export>/<path>/<host-ip>-<date>/``.
- Debian kdump-tools: ``SSH=user@server`` writes ``$KDUMP_COREDIR/<tag>-<YYYYMMDDHHMM>/`` on the server
  (``dump.<stamp>``, ``dmesg.<stamp>``), ``NFS=server:/export`` mounts the export on ``$KDUMP_COREDIR`` and
  writes ``<export>/<tag>-<stamp>/``; the tag is the host's IP address (``HOSTTAG=ip``, the default) or its
  host name (``HOSTTAG=hostname``). A local dump has no tag: ``$KDUMP_COREDIR/<stamp>/``.

kdump-config's address (``define_stampdir``, kdump-tools 1.8) is the last IPv4 address ``ip addr show up``
lists in the capture boot, whichever interface carries it (docker0, a bond, a storage VLAN...), and its host
name when no address shows up within 5 tries. Which interfaces the capture boot brings up is not known
beforehand, so any of the host's addresses may name a dump; an address several hosts carry (docker0's
172.17.0.1) names them all alike.
"""

from __future__ import annotations

import ipaddress
import re
import shlex

# Held to the same grammars as the role's values (fleetfix/grammar.py): a configuration file written by
# someone else is never handed to ssh or a shell unless it fits them.
PATH = re.compile(r"^(?:/(?!\.\.?(?:/|\Z))[A-Za-z0-9_.+-]{1,255})+/?\Z")
HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]{2,45}\])\Z"
)
USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}\Z")

SSH_CONNECT_TIMEOUT = 5  # seconds for the TCP connection and the key exchange
PROBE_TIMEOUT = 15  # the whole probe, under timeout(1) where the host has it
PROBE_PREFIX = ".fleetfix-probe."
NFS_PORT = 2049
# The NFS probe mounts the export the way kdump-config (kdump-tools 1.8) does in the capture boot, ``mount -t
# nfs -o nolock -o tcp -o soft -o timeo=600 -o retrans=3 server:/export KDUMP_COREDIR``, with short time-outs
# and no retry so that it answers within PROBE_TIMEOUT; on a mount point in a mount namespace of its own, so
# nothing else on the host ever sees the mount.
NFS_PROBE_OPTIONS = "nolock,tcp,soft,timeo=50,retrans=1,retry=0"
NFS_PROBE_MOUNT_POINT = "/mnt"

EL_STAMP = r"[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}:[0-9]{2}:[0-9]{2}"
DEBIAN_STAMP = r"[0-9]{12}"


def split_ssh(target):
    """``user@host`` -> (user, host without brackets); None when it is not that shape."""
    user, at, host = (target or "").rpartition("@")
    if not at or not USER.match(user) or not HOST.match(host):
        return None
    return user, host.strip("[]")


def split_nfs(target):
    """``server:/export`` -> (server without brackets, export); None when it is not that shape."""
    text = target or ""
    if text.startswith("["):
        server, _, export = text[1:].partition("]:")
        server = "[" + server + "]"
    else:
        server, _, export = text.partition(":")
    if not HOST.match(server) or not PATH.match(export or ""):
        return None
    return server.strip("[]"), export.rstrip("/") or "/"


def server_directory(config):
    """The directory on the dump server under which this host's dump directories appear; None for local
    targets and unreadable ones."""
    kind, directory = config.get("kind"), config.get("directory") or "/var/crash"
    if kind == "ssh":
        return directory if PATH.match(directory) else None
    if kind == "nfs":
        parts = split_nfs(config.get("target"))
        if parts is None:
            return None
        export = parts[1]
        if config.get("flavour") == "kdump-tools":  # the export is mounted on KDUMP_COREDIR
            return export
        if not PATH.match(directory):
            return None
        return (export.rstrip("/") + "/" + directory.strip("/")).rstrip("/") or "/"
    return None


def directory_pattern(config, tags):
    """A regular expression (for find's ``use_regex``) matching the dump directory names this host's kdump
    gives itself on a remote target: ``<tag>-<stamp>`` for each tag (its addresses, its host name)."""
    names = sorted({t for t in tags if t})
    if not names:
        return None
    stamp = DEBIAN_STAMP if config.get("flavour") == "kdump-tools" else EL_STAMP
    return "^(?:" + "|".join(re.escape(n) for n in names) + ")-" + stamp + "$"


def ipv4_addresses(text):
    """``ip -4 -o addr show up`` -> ``[(interface, address)]`` in the order ip lists them.

    A line::

        2: eth0    inet 10.0.2.15/24 brd 10.0.2.255 scope global eth0\\       valid_lft forever ...

    Lines of another shape (inet6, a message) are skipped.
    """
    found = []
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) < 4 or not words[0].endswith(":") or words[2] != "inet":
            continue
        address = words[3].split("/", 1)[0]
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            continue
        found.append((words[1].split("@", 1)[0], address))
    return found


def host_addresses(pairs):
    """The addresses that may name a dump directory: every listed IPv4 address but the loopback ones (on
    ``lo``, or in 127.0.0.0/8), once each, in listing order."""
    kept = []
    for interface, address in pairs:
        if interface != "lo" and not ipaddress.IPv4Address(address).is_loopback and address not in kept:
            kept.append(address)
    return kept


def host_tags(config, addresses, hostname):
    """The names a host's remote dump directories start with.

    EL: the address kdump sends from (``addresses`` holds that one). kdump-tools with ``HOSTTAG=hostname``:
    the host name. kdump-tools with ``HOSTTAG=ip``: any of the host's addresses (``addresses``: all of them,
    host_addresses), since the capture boot takes the last one it lists, and the host name, its fallback when
    none shows up."""
    if config.get("flavour") != "kdump-tools":
        return [a for a in addresses if a]
    if config.get("host_tag") == "hostname":
        return [hostname] if hostname else []
    tags = [a for a in addresses if a]
    return [*tags, hostname] if hostname and hostname not in tags else tags


def naming_note(config, addresses):
    """Why this host's dump directories may be hard to find, or None: kdump-tools with ``HOSTTAG=ip`` on a
    host with more than one address names a dump by whichever address comes last in the capture boot."""
    if config.get("flavour") != "kdump-tools" or config.get("host_tag") == "hostname":
        return None
    if len([a for a in addresses if a]) < 2:
        return None
    listed = ", ".join(a for a in addresses if a)
    return (
        f"dumps are named by whichever address comes last in the capture boot ({listed}); "
        "set HOSTTAG=hostname"
    )


def ssh_probe_command(directory):
    """The command the dump account's shell runs: enter the dump path, create a file there and remove it.
    Exit 3: no such directory (or no access to it); 4: the directory is not writable."""
    quoted = shlex.quote(directory)
    return f'cd -- {quoted} || exit 3; f=$(mktemp -- {PROBE_PREFIX}XXXXXX) || exit 4; rm -f -- "$f"'


def ssh_probe_argv(ssh, key, target, directory, timeout_bin=None):
    """The probe as an argument vector (no local shell): the kdump key alone, batch mode (no prompt, as the
    capture kernel has none), the host key checked against known_hosts, bounded in time."""
    bounded = [timeout_bin, str(PROBE_TIMEOUT)] if timeout_bin else []
    return [
        *bounded,
        ssh, "-i", key, "-T",
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"ConnectTimeout={SSH_CONNECT_TIMEOUT}",
        "-o", "ServerAliveInterval=2",
        "-o", "ServerAliveCountMax=2",
        "--", target, ssh_probe_command(directory),
    ]  # fmt: skip


def _reason(stderr, fallback):
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    kept = [line for line in lines if not line.startswith(("Warning: Permanently added", "**"))]
    return (kept or lines or [fallback])[-1][:300]


def ssh_verdict(target, directory, rc, stderr):
    """``{ok, reachable, writable, detail}`` from the probe's exit status and standard error."""
    where = f"ssh {target}"
    if rc == 0:
        return _verdict(True, True, True, f"{where}:{directory} reachable and writable")
    if rc == 3:
        why = _reason(stderr, "cd failed")
        return _verdict(False, True, False, f"{where}: {directory} missing or not accessible: {why}")
    if rc == 4:
        why = _reason(stderr, "mktemp failed")
        return _verdict(False, True, False, f"{where}: {directory} not writable: {why}")
    if rc == 124:
        return _verdict(False, False, None, f"{where} unreachable: no answer within {PROBE_TIMEOUT} s")
    return _verdict(False, False, None, f"{where} unreachable: {_reason(stderr, f'ssh exit status {rc}')}")


def not_probed(kind, target, why):
    return _verdict(False, None, None, f"{kind} {target}: {why}")


def _verdict(ok, reachable, writable, detail):
    return {"ok": ok, "reachable": reachable, "writable": writable, "detail": detail}


def nfs_probe_command():
    """The script ``sh`` runs in the probe's own mount namespace ($1: ``server:/export``, $2: the dump
    directory inside the export): mount the export, then create and remove a file in that directory, or in
    its nearest existing parent where it does not exist yet (kdump creates it). Exit 3: the mount failed; 4:
    no file could be created."""
    point = NFS_PROBE_MOUNT_POINT
    return (
        f'mount -t nfs -o {NFS_PROBE_OPTIONS} -- "$1" {point} || exit 3; '
        f'd={point}/"${{2#/}}"; while [ ! -d "$d" ]; do d="${{d%/*}}"; done; '
        f'f=$(mktemp -p "$d" -- {PROBE_PREFIX}XXXXXX) || exit 4; rm -f -- "$f"'
    )


def nfs_probe_argv(unshare, target, directory, timeout_bin=None):
    """The NFS probe as an argument vector: the script under ``unshare --mount`` (a private mount namespace:
    the mount dies with it), bounded in time; ``target`` and ``directory`` are arguments, never script."""
    bounded = [timeout_bin, str(PROBE_TIMEOUT)] if timeout_bin else []
    namespace = [unshare, "--mount", "--propagation", "private", "--"]
    return [*bounded, *namespace, "/bin/sh", "-c", nfs_probe_command(), "sh", target, directory or "/"]


def nfs_mount_verdict(target, directory, rc, stderr):
    """``{ok, reachable, writable, detail}`` from the mount probe (the server accepted a TCP connection on
    the NFS port before it ran); None when the probe itself could not run (no privilege for a mount
    namespace, say): the caller then falls back on the port alone."""
    where = f"nfs {target}"
    if rc == 0:
        return _verdict(True, True, True, f"{where} mounted as kdump mounts it; {directory} writable")
    if rc == 3:
        why = _reason(stderr, "mount failed")
        return _verdict(False, True, None, f"{where}: kdump's mount fails: {why}")
    if rc == 4:
        why = _reason(stderr, "mktemp failed")
        return _verdict(False, True, False, f"{where}: {directory} not writable: {why}")
    if rc == 124:
        return _verdict(False, True, None, f"{where}: the mount did not finish within {PROBE_TIMEOUT} s")
    return None


def no_nfs_client(target):
    """No mount.nfs on the host: neither kdump-tools' mount nor dracut's nfs module can mount the export."""
    return _verdict(
        False, None, None, f"nfs {target}: no mount.nfs here (nfs-common / nfs-utils): kdump cannot mount it"
    )


def nfs_mount(mounts, server, export):
    """The NFS mount of ``server:export`` among ``mounts`` (the last one wins, as it hides the others)."""
    wanted = {f"{server}:{export}", f"[{server}]:{export}", f"{server}:{export}/"}
    found = None
    for mount in mounts:
        if mount["fstype"] in ("nfs", "nfs4") and mount["source"] in wanted:
            found = mount
    return found


def nfs_verdict(target, mount, write_error, port_error, untried=None):
    """``{ok, reachable, writable, detail}`` for an NFS target.

    mount: its mount here, or None. write_error: None when a file could be created and removed in the dump
    directory of a read-write mount, else why not (never tried on a read-only mount). port_error: None when
    the server accepted a TCP connection on the NFS port, else why not (asked only when not mounted, and
    only when the mount probe could not run: nfs_mount_verdict). untried: why that probe could not run."""
    where = f"nfs {target}"
    if mount is not None:
        if "ro" in mount["options"]:
            return _verdict(False, True, False, f"{where}: mounted read-only on {mount['mount_point']}")
        if write_error is not None:
            detail = f"{where}: not writable on {mount['mount_point']}: {write_error}"
            return _verdict(False, True, False, detail)
        return _verdict(True, True, True, f"{where} mounted on {mount['mount_point']} and writable")
    if port_error is not None:
        return _verdict(False, False, None, f"{where} unreachable: {port_error}")
    detail = f"{where} reachable (NFS port {NFS_PORT}); not mounted here, so kdump's write is not tried"
    return _verdict(True, True, None, detail + (f" ({untried})" if untried else ""))
