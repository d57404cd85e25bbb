"""Which hosts a plan targets (a known-bad build below the target) and why each other one is skipped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fleetfix.audit import DriverView, HostAudit
from fleetfix.versions import DriverVersion

_REBOOT_HINT = "pass --reboot or set hba_driver_reboot_ok for it"


@dataclass(frozen=True, kw_only=True)
class Excluded:
    host: str
    reason: str


def loaded_driver(host: HostAudit, module: str) -> DriverView | None:
    return next((d for d in host.drivers if d.name == module), None)


def host_advisories(host: HostAudit, module: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f.advisory for f in host.findings if f.module == module))


def reboot_why(driver: DriverView) -> str | None:
    """Why activating a new build of this driver takes a reboot, or None when a module reload will do.

    The boot disk's HBA can never be unloaded; neither can a module in use (an open or mounted disk holds a
    reference) or one built without unload support (refcount unknown, or permanent).
    """
    if driver.holds_boot_disk:
        return f"{driver.name} drives the boot disk"
    if driver.permanent or driver.refcount is None:
        return f"{driver.name} cannot be unloaded on this kernel"
    if driver.used_by:
        return f"{driver.name} is used by {', '.join(driver.used_by)}"
    if driver.refcount > 0:
        return f"{driver.name} is in use (refcount {driver.refcount})"
    return None


def select_hosts(
    loaded: Iterable[tuple[HostAudit, DriverView]],
    module: str,
    target: DriverVersion,
    reboot_allowed: bool,
    reboot_ok_hosts: frozenset[str],
) -> tuple[list[tuple[HostAudit, DriverView]], list[Excluded]]:
    """The hosts to upgrade to ``target`` in audit order, and the others with the reason each is left out.

    A host needing a reboot is only targeted with ``reboot_allowed`` (``--reboot``) or when it is one of
    ``reboot_ok_hosts`` (its inventory sets ``hba_driver_reboot_ok``).
    """
    targeted: list[tuple[HostAudit, DriverView]] = []
    skipped: list[Excluded] = []
    for host, driver in loaded:
        advisories = host_advisories(host, module)
        if driver.version is not None and DriverVersion(driver.version) >= target:
            still = (
                f" but still matches {', '.join(advisories)}: a newer version is needed" if advisories else ""
            )
            skipped.append(Excluded(host=host.host, reason=f"already at {driver.version}{still}"))
        elif not advisories:
            skipped.append(
                Excluded(
                    host=host.host, reason=f"{module} {driver.version or ''} matches no advisory".strip()
                )
            )
        elif reboot_why(driver) and not (reboot_allowed or host.host in reboot_ok_hosts):
            skipped.append(
                Excluded(host=host.host, reason=f"needs a reboot ({reboot_why(driver)}); {_REBOOT_HINT}")
            )
        else:
            targeted.append((host, driver))
    return targeted, skipped
