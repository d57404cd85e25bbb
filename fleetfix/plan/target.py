"""The version a plan upgrades to: the lowest fixing every advisory found, or ``--to`` checked against it."""

from __future__ import annotations

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.audit import DriverView, HostAudit
from fleetfix.errors import InputError
from fleetfix.plan.hosts import host_advisories
from fleetfix.versions import DriverVersion, parse_version


def choose_target(
    module: str, to: str | None, db: AdvisoryDB, bad: list[tuple[HostAudit, DriverView]]
) -> tuple[DriverVersion, str]:
    """The target version and the reason for it; ``bad`` are the hosts whose ``module`` build is known-bad."""
    ids = sorted({a for h, _ in bad for a in host_advisories(h, module)})
    if to is None:
        lowest = db.lowest_fix(module)
        if lowest is None:
            message = (
                f"no single driver version fixes every advisory on {module} (a kernel-only fix, or no fixed "
                "release known): give --to VERSION"
            )
            raise InputError("--to", message)
        return lowest, f"lowest version fixing every {module} advisory ({', '.join(ids)})"
    target = parse_version(to, "--to")
    still = [m.advisory.id for m in db.match(module, str(target))]
    if still:
        raise InputError("--to", f"{to} is itself affected by {', '.join(still)}")
    for host, _ in bad:
        for finding in host.findings:
            if finding.module == module and finding.fixed_in and target < DriverVersion(finding.fixed_in):
                raise InputError("--to", f"{to} is below {finding.fixed_in}, the fix for {finding.advisory}")
    return target, f"--to {to}"
