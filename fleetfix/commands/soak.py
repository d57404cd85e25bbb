"""The soak command's work: each host's devices from its facts, fio's arguments rendered here, the soak play,
and each host's evidence (fio's report, boot ids, kernel log) judged by ``soak.judge_soak``.

The destructive check runs here on the facts before any host is touched; the fio_soak role checks again on
the host. ``plan_targets``, ``soak_extravars`` and ``judge_host`` also serve a remediation's soak step.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.ansible.runner import RunObserver, RunRequest, run_playbook
from fleetfix.errors import ExitStatus, FleetfixError, InputError
from fleetfix.facts.host import HostFacts
from fleetfix.files import write_atomic
from fleetfix.host_result import HostResult
from fleetfix.soak.fio_json import FioResult, parse_fio_json
from fleetfix.soak.host_soak import HostSoak
from fleetfix.soak.profiles import FioProfile, load_profiles, refuse_destructive, select_profile
from fleetfix.soak.verdict import (
    FioEvaluation,
    IopsFloor,
    LatencyCeiling,
    evaluate_file_text,
    judge_soak,
    parse_iops_floor,
)
from fleetfix.state import paths

REMOTE_DIR = "/var/tmp/fleetfix-soak"  # on each host: <soak id>/fio.json


@dataclass(frozen=True)
class SoakTarget:
    host: str
    devices: tuple[str, ...]
    fio_args: tuple[str, ...]


def _chosen_devices(host: str, facts: HostFacts, module: str | None, devices: Sequence[str]) -> list[Any]:
    if not devices:
        return list(facts.disks_of(module or ""))
    by_name = {disk.name: disk for disk in facts.block_devices}
    chosen = []
    for device in devices:
        name = device.removeprefix("/dev/")
        if name not in by_name:
            known = ", ".join(f"/dev/{n}" for n in sorted(by_name)) or "none"
            raise InputError("--device", f"{host} has no disk {device} (its disks: {known})")
        chosen.append(by_name[name])
    return chosen


def plan_targets(
    facts: Mapping[str, HostFacts],
    module: str | None,
    devices: Sequence[str],
    profile: FioProfile,
    runtime: int,
    destructive: bool,
    soak_id: str,
) -> tuple[dict[str, SoakTarget], dict[str, str]]:
    """Per host: the devices (behind ``module``, or the named ones) and fio's arguments; hosts left out, why.

    Raises ``FleetfixError`` before anything runs when the profile writes to a device it may not touch.
    """
    if not module and not devices:
        raise InputError("soak", "name a driver module (--module) or devices (--device)")
    targets: dict[str, SoakTarget] = {}
    left_out: dict[str, str] = {}
    for host, host_facts in facts.items():
        disks = _chosen_devices(host, host_facts, module, devices)
        if not disks:
            left_out[host] = f"no disks behind {module}"
            continue
        try:
            refuse_destructive(profile, disks, destructive)
        except FleetfixError as exc:
            raise FleetfixError(f"{host}: {exc}", ExitStatus.BAD_INPUT) from None
        paths_ = tuple(devices) if devices else tuple(f"/dev/{disk.name}" for disk in disks)
        args = profile.to_args(paths_, runtime, f"{REMOTE_DIR}/{soak_id}/fio.json")
        targets[host] = SoakTarget(host, paths_, tuple(args))
    return targets, left_out


def soak_extravars(
    targets: Mapping[str, SoakTarget], module: str | None, destructive: bool, fetch_dir: Path
) -> dict[str, Any]:
    """The fio_soak role's variables for these targets."""
    return {
        "fio_soak_fio_args": {host: list(t.fio_args) for host, t in targets.items()},
        "fio_soak_devices": {host: list(t.devices) for host, t in targets.items()},
        "fio_soak_module": module or "",
        "fio_soak_destructive": destructive,
        "fio_soak_fetch_dir": str(fetch_dir),
    }


def _fio_report(evidence: Mapping[str, Any]) -> tuple[FioResult | None, str | None]:
    """fio's parsed report, or why there is none.

    A host that went down mid-soak leaves at most the empty or cut report fio opened before the crash: that
    is said as the crash's consequence, not as a report "unusable" for reasons of its own.
    """
    fetched = evidence.get("fetched")
    exit_ = evidence.get("fio_exit") or {}
    went_down = "no fio report: the host went down before fio finished"
    rebooted = evidence.get("boot_id_after") != evidence.get("boot_id_before")
    if not fetched:
        return None, went_down if rebooted else "no fio report: fio wrote none " + _fio_said(exit_)
    try:
        return parse_fio_json(Path(fetched).read_text(errors="replace"), str(fetched)), None
    except OSError as exc:
        return None, f"fio's report {fetched} cannot be read: {exc.strerror or exc}"
    except InputError as exc:
        return (
            None,
            went_down if rebooted else f"fio's report is unusable ({exc}) {_fio_said(exit_)}".rstrip(),
        )


def _fio_said(exit_: Mapping[str, Any]) -> str:
    if not exit_.get("finished", True):
        return "(fio had not finished when its grace time ran out)"
    stderr = [line for line in exit_.get("stderr") or [] if line.strip()]
    return f"(fio exit status {exit_.get('rc')}{': ' + stderr[-1] if stderr else ''})"


