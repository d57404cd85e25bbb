"""Running the host tools an image build and a VM need: output kept in a log, failures as one line."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from fleetfix.errors import EnvironmentProblem

_TAIL_LINES = 6


def require_tools(tools: Mapping[str, str]) -> None:
    """``tools`` maps each command to the Debian package that provides it."""
    missing = {tool: package for tool, package in tools.items() if shutil.which(tool) is None}
    if missing:
        raise EnvironmentProblem(
            f"missing {', '.join(sorted(missing))}: apt-get install {' '.join(sorted(set(missing.values())))}"
        )


def run(
    argv: Sequence[str],
    what: str,
    timeout: float,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
) -> str:
    """Run ``argv`` (``stdin`` its input); return its standard output. Output is appended to ``log`` when
    given.

    A failure or a timeout raises ``EnvironmentProblem`` naming ``what`` with the last lines of its stderr.
    """
    try:
        done = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
            check=False,
            errors="replace",
        )
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"{what}: no result after {timeout:.0f} s") from None
    except OSError as exc:
        raise EnvironmentProblem(f"{what}: {exc.strerror or exc}") from None
    if log is not None:
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}")
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-_TAIL_LINES:])
        where = f" (full output in {log})" if log is not None else ""
        raise EnvironmentProblem(f"{what} failed with exit status {done.returncode}: {tail}{where}")
    return done.stdout
