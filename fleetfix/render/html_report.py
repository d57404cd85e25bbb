"""The change report: one self-contained HTML file to attach to a change ticket.

What was found (the audit), why it mattered (crashes against the jobs they line up with), what was done to
each host (the remediation run's steps) and the proof (the soak's IOPS and latency before and after). No
script, no font or stylesheet fetched: inline CSS and SVG only, so it opens the same from a mail, a ticket or
a file share. Every value from a host or a report is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from fleetfix.facts.crash_capture import CHECK_LABELS
from fleetfix.triage.timeline import Timeline

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:980px;
color:#1d2330;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.2rem;margin:2rem 0 .6rem;border-bottom:1px solid #d8dde6}
.meta{color:#5a6475}.cards{display:flex;gap:.8rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #d8dde6;border-radius:6px;padding:.5rem .9rem;min-width:7rem}
.card b{display:block;font-size:1.5rem}table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e6e9ef;vertical-align:top}
th{background:#f4f6f9;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.critical,.failed,.none{color:#b3261e;font-weight:600}.high{color:#c2410c;font-weight:600}
.medium{color:#a16207}.low{color:#0e7490}.ok,.ready,.done,.passed{color:#15803d}
.chip{display:inline-block;border-radius:3px;padding:0 .35rem;margin:0 .2rem .2rem 0;font-size:12px;
background:#eef1f5}.chip.ok{background:#dcfce7}.chip.failed{background:#fee2e2}.chip.skipped{background:#fef9c3}
.note{color:#5a6475;font-size:13px}svg text{font:11px system-ui,sans-serif;fill:#3b4352}
.soak{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:.8rem}
.soak figure{margin:0;border:1px solid #e6e9ef;border-radius:6px;padding:.5rem}
figcaption{font-weight:600;margin-bottom:.2rem}td.worst{white-space:nowrap}
"""