def judge_host(
    result: HostResult, target: SoakTarget, floor: IopsFloor | None, p99_ceiling: LatencyCeiling | None = None
) -> HostSoak:
    """One host's soak from its play result: the evidence the role recorded, judged here."""
    evidence = result.facts.get("fio_soak_result")
    if not isinstance(evidence, Mapping):
        return HostSoak(result.host, "error", result.message or result.status, target.devices)
    common = {"devices": target.devices, "boot_id_before": evidence.get("boot_id_before")}
    if evidence.get("check_mode"):
        return HostSoak(result.host, "checked", "fio " + " ".join(target.fio_args), **common)
    log = evidence.get("kernel_log") or {}
    fio, missing = _fio_report(evidence)
    extra = [missing] if missing else []
    exit_ = evidence.get("fio_exit") or {}
    if fio is not None and exit_.get("rc") not in (0, None):
        extra.append(f"fio exited with status {exit_['rc']} {_fio_said(exit_)}")
    if not log.get("available"):
        extra.append(
            f"kernel log unavailable ({log.get('reason')}): cannot tell whether the kernel logged a fault"
        )
    verdict = judge_soak(
        fio or FioResult(str(target.host), None, (), ()),
        evidence.get("boot_id_before"),
        evidence.get("boot_id_after"),
        log.get("lines") or [],
        floor,
        extra,
        p99_ceiling,
    )
    source = log.get("source") if log.get("available") else f"unavailable: {log.get('reason')}"
    fetched = evidence.get("fetched")
    return HostSoak(
        result.host,
        "passed" if verdict.passed else "failed",
        "; ".join(verdict.reasons),
        verdict=verdict,
        fio=fio,
        boot_id_after=evidence.get("boot_id_after"),
        kernel_log=source,
        report=Path(fetched) if fetched else None,
        **common,
    )


def read_facts(outcome_hosts: Mapping[str, HostResult]) -> tuple[dict[str, HostFacts], list[HostSoak]]:
    """The facts of each host that answered; a HostSoak in error for each one that did not."""
    facts, unreachable = {}, []
    for host, result in outcome_hosts.items():
        data = result.facts.get("fleetfix")
        if result.status == "ok" and data is not None:
            facts[host] = HostFacts.from_dict(data, f"host:{host}")
        else:
            unreachable.append(HostSoak(host, "error", result.message or result.status))
    return facts, unreachable


def soak(
    inventories: Sequence[Path],
    limit: str | None,
    module: str | None,
    devices: Sequence[str],
    profile: FioProfile,
    runtime: int,
    destructive: bool,
    observer: RunObserver | None = None,
    check: bool = False,
    iops_floor: IopsFloor | None = None,
    nodes: ExecutionNodes | None = None,
) -> list[HostSoak]:
    """Soak the disks behind ``module`` (or ``devices``) on every host of the inventories and limit."""
    facts_request = RunRequest("audit.yml", tuple(inventories), limit, nodes=nodes)
    found = run_playbook(facts_request, observer, kind="soak-facts")
    facts, results = read_facts(found.hosts)
    soak_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    targets, left_out = plan_targets(facts, module, devices, profile, runtime, destructive, soak_id)
    results += [HostSoak(host, "skipped", why) for host, why in left_out.items()]
    fetch_dir = paths.state_dir() / "soak" / soak_id
    if targets:
        request = RunRequest(
            "soak.yml",
            tuple(inventories),
            ",".join(targets),
            soak_extravars(targets, module, destructive, fetch_dir),
            check=check,
            diff=check,
            nodes=nodes,
            fetch_var="fio_soak_fetch_dir",
        )
        played = run_playbook(request, observer, kind="soak")
        floor = iops_floor or IopsFloor.absolute(0)
        results += [judge_host(played.hosts[host], target, floor) for host, target in targets.items()]
    results.sort(key=lambda r: r.host)
    write_atomic(fetch_dir / "soak.json", json.dumps([r.to_dict() for r in results], indent=1) + "\n")
    return results


def exit_status(results: Sequence[HostSoak]) -> ExitStatus:
    """Hosts that could not be soaked outrank failed verdicts: the soak is incomplete."""
    if any(r.status == "error" for r in results):
        return ExitStatus.HOSTS_FAILED
    return ExitStatus.FINDINGS if any(r.status == "failed" for r in results) else ExitStatus.OK


def read_input(path: Path) -> str:
    """A file the operator named (fio report, profiles), as text; unreadable is bad input naming it."""
    try:
        return path.read_text(errors="replace")
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None


def iops_floor(spec: str | None, baseline: Path | None) -> IopsFloor | None:
    """``--iops-floor`` absolute, or a share of the IOPS in the ``--baseline`` fio report."""
    if spec is None:
        if baseline is not None:
            raise InputError("--baseline", "needs --iops-floor N% to say what share of it must be reached")
        return None
    base = parse_fio_json(read_input(baseline), str(baseline)).iops if baseline else None
    return parse_iops_floor(spec, base)


def evaluate_file(report: Path, floor: IopsFloor | None) -> FioEvaluation:
    """``soak --evaluate``: a saved fio JSON report judged as a soak's would be."""
    return evaluate_file_text(read_input(report), str(report), floor)


def choose_profile(name: str | None, profiles_file: Path | None) -> FioProfile:
    """The named profile, from ``--profiles FILE`` when given, else the built-in ones."""
    custom = load_profiles(read_input(profiles_file), str(profiles_file)) if profiles_file else None
    return select_profile(name, custom)
