"""Where a remediation run stands, from its journal rows: the basis of ``--resume`` and ``runs show``.

Pure over step records. A host is, by the latest record of each of its steps:

- done: verify ended ok and soak ended ok or skipped; a resumed run never touches it again;
- failed: a step ended failed; it has spent its share of the failure budget and waits for a human;
- skipped: its precheck ended skipped (the host no longer needed the change);
- interrupted: touched but none of the above, either mid-step (a step started and never ended: the
  controller died under it) or between steps; re-checked from facts before anything is repeated (``recheck``);
- untouched: no record at all.

So a resumed run neither upgrades a verified host again nor skips one: every host of the plan is in exactly
one of these sets, and only interrupted and untouched hosts are run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from fleetfix.plan.build import RUN_ORDER
from fleetfix.plan.steps import Step
from fleetfix.versions import DriverVersion


class StepState(StrEnum):
    """A step record's state: ``started`` until it ends in one of the others. Stored in the journal."""

    STARTED = "started"
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class HostStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"
    UNTOUCHED = "untouched"


@dataclass(frozen=True, kw_only=True)
class StepRecord:
    host: str
    step: Step
    state: StepState
    detail: Mapping[str, Any]
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class HostProgress:
    host: str
    status: HostStatus
    records: tuple[StepRecord, ...]  # every record of the host, in the order written

    @property
    def latest(self) -> dict[str, StepRecord]:
        """The last record of each step the host reached."""
        return {r.step: r for r in self.records}

    @property
    def last(self) -> StepRecord | None:
        return self.records[-1] if self.records else None

    @property
    def mid_step(self) -> str | None:
        """The step that started and never ended, if any."""
        return self.last.step if self.last is not None and self.last.ended_at is None else None

    def ended(self, step: str, *states: str) -> bool:
        record = self.latest.get(step)
        return record is not None and record.ended_at is not None and record.state in states

    @property
    def baseline(self) -> Mapping[str, Any] | None:
        """The reading of the host's baseline on the old build (``fleetfix.soak.baseline``), if it ran."""
        record = self.latest.get("baseline")
        reading = record.detail.get("baseline") if record is not None else None
        return reading if isinstance(reading, Mapping) else None

    @property
    def outcome(self) -> str:
        """One line a human reads in ``runs show``; a baseline that crashed the old build is said too."""
        line = self._outcome()
        baseline = self.baseline
        if baseline is not None and baseline.get("outcome") == "reproduced":
            line += f"; the bug reproduced on the old build (baseline: {baseline.get('note')})"
        return line

    def _outcome(self) -> str:
        last = self.last
        if last is None:
            return "not started"
        why = last.detail.get("message") or last.detail.get("reason")
        suffix = f": {why}" if why else ""
        if self.status == "done":
            soak = self.latest.get("soak")
            limits = soak.detail.get("limits") if soak is not None else None
            if isinstance(limits, Mapping) and limits.get(
                "unjudged"
            ):  # a share asked for, nothing to take it of
                return f"remediated: verified and soaked ({limits.get('text')})"
            return "remediated: verified and soaked"
        rollback = self.latest.get("rollback")
        if self.status == "failed" and rollback is not None and rollback.ended_at is not None:
            failed = next(r for r in reversed(self.records) if r.state == "failed" and r.step != "rollback")
            cause = f"failed at {failed.step}"
            if failed.detail.get("message"):
                cause += f": {failed.detail['message']}"
            if rollback.state == "ok":
                return f"rolled back to {rollback.detail.get('version')} after it {cause}"
            line = f"{cause}; rollback failed: {rollback.detail.get('message') or 'no reason given'}"
            return line + _still_on_disk(failed)
        if self.status in ("failed", "skipped"):
            last_of = next(r for r in reversed(self.records) if r.state == self.status)
            return f"{self.status} at {last_of.step}{suffix}" + _still_on_disk(last_of)
        if self.mid_step:
            return f"interrupted during {self.mid_step}: re-checked from facts on resume"
        return f"stopped after {last.step}: re-checked from facts on resume"

    def to_dict(self) -> dict[str, Any]:
        soak = self.latest.get("soak")
        return {
            "host": self.host,
            "status": self.status,
            "outcome": self.outcome,
            "soak": dict(soak.detail) if soak and soak.ended_at else None,
            "baseline": dict(self.baseline) if self.baseline is not None else None,
            "steps": [
                {
                    "step": r.step,
                    "state": r.state,
                    "started_at": r.started_at.isoformat(),
                    "ended_at": r.ended_at.isoformat() if r.ended_at else None,
                    "detail": dict(r.detail),
                }
                for r in self.records
            ],
        }


