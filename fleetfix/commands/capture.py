"""The capture commands' work: check the options, run the crash_capture role, fold what each host reports.

`enable` runs playbooks/capture.yml; the role leaves a ``crash_capture_result`` fact on every host it
reached (what changed, whether a reboot is still needed), read back here from the job events. `status` is the
audit's crash-capture view, so both commands judge readiness the same way.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fleetfix import grammar
from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.ansible.runner import RunObserver, RunRequest, inventory_hostvars, run_playbook
from fleetfix.audit import AuditReport
from fleetfix.capture.outcome import CaptureOutcome, HostCapture
from fleetfix.commands.audit import run_audit
from fleetfix.errors import InputError
from fleetfix.host_result import HostResult

# The role's task that stops a host whose crash memory needs a reboot nobody allowed.
REBOOT_GATE_TASK = "Stop where crash memory needs a reboot that is not allowed"


@dataclass(frozen=True)
class CaptureOptions:
    """What the user asked for; None leaves the role default (or the inventory's value) in force."""

    log_host: str | None = None
    log_port: int | None = None
    interface: str | None = None
    crash_size: str | None = None
    dump_target: Mapping[str, str] | None = None

    def extravars(self, reboot: bool) -> dict[str, Any]:
        values: dict[str, Any] = {
            "crash_capture_netconsole_log_host": self.log_host,
            "crash_capture_netconsole_log_port": self.log_port,
            "crash_capture_netconsole_interface": self.interface,
            "crash_capture_crash_size": self.crash_size,
            **(self.dump_target or {}),
        }
        if self.crash_size is not None:
            values["crash_capture_crash_size_keep_existing"] = False  # an explicit size wins everywhere
        if reboot:
            values["crash_capture_reboot_ok"] = True
        return {key: value for key, value in values.items() if value is not None}


def _checked(option: str, kind: str, value: str, whole: str) -> str:
    why = grammar.problem(kind, value)
    if why is not None:
        # The grammar's message quotes the value; name the whole option value only when it is a part of it.
        raise InputError(option, why if value == whole else f"{whole!r}: {why}")
    return value


def parse_dump_target(text: str) -> dict[str, str]:
    """``/var/crash`` (local), ``ssh://user@host[/dir]`` or ``nfs://server/export`` -> role variables.

    Every part is held to its grammar (fleetfix.grammar): kdump-tools sources these values as root.
    """
    option = "--dump-target"
    shapes = "/path, ssh://user@host/dir or nfs://server/export"
    if text.startswith("/"):
        path = _checked(option, "path", text, text)
        return {"crash_capture_kdump_target": "local", "crash_capture_kdump_path": path}
    try:
        url = urlsplit(text)
        port = url.port
    except ValueError:
        raise InputError(option, f"{text!r} is not {shapes}") from None
    host = url.hostname or ""
    host = f"[{host}]" if ":" in host else host
    if url.password is not None or port is not None or url.query or url.fragment:
        raise InputError(option, f"{text!r}: no password, port, query or fragment is allowed")
    if url.scheme == "ssh" and url.username and host:
        found = {
            "crash_capture_kdump_target": "ssh",
            "crash_capture_kdump_ssh": _checked(option, "ssh", f"{url.username}@{host}", text),
        }
        if url.path in ("", "/"):
            return found
        return found | {"crash_capture_kdump_path": _checked(option, "path", url.path, text)}
    if url.scheme == "nfs" and host and url.path.startswith("/") and not url.username:
        return {
            "crash_capture_kdump_target": "nfs",
            "crash_capture_kdump_nfs": _checked(option, "nfs", f"{host}:{url.path}", text),
        }
    raise InputError(option, f"{text!r} is not {shapes}")


def parse_options(
    log_host: str | None = None,
    log_port: str | None = None,
    interface: str | None = None,
    crash_size: str | None = None,
    dump_target: str | None = None,
) -> CaptureOptions:
    """Everything that can be judged before touching a host; raises InputError naming the option."""
    if log_host is not None:
        try:
            log_host = str(ipaddress.ip_address(log_host))
        except ValueError:
            raise InputError("--log-host", f"{log_host!r} is not an IP address") from None
    port = None
    if log_port is not None:
        if not (log_port.isascii() and log_port.isdigit()) or not 1 <= int(log_port[:6]) <= 65535:
            raise InputError("--log-port", f"{log_port!r} is not a UDP port (1-65535)")
        port = int(log_port)
    if (port is not None or interface is not None) and log_host is None:
        raise InputError(
            "--log-host", "needed with --log-port or --interface (where should netconsole send?)"
        )
    if interface is not None:
        _checked("--interface", "interface", interface, interface)
    if crash_size is not None:
        if crash_size.strip().lower() == "auto":
            raise InputError("--crash-size", "auto reserves too little for a dump; give a size such as 256M")
        _checked("--crash-size", "crash_size", crash_size, crash_size)
    target = parse_dump_target(dump_target) if dump_target is not None else None
    return CaptureOptions(log_host, port, interface, crash_size, target)


def check_inventory_values(hostvars: Mapping[str, Mapping[str, Any]], source: str) -> None:
    """Refuse, before any host is contacted, a role variable an inventory sets outside its grammar."""
    for host, variables in sorted(hostvars.items()):
        problems = grammar.variable_problems(variables)
        if problems:
            raise InputError(source, f"host {host}: {problems[0]}")


def _diffs(result: HostResult) -> str:
    """Unified diffs of the text changes (files, the netconsole target) a check run would make."""
    chunks: list[str] = []
    for task in result.tasks:
        raw = task.result.get("diff")
        invocation = task.result.get("invocation") or {}
        args = invocation.get("module_args") or invocation if isinstance(invocation, Mapping) else {}
        where = task.result.get("dest") or task.result.get("path") or args.get("dest") or args.get("path")
        for diff in raw if isinstance(raw, list) else [raw] if raw else []:
            before, after = (
                (diff.get(k) for k in ("before", "after")) if isinstance(diff, Mapping) else (0, 0)
            )
            if not isinstance(before, str) or not isinstance(after, str) or before == after:
                continue
            chunks.extend(
                difflib.unified_diff(
                    before.splitlines(keepends=True),
                    after.splitlines(keepends=True),
                    str(where or diff.get("before_header") or task.task),
                    str(where or diff.get("before_header") or task.task),
                )
            )
    return "".join(line if line.endswith("\n") else line + "\n" for line in chunks)


def host_capture(result: HostResult, check: bool) -> HostCapture:
    """One host's outcome from its events; a host stopped at the reboot gate is reboot-needed, not failed."""
    report = result.facts.get("crash_capture_result") or {}
    changed = tuple(report.get("changed") or ())
    reboot_needed = bool(report.get("reboot_needed"))
    diff = _diffs(result) if check else ""
    if result.status == "unreachable":
        return HostCapture(result.host, "unreachable", result.message, changed, reboot_needed, diff)
    if result.status == "failed":
        failed = next((t for t in result.tasks if t.status == "failed"), None)
        gated = failed is not None and failed.task == REBOOT_GATE_TASK and reboot_needed
        status = "reboot-needed" if gated else "failed"
        return HostCapture(result.host, status, result.message, changed, reboot_needed, diff)
    if not report:
        return HostCapture(result.host, "failed", "the role reported no result", changed, False, diff)
    if report.get("rebooted"):
        status = "rebooted"
    elif reboot_needed:
        status = "reboot-needed"
    elif changed:
        status = "would-change" if check else "changed"
    else:
        status = "unchanged"
    return HostCapture(result.host, status, "", changed, reboot_needed, diff)


def outcome_from_results(
    results: Mapping[str, HostResult], check: bool, run_dir: Path | None = None
) -> CaptureOutcome:
    hosts = tuple(host_capture(result, check) for _, result in sorted(results.items()))
    return CaptureOutcome(hosts, check, run_dir)


def enable(
    inventories: Sequence[Path],
    limit: str | None,
    check: bool,
    reboot: bool,
    options: CaptureOptions,
    observer: RunObserver | None = None,
    nodes: ExecutionNodes | None = None,
) -> CaptureOutcome:
    extravars = options.extravars(reboot)
    if inventories:
        source = ",".join(str(i) for i in inventories)
        check_inventory_values(inventory_hostvars(inventories, limit), source)
    request = RunRequest("capture.yml", tuple(inventories), limit, extravars, check, check, nodes)
    outcome = run_playbook(request, observer, kind="capture")
    return outcome_from_results(outcome.hosts, check, outcome.run_dir)


def status(
    inventories: Sequence[Path],
    limit: str | None,
    observer: RunObserver | None = None,
    nodes: ExecutionNodes | None = None,
) -> AuditReport:
    """The audit, run as `fleetfix audit` runs it; the capture view is its per-host ``capture`` field."""
    return run_audit(inventories, limit, (), observer, nodes)
