"""Everything that draws on a terminal (rich): progress on stderr, tables on stdout, one-line errors."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import astuple
from datetime import UTC
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.audit import AuditReport
from fleetfix.files import emit
from fleetfix.listen.text import ListenEvent
from fleetfix.plan.outcome import RemediateOutcome
from fleetfix.render import audit as report_formats
from fleetfix.render import audit_summary as summary
from fleetfix.render import prometheus
from fleetfix.render import runs as run_report
from fleetfix.render import triage as triage_report
from fleetfix.soak.host_soak import HostSoak
from fleetfix.soak.verdict import FioEvaluation
from fleetfix.triage.timeline import Timeline, group_timeline

if TYPE_CHECKING:
    from fleetfix.triage.collected import CollectOutcome
    from fleetfix.triage.group import CrashGroup
    from fleetfix.triage.result import TriageResult

stdout = Console(highlight=False, soft_wrap=False)
if not stdout.is_terminal:
    stdout.width = 140  # a piped or redirected table is read later, often wider than 80 columns
stderr = Console(stderr=True, highlight=False)


def error(message: str) -> None:
    # Text, not markup: a message may quote paths or kernel lines full of [brackets].
    stderr.print(Text.assemble(("fleetfix:", "bold red"), " ", message), highlight=False, soft_wrap=True)


def warning(message: str) -> None:
    stderr.print(Text.assemble(("fleetfix: warning:", "bold yellow"), " ", message), soft_wrap=True)


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


_SEVERITY_STYLES = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}
_CAPTURE_WORD_STYLES = {"ready": "green", "none": "red", "no kdump": "yellow", "no netconsole": "yellow"}


def _labelled(console: Console, rows: Sequence[tuple[str, Text | str]], indent: int = 4) -> None:
    """``label  text`` lines whose text wraps at words under itself, not under the label."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=indent, no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for label, text in rows:
        grid.add_row("", Text(label, style="dim"), text if isinstance(text, Text) else Text(text))
    console.print(grid)