@dataclass(frozen=True)
class RunProgress:
    hosts: tuple[HostProgress, ...]  # in plan order
    _index: dict[str, HostProgress] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {h.host: h for h in self.hosts})

    def host(self, name: str) -> HostProgress:
        return self._index[name]

    def with_status(self, *statuses: str) -> tuple[str, ...]:
        return tuple(h.host for h in self.hosts if h.status in statuses)

    @property
    def done(self) -> tuple[str, ...]:
        return self.with_status("done")

    @property
    def failed(self) -> tuple[str, ...]:
        return self.with_status("failed")

    @property
    def pending(self) -> tuple[str, ...]:
        """Hosts a resumed run still has to take through their steps: interrupted and untouched."""
        return self.with_status("interrupted", "untouched")

    @property
    def mid_step(self) -> dict[str, str]:
        return {h.host: step for h in self.hosts if (step := h.mid_step) is not None}

    def counts(self) -> dict[str, int]:
        return {status.value: len(self.with_status(status)) for status in HostStatus}

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "hosts": [h.to_dict() for h in self.hosts]}


def run_progress(plan_hosts: Sequence[str], records: Iterable[StepRecord]) -> RunProgress:
    """Fold a run's records (in the order they were written) into each planned host's status."""
    per_host: dict[str, list[StepRecord]] = {host: [] for host in plan_hosts}
    for record in records:
        if record.host in per_host:
            per_host[record.host].append(record)
    return RunProgress(tuple(_host(host, tuple(per_host[host])) for host in plan_hosts))


def _host(host: str, records: tuple[StepRecord, ...]) -> HostProgress:
    progress = HostProgress(host=host, status=HostStatus.UNTOUCHED, records=records)
    last = progress.last
    if last is None:
        return progress
    if progress.ended("bake", "failed"):  # a canary that crashed or dumped after it was done
        status = HostStatus.FAILED
    elif (
        progress.ended("verify", "ok")
        and progress.ended("soak", "ok", "skipped")
        and not _undrain_due(progress)
    ):
        status = HostStatus.DONE
    elif any(r.state == "failed" for r in progress.latest.values()):
        status = HostStatus.FAILED
    elif last.step == "precheck" and progress.ended("precheck", "skipped"):
        status = HostStatus.SKIPPED
    else:
        status = HostStatus.INTERRUPTED
    return HostProgress(host=host, status=status, records=records)


def _undrain_due(progress: HostProgress) -> bool:
    """A run with hooks records both hook steps (skipped where not given): a host that reached its pre-hook
    is not done until its post-hook ended, so a run killed between the soak and the post-hook runs it on
    resume."""
    return "pre_hook" in progress.latest and not progress.ended("post_hook", "ok", "skipped")


@dataclass(frozen=True, kw_only=True)
class PreviousBuild:
    """What a host ran before the change, as its first pre-check recorded it, and how a rollback restores it:
    reinstall the package that held it (a downgrade), or take the DKMS build this change added back out
    (``dkms remove``, which puts back what it set aside) when the change came from a DKMS source."""

    package: str | None = None
    package_version: str | None = None
    dkms_name: str | None = None
    dkms_version: str | None = None
    version: str  # the module's version, loaded before the change
    srcversion: str | None
    reason: str  # why it is put back (``rollback_reason``)

    @property
    def restore(self) -> dict[str, str]:
        """The role's ``hba_driver_restore``."""
        if self.dkms_name and self.dkms_version:
            return {"dkms_name": self.dkms_name, "dkms_version": self.dkms_version}
        return {"name": self.package or "", "version": self.package_version or ""}

    @property
    def how(self) -> str:
        """How it is put back, as the journal and ``runs show`` say it."""
        if self.dkms_name and self.dkms_version:
            return f"dkms remove {self.dkms_name}/{self.dkms_version}"
        return f"{self.package} {self.package_version}"


