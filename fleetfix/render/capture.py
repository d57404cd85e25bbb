"""Crash-capture results without a terminal: JSON documents and the rows the terminal table shows."""

from __future__ import annotations

import json
from typing import Any

from fleetfix import serde
from fleetfix.audit import AuditReport
from fleetfix.capture.outcome import CaptureOutcome


def outcome_rows(outcome: CaptureOutcome) -> list[dict[str, str]]:
    return [
        {
            "host": h.host,
            "status": h.status,
            "changed": ", ".join(h.changed) or "-",
            "reboot needed": "yes" if h.reboot_needed else "no",
            "message": h.message,
        }
        for h in outcome.hosts
    ]


def outcome_json(outcome: CaptureOutcome) -> str:
    counts: dict[str, int] = {}
    for host in outcome.hosts:
        counts[host.status] = counts.get(host.status, 0) + 1
    document = {
        "check": outcome.check,
        "run_dir": str(outcome.run_dir) if outcome.run_dir else None,
        "summary": counts,
        "hosts": [
            {
                "host": h.host,
                "status": h.status,
                "message": h.message,
                "changed": list(h.changed),
                "reboot_needed": h.reboot_needed,
                **({"diff": h.diff} if outcome.check else {}),
            }
            for h in outcome.hosts
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def status_rows(report: AuditReport) -> list[dict[str, str]]:
    rows = []
    for host in report.hosts:
        capture = host.capture
        if capture is None:
            rows.append(
                {
                    "host": host.host,
                    "status": host.status,
                    "kdump": "",
                    "netconsole": "",
                    "missing": host.message,
                }
            )
            continue
        rows.append(
            {
                "host": host.host,
                "status": "ready" if capture.ready else "not ready",
                "kdump": "ready" if capture.kdump_ready else "not ready",
                "netconsole": "ready" if capture.netconsole_ready else "not ready",
                "missing": "\n".join(capture.missing),
            }
        )
    return rows


def status_json(report: AuditReport) -> str:
    hosts = []
    for host in report.hosts:
        capture = host.capture
        entry: dict[str, Any] = {"host": host.host, "status": host.status, "message": host.message}
        if capture is not None:
            entry |= {
                "ready": capture.ready,
                "kdump_ready": capture.kdump_ready,
                "netconsole_ready": capture.netconsole_ready,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in capture.checks],
                "notes": list(capture.notes),
                "serial_console": serde.to_builtins(capture.serial_console),
                "pstore": serde.to_builtins(capture.pstore),
            }
        hosts.append(entry)
    return json.dumps({"generated_at": report.generated_at.isoformat(), "hosts": hosts}, indent=2) + "\n"
