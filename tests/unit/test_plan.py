"""The remediation plan: targets, target version, batches by count and percent, estimates, bad input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.advisories.schema import load_file
from fleetfix.audit import HostAudit
from fleetfix.errors import InputError
from fleetfix.plan.build import Plan, build_plan
from fleetfix.plan.count import Count, parse_count
from fleetfix.plan.describe import describe
from fleetfix.plan.document import plan_from_dict, plan_to_dict
from fleetfix.plan.times import duration_text
from tests.support.plans import ADVISORIES, QUICK, host


@pytest.fixture()
def db(tmp_path: Path) -> AdvisoryDB:
    path = tmp_path / "test.yaml"
    path.write_text(ADVISORIES)
    return AdvisoryDB(load_file(path))


def down(name: str) -> HostAudit:
    message = "ssh: connect to host port 22: No route to host"
    return HostAudit(host=name, status="unreachable", message=message)


def bad_fleet(db: AdvisoryDB, count: int) -> list[HostAudit]:
    return [host(db, f"db{n:02d}") for n in range(1, count + 1)]


def sizes(plan: Plan) -> list[int]:
    return [len(b.hosts) for b in plan.batches]


def test_batches_by_count(db: AdvisoryDB) -> None:
    plan = build_plan(bad_fleet(db, 5), "mpt3sas", db, batch=parse_count("2", "--batch"))
    assert sizes(plan) == [2, 2, 1]
    assert [b.names for b in plan.batches] == [("db01", "db02"), ("db03", "db04"), ("db05",)]
    assert plan.target == "46.00.00.00"


@pytest.mark.parametrize(
    ("hosts", "spec", "expected"),
    [(10, "30%", [3, 3, 3, 1]), (7, "30%", [2, 2, 2, 1]), (5, "1%", [1] * 5), (4, "100%", [4])],
)
def test_batches_by_percent_round_down_but_never_to_zero(
    db: AdvisoryDB, hosts: int, spec: str, expected: list[int]
) -> None:
    plan = build_plan(bad_fleet(db, hosts), "mpt3sas", db, batch=parse_count(spec, "--batch"))
    assert sizes(plan) == expected


def test_failure_budget_from_count_or_percent(db: AdvisoryDB) -> None:
    fleet = bad_fleet(db, 10)
    assert (
        build_plan(fleet, "mpt3sas", db, max_failures=parse_count("3", "--max-failures")).failure_budget == 3
    )
    assert (
        build_plan(fleet, "mpt3sas", db, max_failures=parse_count("25%", "--max-failures")).failure_budget
        == 2
    )
    assert (
        build_plan(fleet, "mpt3sas", db, max_failures=parse_count("5%", "--max-failures")).failure_budget == 1
    )


@pytest.mark.parametrize("text", ["0", "-1", "abc", "2.5", "0%", "101%", ""])
def test_bad_counts(text: str) -> None:
    with pytest.raises(InputError, match=r"^--batch: "):
        parse_count(text, "--batch")


def test_targets_skips_and_unreachable_are_data(db: AdvisoryDB) -> None:
    fleet = [
        host(db, "app01", version="46.00.00.00", disks=("sda",)),
        host(db, "db01"),
        host(db, "db02", version="39.00.00.00"),  # older than the affected range: not flagged
        down("db07"),
        host(db, "store01", module="qla2xxx", version="10.02.08.200-k"),
    ]
    plan = build_plan(fleet, "mpt3sas", db, reboot_allowed=True)
    assert plan.hosts == ("db01",)
    assert [(e.host, e.reason) for e in plan.skipped] == [
        ("app01", "already at 46.00.00.00"),
        ("db02", "mpt3sas 39.00.00.00 matches no advisory"),
    ]
    assert [(e.host, e.reason) for e in plan.unreachable] == [
        ("db07", "ssh: connect to host port 22: No route to host")
    ]


def test_host_at_target_with_a_bad_build_is_skipped_with_the_reason(db: AdvisoryDB) -> None:
    fleet = [host(db, "db01"), host(db, "db02", version="46.00.00.00", srcversion="7A0C2E4F6B8D1A3C5E7F9B2")]
    plan = build_plan(fleet, "mpt3sas", db, to="46.00.00.00")
    assert plan.hosts == ("db01",)
    assert plan.skipped[0].reason == (
        "already at 46.00.00.00 but still matches T-mpt3sas-bad-build: a newer version is needed"
    )


def test_reload_hosts_come_before_reboot_hosts(db: AdvisoryDB) -> None:
    fleet = [
        host(db, "db01", disks=("sdb", "sdc")),
        host(db, "db02"),
        host(db, "db03", disks=("sdb",)),
        host(db, "db04"),
    ]
    plan = build_plan(fleet, "mpt3sas", db, batch=Count(2, False), reboot_allowed=True, times=QUICK)
    assert [b.names for b in plan.batches] == [("db02", "db04"), ("db01", "db03")]
    assert [plan.host(h).activation for h in plan.hosts] == ["reload", "reload", "reboot", "reboot"]
    activate = plan.host("db01").steps[3]
    assert activate.step == "activate" and activate.action == "reboot: mpt3sas is in use (refcount 2)"


def test_reboot_needs_permission(db: AdvisoryDB) -> None:
    fleet = [host(db, "db01", disks=("sdb",)), host(db, "db02"), host(db, "db03", disks=("sdc",))]
    plan = build_plan(fleet, "mpt3sas", db, reboot_ok_hosts=frozenset({"db03"}))
    assert plan.hosts == ("db02", "db03")
    assert plan.skipped[0].host == "db01"
    assert (
        "needs a reboot (mpt3sas is in use (refcount 1)); pass --reboot or set hba_driver_reboot_ok"
        in plan.skipped[0].reason
    )
    with pytest.raises(InputError, match="no host with a known-bad mpt3sas can be remediated"):
        build_plan([fleet[0]], "mpt3sas", db)


def test_the_inventorys_activation_method_is_the_plans(db: AdvisoryDB) -> None:
    # db01: nothing holds the module, but its inventory asks for a reboot (a driver the initramfs loads);
    # db02: held, and its inventory asks for a reload the role would refuse; db03: auto, a reload.
    fleet = [host(db, "db01"), host(db, "db02", disks=("sdb",)), host(db, "db03")]
    forced = {"db01": "reboot", "db02": "reload"}
    plan = build_plan(fleet, "mpt3sas", db, reboot_allowed=True, forced_activation=forced, times=QUICK)
    assert plan.hosts == ("db03", "db01")
    assert [plan.host(h).activation for h in plan.hosts] == ["reload", "reboot"]
    assert plan.host("db01").steps[3].action == "reboot: hba_driver_activate=reboot"
    assert plan.host("db01").estimate > plan.host("db03").estimate
    assert [(e.host, e.reason) for e in plan.skipped] == [
        ("db02", "hba_driver_activate=reload, but mpt3sas is in use (refcount 1)")
    ]
    without_permission = build_plan(fleet, "mpt3sas", db, forced_activation=forced)
    assert without_permission.hosts == ("db03",)
    assert without_permission.skipped[0].reason.startswith("needs a reboot (hba_driver_activate=reboot); ")


def test_estimates_per_step_batch_and_total(db: AdvisoryDB) -> None:
    fleet = [host(db, "db01"), host(db, "db02", disks=("sdb",)), host(db, "db03", disks=("sdb",))]
    plan = build_plan(fleet, "mpt3sas", db, batch=Count(2, False), reboot_allowed=True, times=QUICK)
    reload_host = plan.host("db01")
    reboot_host = plan.host("db02")
    # No disk behind the HBA: nothing to soak. precheck 1 + upgrade 4 + reload 1 + verify 1.
    assert reload_host.estimate == timedelta(minutes=7)
    # precheck 1 + baseline 1+1 + upgrade 4 + reboot 8 + verify 1 + soak 5+1.
    assert reboot_host.estimate == timedelta(minutes=22)
    assert [b.estimate for b in plan.batches] == [timedelta(minutes=22), timedelta(minutes=22)]
    assert plan.estimate == timedelta(minutes=44)
    assert [s.step for s in reboot_host.steps] == [
        "precheck",
        "baseline",
        "upgrade",
        "activate",
        "verify",
        "soak",
    ]
    assert reboot_host.steps[1].action == "fio randread 60s on the old build, read-only"
    assert reboot_host.steps[5].action == "fio randread 300s on sdb, read-only"
    assert reload_host.steps[1].action == "none: no disk behind mpt3sas to read"


def test_default_target_is_the_lowest_version_fixing_every_advisory(db: AdvisoryDB) -> None:
    plan = build_plan(bad_fleet(db, 1), "mpt3sas", db)
    assert plan.target == "46.00.00.00"
    assert "T-mpt3sas-reply-race" in plan.target_reason


def test_explicit_target(db: AdvisoryDB) -> None:
    plan = build_plan(bad_fleet(db, 2), "mpt3sas", db, to="47.00.00.00")
    assert (plan.target, plan.target_reason) == ("47.00.00.00", "--to 47.00.00.00")
    assert "install mpt3sas 47.00.00.00" in plan.host("db01").steps[2].action


@pytest.mark.parametrize(
    ("module", "version", "to", "message"),
    [
        (
            "mpt3sas",
            "43.00.00.00",
            "44.00.00.00",
            "--to: 44.00.00.00 is itself affected by T-mpt3sas-reply-race",
        ),
        ("mpt3sas", "43.00.00.00", "4 6", "--to: version '4 6' contains whitespace"),
        ("mpt3sas", "43.00.00.00", "", "--to: empty version"),
        (
            "qla2xxx",
            "10.02.08.200-k",
            "10.02.08.300-k",
            "--to: 10.02.08.300-k is below 10.02.09.100-k, the fix for T-qla-listed",
        ),
    ],
)
def test_bad_target_versions(db: AdvisoryDB, module: str, version: str, to: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        build_plan([host(db, "h1", module=module, version=version)], module, db, to=to)
    assert str(caught.value) == message


def test_kernel_only_fix_needs_an_explicit_target(db: AdvisoryDB) -> None:
    fleet = [host(db, "store01", module="lpfc", version="14.2.0.5", taint=(), kernel="6.1.0-18-amd64")]
    with pytest.raises(InputError, match="no single driver version fixes every advisory on lpfc"):
        build_plan(fleet, "lpfc", db)
    assert build_plan(fleet, "lpfc", db, to="14.4.0.1").hosts == ("store01",)


def test_unknown_module_and_no_bad_hosts(db: AdvisoryDB) -> None:
    fleet = [host(db, "db01", version="46.00.00.00"), down("db02")]
    with pytest.raises(InputError) as caught:
        build_plan(fleet, "megaraid_sas", db)
    assert str(caught.value) == "--module: 'megaraid_sas' is not loaded on any reachable host"
    with pytest.raises(InputError) as caught:
        build_plan(fleet, "mpt3sas", db)
    assert str(caught.value) == "--module: no host runs a known-bad mpt3sas build (1 load it: 46.00.00.00)"


def test_plan_round_trips_through_its_dict(db: AdvisoryDB) -> None:
    fleet = [
        host(db, "db01", disks=("sdb",)),
        host(db, "db02"),
        host(db, "app01", version="46.00.00.00"),
        down("x"),
    ]
    plan = build_plan(
        fleet, "mpt3sas", db, batch=parse_count("50%", "--batch"), reboot_allowed=True, times=QUICK
    )
    again = plan_from_dict(plan_to_dict(plan), "journal")
    assert again == plan
    assert again.hosts == plan.hosts and again.batch_of("db01").number == 2


def test_describe_lists_batches_steps_and_exclusions(db: AdvisoryDB) -> None:
    fleet = [
        host(db, "db01", disks=("sdb",)),
        host(db, "db02"),
        host(db, "app01", version="46.00.00.00"),
        down("db07"),
    ]
    plan = build_plan(fleet, "mpt3sas", db, reboot_allowed=True, max_failures=Count(2, False), times=QUICK)
    lines = describe(plan)
    assert lines[0].startswith("Upgrade mpt3sas to 46.00.00.00 on 2 hosts (lowest version fixing")
    assert lines[1] == "Batches of 1 (--batch 1); the run stops when 2 hosts have failed (--max-failures 2)"
    assert lines[2] == "Estimated time: 29m in 2 batches"
    assert "Batch 1 (~7m): db02" in lines and "Batch 2 (~22m): db01" in lines
    assert "    activate  ~8m     reboot: mpt3sas is in use (refcount 1)" in lines
    assert lines[-2:] == [
        "Skipped: app01: already at 46.00.00.00",
        f"Unreachable: db07: {down('db07').message}",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(40, "40s"), (60, "1m"), (61, "2m"), (3600, "1h00m"), (3900, "1h05m"), (7199, "2h00m")],
)
def test_duration_text_rounds_up_to_minutes(seconds: int, text: str) -> None:
    assert duration_text(timedelta(seconds=seconds)) == text