ROLLBACK_AFTER = ("verify", "soak")  # the steps whose failure puts the previous build back


def _build_text(build: Mapping[str, Any]) -> str:
    text = build.get("version") or "no build"
    return text + (f" (srcversion {build['srcversion']})" if build.get("srcversion") else "")


def left_on_disk(record: StepRecord) -> str | None:
    """The build a failed upgrade left in the running kernel's module tree in place of the loaded one, as
    text; None when the disk still holds the loaded build or the failure came before the install.

    The role records, for an upgrade that failed after the package manager installed (never in check mode,
    where nothing is installed), what ``modinfo`` finds on disk beside the build loaded before::

        {"message": "...: kernel lockdown is integrity and the build is not signed: ...",
         "on_disk": {"version": "46.00.00.00", "srcversion": "1B9E3F2A7C5D8E0F4A6B2C9"},
         "loaded": {"version": "34.100.00.00", "srcversion": "6E4C8C0A9F6E2B51D3A7C41"}}

    A refused build (Secure Boot, an untrusted signer, a default boot kernel without it) is still loaded by
    the next boot, or nothing is when modinfo found no build at all.
    """
    on_disk, loaded = record.detail.get("on_disk"), record.detail.get("loaded")
    if record.step != "upgrade" or record.state != "failed" or not isinstance(on_disk, Mapping):
        return None
    loaded = loaded if isinstance(loaded, Mapping) else {}
    same_version = on_disk.get("version") is not None and on_disk.get("version") == loaded.get("version")
    builds = (on_disk.get("srcversion"), loaded.get("srcversion"))
    if same_version and (None in builds or builds[0] == builds[1]):
        return None
    return _build_text(on_disk)


def install_left(record: StepRecord) -> str | None:
    """What a package installation that failed left in the package database, as text; None when the
    database holds the package as it did before (nothing was installed) or the failure came before the
    install.

    The role reads the package's state (``dpkg-query -W -f='${db:Status-Status} ${Version}\\n'`` or
    ``rpm -q --qf 'installed %{VERSION}-%{RELEASE}\\n'``, a line per installed version) before the install
    and again once the install failed::

        {"message": "installing mpt3sas-driver=46.00.00.00-2 failed: ...",
         "package": {"name": "mpt3sas-driver", "before": ["installed 34.100.00.00-1"],
                     "after": ["half-configured 46.00.00.00-2"]}}

    A maintainer script that failed after the unpack (dpkg ``half-configured``, ``unpacked``,
    ``half-installed``; rpm's two versions side by side after a scriptlet failed) changed the host even
    though the install failed; a package the manager never started on (not found, a pre-install script that
    refused, a download that failed) left the same lines as before.
    """
    package = record.detail.get("package")
    if record.step != "upgrade" or record.state != "failed" or not isinstance(package, Mapping):
        return None
    before, after = package.get("before"), package.get("after")
    if not isinstance(after, list) or not after or after == before:
        return None
    return f"{package.get('name') or 'the package'} {', '.join(str(line) for line in after)}"


def rollback_reason(record: StepRecord) -> str | None:
    """Why a failed step puts the host's previous build back; None when it leaves nothing to put back.

    After verify or soak the new build is installed and running (or tried to); after an upgrade refused
    once the package was installed, the refused build sits on disk for the next boot; after an install
    that failed half-way, the package database holds the new package half-installed (``install_left``),
    which blocks the package manager's next runs. A step that failed before anything was installed (a
    pre-check, a package that did not install at all) leaves the host as it was.
    """
    if record.state != "failed":
        return None
    if record.step in ROLLBACK_AFTER:
        return f"the new build failed its {record.step}"
    if (left := install_left(record)) is not None:
        return f"the failed install left {left} in the package database"
    if (build := left_on_disk(record)) is not None:
        return f"the refused build {build} was installed on disk: the next boot would load it"
    return None


