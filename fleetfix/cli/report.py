"""`fleetfix report`: option parsing only; the work is in commands.report."""

from __future__ import annotations

from pathlib import Path

import click

from fleetfix import console as ui


@click.command()
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The HTML file."
)
@click.option(
    "--audit",
    type=click.Path(path_type=Path, dir_okay=False),
    help="fleetfix audit --format json output.  [default: <state dir>/audit/latest.json]",
)
@click.option(
    "--triage", type=click.Path(path_type=Path, dir_okay=False), help="fleetfix triage --format json output."
)
@click.option(
    "--run",
    "run",
    is_flag=False,
    flag_value=0,
    type=click.IntRange(0),
    default=None,
    metavar="[RUN]",
    help="A remediation run of the journal (alone: the newest).",
)
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="soak.json of a fleetfix soak made before the change (the 'before' figures); repeatable.",
)
def report(
    output: Path, audit: Path | None, triage: Path | None, run: int | None, baselines: tuple[Path, ...]
) -> None:
    """Write one self-contained HTML change report: audit, crash timeline, each host's steps, soak
    figures before and after."""
    from fleetfix.commands.report import ReportRequest, write_report

    written = write_report(ReportRequest(output, audit, triage, run, baselines))
    ui.stderr.print(f"wrote {written}", highlight=False, markup=False)
