"""`fleetfix remediate` and `fleetfix runs`: option parsing only; the work is in remediate_run."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from fleetfix import console as ui
from fleetfix.cli.options import advisories_option, execution_nodes_option, inventory_option, limit_option
from fleetfix.errors import ExitStatus, FleetfixError
from fleetfix.render import runs as render_runs


@click.command()
@inventory_option
@limit_option
@execution_nodes_option
@advisories_option
@click.option("-m", "--module", help="The driver module to upgrade where an advisory marks it bad.")
@click.option(
    "--to", "target", metavar="VERSION", help="Target version [default: lowest fixing every advisory]."
)
@click.option("--window", metavar="SPEC", help="Change window, e.g. 'Sat 02:00-04:00 Europe/Paris' or ISO.")
@click.option("--tz", metavar="ZONE", help="Time zone of --window when the spec names none.")
@click.option("--batch", default="1", show_default=True, metavar="N|N%", help="Hosts per batch.")
@click.option(
    "--max-failures", default="1", show_default=True, metavar="N|N%", help="Failure budget, whole run."
)
@click.option(
    "--soak-runtime",
    type=click.IntRange(5),
    metavar="SECONDS",
    help="fio runtime per host [default: 300; on --resume: the run's own].",
)
@click.option(
    "--profile", help="fio profile of the post-check soak [default: thrash; on --resume the run's]."
)
@click.option(
    "--baseline-runtime",
    type=click.IntRange(2),
    metavar="SECONDS",
    help="fio runtime of the baseline on the old build, before the upgrade [default: a fifth of the soak, "
    "2 to 60]. Shares are taken of a baseline of 20 s or more that ran clean; a shorter one is reported.",
)
@click.option(
    "--iops-floor",
    metavar="N|N%",
    help="Soak IOPS floor: IOPS, or a share of the host's baseline; a share with no usable baseline judges "
    "nothing, and the run says so [default: 80%; on --resume the run's].",
)
@click.option(
    "--p99-ceiling",
    metavar="MS|N%",
    help="Soak p99 latency ceiling: ms, or a share of the baseline's, at least 10 ms [default: 500%].",
)
@click.option(
    "--canary", type=click.IntRange(0), default=0, metavar="N", help="Batch 1 holds N hosts only (canaries)."
)
@click.option(
    "--bake",
    metavar="DURATION",
    help="After the canary batch, watch it this long (30m, 2h, 1d) for crash lines `fleetfix listen` "
    "recorded from it, new dumps and reboots; a canary that fails stops the run before the next batch.",
)
@click.option("--reboot", is_flag=True, help="Allow reboots where a reload cannot activate the new build.")
@click.option("--require-capture", is_flag=True, help="Stop a host whose crash capture is not ready.")
@click.option(
    "--no-rollback",
    "rollback",
    flag_value=False,
    default=None,
    help="Leave a host whose verify or soak failed on the new build, or whose refused build was installed, "
    "for inspection [default: roll back].",
)
@click.option(
    "--pre-hook",
    metavar="COMMAND|PLAYBOOK",
    help="Before a host's upgrade (drain it): a command run here with FLEETFIX_HOST and FLEETFIX_RUN_ID set "
    "({host}, {run_id} in its words), or a playbook (.yml, .yaml) run against the host. A failure fails the "
    "host before anything changes.",
)
@click.option(
    "--post-hook",
    metavar="COMMAND|PLAYBOOK",
    help="After a host's passed soak, or its rollback (undrain it); as --pre-hook.",
)
@click.option(
    "--batch-by",
    metavar="group:PREFIX|var:NAME",
    help="Cut batches by failure domain: the host's inventory group starting with PREFIX, or the value of "
    "inventory variable NAME. No batch spans two domains; a host in none is a domain of its own.",
)
@click.option("--check", is_flag=True, help="Print the plan and play it in check mode with diffs.")
@click.option("--yes", is_flag=True, help="Start without asking for confirmation.")
@click.option(
    "--resume",
    "resume",
    is_flag=False,
    flag_value="0",
    default=None,
    metavar="[RUN]",
    help="Continue an interrupted or stopped run (default: the newest unfinished).",
)
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
def remediate(**options: object) -> None:
    """Rolling driver upgrade in a change window, verified and soaked with fio, resumable.

    Each host is first soaked on its old build (the baseline, same profile, shorter): its figures set the
    host's own IOPS floor and p99 ceiling. The old build is the bad one: when it panics, oopses, stalls or
    drops the host under the baseline, that is recorded as the bug reproduced on the old build (runs show,
    JSON), not as a host failure; the host goes on to its upgrade once it answers again, and only absolute
    limits judge its soak. A host whose verify or soak fails, or whose new build is refused once installed
    (Secure Boot, an untrusted signer, a default boot kernel without it), is rolled back to its previous
    package unless --no-rollback (which leaves a refused build on disk for the next boot, and says so); it
    still counts against --max-failures (exit 6 when the budget stops the run with hosts left, 4 when every
    host was tried and some failed, rolled back or not).
    """
    from fleetfix.commands import remediate as remediate_run
    from fleetfix.plan.count import parse_count
    from fleetfix.plan.describe import describe

    o = options
    request = remediate_run.RemediateRequest(
        inventories=tuple(o["inventories"]),
        limit=o["limit"],
        module=o["module"],
        to=o["target"],
        window=o["window"],
        tz=o["tz"],
        batch=parse_count(o["batch"], "--batch"),
        max_failures=parse_count(o["max_failures"], "--max-failures"),
        soak_runtime=o["soak_runtime"],
        profile=o["profile"],
        iops_floor=o["iops_floor"],
        p99_ceiling=o["p99_ceiling"],
        baseline_runtime=o["baseline_runtime"],
        reboot=o["reboot"],
        require_capture=o["require_capture"],
        rollback=o["rollback"],
        pre_hook=o["pre_hook"],
        post_hook=o["post_hook"],
        batch_by=o["batch_by"],
        canary=o["canary"],
        bake=o["bake"],
        check=o["check"],
        advisory_dirs=tuple(o["advisory_dirs"]),
        resume=None if o["resume"] is None else _run_id(o["resume"]),
        nodes=o["nodes"],  # type: ignore[arg-type]
    )
    if request.resume is not None:
        with ui.PlayProgress() as progress:
            outcome = remediate_run.resume(request, progress)
    else:
        with ui.PlayProgress() as progress:
            plan, window, facts = remediate_run.plan_run(request, progress)
        ui.plan_lines(describe(plan), window.spec if window else None)
        if not request.check and not o["yes"]:
            if not sys.stdin.isatty():
                raise FleetfixError("not started: confirm at a terminal or pass --yes", ExitStatus.USAGE)
            if not click.confirm("Start this remediation?", default=False, err=True):
                raise FleetfixError("not started", ExitStatus.INTERRUPTED)
        with ui.PlayProgress() as progress:
            if request.check:
                outcome = remediate_run.check(request, plan, facts, progress)
            else:
                command = shlex.join(["fleetfix", *sys.argv[1:]])
                outcome = remediate_run.start(request, plan, window, facts, command, progress)
    if o["fmt"] == "json":
        sys.stdout.write(render_runs.outcome_json(outcome))
    else:
        ui.remediate_outcome(outcome)
    sys.exit(outcome.exit_status())


def _run_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise FleetfixError(
            f"--resume: {text!r} is not a run id (fleetfix runs lists them)", ExitStatus.USAGE
        )
    return int(text)


@click.group(invoke_without_command=True)
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
@click.pass_context
def runs(ctx: click.Context, fmt: str) -> None:
    """Remediation runs from the journal, newest first; `runs show RUN` for one."""
    if ctx.invoked_subcommand is not None:
        return
    from fleetfix.commands.runs import list_runs

    listing = list_runs()
    if fmt == "json":
        sys.stdout.write(render_runs.listing_json(listing))
    else:
        ui.runs_table(listing)


@runs.command("show")
@click.argument("run_id", type=click.IntRange(1, 2**63 - 1))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "json", "markdown", "junit")),
    default="table",
    show_default=True,
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write the report here instead of stdout."
)
def show(run_id: int, fmt: str, output: Path | None) -> None:
    """Each host's steps, soak figures and verdict for one run."""
    from fleetfix.commands.runs import show_run

    ui.emit_run_show(show_run(run_id), fmt, output)
