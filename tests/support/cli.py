"""The fleetfix command line run in-process, with its exit code, as a user would run it."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner, Result

from fleetfix import cli


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def _fleetfix(argv: tuple[str, ...]) -> None:
    sys.exit(cli.run(list(argv)))


def fleetfix(*args: str | Path) -> Result:
    """``fleetfix ARGS...``: its result carries the exit code and what it printed."""
    return CliRunner().invoke(_fleetfix, [str(a) for a in args])
