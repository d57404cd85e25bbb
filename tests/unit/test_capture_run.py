"""capture_run's pure parts: option checks before any host is touched, and folding per-host results."""

from __future__ import annotations

import json

import pytest

from fleetfix.commands.capture import (
    REBOOT_GATE_TASK,
    host_capture,
    outcome_from_results,
    parse_dump_target,
    parse_options,
)
from fleetfix.errors import ExitStatus, InputError
from fleetfix.host_result import HostResult, TaskResult
from fleetfix.render.capture import outcome_json, outcome_rows


def _task(name: str, status: str = "ok", changed: bool = False, **result: object) -> TaskResult:
    return TaskResult(name, "x", status, changed, str(result.get("msg", "")), {"changed": changed, **result})  # type: ignore[arg-type]


def _host(
    name: str, status: str, report: dict | None, tasks: tuple[TaskResult, ...] = (), msg: str = ""
) -> HostResult:
    facts = {"crash_capture_result": report} if report is not None else {}
    return HostResult(name, status, msg, facts, tasks)  # type: ignore[arg-type]


def test_only_given_options_become_extra_vars() -> None:
    assert parse_options().extravars(reboot=False) == {}
    options = parse_options(log_host="10.0.0.1", log_port="514", crash_size="512M", dump_target="/srv/crash")
    assert options.extravars(reboot=True) == {
        "crash_capture_netconsole_log_host": "10.0.0.1",
        "crash_capture_netconsole_log_port": 514,
        "crash_capture_crash_size": "512M",
        "crash_capture_crash_size_keep_existing": False,
        "crash_capture_kdump_target": "local",
        "crash_capture_kdump_path": "/srv/crash",
        "crash_capture_reboot_ok": True,
    }


def test_ipv6_log_host_is_normalised() -> None:
    assert parse_options(log_host="fd00:0::1").log_host == "fd00::1"


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"log_host": "loghost.example"}, "--log-host"),
        ({"log_host": "10.0.0.1", "log_port": "0"}, "--log-port"),
        ({"log_host": "10.0.0.1", "log_port": "65536"}, "--log-port"),
        ({"log_host": "10.0.0.1", "log_port": "66x"}, "--log-port"),
        ({"log_port": "6666"}, "--log-host"),
        ({"log_host": "10.0.0.1", "interface": "eth0/1"}, "--interface"),
        ({"log_host": "10.0.0.1", "interface": "a-very-long-interface"}, "--interface"),
        ({"crash_size": "auto"}, "--crash-size"),
        ({"crash_size": "lots"}, "--crash-size"),
        ({"dump_target": "var/crash"}, "--dump-target"),
        ({"dump_target": "ssh://host/dir"}, "--dump-target"),
    ],
)
def test_bad_options_are_one_line_input_errors(kwargs: dict, where: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_options(**kwargs)
    assert str(caught.value).startswith(f"{where}: ")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("size", ["256M", "1G", "512M@16M", "1G-4G:256M,4G-:512M", "2G-:384M"])
def test_crash_sizes_the_kernel_accepts(size: str) -> None:
    assert parse_options(crash_size=size).crash_size == size


def test_dump_targets() -> None:
    assert parse_dump_target("ssh://kdump@dumps.example/srv/dumps") == {
        "crash_capture_kdump_target": "ssh",
        "crash_capture_kdump_ssh": "kdump@dumps.example",
        "crash_capture_kdump_path": "/srv/dumps",
    }
    assert parse_dump_target("nfs://filer/export/crash") == {
        "crash_capture_kdump_target": "nfs",
        "crash_capture_kdump_nfs": "filer:/export/crash",
    }


def test_host_stopped_at_the_reboot_gate_is_reboot_needed_not_failed() -> None:
    report = {"changed": ["crash memory"], "reboot_needed": True, "rebooted": False}
    gate = _task(REBOOT_GATE_TASK, "failed", msg="reboot needed: crashkernel=256M ...")
    host = host_capture(
        _host("db01", "failed", report, (gate,), "reboot needed: crashkernel=256M ..."), False
    )
    assert (host.status, host.changed, host.reboot_needed) == ("reboot-needed", ("crash memory",), True)


def test_other_failures_stay_failures_with_their_message() -> None:
    failed = _task("Check the next hop answers", "failed", msg="log host 10.0.0.1 unreachable")
    host = host_capture(_host("db02", "failed", None, (failed,), "log host 10.0.0.1 unreachable"), False)
    assert (host.status, host.message) == ("failed", "log host 10.0.0.1 unreachable")


def test_statuses_and_exit_codes() -> None:
    results = {
        "a": _host("a", "ok", {"changed": [], "reboot_needed": False}),
        "b": _host("b", "ok", {"changed": ["kdump config"], "reboot_needed": False}),
        "c": _host("c", "ok", {"changed": ["reboot"], "reboot_needed": False, "rebooted": True}),
    }
    outcome = outcome_from_results(results, check=False)
    assert [h.status for h in outcome.hosts] == ["unchanged", "changed", "rebooted"]
    assert outcome.exit_status() == ExitStatus.OK
    results["d"] = _host("d", "unreachable", None, msg="ssh: connection refused")
    assert outcome_from_results(results, check=False).exit_status() == ExitStatus.HOSTS_FAILED
    assert outcome_from_results({"a": results["a"]}, check=False).exit_status() == ExitStatus.OK


def test_check_run_reports_would_change_with_text_diffs_only() -> None:
    template = _task(
        "Write the kdump configuration",
        changed=True,
        dest="/etc/default/kdump-tools",
        diff=[{"before": "USE_KDUMP=0\n", "after": "USE_KDUMP=1\n"}],
    )
    directory = _task(
        "Create the local dump directory", changed=True, diff={"before": {"state": "absent"}, "after": {}}
    )
    report = {"changed": ["kdump config"], "reboot_needed": True}
    outcome = outcome_from_results({"h": _host("h", "ok", report, (template, directory))}, check=True)
    host = outcome.hosts[0]
    assert host.status == "reboot-needed"
    assert host.diff.splitlines() == [
        "--- /etc/default/kdump-tools",
        "+++ /etc/default/kdump-tools",
        "@@ -1 +1 @@",
        "-USE_KDUMP=0",
        "+USE_KDUMP=1",
    ]
    assert outcome.exit_status() == ExitStatus.FINDINGS
    document = json.loads(outcome_json(outcome))
    assert document["hosts"][0]["diff"] == host.diff and document["summary"] == {"reboot-needed": 1}
    assert outcome_rows(outcome)[0]["reboot needed"] == "yes"
