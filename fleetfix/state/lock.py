"""One remediation at a time per state directory: a lock held while a run drives hosts.

Two ``remediate`` (or ``--resume``) processes at once would upgrade, reload and reboot the same hosts twice
and write the same journal rows. The lock is an ``flock`` on a file beside the journal that names its
holder; the kernel drops it when the holder dies, even by kill -9, so a crashed run never blocks the next,
and a run the journal still calls "running" while nobody holds the lock was interrupted.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from fleetfix.errors import ExitStatus, FleetfixError
from fleetfix.state import paths


def default_path() -> Path:
    return paths.state_dir() / "remediate.lock"


class RemediationLock:
    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        self.holder = holder
        self._fd: int | None = None

    def __enter__(self) -> RemediationLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise FleetfixError(
                f"another remediation is running ({other}): let it finish, or stop it and --resume",
                ExitStatus.ENVIRONMENT,
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{self.holder}, pid {os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def held(path: Path) -> bool:
    """True while some process holds the lock."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def as_seen_now(run: dict[str, Any]) -> dict[str, Any]:
    """A journal run summary; one still "running" while nobody holds the lock was killed: interrupted."""
    if run["status"] == "running" and not held(default_path()):
        return {
            **run,
            "status": "interrupted",
            "note": run["note"] or "interrupted: continue it with --resume",
        }
    return run
