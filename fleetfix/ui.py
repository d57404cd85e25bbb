"""Everything that draws on a terminal (rich): progress on stderr, tables on stdout, one-line errors."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fleetfix import report as report_formats
from fleetfix.advisories import AdvisoryDB
from fleetfix.audit import AuditReport
from fleetfix.files import write_atomic

stdout = Console(highlight=False, soft_wrap=False)
if not stdout.is_terminal:
    stdout.width = 140  # a piped or redirected table is read later, often wider than 80 columns
stderr = Console(stderr=True, highlight=False)


def error(message: str) -> None:
    stderr.print(f"[bold red]fleetfix:[/] {message}", markup=True, highlight=False, soft_wrap=True)


class PlayProgress:
    """A progress bar per task: how many hosts have answered it. Implements run.RunObserver."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=stderr,
            transient=False,
            disable=not stderr.is_terminal,
        )
        self._task = None

    def __enter__(self) -> PlayProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, kind: type | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.__exit__(kind, value, tb)

    def task_started(self, name: str, hosts: int) -> None:
        self._task = self._progress.add_task(name[:60], total=hosts, failed=0)

    def host_answered(self, host: str, status: str) -> None:
        if self._task is None:
            return
        failed = status in ("failed", "unreachable")
        task = self._progress.tasks[self._task]
        self._progress.update(self._task, advance=1, failed=task.fields["failed"] + int(failed))


def audit_table(report: AuditReport, console: Console = stdout) -> None:
    table = Table(title="fleetfix audit", show_lines=False)
    for column in ("host", "status", "kernel", "storage drivers", "crash capture", "findings"):
        table.add_column(column, overflow="fold")
    for host in report.hosts:
        if not host.reachable:
            table.add_row(host.host, f"[red]{host.status}[/]", "", "", "", host.message)
            continue
        drivers = "\n".join(
            f"{d.name} {d.version or '?'}" + (" [yellow](out-of-tree)[/]" if d.out_of_tree else "")
            for d in host.drivers
        )
        capture = host.capture
        missing = ", ".join(check.label for check in (capture.checks if capture else ()) if not check.ok)
        capture_text = f"[yellow]missing:[/] {missing}" if missing else "[green]ready[/]"
        findings = "\n".join(f"[red]{f.advisory}[/] {f.why}" for f in host.findings) or "[green]none[/]"
        table.add_row(host.host, "ok", host.kernel or "", drivers or host.message, capture_text, findings)
    console.print(table)
    counts = report.counts()
    console.print(
        f"{counts['hosts']} hosts, {counts['reachable']} reachable, {counts['unreachable_or_failed']} "
        f"unreachable/failed, {counts['with_findings']} with findings, "
        f"{counts['capture_not_ready']} without working crash capture"
    )
    for advisory, hosts in sorted(report.hosts_per_advisory().items()):
        console.print(f"  {advisory}: {len(hosts)} host(s) at risk: {', '.join(hosts)}")


def emit_audit(report: AuditReport, fmt: str, output: Path | None) -> None:
    """Print the report on stdout, or write it to ``output`` whole (never half-written)."""
    if fmt == "table":
        if output is None:
            audit_table(report)
            return
        console = Console(record=True, file=io.StringIO(), width=160)
        audit_table(report, console)
        text = console.export_text()
    else:
        text = {
            "json": report_formats.to_json,
            "markdown": report_formats.to_markdown,
            "junit": report_formats.to_junit,
        }[fmt](report)
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomic(output, text)


_CAPTURE_STYLES = {
    "failed": "red",
    "unreachable": "red",
    "not ready": "yellow",
    "reboot-needed": "yellow",
    "changed": "cyan",
    "would-change": "cyan",
    "rebooted": "cyan",
    "ready": "green",
    "unchanged": "green",
}


def capture_table(title: str, rows: list[dict[str, str]], diffs: dict[str, str] | None = None) -> None:
    """A per-host table of `fleetfix capture` (rows from capture_run), then any check-mode diffs."""
    table = Table(title=title, show_lines=False)
    columns = list(rows[0]) if rows else ["host"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            style = _CAPTURE_STYLES.get(value) if column in ("status", "kdump", "netconsole") else None
            cells.append(f"[{style}]{value}[/]" if style else value)
        table.add_row(*cells)
    stdout.print(table)
    for host, diff in (diffs or {}).items():
        if diff:
            stdout.print(f"[bold]--- {host}[/]")
            stdout.print(diff, markup=False, highlight=False, end="", soft_wrap=True)


def advisories_table(db: AdvisoryDB, module: str | None) -> None:
    table = Table(title=f"fleetfix advisories ({len(db)} loaded)")
    for column in ("id", "module", "fixed in", "fault", "severity", "source"):
        table.add_column(column, overflow="fold")
    for advisory in db.advisories:
        if module and advisory.module != module:
            continue
        fixed = str(advisory.fixed_in) if advisory.fixed_in else "kernel ranges"
        source = f"{Path(advisory.source).name}:{advisory.line}"
        faults = ", ".join(advisory.fault)
        table.add_row(advisory.id, advisory.module, fixed, faults, advisory.severity, source)
    stdout.print(table)
