"""`fleetfix soak`: fio on the disks behind a driver, judged per host; or `--evaluate` a saved fio report.

Option parsing and rendering only: the work is in soak_run (a fleet soak) and soak (judging a report).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fleetfix import console as ui
from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.cli.options import execution_nodes_option, inventory_option, limit_option
from fleetfix.errors import ExitStatus
from fleetfix.render import soak as render_soak


@click.command()
@inventory_option
@limit_option
@execution_nodes_option
@click.option("-m", "--module", help="Soak every disk behind this driver module (e.g. mpt3sas).")
@click.option("-d", "--device", "devices", multiple=True, help="Soak this device (/dev/sdb); repeatable.")
@click.option("--profile", default="thrash", show_default=True, help="fio profile: thrash, qd1, ...")
@click.option(
    "--profiles",
    "profiles_file",
    type=click.Path(path_type=Path),
    help="YAML file of your own fio profiles (profiles: {name: {rw:, bs:, iodepth:, numjobs:}}).",
)
@click.option("--runtime", type=click.IntRange(min=1), default=300, show_default=True, help="Seconds of fio.")
@click.option("--destructive", is_flag=True, help="Let a write profile overwrite disks holding data.")
@click.option("--iops-floor", metavar="IOPS|N%", help="Fail below this IOPS, or N% of --baseline's.")
@click.option(
    "--baseline", type=click.Path(path_type=Path), help="fio JSON report of an earlier soak: base of N%."
)
@click.option("--check", is_flag=True, help="Check the devices and show the fio command; run nothing.")
@click.option(
    "--evaluate",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Judge a saved fio JSON report instead of running a soak.",
)
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
def soak(
    inventories: tuple[Path, ...],
    limit: str | None,
    nodes: ExecutionNodes | None,
    module: str | None,
    devices: tuple[str, ...],
    profile: str,
    profiles_file: Path | None,
    runtime: int,
    destructive: bool,
    iops_floor: str | None,
    baseline: Path | None,
    check: bool,
    evaluate: Path | None,
    fmt: str,
) -> None:
    """fio soak of the disks behind a driver: passes only with no fio error, the same boot id, no kernel
    oops logged meanwhile, and IOPS above the floor. Read-only unless a write profile and --destructive."""
    from fleetfix.commands import soak as soak_run

    floor = soak_run.iops_floor(iops_floor, baseline)
    if evaluate is not None:
        if module or devices or inventories or limit or check or destructive:
            raise click.UsageError("--evaluate judges a file: it takes no hosts, devices or run options")
        evaluation = soak_run.evaluate_file(evaluate, floor)
        if fmt == "json":
            sys.stdout.write(render_soak.evaluation_json(evaluation))
        else:
            ui.soak_evaluation(evaluation)
        sys.exit(ExitStatus.OK if evaluation.verdict.passed else ExitStatus.FINDINGS)
    if bool(module) == bool(devices):
        raise click.UsageError("give --module or --device (one of them)")
    chosen = soak_run.choose_profile(profile, profiles_file)
    with ui.PlayProgress() as progress:
        results = soak_run.soak(
            inventories, limit, module, devices, chosen, runtime, destructive, progress, check, floor, nodes
        )
    if fmt == "json":
        sys.stdout.write(render_soak.results_json(results))
    else:
        ui.soak_table(results)
    sys.exit(soak_run.exit_status(results))