def audit_table(report: AuditReport, console: Console = stdout) -> None:
    """One line per host (counts and the worst finding), then each advisory once with its hosts and fix."""
    lines = summary.host_lines(report)
    table = Table(title="fleetfix audit", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("host", no_wrap=True)
    table.add_column("kernel", no_wrap=True)
    table.add_column("capture", no_wrap=True)
    table.add_column("findings", justify="right", no_wrap=True)
    worst_width = max((len(line.worst.advisory) for line in lines if line.worst), default=5)
    table.add_column("worst finding", min_width=worst_width)
    for line in lines:
        if not line.reachable:
            table.add_row(line.host, Text(line.kernel, "red"), "-", "-", "-")
            continue
        worst = Text("none", "green")
        if line.worst is not None:
            style = _SEVERITY_STYLES.get(line.worst.severity, "")
            worst = Text.assemble((line.worst.advisory, style), f" ({line.worst.severity})")
        capture = Text(line.capture, _CAPTURE_WORD_STYLES.get(line.capture, ""))
        table.add_row(line.host, line.kernel, capture, str(line.findings), worst)
    console.print(table)
    for detail in summary.advisory_details(report):
        hosts = detail.hosts
        console.print(
            Text.assemble(
                (detail.id, f"bold {_SEVERITY_STYLES.get(detail.severity, '')}".strip()),
                f" {detail.severity}, {len(hosts)} host{'s' if len(hosts) != 1 else ''}",
            )
        )
        rows: list[tuple[str, Text | str]] = [
            ("on", f"{build.module} {build.version or '?'}: {summary.host_list(build.hosts)}")
            for build in detail.builds
        ]
        rows += [("why", build.why) for build in detail.builds[:1]]
        rows += [("when", detail.trigger)] if detail.trigger else []
        rows.append(("fix", detail.fix))
        _labelled(console, rows, indent=2)
    unknown = [host for host in report.hosts if host.unknown]
    if unknown:
        console.print(Text("unknown: no data for the host's distribution kernel", "bold"))
        rows = [
            (host.host, f"{len(host.unknown)} advisories, e.g. {host.unknown[0].why}") for host in unknown
        ]
        _labelled(console, rows, indent=2)
    pending = summary.next_boot_lines(report)
    if pending:
        console.print(Text("next boot", "bold cyan"))
        _labelled(console, pending, indent=2)
    gaps = summary.capture_gaps(report)
    if gaps:
        console.print(Text("crash capture not ready", "bold yellow"))
        rows = [("lacks", f"{', '.join(g.missing)}: {summary.host_list(g.hosts)}") for g in gaps]
        _labelled(console, rows, indent=2)
    failed = summary.unaudited(report)
    if failed:
        console.print(Text("not audited", "bold red"))
        _labelled(console, [(host, f"{status}: {message}") for host, status, message in failed], indent=2)
    console.print(_audit_counts(report))


def _audit_counts(report: AuditReport) -> Text:
    counts = report.counts()
    return Text(
        f"{counts['hosts']} hosts, {counts['reachable']} reachable, {counts['unreachable_or_failed']} "
        f"unreachable/failed, {counts['with_findings']} with findings, "
        f"{counts['with_unknown']} with unknown verdicts (--fail-on unknown to fail on them), "
        f"{counts['capture_not_ready']} without working crash capture"
    )


def audit_table_wide(report: AuditReport, console: Console = stdout) -> None:
    """Everything in cells: drivers, each missing capture piece and every finding with its reason."""
    table = Table(title="fleetfix audit", show_lines=True)
    for column in ("host", "status", "kernel", "storage drivers", "crash capture", "findings"):
        table.add_column(column, overflow="fold")
    for host in report.hosts:
        if not host.reachable:
            table.add_row(host.host, Text(host.status, "red"), "", "", "", Text(host.message))
            continue
        drivers = Text("\n").join(
            Text.assemble(
                f"{d.name} {d.version or '?'}",
                (" (out-of-tree)" if d.out_of_tree else "", "yellow"),
                (f"\n  {d.next_boot_note}" if d.next_boot_note else "", "cyan"),
                ("".join(f"\n  {note}" for note in d.boot_findings), "yellow"),
            )
            for d in host.drivers
        )
        capture = host.capture
        missing = [check.label for check in (capture.checks if capture else ()) if not check.ok]
        capture_text = (
            Text.assemble(("missing: ", "yellow"), ", ".join(missing)) if missing else Text("ready", "green")
        )
        findings = Text("\n").join(
            Text.assemble((f.advisory, _SEVERITY_STYLES.get(f.severity, "")), f" ({f.severity}) {f.why}")
            for f in summary.by_weight(host.findings)
        ) or Text("none", "green")
        if host.unknown:
            findings = Text("\n").join(
                [findings, *(Text(f"{f.advisory} (unknown) {f.why}", "dim") for f in host.unknown)]
            )
        table.add_row(
            host.host, "ok", host.kernel or "", drivers or Text(host.message), capture_text, findings
        )
    console.print(table)
    console.print(_audit_counts(report))


def emit_audit(report: AuditReport, fmt: str, output: Path | None, wide: bool = False) -> None:
    """Print the report on stdout, or write it to ``output`` whole (never half-written)."""
    draw = audit_table_wide if wide else audit_table
    if fmt == "table":
        if output is None:
            draw(report)
            return
        console = Console(record=True, file=io.StringIO(), width=160 if wide else 100)
        draw(report, console)
        text = console.export_text()
    else:
        text = {
            "json": report_formats.to_json,
            "markdown": report_formats.to_markdown,
            "junit": report_formats.to_junit,
            "prometheus": prometheus.audit_metrics,
        }[fmt](report)
    emit(text, output)


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


def collect_table(outcome: CollectOutcome, console: Console = stdout) -> None:
    """Per host: what `fleetfix collect` fetched and whether its schedule was written."""
    table = Table(title=f"fleetfix collect into {outcome.store}")
    for column in (
        "host",
        "status",
        "new kernel logs",
        "crash dumps",
        "pstore files",
        "scheduled jobs",
        "time zone",
        "notes",
    ):
        table.add_column(column, overflow="fold")
    for host in outcome.hosts:
        status = "[green]ok[/]" if host.status == "ok" else f"[red]{host.status}[/]"
        dumps = f"{host.dumps}" + (f" ({host.without_log} without a log)" if host.without_log else "")
        jobs = "-" if host.jobs is None else str(host.jobs)
        notes = "\n".join([host.message, *host.notes] if host.message else host.notes)
        zone = host.timezone or ("UTC" if host.jobs is not None else "-")
        pstore = f"{host.pstore_files}" + (f" ({host.pstore_fetched} new)" if host.pstore_fetched else "")
        table.add_row(host.host, status, str(host.fetched), dumps, pstore, jobs, zone, notes)
    console.print(table)
    fetched = sum(h.fetched for h in outcome.hosts)
    answered = sum(1 for h in outcome.hosts if h.jobs is not None)
    records = sum(h.pstore_fetched for h in outcome.hosts)
    line = f"{len(outcome.hosts)} hosts, {answered} schedules written, {fetched} new kernel logs"
    line += f", {records} new pstore files" if records else ""
    console.print(
        line + (f", {outcome.netconsole_files} netconsole files copied" if outcome.netconsole_files else "")
    )


def collect_problems(outcome: CollectOutcome, console: Console = stderr) -> None:
    """One line per host the collection did not fully reach, for commands that go on without it."""
    for host in outcome.hosts:
        if host.status != "ok":
            console.print(f"[yellow]collect:[/] {host.host}: {host.status}: {host.message}", soft_wrap=True)


def triage_table(result: TriageResult, console: Console = stdout, wide: bool = False) -> None:
    """One line per crashing host, then each crash group: builds, advisories, job timing, repro, timeline."""
    sources = (
        ", ".join(str(s) for s in result.sources) or "the crash store (run fleetfix collect -i INVENTORY)"
    )
    read = result.read.describe()
    if not result.groups:
        console.print(f"No kernel crash reports found in {sources} ({read}).")
        return
    if wide:
        _triage_groups_wide(result, console)
    else:
        table = Table(title="fleetfix triage", box=box.SIMPLE_HEAD, title_justify="left")
        table.add_column("host", no_wrap=True)
        table.add_column("crashes", justify="right", no_wrap=True)
        table.add_column("last (UTC)", no_wrap=True)
        table.add_column("group", justify="right", no_wrap=True)
        table.add_column("module build", no_wrap=True)
        table.add_column("advisory")
        for row in triage_report.host_rows(result.groups):
            advisory = Text(row.advisory, "red" if row.advisory != "-" else "")
            table.add_row(row.host, str(row.crashes), row.last, str(row.group), row.module, advisory)
        console.print(table)
    for number, group in enumerate(result.groups, 1):
        _triage_group(number, group, console)
    untimed = sum(triage_report.untimed(g) for g in result.groups)
    hosts = {h for g in result.groups for h in g.hosts}
    console.print(
        Text(
            f"{result.crashes} crashes on {len(hosts)} hosts in {len(result.groups)} "
            + ("group" if len(result.groups) == 1 else "groups")
            + (f", {untimed} without a wall-clock time" if untimed else "")
            + f" ({read})"
            + ("" if result.audit else "; no audit report yet: run fleetfix audit to see the loaded builds")
        )
    )


def _triage_groups_wide(result: TriageResult, console: Console) -> None:
    table = Table(title="fleetfix triage", show_lines=True)
    for column in triage_report.COLUMNS:
        table.add_column(column, overflow="fold")
    for row in triage_report.group_rows(result.groups):
        table.add_row(*(Text(cell) for cell in astuple(row)))
    console.print(table)


def _triage_group(number: int, group: CrashGroup, console: Console) -> None:
    console.print(
        Text.assemble(
            (f"{number}. {group.module or 'no module'}", "bold"),
            f" {group.kind} in {group.rip or '?'}: {group.total} crashes on {len(group.hosts)} hosts",
        )
    )
    times = group.times
    rows: list[tuple[str, Text | str]] = []
    if times:
        first, last = times[0].astimezone(UTC), times[-1].astimezone(UTC)
        rows.append(("seen", f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"))
    if group.sampled:
        rows.append(("listed", triage_report.sample_text(group)))
    if group.loaded:
        rows.append(("builds", triage_report.builds_text(group)))
    for advisory in group.advisories:
        on = f"matches {summary.host_list(advisory.hosts)}" if advisory.hosts else "not checked"
        rows.append(("advisory", Text.assemble((advisory.id, "red"), f" ({advisory.severity}): {on}")))
    correlated = [job for job in group.correlations.jobs if job.hits][:3]
    for job in correlated:
        rows.append(("timing", job.sentence()))
    if correlated:
        rows.append(("repro", triage_report.repro_text(group.module, correlated[0].repro)))
    _labelled(console, rows, indent=2)
    crash_timeline(group_timeline(group), console)


_TIMELINE_COLUMNS = 72  # 20 minutes each
_LABEL_WIDTH = 16


def crash_timeline(line: Timeline, console: Console = stdout) -> None:
    """Crashes by UTC time of day (a digit: how many in those 20 minutes) under each job's run windows."""
    if not line.crashes:
        return
    per_hour = _TIMELINE_COLUMNS / 24

    def column(hour: float) -> int:
        return min(_TIMELINE_COLUMNS - 1, int(hour * per_hour))

    axis = [" "] * _TIMELINE_COLUMNS
    for hour in range(0, 24, 3):
        for i, char in enumerate(f"{hour:02d}"):
            axis[column(hour) + i] = char
    indent = "   "
    out = Text(f"{indent}{'':{_LABEL_WIDTH}} {''.join(axis)}\n", style="dim")
    for job in line.jobs:
        cells = [" "] * _TIMELINE_COLUMNS
        for begin, end in job.spans:
            for i in range(column(begin), max(column(begin) + 1, int(end * per_hour + 0.999))):
                cells[min(i, _TIMELINE_COLUMNS - 1)] = "="
        label = job.short_name[: _LABEL_WIDTH - 1]
        out.append(f"{indent}{label:<{_LABEL_WIDTH}}|")
        out.append("".join(cells), style="cyan")
        out.append("|\n")
    counts = [0] * _TIMELINE_COLUMNS
    for mark in line.crashes:
        counts[column(mark.hour)] += 1
    out.append(f"{indent}{'crashes':<{_LABEL_WIDTH}}|")
    out.append("".join(" " if n == 0 else (str(n) if n < 10 else "+") for n in counts), style="bold red")
    out.append("|")
    console.print(
        Text(f"{indent}crash timeline, UTC time of day (=: job running; digit: crashes in 20 min)", "dim")
    )
    console.print(out, no_wrap=True, overflow="crop")


def listen_ready(address: str, port: int, directory: Path) -> None:
    stderr.print(f"listening for netconsole on {address}:{port} (udp), logs in {directory}; Ctrl-C stops")


def listen_event(event: ListenEvent) -> None:
    stdout.print(
        Text.assemble((event.kind, "bold red"), f" {event.source} ", event.line)
    )  # no markup parsing


def plan_lines(lines: list[str], window: str | None) -> None:
    stderr.print(Text(f"Change window: {window or 'none (no time limit)'}"))
    for line in lines:
        stderr.print(Text(line))


def remediate_outcome(outcome: RemediateOutcome) -> None:
    title = f"fleetfix remediate: {outcome.plan.module} to {outcome.plan.target} ({outcome.status})"
    table = Table(title=title)
    for column in ("host", "status", "outcome"):
        table.add_column(column, overflow="fold")
    for host in outcome.hosts:
        style = {"done": "green", "checked": "green", "failed": "red"}.get(host.get("status", ""), "yellow")
        table.add_row(
            host["host"], Text(str(host.get("status")), style=style), Text(str(host.get("outcome", "")))
        )
    stdout.print(table)
    if outcome.run_id is not None:
        summary = outcome.note or outcome.status
        stdout.print(Text(f"run {outcome.run_id}: {summary} (fleetfix runs show {outcome.run_id})"))
    else:
        stdout.print(Text(outcome.note))


def runs_table(listing: list[dict]) -> None:
    table = Table(title="fleetfix runs")
    for column in ("run", "module", "target", "status", "started", "hosts", "note"):
        table.add_column(column, overflow="fold")
    for run in listing:
        counts = ", ".join(f"{n} {status}" for status, n in run["hosts"].items() if n)
        row = (
            str(run["id"]),
            run["module"],
            run["target"],
            run["status"],
            run["started_at"],
            counts,
            run["note"],
        )
        table.add_row(*(Text(str(cell)) for cell in row))
    stdout.print(table)


def run_show(shown: dict, console: Console = stdout) -> None:
    run = shown["run"]
    table = Table(title=f"run {run['id']}: {run['module']} to {run['target']} ({run['status']})")
    for column in ("host", "status", "outcome", "steps"):
        table.add_column(column, overflow="fold")
    for host in shown["hosts"]:
        steps = ", ".join(run_report.step_text(s) for s in host["steps"])
        table.add_row(*(Text(str(cell)) for cell in (host["host"], host["status"], host["outcome"], steps)))
    console.print(table)
    if run.get("note"):
        console.print(Text(run["note"]))


def emit_run_show(shown: dict, fmt: str, output: Path | None) -> None:
    """One remediation run in ``fmt`` on stdout, or written whole to ``output`` (the table as plain text)."""
    if fmt == "table":
        if output is None:
            run_show(shown)
            return
        console = Console(record=True, file=io.StringIO(), width=160)
        run_show(shown, console)
        text = console.export_text()
    else:
        text = {"json": run_report.to_json, "markdown": run_report.to_markdown, "junit": run_report.to_junit}[
            fmt
        ](shown)
    emit(text, output)


def _ns(value: int | None) -> str:
    return "unavailable" if value is None else f"{value / 1000:.0f} µs"


def soak_evaluation(evaluation: FioEvaluation) -> None:
    result, verdict = evaluation.result, evaluation.verdict
    table = Table(title=f"{result.source} (fio {result.fio_version or 'version unknown'})")
    for column in ("job", "rw", "IOPS", "bandwidth", "clat p50", "clat p99", "clat p99.9", "error"):
        table.add_column(column, justify="right" if column not in ("job", "rw", "error") else "left")
    for job in result.jobs:
        for direction in (job.read, job.write):
            if direction.total_ios or direction.iops:
                table.add_row(
                    job.name,
                    job.rw or "",
                    f"{direction.iops:,.0f}",
                    f"{direction.bandwidth_bytes / 2**20:,.1f} MiB/s",
                    _ns(direction.clat_p50_ns),
                    _ns(direction.clat_p99_ns),
                    _ns(direction.clat_p999_ns),
                    f"{job.error} {job.error_text}" if job.error else "",
                )
    word = "[green]PASS[/]" if verdict.passed else "[red]FAIL[/]: " + "; ".join(verdict.reasons)
    table.caption = f"{result.iops:,.0f} IOPS in all, {result.bandwidth_bytes / 2**20:,.1f} MiB/s - {word}"
    stdout.print(table)


def soak_table(results: Sequence[HostSoak]) -> None:
    table = Table(title="fleetfix soak")
    for column in ("host", "status", "devices", "IOPS", "worst p99", "kernel log", "why"):
        table.add_column(column, overflow="fold")
    colours = {"passed": "green", "failed": "red", "error": "red", "checked": "cyan", "skipped": "yellow"}
    for r in results:
        figures = r.verdict.figures if r.verdict else {}
        iops = figures.get("iops")
        table.add_row(
            r.host,
            f"[{colours.get(r.status, 'white')}]{r.status}[/]",
            " ".join(r.devices),
            f"{iops:,.0f}" if isinstance(iops, int | float) else "",
            _ns(figures.get("worst_clat_p99_ns")) if r.verdict else "",
            r.kernel_log or "",
            r.message,
        )
    stdout.print(table)
