"""A user-space NFS server on this machine's loopback for the real-kernel tests: NFS-Ganesha's VFS backend.

The kernel running the tests may have no nfsd, so the server is Debian's ``nfs-ganesha`` (``make deps``
installs it), started and stopped by the test with its own configuration, pid file, log and recovery
directory in the test's directory. It listens on 127.0.0.1:2049 only (a QEMU guest on user networking
reaches it as 10.0.2.2; kdump-tools mounts with no port option, so the port is NFS's own) and serves NFSv4
over TCP, with no grace period (a client may write at once) and root not squashed (kdump writes as root).

The export is a tmpfs mounted in the test's directory: Ganesha's VFS backend needs file handles
(name_to_handle_at), which tmpfs gives and an overlay root may not. Clients mount it at the same path
(Pseudo = Path), so the directory a host's configuration names on the server is the directory here.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PORT = 2049
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
EXPORT_SIZE = "1g"  # a tmpfs takes memory only for what is written: a compressed dump and its dmesg here

_CONFIG = """\
NFS_CORE_PARAM {{
    Bind_addr = 127.0.0.1;
    NFS_Port = {port};
    Protocols = 4;
    Enable_NLM = false;
    Enable_RQUOTA = false;
}}
NFSV4 {{
    Graceless = true;
    RecoveryRoot = {recovery};
}}
NFS_KRB5 {{
    Active_krb5 = false;
}}
EXPORT {{
    Export_Id = 1;
    Path = {export};
    Pseudo = {export};
    Protocols = 4;
    Transports = TCP;
    Access_Type = RW;
    Squash = No_Root_Squash;
    SecType = sys;
    FSAL {{
        Name = VFS;
    }}
}}
"""


def _port_open() -> bool:
    try:
        socket.create_connection(("127.0.0.1", PORT), 1).close()
    except OSError:
        return False
    return True


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@contextmanager
def ganesha(directory: Path) -> Iterator[Path]:
    """An NFSv4 export served from ``directory``/export for the block; the export's path (what clients
    mount, and where their files appear here)."""
    binary = shutil.which("ganesha.nfsd")
    if binary is None:
        pytest.skip("nfs-ganesha is not installed (make deps installs nfs-ganesha and nfs-ganesha-vfs)")
    if _port_open():
        pytest.fail(f"127.0.0.1:{PORT} is taken (a system NFS server?): the test's NFS server needs it")
    export, recovery = directory / "export", directory / "recovery"
    export.mkdir(parents=True)
    recovery.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={EXPORT_SIZE},mode=0755", "fleetfix-nfs-export", str(export)],
        check=True,
    )
    try:
        config = directory / "ganesha.conf"
        config.write_text(_CONFIG.format(port=PORT, recovery=recovery, export=export))
        log = directory / "ganesha.log"
        argv = [binary, "-F", "-f", str(config), "-p", str(directory / "ganesha.pid"), "-L", str(log)]
        server = subprocess.Popen(
            [*argv, "-N", "NIV_EVENT"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _port_open():
                if server.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                    pytest.fail(f"ganesha.nfsd did not listen on 127.0.0.1:{PORT}: {tail}")
                time.sleep(0.2)
            yield export
        finally:
            _stop(server)
    finally:
        subprocess.run(["umount", str(export)], check=False)
