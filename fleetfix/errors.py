"""Exit statuses and the one exception type that reaches the command line.

Every error a user can cause (a broken file, a bad option value, a missing privilege) is raised as a
``FleetfixError`` carrying its exit status; ``cli.main`` prints its one-line message and exits with it.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Documented process exit codes (README, "Exit codes")."""

    OK = 0  # nothing at risk, every host answered, every verdict passed
    FINDINGS = 1  # at-risk hosts, a failed soak or verification
    USAGE = 2  # bad command-line usage (click's own code)
    BAD_INPUT = 3  # an input file or value is invalid: inventory, advisory, scenario, log, fio output
    HOSTS_FAILED = 4  # some hosts were unreachable or a task failed on them
    ENVIRONMENT = 5  # this machine cannot do it: not root, a tool missing, a port taken
    INCOMPLETE = 6  # the change window or the failure budget stopped the run with work left
    INTERNAL = 70  # a fault of fleetfix itself: a one-line message, the traceback in a debug log
    INTERRUPTED = 130  # Ctrl-C (SIGINT)
    TERMINATED = 143  # SIGTERM


class FleetfixError(Exception):
    """An error to show the user as one line, then exit with ``status``."""

    status: ExitStatus = ExitStatus.BAD_INPUT

    def __init__(self, message: str, status: ExitStatus | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class InputError(FleetfixError):
    """Invalid content in a file the user gave: names the file, and the line or field when known."""

    def __init__(self, source: str, message: str, line: int | None = None, field: str | None = None) -> None:
        where = source if line is None else f"{source}:{line}"
        what = message if field is None else f"{field}: {message}"
        # A bad option value is a usage error (exit 2); a bad file's content is bad input (exit 3).
        status = ExitStatus.USAGE if source.startswith("-") else ExitStatus.BAD_INPUT
        super().__init__(f"{where}: {what}", status)
        self.source, self.line, self.field = source, line, field


class EnvironmentProblem(FleetfixError):
    """This machine lacks something the command needs (privilege, tool, free port)."""

    status = ExitStatus.ENVIRONMENT
