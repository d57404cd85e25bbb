"""Which hosts a plan targets (a known-bad build below the target) and why each other one is skipped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def held_why(driver: DriverView) -> str | None:
    """Why this driver cannot be unloaded, or None when a module reload can swap it.

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


def reboot_why(driver: DriverView, forced: str | None = None) -> str | None:
    """Why activating a new build of this driver takes a reboot, or None when a module reload will do.

    ``forced`` is the host's ``hba_driver_activate`` when it names a method: the role reboots on
    ``reboot`` whatever holds the module (a driver the initramfs loads, say), and otherwise reboots only
    where the module is held (``held_why``).
    """
    if forced == "reboot":
        return "hba_driver_activate=reboot"
    return held_why(driver)


def select_hosts(
    loaded: Iterable[tuple[HostAudit, DriverView]],
    module: str,
    target: DriverVersion,
    reboot_allowed: bool,
    reboot_ok_hosts: frozenset[str],
    forced_activation: Mapping[str, str] | None = None,
) -> tuple[list[tuple[HostAudit, DriverView]], list[Excluded]]:
    """The hosts to upgrade to ``target`` in audit order, and the others with the reason each is left out.

    A host needing a reboot is only targeted with ``reboot_allowed`` (``--reboot``) or when it is one of
    ``reboot_ok_hosts`` (its inventory sets ``hba_driver_reboot_ok``). ``forced_activation`` maps a host to
    its inventory's ``hba_driver_activate`` where that names a method: ``reboot`` makes the host need one,
    and ``reload`` of a held module is left out (the role would stop it at activation).
    """
    forced = forced_activation or {}
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
        elif forced.get(host.host) == "reload" and (held := held_why(driver)):
            skipped.append(Excluded(host=host.host, reason=f"hba_driver_activate=reload, but {held}"))
        elif (why := reboot_why(driver, forced.get(host.host))) and not (
            reboot_allowed or host.host in reboot_ok_hosts
        ):
            skipped.append(Excluded(host=host.host, reason=f"needs a reboot ({why}); {_REBOOT_HINT}"))
        else:
            targeted.append((host, driver))
    return targeted, skipped