def _still_on_disk(record: StepRecord) -> str:
    """What a human must know of a failed upgrade nothing put back: what the failed install left in the
    package database and the build on disk, or that the next boot loads the refused build."""
    if (left := install_left(record)) is not None:
        on_disk = record.detail.get("on_disk")
        disk = f", and modinfo finds {_build_text(on_disk)} on disk" if isinstance(on_disk, Mapping) else ""
        return f"; the failed install left {left} in the package database{disk}"
    build = left_on_disk(record)
    return f"; the refused build stays installed on disk: the next boot loads it: {build}" if build else ""


def rollback_candidate(host: HostProgress) -> PreviousBuild | str | None:
    """For a failed host: the build to restore, or why it cannot be; None when no rollback is due.

    Due when the host's last failure has a ``rollback_reason`` and the host was not rolled back already.
    The previous build is the one the host's *first* pre-check saw: a resumed run pre-checks again, by then
    on the new build. A change from a DKMS source is undone by taking the DKMS build it adds back out: the
    pre-check records it as ``previous: {"source": "dkms", "dkms": {"name": ..., "version": ...}}``.
    """
    failed = [r for r in host.records if r.state == "failed"]
    if not failed or "rollback" in host.latest or (reason := rollback_reason(failed[-1])) is None:
        return None
    first = next((r for r in host.records if r.step == "precheck" and r.state == "ok"), None)
    detail = first.detail if first is not None else {}
    previous = detail.get("previous") or {}
    if previous.get("mismatch"):  # e.g. a refused build left installed by an earlier --no-rollback
        return f"no previous package recorded to reinstall: {previous['mismatch']}"
    loaded = detail.get("loaded_version")
    added = previous.get("dkms") if previous.get("source") == "dkms" else None
    if isinstance(added, Mapping) and added.get("name") and added.get("version") and loaded:
        return PreviousBuild(
            dkms_name=str(added["name"]),
            dkms_version=str(added["version"]),
            version=loaded,
            srcversion=detail.get("loaded_srcversion"),
            reason=reason,
        )
    if previous.get("source") != "package" or not previous.get("version") or not loaded:
        source = previous.get("source") or "unknown"
        return f"no previous package recorded to reinstall (the build came from {source})"
    return PreviousBuild(
        package=previous["name"],
        package_version=previous["version"],
        version=loaded,
        srcversion=detail.get("loaded_srcversion"),
        reason=reason,
    )


@dataclass(frozen=True)
class Recheck:
    """What to do with a host after its precheck facts: the steps left, or why it must be left alone."""

    steps: tuple[str, ...]
    skip: tuple[str, ...] = ()  # steps to record as skipped: the facts show them already achieved
    problem: str | None = None


def recheck(host: HostProgress, module: str, planned: str | None, target: str, loaded: str | None) -> Recheck:
    """The steps a host still needs, judged from the version its facts show loaded now.

    Serves fresh and interrupted hosts alike. The loaded version decides, not the journal alone: a host
    killed mid-reboot may have come back on the new driver. An upgrade that ended ok is never repeated; a
    module that is not loaded (a reload cut short) gets its activation again.
    """
    if loaded is not None and DriverVersion(loaded) == DriverVersion(target):
        if host.ended("verify", "ok") and host.ended("soak", "ok", "skipped"):
            return Recheck(("post_hook",))  # only the undrain was left when the run stopped
        skip = tuple(s for s in ("upgrade", "activate") if not host.ended(s, "ok"))
        return Recheck(("verify", "soak", "post_hook"), skip=skip)
    if loaded is not None and (planned is None or DriverVersion(loaded) != DriverVersion(planned)):
        problem = f"{module} is now {loaded}, neither the planned {planned or 'unversioned'} nor {target}"
        return Recheck((), problem=f"{problem}: left alone")
    if host.ended("upgrade", "ok"):
        return Recheck(("activate", "verify", "soak", "post_hook"))
    if host.ended("pre_hook", "ok", "skipped") or "upgrade" in host.latest:  # drained: not again
        return Recheck(("upgrade", "activate", "verify", "soak", "post_hook"))
    if host.ended("baseline", "ok", "skipped"):
        return Recheck(("pre_hook", "upgrade", "activate", "verify", "soak", "post_hook"))
    return Recheck(RUN_ORDER[1:])
