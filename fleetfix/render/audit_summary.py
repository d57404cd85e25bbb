"""The audit condensed for people: one line per host, then the findings grouped by advisory.

The shape follows vulnerability scanners (trivy's per-target summary, pip-audit's id / version / fix
columns): the per-host line says how much is wrong and the worst of it; what each advisory means, where it
applies and what fixes it is said once, under the table, for all the hosts it hits. Text only: ``console``
draws it on a terminal, other renderers may reuse it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fleetfix.advisories.database import SEVERITIES
from fleetfix.audit import AuditReport, Finding, HostAudit

_KDUMP_LABELS = frozenset({"crash memory", "capture kernel", "kdump service", "dump target"})


def severity_rank(severity: str) -> int:
    """Higher is worse; an unknown word ranks below ``low``."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def by_weight(findings: Iterable[Finding]) -> list[Finding]:
    """Worst first: severity, then advisory id for a stable order."""
    return sorted(findings, key=lambda f: (-severity_rank(f.severity), f.advisory))


@dataclass(frozen=True, slots=True)
class HostLine:
    host: str
    reachable: bool
    kernel: str  # the release, or the host's status when it could not be audited
    capture: str  # ready, no kdump, no netconsole, none, or "-"
    findings: int
    worst: Finding | None


def capture_word(host: HostAudit) -> str:
    """What a host can capture at its next panic, in a word or two."""
    if host.capture is None:
        return "-"
    if host.capture.ready:
        return "ready"
    missing = {check.label for check in host.capture.checks if not check.ok}
    if missing & _KDUMP_LABELS and not host.capture.netconsole_ready:
        return "none"
    return "no kdump" if missing & _KDUMP_LABELS else "no netconsole"


def host_lines(report: AuditReport) -> list[HostLine]:
    lines = []
    for host in report.hosts:
        ranked = by_weight(host.findings)
        lines.append(
            HostLine(
                host=host.host,
                reachable=host.reachable,
                kernel=(host.kernel or "?") if host.reachable else host.status,
                capture=capture_word(host),
                findings=len(host.findings),
                worst=ranked[0] if ranked else None,
            )
        )
    return lines


@dataclass(frozen=True, slots=True)
class AffectedBuild:
    """One build of the module an advisory hits, the hosts running it and the matcher's reason."""

    module: str
    version: str | None
    why: str
    hosts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AdvisoryDetail:
    id: str
    severity: str
    module: str
    builds: tuple[AffectedBuild, ...]
    fix: str
    trigger: str
    references: tuple[str, ...]

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(sorted({h for b in self.builds for h in b.hosts}))


def fix_text(finding: Finding) -> str:
    if finding.fixed_in:
        return f"{finding.module} {finding.fixed_in} or later"
    return "a kernel outside the affected range (no driver version carries the fix on its own)"


def advisory_details(report: AuditReport) -> list[AdvisoryDetail]:
    """Each advisory once, with every build and host it hits; worst and widest first."""
    first: dict[str, Finding] = {}
    builds: dict[str, dict[tuple[str, str | None, str], list[str]]] = {}
    for host in report.hosts:
        for finding in host.findings:
            first.setdefault(finding.advisory, finding)
            key = (finding.module, finding.version, finding.why)
            builds.setdefault(finding.advisory, {}).setdefault(key, []).append(host.host)
    details = [
        AdvisoryDetail(
            id=advisory,
            severity=finding.severity,
            module=finding.module,
            builds=tuple(
                AffectedBuild(module, version, why, tuple(hosts))
                for (module, version, why), hosts in builds[advisory].items()
            ),
            fix=fix_text(finding),
            trigger=finding.trigger,
            references=finding.references,
        )
        for advisory, finding in first.items()
    ]
    details.sort(key=lambda d: (-severity_rank(d.severity), -len(d.hosts), d.id))
    return details


@dataclass(frozen=True, slots=True)
class CaptureGap:
    missing: tuple[str, ...]  # check labels, in the order the checks run (the order a fix follows)
    hosts: tuple[str, ...]


def capture_gaps(report: AuditReport) -> list[CaptureGap]:
    """Hosts that cannot capture a crash, grouped by what they lack; the largest gap first."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for host in report.hosts:
        if host.capture is not None and not host.capture.ready:
            missing = tuple(check.label for check in host.capture.checks if not check.ok)
            groups.setdefault(missing, []).append(host.host)
    gaps = [CaptureGap(missing, tuple(hosts)) for missing, hosts in groups.items()]
    gaps.sort(key=lambda g: (-len(g.missing), -len(g.hosts), g.missing))
    return gaps


def next_boot_lines(report: AuditReport) -> list[tuple[str, str]]:
    """(host, "mpt3sas: loaded X, next boot Y; initramfs Z; ADV: fixed on disk, reboot pending") for every
    driver whose next boot differs from what runs now."""
    out = []
    for host in report.hosts:
        for driver in host.drivers:
            parts = [driver.next_boot_note] if driver.next_boot_note else []
            parts += driver.boot_findings
            if parts:
                out.append((host.host, f"{driver.name}: " + "; ".join(parts)))
    return out


def host_list(hosts: Sequence[str], limit: int = 12) -> str:
    """Hosts by name, the first ``limit`` of a long list and how many more."""
    if len(hosts) <= limit:
        return ", ".join(hosts)
    return f"{', '.join(hosts[: limit - 2])} and {len(hosts) - limit + 2} more"


def unaudited(report: AuditReport) -> list[tuple[str, str, str]]:
    """``(host, status, message)`` of every host the audit could not judge."""
    return [(h.host, h.status, h.message) for h in report.hosts if not h.reachable]
