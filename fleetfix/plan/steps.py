"""A targeted host's part of the plan: its steps, what each does on it and each one's time estimate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from fleetfix.audit import DriverView, HostAudit
from fleetfix.plan.hosts import host_advisories, reboot_why
from fleetfix.plan.times import StepTimes


class Step(StrEnum):
    """A host's steps, in the order they run. The journal stores their values: never rename one."""

    PRECHECK = "precheck"
    BASELINE = "baseline"  # the soak's profile, shorter, on the old build: what the new one must match
    PRE_HOOK = "pre_hook"  # --pre-hook (drain), only when given: before anything is installed
    UPGRADE = "upgrade"
    ACTIVATE = "activate"
    VERIFY = "verify"
    SOAK = "soak"
    POST_HOOK = "post_hook"  # --post-hook (undrain), only when given: after a passed soak or a rollback
    # Not a step of the plan: run for a host whose verify or soak failed, or whose upgrade was refused once
    # installed, to put its previous build back (run_state.rollback_reason).
    ROLLBACK = "rollback"
    # Not a step of the plan either: a canary host watched for new dumps and reboots before the next batch.
    BAKE = "bake"


@dataclass(frozen=True, kw_only=True)
class StepPlan:
    step: Step
    action: str
    estimate: timedelta


@dataclass(frozen=True, kw_only=True)
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


def host_plan(
    host: HostAudit,
    driver: DriverView,
    module: str,
    target: str,
    times: StepTimes,
    forced_activation: str | None = None,
) -> HostPlan:
    """``forced_activation``: the host's ``hba_driver_activate`` where it names a method."""
    build = driver.version or "unversioned"
    if driver.srcversion:
        build += f" (srcversion {driver.srcversion})"
    reboot = reboot_why(driver, forced_activation)
    if reboot:
        activate = StepPlan(step=Step.ACTIVATE, action=f"reboot: {reboot}", estimate=times.reboot)
    else:
        activate = StepPlan(
            step=Step.ACTIVATE, action=f"reload {module}: nothing holds it", estimate=times.reload
        )
    if driver.disks:
        seconds = int(times.soak_runtime.total_seconds())
        baseline = StepPlan(
            step=Step.BASELINE,
            action=f"fio randread {int(times.baseline_runtime.total_seconds())}s on the old build, read-only",
            estimate=times.baseline_runtime + times.soak_margin,
        )
        soak = StepPlan(
            step=Step.SOAK,
            action=f"fio randread {seconds}s on {', '.join(driver.disks)}, read-only",
            estimate=times.soak_runtime + times.soak_margin,
        )
    else:
        baseline = StepPlan(
            step=Step.BASELINE, action=f"none: no disk behind {module} to read", estimate=timedelta(0)
        )
        soak = StepPlan(
            step=Step.SOAK, action=f"none: no disk behind {module} to read", estimate=timedelta(0)
        )
    steps = (
        StepPlan(
            step=Step.PRECHECK,
            action=f"facts: {module} still {build}; crash capture ready",
            estimate=times.precheck,
        ),
        baseline,
        StepPlan(
            step=Step.UPGRADE,
            action=f"install {module} {target}, replacing {driver.version or 'unversioned'}",
            estimate=times.upgrade,
        ),
        activate,
        StepPlan(step=Step.VERIFY, action=f"facts: loaded {module} must be {target}", estimate=times.verify),
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
