"""Audit report renderers without a terminal: JSON, Markdown and JUnit XML (the table lives in console.py).

The JSON document is built here as plain dicts (its shape is the report's contract, docs/audit.md) and
encoded by msgspec: 10,000 hosts' report is written in a fraction of a second.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from fleetfix import serde
from fleetfix.audit import AuditReport, HostAudit


def host_dict(host: HostAudit) -> dict[str, Any]:
    capture = host.capture
    return {
        "host": host.host,
        "status": host.status,
        "message": host.message,
        "kernel": host.kernel,
        "kernel_package": host.kernel_package,  # ecosystem, package, version, scheme, upstream; or null
        "module_support": host.module_support,
        "modules": [
            {
                "name": d.name,
                "version": d.version,
                "srcversion": d.srcversion,
                "taint": list(d.taint),
                "out_of_tree": d.out_of_tree,
                "unsigned": d.unsigned,
                "disks": list(d.disks),
                "refcount": d.refcount,
                "used_by": list(d.used_by),
                "holds_boot_disk": d.holds_boot_disk,
                "next_boot": None
                if d.next_boot_kernel is None
                else {
                    "kernel": d.next_boot_kernel,
                    "path": d.next_boot_path,
                    "version": d.next_boot_version,
                    "srcversion": d.next_boot_srcversion,
                    "note": d.next_boot_note,
                },
                "initramfs": None
                if d.initramfs_status is None
                else {
                    "image": d.initramfs_image,
                    "status": d.initramfs_status,
                    "version": d.initramfs_version,
                    "srcversion": d.initramfs_srcversion,
                    "reason": d.initramfs_reason,
                },
                "boot_findings": list(d.boot_findings),
            }
            for d in host.drivers
        ],
        "crash_capture": None
        if capture is None
        else {
            "ready": capture.ready,
            "kdump_ready": capture.kdump_ready,
            "netconsole_ready": capture.netconsole_ready,
            "missing": list(capture.missing),
            "checks": capture.checks,  # name, ok, detail
            "notes": list(capture.notes),  # worth a look; not in ready
            "serial_console": capture.serial_console,  # present, next_boot, port, detail; not in ready
            "pstore": capture.pstore,  # usable, backend, detail; not in ready
        },
        "findings": host.findings,  # a Finding's fields are the report's keys, in order
        "unknown": host.unknown,  # advisories no data settles for this kernel (status "unknown")
    }


def to_json(report: AuditReport) -> str:
    document = {
        "generated_at": report.generated_at.isoformat(),
        "summary": {**report.counts(), "hosts_per_advisory": report.hosts_per_advisory()},
        "hosts": [host_dict(h) for h in report.hosts],
    }
    return serde.to_json(document)


def _md_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(report: AuditReport) -> str:
    counts = report.counts()
    lines = [
        f"# fleetfix audit ({report.generated_at:%Y-%m-%d %H:%M %Z})",
        "",
        f"{counts['hosts']} hosts: {counts['reachable']} reachable, {counts['unreachable_or_failed']} "
        f"unreachable or failed, {counts['with_findings']} with findings, "
        f"{counts['with_unknown']} with unknown verdicts, "
        f"{counts['capture_not_ready']} without working crash capture.",
        "",
        "| host | status | kernel | storage drivers | crash capture | findings |",
        "|---|---|---|---|---|---|",
    ]
    for host in report.hosts:
        drivers = (
            ", ".join(
                f"{d.name} {d.version or '?'}"
                + (f" ({d.next_boot_note})" if d.next_boot_note else "")
                + "".join(f"; {note}" for note in d.boot_findings)
                for d in host.drivers
            )
            or "-"
        )
        capture = (
            "-"
            if host.capture is None
            else ("ready" if host.capture.ready else "; ".join(host.capture.missing))
        )
        findings = ", ".join(f"{f.advisory} ({f.module} {f.version})" for f in host.findings) or "-"
        status = host.status if host.reachable else f"{host.status}: {host.message}"
        row = (host.host, status, host.kernel or "-", drivers, capture, findings)
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    unknown = [host for host in report.hosts if host.unknown]
    if unknown:
        lines += ["", "## Unknown: no data for the host's distribution kernel", ""]
        lines += [
            f"- **{host.host}**: {', '.join(sorted({f.advisory for f in host.unknown}))} "
            f"({host.unknown[0].why})"
            for host in unknown
        ]
    per_advisory = report.hosts_per_advisory()
    if per_advisory:
        lines += ["", "## Hosts at risk per advisory", ""]
        lines += [
            f"- **{adv}**: {len(hosts)} ({', '.join(hosts)})" for adv, hosts in sorted(per_advisory.items())
        ]
    return "\n".join(lines) + "\n"


def to_junit(report: AuditReport) -> str:
    """One testcase per host: unreachable is an error, findings or capture gaps a failure."""
    suite = ET.Element("testsuite", name="fleetfix.audit", tests=str(len(report.hosts)))
    failures = errors = 0
    for host in report.hosts:
        case = ET.SubElement(suite, "testcase", classname="fleetfix.audit", name=host.host)
        if not host.reachable:
            errors += 1
            ET.SubElement(case, "error", type=host.status, message=host.message)
            continue
        problems = [f"{f.advisory}: {f.why}" for f in host.findings]
        problems += list(host.capture.missing if host.capture else ())
        if problems:
            failures += 1
            failure = ET.SubElement(case, "failure", type="at-risk", message=problems[0])
            failure.text = "\n".join(problems)
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
