"""A targeted host's part of the plan: its steps, what each does on it and each one's time estimate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fleetfix.audit import DriverView, HostAudit
from fleetfix.plan.hosts import host_advisories, reboot_why
from fleetfix.plan.times import StepTimes


@dataclass(frozen=True)
class StepPlan:
    step: str
    action: str
    estimate: timedelta


@dataclass(frozen=True)
class HostPlan:
    host: str
    version: str | None
    srcversion: str | None
    disks: tuple[str, ...]
    activation: str  # "reload" or "reboot"
    advisories: tuple[str, ...]
    steps: tuple[StepPlan, ...]

    @property
    def estimate(self) -> timedelta:
        return sum((s.estimate for s in self.steps), timedelta(0))


def host_plan(host: HostAudit, driver: DriverView, module: str, target: str, times: StepTimes) -> HostPlan:
    build = driver.version or "unversioned"
    if driver.srcversion:
        build += f" (srcversion {driver.srcversion})"
    reboot = reboot_why(driver)
    if reboot:
        activate = StepPlan("activate", f"reboot: {reboot}", times.reboot)
    else:
        activate = StepPlan("activate", f"reload {module}: nothing holds it", times.reload)
    if driver.disks:
        seconds = int(times.soak_runtime.total_seconds())
        soak = StepPlan(
            "soak",
            f"fio randread {seconds}s on {', '.join(driver.disks)}, read-only",
            times.soak_runtime + times.soak_margin,
        )
    else:
        soak = StepPlan("soak", f"none: no disk behind {module} to read", timedelta(0))
    steps = (
        StepPlan("precheck", f"facts: {module} still {build}; crash capture ready", times.precheck),
        StepPlan(
            "upgrade",
            f"install {module} {target}, replacing {driver.version or 'unversioned'}",
            times.upgrade,
        ),
        activate,
        StepPlan("verify", f"facts: loaded {module} must be {target}", times.verify),
        soak,
    )
    return HostPlan(
        host=host.host,
        version=driver.version,
        srcversion=driver.srcversion,
        disks=driver.disks,
        activation="reboot" if reboot else "reload",
        advisories=host_advisories(host, module),
        steps=steps,
    )


def host_dict(host: HostPlan) -> dict[str, Any]:
    return {
        "host": host.host,
        "version": host.version,
        "srcversion": host.srcversion,
        "disks": list(host.disks),
        "activation": host.activation,
        "advisories": list(host.advisories),
        "estimate_seconds": int(host.estimate.total_seconds()),
        "steps": [
            {"step": s.step, "action": s.action, "estimate_seconds": int(s.estimate.total_seconds())}
            for s in host.steps
        ],
    }


def host_from_dict(data: Mapping[str, Any]) -> HostPlan:
    return HostPlan(
        host=data["host"],
        version=data["version"],
        srcversion=data["srcversion"],
        disks=tuple(data["disks"]),
        activation=data["activation"],
        advisories=tuple(data["advisories"]),
        steps=tuple(
            StepPlan(s["step"], s["action"], timedelta(seconds=s["estimate_seconds"])) for s in data["steps"]
        ),
    )
