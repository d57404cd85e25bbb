"""Writing output files so that a crash or a full disk never leaves a half-written one behind."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from fleetfix.errors import EnvironmentProblem


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_atomic(path: Path, text: str, mode: int = 0o666) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path``, with ``mode`` less the
    umask, as open() would have made it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            os.fchmod(fd, mode & ~_umask())  # mkstemp makes 0600; a report is read by others too
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot write: {exc.strerror or exc}") from None


def emit(text: str, output: Path | None) -> None:
    """A report on stdout, or written whole to ``output``."""
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomic(output, text)
