"""`fleetfix capture enable|status`: option parsing only; the work is in capture_run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fleetfix import console as ui
from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.capture.outcome import status_exit
from fleetfix.cli.options import execution_nodes_option, inventory_option, limit_option
from fleetfix.render import capture as render_capture

_format = click.option(
    "--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True
)


@click.group()
def capture() -> None:
    """Crash capture on every host: kdump with reserved crash memory, and netconsole to a log host."""


@capture.command()
@inventory_option
@limit_option
@execution_nodes_option
@click.option(
    "--log-host",
    metavar="IP",
    help="Log host receiving netconsole (fleetfix listen); omit to leave netconsole alone.",
)
@click.option("--log-port", metavar="PORT", help="UDP port on the log host.  [default: 6666]")
@click.option("--interface", metavar="DEV", help="Interface netconsole sends from. Default: the route's.")
@click.option("--crash-size", metavar="SIZE", help="crashkernel= size or ranges, e.g. 512M.  [default: 256M]")
@click.option(
    "--dump-target",
    metavar="TARGET",
    help=(
        "Dumps go to /path (local), ssh://user@host/dir or nfs://server/export. An ssh target gets a key"
        " authorised on the server (an inventory host) and its host key trusted.  [default: /var/crash]"
    ),
)
@click.option("--reboot", is_flag=True, help="Reboot hosts whose crash memory needs it, one at a time.")
@click.option("--check", is_flag=True, help="Show what would change, with diffs, and change nothing.")
@_format
def enable(
    inventories: tuple[Path, ...],
    limit: str | None,
    nodes: ExecutionNodes | None,
    log_host: str | None,
    log_port: str | None,
    interface: str | None,
    crash_size: str | None,
    dump_target: str | None,
    reboot: bool,
    check: bool,
    fmt: str,
) -> None:
    """Install and enable kdump and netconsole; report per host what changed and what needs a reboot."""
    from fleetfix.commands import capture as capture_run

    options = capture_run.parse_options(log_host, log_port, interface, crash_size, dump_target)
    with ui.PlayProgress() as progress:
        outcome = capture_run.enable(inventories, limit, check, reboot, options, progress, nodes)
    if fmt == "json":
        sys.stdout.write(render_capture.outcome_json(outcome))
    else:
        title = "fleetfix capture enable --check (nothing changed)" if check else "fleetfix capture enable"
        ui.capture_table(title, render_capture.outcome_rows(outcome), {h.host: h.diff for h in outcome.hosts})
    sys.exit(outcome.exit_status())


@capture.command()
@inventory_option
@limit_option
@execution_nodes_option
@_format
def status(inventories: tuple[Path, ...], limit: str | None, nodes: ExecutionNodes | None, fmt: str) -> None:
    """Crash-capture readiness per host (the audit's crash capture view)."""
    from fleetfix.commands import capture as capture_run

    with ui.PlayProgress() as progress:
        report = capture_run.status(inventories, limit, progress, nodes)
    if fmt == "json":
        sys.stdout.write(render_capture.status_json(report))
    else:
        ui.capture_table("fleetfix capture status", render_capture.status_rows(report))
    sys.exit(status_exit(report))
