"""The fleetfix commands. Each parses its options and calls one function; no logic lives here."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from fleetfix import __version__
from fleetfix import console as ui
from fleetfix.ansible import interrupt
from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.cli.guard import one_line, show_warnings, write_debug_log
from fleetfix.cli.options import advisories_option, execution_nodes_option, inventory_option, limit_option
from fleetfix.errors import ExitStatus, FleetfixError

_FORMATS = ("table", "json", "markdown", "junit")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fleetfix")
def main() -> None:
    """Audit, capture, triage and remediate storage-driver incidents across a fleet."""


@main.command()
@inventory_option
@limit_option
@execution_nodes_option
@advisories_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice((*_FORMATS, "prometheus")),
    default="table",
    show_default=True,
    help="prometheus: node_exporter's textfile format.",
)
@click.option("--wide", is_flag=True, help="Table: every driver, capture check and finding in cells.")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write the report here instead of stdout."
)
@click.option(
    "--from-artifacts",
    type=click.Path(path_type=Path),
    help="Judge a facts run made elsewhere: a runner artifacts dir or an AWX job events export.",
)
@click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(("findings", "unknown")),
    default="findings",
    show_default=True,
    help="unknown: also exit 1 when no data settles an advisory for a host's distribution kernel.",
)
def audit(
    inventories: tuple[Path, ...],
    limit: str | None,
    nodes: ExecutionNodes | None,
    advisory_dirs: tuple[Path, ...],
    fmt: str,
    wide: bool,
    output: Path | None,
    from_artifacts: Path | None,
    fail_on: str,
) -> None:
    """Crash-capture readiness and known-bad HBA drivers on every host."""
    from fleetfix.commands.audit import audit_artifacts, run_audit

    if from_artifacts is not None:
        report = audit_artifacts(from_artifacts, advisory_dirs)
    else:
        with ui.PlayProgress() as progress:
            report = run_audit(inventories, limit, advisory_dirs, progress, nodes)
    ui.emit_audit(report, fmt, output, wide)
    sys.exit(report.exit_status(fail_on_unknown=fail_on == "unknown"))


@main.group()
def advisories() -> None:
    """The known-bad driver database: check it, list it, import vendor changelogs and OSV records into it."""


@advisories.command("list")
@advisories_option
@click.option("--module", help="Only this module's advisories.")
def advisories_list(advisory_dirs: tuple[Path, ...], module: str | None) -> None:
    """Load and validate every advisory (shipped and yours) and list them."""
    from fleetfix.commands.audit import load_db

    ui.advisories_table(load_db(advisory_dirs), module)


@advisories.command("import-changelog")
@click.argument("changelog", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--module", required=True, help="The kernel module the changelog describes, e.g. smartpqi.")
@click.option("--vendor", help="Vendor name; default from a table of known drivers.")
@click.option("--reference", "references", multiple=True, help="URL of the changelog; repeatable.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the YAML here (default stdout).")
def import_changelog(
    changelog: Path, module: str, vendor: str | None, references: tuple[str, ...], output: Path | None
) -> None:
    """Turn a vendor changelog into advisory YAML for a person to review."""
    from fleetfix.commands.import_changelog import import_file

    result = import_file(changelog, module, vendor, references, output)
    for message in result.warnings:
        ui.warning(message)
    if output is not None:
        ui.stderr.print(f"{len(result.entries)} fault fixes in {result.releases} releases -> {output}")


@advisories.command("import-osv")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the YAML here (default stdout).")
def import_osv(paths: tuple[Path, ...], output: Path | None) -> None:
    """Turn OSV records that touch HBA modules into advisory YAML for a person to review.

    PATHS: OSV JSON files, directories of them, or OSV's per-ecosystem all.zip dumps.
    """
    from fleetfix.commands.import_osv import import_paths

    result = import_paths(paths, output)
    for message in result.warnings:
        ui.warning(message)
    if output is not None:
        ui.stderr.print(
            f"{len(result.advisories)} advisories from {result.records} records "
            f"({result.skipped} skipped: no known HBA module) -> {output}"
        )


@main.command()
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=6666, show_default=True, type=click.IntRange(1, 65535), help="UDP port.")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), help="Log directory [default: <state>/netconsole]."
)
def listen(bind: str, port: int, directory: Path | None) -> None:
    """Receive netconsole: one log per sending host, oops/panic/BUG/WARNING lines flagged live."""
    from fleetfix.commands.listen import listen as serve
    from fleetfix.state.paths import netconsole_dir

    stats = serve(bind, port, directory or netconsole_dir(), ui.listen_event, ui.listen_ready)
    ui.stderr.print(stats.line())


def _attach_command_groups() -> None:
    """Command groups defined beside their own package."""
    from fleetfix.cli.capture import capture
    from fleetfix.cli.remediate import remediate, runs
    from fleetfix.cli.report import report
    from fleetfix.cli.soak import soak
    from fleetfix.cli.triage import collect, triage
    from fleetfix.lab.commands import lab
    from fleetfix.lab.vm.commands import vm

    lab.add_command(vm)
    for command in (capture, remediate, soak, runs, collect, triage, report, lab):
        main.add_command(command)


_attach_command_groups()


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and turn every failure into one line on stderr and a documented exit code.

    Anything unexpected is a fault of fleetfix: its traceback goes to a debug log, the user gets one line
    naming that log and exit status 70.
    """
    # Outside a playbook run SIGINT and SIGTERM raise Interrupted where the command is; during one the run
    # forwards them to the playbook first (fleetfix.ansible.interrupt).
    previous = {
        sig: signal.signal(sig, interrupt.raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    show_warnings(ui.warning)
    try:
        main.main(args=argv, prog_name="fleetfix", standalone_mode=False)
    except FleetfixError as exc:
        ui.error(one_line(str(exc)))
        return int(exc.status)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        ui.error(one_line(exc.format_message()))
        return ExitStatus.USAGE
    except click.Abort:
        ui.error("interrupted")
        return ExitStatus.INTERRUPTED
    except KeyboardInterrupt:
        ui.error("interrupted")
        return ExitStatus.INTERRUPTED
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else ExitStatus.USAGE
    except BrokenPipeError:
        return ExitStatus.OK  # the reader went away (| head): nothing left to say
    except Exception as exc:
        log = write_debug_log(exc)
        ui.error(one_line(f"internal error: {type(exc).__name__}: {exc}") + f" (details: {log})")
        return ExitStatus.INTERNAL
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return ExitStatus.OK


def entry() -> None:
    sys.exit(run())
