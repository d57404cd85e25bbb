"""`fleetfix collect` and `fleetfix triage`: option parsing only; collect_run and triage_run do the work."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fleetfix import console as ui
from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.cli.options import execution_nodes_option, inventory_option, limit_option
from fleetfix.render import collect as render_collect

_store = click.option(
    "--store",
    type=click.Path(path_type=Path, file_okay=False),
    help="The crash store.  [default: <state dir>/crashes]",
)
_netconsole = click.option(
    "--netconsole",
    "netconsole_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="The netconsole receiver's directory (fleetfix listen --dir), brought up to date in the store."
    "  [default: <state dir>/netconsole]",
)


@click.command()
@inventory_option
@limit_option
@execution_nodes_option
@_store
@_netconsole
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
def collect(
    inventories: tuple[Path, ...],
    limit: str | None,
    nodes: ExecutionNodes | None,
    store: Path | None,
    netconsole_dir: Path | None,
    fmt: str,
) -> None:
    """Fetch new kdump kernel logs and every host's scheduled jobs into the crash store (read-only)."""
    from fleetfix.commands import collect as collect_run

    with ui.PlayProgress() as progress:
        outcome = collect_run.collect(inventories, limit, store, progress, netconsole_dir, nodes)
    if fmt == "json":
        sys.stdout.write(render_collect.outcome_json(outcome))
    else:
        ui.collect_table(outcome)
    sys.exit(outcome.exit_status())


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@inventory_option
@limit_option
@_store
@_netconsole
@click.option(
    "--format", "fmt", type=click.Choice(("table", "json", "markdown")), default="table", show_default=True
)
@click.option(
    "--run-length",
    "run_lengths",
    multiple=True,
    metavar="JOB=DURATION",
    help="How long a job runs, e.g. /usr/local/bin/backup.sh=3h (JOB: its command, timer unit or file); "
    "repeatable.",
)
@click.option(
    "--default-run-length",
    metavar="DURATION",
    help="Run length of jobs with none given or logged.  [default: 1h]",
)
@click.option(
    "--advisories",
    "advisory_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Directory of your own advisory YAML files, added to the shipped database; repeatable.",
)
@click.option("--wide", is_flag=True, help="Table: one row per crash group with every field in cells.")
def triage(
    paths: tuple[Path, ...],
    inventories: tuple[Path, ...],
    limit: str | None,
    store: Path | None,
    netconsole_dir: Path | None,
    fmt: str,
    run_lengths: tuple[str, ...],
    default_run_length: str | None,
    advisory_dirs: tuple[Path, ...],
    wide: bool,
) -> None:
    """Group kernel crashes across hosts, name the driver and its build, and time them against cron jobs
    and timers.

    PATHs are crash stores, fleetfix listen --dir directories, directories of logs (read recursively; the
    host is the first directory under PATH, or the file's name) or single logs (dmesg, /var/log/messages,
    journalctl -k, plain or compressed); with none, the crash store. With -i, collect from those hosts
    first. Exit status: 0 no crash found, 1 crashes found, 3 bad input or nothing to read.
    """
    from fleetfix.commands import triage as triage_run

    request = triage_run.TriageRequest(
        paths=paths,
        inventories=inventories,
        limit=limit,
        store=store,
        netconsole_dir=netconsole_dir,
        run_lengths=triage_run.parse_run_lengths(run_lengths),
        default_run_length=triage_run.parse_duration(default_run_length, "--default-run-length")
        if default_run_length is not None
        else triage_run.DEFAULT_RUN_LENGTH,
        advisory_dirs=advisory_dirs,
    )
    if inventories:
        with ui.PlayProgress() as progress:
            result = triage_run.triage(request, progress)
    else:
        result = triage_run.triage(request)
    if result.collected is not None:
        ui.collect_problems(result.collected)
    if fmt == "table":
        ui.triage_table(result, wide=wide)
    else:
        sys.stdout.write(triage_run.render(result, fmt))
    sys.exit(result.exit_status())
