"""`fleetfix listen`: run the netconsole receiver until Ctrl-C or SIGTERM, showing flagged lines live."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from fleetfix.listen.receiver import Listener
from fleetfix.listen.text import ListenEvent, ListenStats


def listen(
    bind: str,
    port: int,
    directory: Path,
    on_event: Callable[[ListenEvent], None],
    on_ready: Callable[[str, int, Path], None],
) -> ListenStats:
    """Serve until SIGINT or SIGTERM; returns the final counters."""
    listener = Listener(bind, port, directory, on_event)
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: listener.stop()) for sig in stops}
    try:
        on_ready(*listener.address, directory)
        listener.serve_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        listener.close()
    return listener.stats
