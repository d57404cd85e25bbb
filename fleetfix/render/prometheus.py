"""The audit as Prometheus metrics in the text exposition format, for node_exporter's textfile collector.

Write it where ``--collector.textfile.directory`` points (``fleetfix audit --format prometheus -o
/var/lib/node_exporter/textfile/fleetfix.prom``): ``-o`` writes the whole file at once, so the collector
never reads half of it. Label values are escaped as the format requires (backslash, double quote, line
feed); a host that could not be audited has ``fleetfix_host_audited 0`` and no other series, so an alert
on ``fleetfix_host_at_risk == 1`` is not silenced by an unreachable host.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fleetfix.audit import AuditReport

_METRICS = (
    ("fleetfix_audit_timestamp_seconds", "When the audit was made (Unix time)."),
    ("fleetfix_host_audited", "1 when the audit read the host's facts, 0 when it was unreachable or failed."),
    (
        "fleetfix_host_at_risk",
        "1 when the host runs a driver build an advisory marks bad or cannot capture a crash.",
    ),
    ("fleetfix_host_findings", "Advisories matching the host's loaded driver builds."),
    ("fleetfix_capture_ready", "1 when the host can capture its next panic (kdump and netconsole)."),
    (
        "fleetfix_driver_info",
        "A loaded storage driver build, once per advisory it matches (advisory empty when none).",
    ),
)


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _sample(name: str, labels: Mapping[str, str], value: float) -> str:
    inside = ",".join(f'{key}="{escape_label(text)}"' for key, text in labels.items())
    number = f"{value:.3f}" if isinstance(value, float) and not value.is_integer() else f"{int(value)}"
    return f"{name}{{{inside}}} {number}" if inside else f"{name} {number}"


def _samples(report: AuditReport) -> Iterable[tuple[str, dict[str, str], float]]:
    yield "fleetfix_audit_timestamp_seconds", {}, float(int(report.generated_at.timestamp()))
    for host in report.hosts:
        labels = {"host": host.host}
        yield "fleetfix_host_audited", labels, float(host.reachable)
        if not host.reachable:
            continue
        yield "fleetfix_host_at_risk", labels, float(host.at_risk)
        yield "fleetfix_host_findings", labels, float(len(host.findings))
        if host.capture is not None:
            yield "fleetfix_capture_ready", labels, float(host.capture.ready)
        for driver in host.drivers:
            advisories = sorted({f.advisory for f in host.findings if f.module == driver.name}) or [""]
            for advisory in advisories:
                info = {
                    "host": host.host,
                    "module": driver.name,
                    "version": driver.version or "",
                    "srcversion": driver.srcversion or "",
                    "advisory": advisory,
                }
                yield "fleetfix_driver_info", info, 1.0


def audit_metrics(report: AuditReport) -> str:
    """Every metric family with its HELP and TYPE, samples grouped under it; ends with a line feed."""
    by_name: dict[str, list[str]] = {name: [] for name, _ in _METRICS}
    for name, labels, value in _samples(report):
        by_name[name].append(_sample(name, labels, value))
    lines = []
    for name, help_text in _METRICS:
        lines += [f"# HELP {name} {_escape_help(help_text)}", f"# TYPE {name} gauge", *by_name[name]]
    return "\n".join(lines) + "\n"
