"""The receiver's UDP socket: bound with clear errors, non-blocking, with a large receive buffer."""

from __future__ import annotations

import errno
import socket

from fleetfix.errors import EnvironmentProblem, InputError

_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux; lets root exceed net.core.rmem_max


def bind_socket(bind: str, port: int, receive_buffer: int) -> socket.socket:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InputError("--port", f"expected a UDP port 1-65535 (0: any free port), got {port!r}")
    try:
        family, _, _, _, address = socket.getaddrinfo(
            bind, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE | socket.AI_NUMERICSERV
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError("--bind", f"unknown address {bind!r}: {exc}") from None
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        where = f"cannot listen on {bind} port {port}"
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise EnvironmentProblem(
                f"{where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            ) from None
        if exc.errno == errno.EADDRINUSE:
            raise EnvironmentProblem(f"{where}: address already in use (another receiver?)") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise InputError("--bind", f"{bind} is not an address of this machine") from None
        raise EnvironmentProblem(f"{where}: {exc.strerror or exc}") from None
    for option in (_SO_RCVBUFFORCE, socket.SO_RCVBUF):  # the first needs CAP_NET_ADMIN
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, receive_buffer)
            break
        except OSError:
            continue
    sock.setblocking(False)
    return sock
