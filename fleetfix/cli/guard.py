"""What the top-level guard needs: messages kept to one line, and a debug log for unexpected faults."""

from __future__ import annotations

import logging
import os
import tempfile
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fleetfix.state import paths

_MAX_MESSAGE = 600


def one_line(message: str) -> str:
    """The message on one line: newlines and control characters shown escaped, a runaway length cut."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message.replace("\n", " | "))
    return shown if len(shown) <= _MAX_MESSAGE else shown[: _MAX_MESSAGE - 3] + "..."


def write_debug_log(exc: BaseException) -> Path:
    """The traceback in ``<state>/debug/<time>-<pid>.log``, or in the temporary directory when the state
    directory cannot be written."""
    text = "".join(traceback.format_exception(exc))
    name = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.log"
    for directory in (paths.state_dir() / "debug", Path(tempfile.gettempdir())):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            target = directory / (name if directory.name == "debug" else f"fleetfix-{name}")
            target.write_text(text, encoding="utf-8")
            return target
        except OSError:
            continue
    return Path("/dev/null")


class OneLineHandler(logging.Handler):
    """Log records (Ansible's warnings, relayed by fleetfix.ansible) shown as one line each."""

    def __init__(self, show: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.show = show

    def emit(self, record: logging.LogRecord) -> None:
        self.show(one_line(record.getMessage()))


def show_warnings(show: Callable[[str], None]) -> None:
    """Route fleetfix's warnings to ``show``, once per process."""
    logger = logging.getLogger("fleetfix")
    if not any(isinstance(h, OneLineHandler) for h in logger.handlers):
        logger.addHandler(OneLineHandler(show))
        logger.propagate = False