_SEVERITY_ORDER = ("critical", "high", "medium", "low")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _worst(findings: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    def rank(f: Mapping[str, Any]) -> int:
        severity = f.get("severity")
        return _SEVERITY_ORDER.index(severity) if severity in _SEVERITY_ORDER else len(_SEVERITY_ORDER)

    return min(findings, key=lambda f: (rank(f), str(f.get("advisory")))) if findings else None


def _check_label(check: Mapping[str, Any]) -> str:
    """The short name of a capture check (``kdump.loaded`` -> ``capture kernel``), its detail on hover."""
    name = str(check.get("name", "?"))
    return CHECK_LABELS.get(name, name)


def _audit_section(audit: Mapping[str, Any]) -> str:
    summary = audit.get("summary") or {}
    cards = "".join(
        f'<div class="card"><b>{_e(summary.get(key, "-"))}</b>{_e(label)}</div>'
        for key, label in (
            ("hosts", "hosts"),
            ("with_findings", "with findings"),
            ("capture_not_ready", "cannot capture a crash"),
            ("unreachable_or_failed", "unreachable"),
        )
    )
    rows = []
    for host in audit["hosts"]:
        if host.get("status") != "ok":
            rows.append(
                f'<tr><td>{_e(host["host"])}</td><td class="failed">{_e(host.get("status"))}</td>'
                f'<td colspan="3">{_e(host.get("message", ""))}</td></tr>'
            )
            continue
        capture = host.get("crash_capture") or {}
        gaps = [c for c in capture.get("checks") or [] if isinstance(c, Mapping) and not c.get("ok")]
        capture_cell = (
            '<span class="ready">ready</span>'
            if capture.get("ready")
            else '<span class="none">missing</span> '
            + ", ".join(f'<span title="{_e(c.get("detail", ""))}">{_e(_check_label(c))}</span>' for c in gaps)
        )
        findings = host.get("findings") or []
        worst = _worst(findings)
        worst_cell = (
            f'<span class="{_e(worst.get("severity"))}">{_e(worst.get("advisory"))}</span> '
            f"({_e(worst.get('severity'))})"
            if worst
            else '<span class="ok">none</span>'
        )
        drivers = ", ".join(f"{m.get('name')} {m.get('version') or '?'}" for m in host.get("modules") or [])
        rows.append(
            f"<tr><td>{_e(host['host'])}</td><td>{_e(host.get('kernel') or '?')}<br>"
            f'<span class="note">{_e(drivers)}</span></td><td>{capture_cell}</td>'
            f'<td class="n">{len(findings)}</td><td class="worst">{worst_cell}</td></tr>'
        )
    per_advisory = summary.get("hosts_per_advisory") or {}
    advisories = "".join(
        f"<li><b>{_e(advisory)}</b>: {len(hosts)} host(s): {_e(', '.join(hosts))}</li>"
        for advisory, hosts in sorted(per_advisory.items(), key=lambda item: (-len(item[1]), item[0]))
    )
    return (
        f'<section id="audit"><h2>What the audit found</h2><p class="meta">Audit of '
        f'{_e(audit.get("generated_at", "?"))}</p><div class="cards">{cards}</div>'
        "<table><thead><tr><th>host</th><th>kernel, drivers</th><th>crash capture</th><th>findings</th>"
        f"<th>worst finding</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        + (f"<ul>{advisories}</ul>" if advisories else "")
        + "</section>"
    )


_TL_LEFT, _TL_WIDTH, _TL_ROW = 120, 720, 22


def timeline_svg(line: Timeline, title: str) -> str:
    """One row per crashing host, a dot per crash at its UTC time of day; job runs shaded behind."""
    hosts = sorted({mark.host for mark in line.crashes})
    height = 30 + _TL_ROW * max(1, len(hosts)) + 18 * len(line.jobs) + 20

    def x(hour: float) -> float:
        return _TL_LEFT + hour / 24 * _TL_WIDTH

    parts = [
        f'<svg class="timeline" role="img" aria-label="{_e(title)}" width="{_TL_LEFT + _TL_WIDTH + 20}" '
        f'height="{height}" viewBox="0 0 {_TL_LEFT + _TL_WIDTH + 20} {height}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    top, bottom = 20, 20 + _TL_ROW * max(1, len(hosts))
    for hour in range(0, 25, 3):
        parts.append(
            f'<line x1="{x(hour):.1f}" y1="{top}" x2="{x(hour):.1f}" y2="{bottom}" stroke="#e6e9ef"/>'
            f'<text x="{x(hour):.1f}" y="{top - 6}" text-anchor="middle">{hour:02d}:00</text>'
        )
    colours = ("#7dd3fc", "#c4b5fd", "#fcd34d")
    for number, job in enumerate(line.jobs):
        colour = colours[number % len(colours)]
        label = f"{job.short_name}: {job.hits} of {job.crashes} crashes inside"
        for begin, end in job.spans:
            parts.append(
                f'<rect class="window" data-job="{_e(job.job)}" x="{x(begin):.1f}" y="{top}" '
                f'width="{max(1.5, x(end) - x(begin)):.1f}" height="{bottom - top}" fill="{colour}" '
                f'fill-opacity="0.45"><title>{_e(job.job)} ({_e(job.schedule)})</title></rect>'
            )
        legend_y = bottom + 16 + 18 * number
        parts.append(
            f'<rect x="{_TL_LEFT}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{_TL_LEFT + 18}" y="{legend_y}">{_e(label)}; {_e(job.schedule)}</text>'
        )
    for row, host in enumerate(hosts):
        y = top + _TL_ROW * row + _TL_ROW / 2
        parts.append(f'<text x="{_TL_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{_e(host)}</text>')
        for mark in line.crashes:
            if mark.host == host:
                parts.append(
                    f'<circle class="crash" data-host="{_e(host)}" cx="{x(mark.hour):.1f}" cy="{y:.1f}" '
                    f'r="5" fill="#b3261e"><title>{_e(host)} {mark.hour:05.2f} h UTC</title></circle>'
                )
    parts.append("</svg>")
    return "".join(parts)


def _triage_section(triage: Mapping[str, Any] | None, timelines: Sequence[Timeline]) -> str:
    if triage is None:
        return '<section id="crashes"><h2>Crashes</h2><p class="note">No triage report given.</p></section>'
    blocks = []
    for number, (group, line) in enumerate(zip(triage["groups"], timelines, strict=True), 1):
        title = f"{number}. {group.get('module') or 'no module'}: {group.get('kind')} in {group.get('rip')}"
        correlations = [c for c in group.get("correlations") or [] if c.get("hits")]
        sentence = f"<p>{_e(correlations[0]['sentence'])}.</p>" if correlations else ""
        untimed = f'<p class="note">{line.untimed} crash(es) without a time.</p>' if line.untimed else ""
        listed = len(group.get("crashes") or [])
        count = group.get("count") if isinstance(group.get("count"), int) else listed  # older documents
        if count > listed:
            untimed += (
                f'<p class="note">The timeline draws {listed} of the {count} crashes, spread evenly.</p>'
            )
        blocks.append(
            f'<h3>{_e(title)}</h3><p class="meta">{count} crashes on '
            f"{_e(', '.join(group.get('hosts') or []))}</p>{sentence}"
            f"{timeline_svg(line, title)}{untimed}"
        )
    return (
        '<section id="crashes"><h2>Crashes against scheduled jobs</h2><p class="note">Time of day in UTC; '
        "shaded: the runs of the jobs the crashes fell in.</p>" + "".join(blocks) + "</section>"
    )


def _steps_section(run: Mapping[str, Any] | None) -> str:
    if run is None:
        return '<section id="steps"><h2>What was done</h2><p class="note">No run given.</p></section>'
    info = run["run"]
    rows = []
    for host in run["hosts"]:
        chips = "".join(
            f'<span class="chip {_e(s.get("state"))}">{_e(s.get("step"))} {_e(s.get("state"))}</span>'
            for s in host.get("steps") or []
        )
        status = _e(host.get("status"))
        rows.append(
            f'<tr><td>{_e(host["host"])}</td><td class="{status}">{status}</td>'
            f"<td>{chips}</td><td>{_e(host.get('outcome', ''))}</td></tr>"
        )
    return (
        f'<section id="steps"><h2>What was done: run {_e(info["id"])}</h2><p class="meta">'
        f"{_e(info.get('module'))} to {_e(info.get('target'))}, {_e(info.get('status'))}; started "
        f"{_e(info.get('started_at'))}, ended {_e(info.get('ended_at') or '-')}; window "
        f"{_e(info.get('window') or 'none')}; failure budget {_e(info.get('budget'))}</p>"
        + (f"<p>{_e(info['note'])}</p>" if info.get("note") else "")
        + "<table><thead><tr><th>host</th><th>status</th><th>steps</th><th>outcome</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def soak_figures(soak: Mapping[str, Any] | None) -> tuple[float | None, float | None]:
    """(IOPS, worst completion-latency p99 in µs) of one host's soak record, None where unknown."""
    figures = ((soak or {}).get("verdict") or {}).get("figures") or {}
    iops, p99 = figures.get("iops"), figures.get("worst_clat_p99_ns")
    return (
        float(iops) if isinstance(iops, int | float) and iops > 0 else None,
        float(p99) / 1000 if isinstance(p99, int | float) and p99 > 0 else None,
    )


def _bars(metric: str, unit: str, before: float | None, after: float | None, host: str) -> str:
    top = max(v for v in (before, after, 1.0) if v is not None)
    parts = [f'<svg class="bars" data-metric="{metric}" width="140" height="130" viewBox="0 0 140 130" '
             'xmlns="http://www.w3.org/2000/svg">']  # fmt: skip
    for i, (label, value, colour) in enumerate((("before", before, "#94a3b8"), ("after", after, "#2563eb"))):
        x = 20 + i * 60
        if value is None:
            parts.append(f'<text x="{x + 20}" y="100" text-anchor="middle">n/a</text>')
        else:
            h = 70 * value / top
            parts.append(
                f'<rect class="bar {label}" data-host="{_e(host)}" data-value="{value:.0f}" x="{x}" '
                f'y="{105 - h:.1f}" width="40" height="{h:.1f}" fill="{colour}"><title>{label}: '
                f"{value:,.0f} {unit}</title></rect>"
                f'<text x="{x + 20}" y="{101 - h:.1f}" text-anchor="middle">{value:,.0f}</text>'
            )
        parts.append(f'<text x="{x + 20}" y="120" text-anchor="middle">{label}</text>')
    caption = metric if metric == unit else f"{metric} ({unit})"
    parts.append(f'<text x="70" y="12" text-anchor="middle">{_e(caption)}</text></svg>')
    return "".join(parts)


def _soak_section(run: Mapping[str, Any] | None, baseline: Mapping[str, Mapping[str, Any]]) -> str:
    after = {h["host"]: h.get("soak") for h in (run or {}).get("hosts") or [] if h.get("soak")}
    hosts = sorted(set(after) | set(baseline))
    if not hosts:
        return '<section id="soak"><h2>Soak</h2><p class="note">No soak figures given.</p></section>'
    figures = []
    for host in hosts:
        iops_before, p99_before = soak_figures(baseline.get(host))
        iops_after, p99_after = soak_figures(after.get(host))
        verdict = (after.get(host) or {}).get("status", "not soaked after")
        figures.append(
            f'<figure data-host="{_e(host)}"><figcaption>{_e(host)} <span class="{_e(verdict)}">'
            f"{_e(verdict)}</span></figcaption>"
            f"{_bars('IOPS', 'IOPS', iops_before, iops_after, host)}"
            f"{_bars('p99 latency', 'µs', p99_before, p99_after, host)}</figure>"
        )
    return (
        '<section id="soak"><h2>Proof: the fio soak before and after</h2><p class="note">Figures from fio\'s '
        "JSON summary of each soak (IOPS over the whole run, worst completion-latency p99 of its jobs); "
        "before: the baseline soak given with --baseline, after: the run's soak step.</p>"
        f'<div class="soak">{"".join(figures)}</div></section>'
    )


def change_report(
    audit: Mapping[str, Any],
    triage: Mapping[str, Any] | None,
    timelines: Sequence[Timeline],
    run: Mapping[str, Any] | None,
    baseline: Mapping[str, Mapping[str, Any]],
    generated_at: datetime,
) -> str:
    """The whole HTML document. ``baseline`` maps a host to its soak record from before the change."""
    title = "fleetfix change report"
    if run is not None:
        info = run["run"]
        title += f": {info.get('module')} to {info.get('target')} (run {info.get('id')})"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{_e(title)}</h1><p class="meta">Written {_e(generated_at.isoformat(timespec="seconds"))}</p>'
        + _audit_section(audit)
        + _triage_section(triage, timelines)
        + _steps_section(run)
        + _soak_section(run, baseline)
        + "</body></html>\n"
    )
