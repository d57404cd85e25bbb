"""`fleetfix remediate` and `fleetfix runs` on lab hosts, through the installed command: the rolling upgrade
of the seed's bad mpt3sas build, the failure budget, the change window, a controller killed mid-batch, and
bad input. Every run keeps its journal in the test's own state directory."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetfix.errors import ExitStatus
from fleetfix.lab import Lab
from fleetfix.listen.receiver import Listener
from fleetfix.plan.times import StepTimes, duration_text
from fleetfix.plan.window import parse_window

pytestmark = pytest.mark.fleet

FLEETFIX = str(Path(sys.executable).parent / "fleetfix")
SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"
BAD_REBUILD = SCENARIOS / "seed_bad_rebuild.yaml"
BAD_REBUILD_BOTH = SCENARIOS / "bad_rebuild_both_families.yaml"  # db01 Debian 12, rdb01 Rocky Linux 9
TARGET = "46.00.00.00"
GOOD_BUILD = "1B9E3F2A7C5D8E0F4A6B2C9"  # mpt3sas-driver 46.00.00.00-1
REBUILD = "3D5F7A9C1E3B5D7F9A1C3E5"  # mpt3sas-driver 46.00.00.00-3 in seed_bad_rebuild.yaml: panics
OLD, OLD_PACKAGE, OLD_BUILD = (
    "34.100.00.00",
    "34.100.00.00-1",
    "6E4C8C0A9F6E2B51D3A7C41",
)  # the seed's bad build
SOAK = "5"  # seconds of fio per host; the command's floor. Its baseline, 2 s, is too short to take shares
# of (20 s): the default 80% floor and 500% ceiling judge nothing, and no test leans on a busy machine's IOPS.
# What a remediation changes on a host, read over ssh: an untouched host shows the same text afterwards.
HOST_STATE = (
    "dpkg-query -W mpt3sas-driver 2>&1; cat /sys/module/mpt3sas/version /sys/module/mpt3sas/srcversion "
    "/proc/sys/kernel/random/boot_id"
)
# dpkg.log's record of a finished installation of the fixed package: one per real install.
INSTALLED = r"status installed mpt3sas-driver(:[a-z0-9]+)? 46\.00\.00\.00-1$"


def fleetfix(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLEETFIX, *args], capture_output=True, text=True, env=_env(state), timeout=600, check=False
    )


def _env(state: Path) -> dict[str, str]:
    return {**os.environ, "FLEETFIX_STATE_DIR": str(state)}


def remediate_args(inventories: list[Path], *extra: str) -> list[str]:
    sources = [a for path in inventories for a in ("-i", str(path))]
    return ["remediate", *sources, "--module", "mpt3sas", "--to", TARGET, "--yes", "--format", "json", *extra]


Outcome = tuple[int, dict[str, Any], dict[str, dict[str, Any]]]


def outcome(result: subprocess.CompletedProcess[str]) -> Outcome:
    """The exit status, the run's JSON report and its hosts by name."""
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    return result.returncode, report, {h["host"]: h for h in report["hosts"]}


def remediate(state: Path, inventories: list[Path], *extra: str) -> Outcome:
    return outcome(fleetfix(state, *remediate_args(inventories, *extra)))


def start_remediate(state: Path, inventories: list[Path], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [FLEETFIX, *remediate_args(inventories, *extra)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(state),
    )


def finish(proc: subprocess.Popen[str]) -> Outcome:
    stdout, stderr = proc.communicate(timeout=600)
    return outcome(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))


def host_state(lab: Lab, hosts: list[str]) -> dict[str, str]:
    return {host: lab.ssh(host, HOST_STATE).stdout for host in hosts}


def loaded(lab: Lab, host: str) -> tuple[str, str]:
    version, srcversion = lab.ssh(
        host, "cat /sys/module/mpt3sas/version /sys/module/mpt3sas/srcversion"
    ).stdout.split()
    return version, srcversion


def installs(lab: Lab, host: str) -> int:
    log = lab.ssh(host, "cat /var/log/dpkg.log").stdout
    return len(re.findall(INSTALLED, log, re.MULTILINE))


def journal_steps(state: Path) -> list[tuple[str, str, str, str | None]]:
    """(host, step, state, ended_at) of every journal row so far; empty before the journal exists."""
    path = state / "journal.sqlite"
    if not path.exists():
        return []
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            return db.execute("SELECT host, step, state, ended_at FROM host_steps ORDER BY id").fetchall()
    except sqlite3.Error:  # created but no schema yet
        return []


def wait_for(
    what: str, ready: Callable[[], object], proc: subprocess.Popen[str], timeout: float = 300
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"fleetfix ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {what} within {timeout}s"
        time.sleep(0.1)


def runs(state: Path) -> list[dict[str, Any]]:
    result = fleetfix(state, "runs", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def steps_of(host: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["step"], s["state"]) for s in host["steps"]]


def window(start: datetime, end: datetime | str) -> str:
    """An ISO 8601 interval in UTC; ``end`` may be a duration such as PT1H."""
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return f"{start:{stamp}}/{end if isinstance(end, str) else format(end, stamp)}"


ALL_OK = [
    ("precheck", "ok"),
    ("baseline", "ok"),
    ("upgrade", "ok"),
    ("activate", "ok"),
    ("verify", "ok"),
    ("soak", "ok"),
]


def test_bad_builds_are_upgraded_verified_and_soaked_and_the_rest_untouched(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=["db01", "db02", "app01", "store01"])
    others = ["app01", "store01"]  # mpt3sas already at the fixed version; another HBA
    before = host_state(lab, others)

    rc, report, hosts = remediate(tmp_path, [lab.inventory_path], "--batch", "2", "--soak-runtime", SOAK)

    assert rc == ExitStatus.OK, report
    assert report["status"] == "done"
    assert set(hosts) == {"db01", "db02"}
    assert [b["number"] for b in report["plan"]["batches"]] == [1]  # both in one batch, side by side
    assert {e["host"]: e["reason"] for e in report["plan"]["skipped"]} == {"app01": f"already at {TARGET}"}
    for name in ("db01", "db02"):
        host = hosts[name]
        assert host["status"] == "done", host["outcome"]
        assert steps_of(host) == ALL_OK
        soak = host["soak"]
        assert soak["status"] == "passed" and soak["boot_id_after"] == soak["boot_id_before"]
        figures = soak["verdict"]["figures"]
        assert figures["iops"] > 0 and figures["kernel_fault_lines"] == 0
        # The host's own baseline, measured on the old build before the change: 2 s, reported, too short to
        # take the default shares of; the soak says it judged no floor and no ceiling, and why.
        reading = host["baseline"]
        assert reading["outcome"] == "measured" and reading["iops"] > 0 and not reading["shares_apply"]
        assert (figures["iops_floor"], figures["p99_ceiling_ns"]) == (None, None)
        assert soak["limits"]["unjudged"] == "the baseline ran 2 s, under the 20 s a share needs"
        assert host["outcome"] == f"remediated: verified and soaked ({soak['limits']['text']})"
        assert loaded(lab, name) == (TARGET, GOOD_BUILD)
        assert installs(lab, name) == 1
    assert host_state(lab, others) == before

    listing = runs(tmp_path)
    assert [(r["id"], r["status"], r["hosts"]["done"]) for r in listing] == [(1, "done", 2)]
    table = fleetfix(tmp_path, "runs")
    assert table.returncode == 0 and "done" in table.stdout
    shown = fleetfix(tmp_path, "runs", "show", "1", "--format", "json")
    assert shown.returncode == 0
    shown_hosts = {h["host"]: h for h in json.loads(shown.stdout)["hosts"]}
    assert {n: (h["status"], h["soak"]["status"]) for n, h in shown_hosts.items()} == {
        "db01": ("done", "passed"),
        "db02": ("done", "passed"),
    }
    junit = fleetfix(tmp_path, "runs", "show", "1", "--format", "junit", "-o", str(tmp_path / "run1.xml"))
    assert junit.returncode == 0, junit.stderr
    suite = ET.parse(tmp_path / "run1.xml").getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "0", "0")
    assert sorted(case.get("name") for case in suite.iter("testcase")) == ["db01", "db02"]


def test_a_baseline_that_panics_the_old_build_is_the_bug_reproduced_and_the_upgrade_goes_on(
    make_lab, tmp_path: Path
) -> None:
    lab = make_lab("seed", hosts=["db01"])
    boot = lab.ssh("db01", "cat /proc/sys/kernel/random/boot_id").stdout.strip()

    # 12 s of the thrash on the seed's bad build: its fault fires after 5 s of sustained deep random reads.
    rc, report, hosts = remediate(
        tmp_path, [lab.inventory_path], "--baseline-runtime", "12", "--soak-runtime", SOAK
    )

    assert rc == ExitStatus.OK, report
    host = hosts["db01"]
    assert host["status"] == "done" and steps_of(host) == ALL_OK, host["outcome"]
    baseline = host["steps"][1]["detail"]
    assert baseline["boot_id_before"] == boot != baseline["boot_id_after"]  # the old build panicked the host
    assert baseline["verdict"]["figures"]["kernel_fault_lines"] > 0
    reading = host["baseline"]
    assert reading == baseline["baseline"] and reading["outcome"] == "reproduced"
    assert reading["note"].startswith("host rebooted during the soak"), reading
    # The upgrade waited for the host to come back; the soak after it ran on the fixed build, same boot.
    soak = host["soak"]
    assert (
        soak["status"] == "passed"
        and soak["boot_id_before"] == soak["boot_id_after"] == baseline["boot_id_after"]
    )
    # With no figures of the old build, the default shares judge nothing, and the run says why.
    assert soak["limits"]["unjudged"] == "the baseline reproduced the fault on the old build"
    assert host["outcome"] == (
        f"remediated: verified and soaked ({soak['limits']['text']}); "
        f"the bug reproduced on the old build (baseline: {reading['note']})"
    )
    assert loaded(lab, "db01") == (TARGET, GOOD_BUILD)
    shown = fleetfix(tmp_path, "runs", "show", "1", "--format", "json")
    assert json.loads(shown.stdout)["hosts"][0]["baseline"] == reading
    table = fleetfix(tmp_path, "runs", "show", "1")
    assert "reproduced" in table.stdout, table.stdout  # the table may wrap the words


def test_failure_budget_counts_every_failure_and_stops_at_its_count(make_lab, tmp_path: Path) -> None:
    lab = make_lab(str(BAD_REBUILD))
    # db01 is pointed at the broken package (its post-installation script fails), db03 at the rebuild that
    # loads as the fixed version and panics under the soak; db02 goes away once the run has started.
    overrides = tmp_path / "overrides.yml"
    overrides.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        host: {
                            "hba_driver_drivers": {
                                "mpt3sas": {
                                    "package_name": "mpt3sas-driver",
                                    "package_versions": {TARGET: package},
                                }
                            }
                        }
                        for host, package in (
                            ("db01", "46.00.00.00-2"),
                            ("db03", "46.00.00.00-3"),
                            ("db04", "46.00.00.00-3"),
                        )
                    }
                }
            }
        )
    )
    inventories = [lab.inventory_path, overrides]
    before = host_state(lab, ["db03", "db04"])

    proc = start_remediate(tmp_path, inventories, "--max-failures", "2", "--soak-runtime", "8")
    try:
        wait_for("db01's first step", lambda: any(r[0] == "db01" for r in journal_steps(tmp_path)), proc)
        lab.ssh("db02", "poweroff")  # its batch starts after db01's: it is planned, then unreachable
        wait_for("db02 powered off", lambda: lab.host("db02").state == "off", proc)
        rc, report, hosts = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()

    assert rc == ExitStatus.INCOMPLETE, report
    assert report["status"] == "stopped-budget"
    assert report["note"] == "failure budget spent: db01, db02 failed; not remediated: db03, db04"
    upgrade = hosts["db01"]
    # The failed post-installation script left the package half-configured: the previous one is put back.
    assert upgrade["status"] == "failed"
    assert steps_of(upgrade) == [*ALL_OK[:2], ("upgrade", "failed"), ("rollback", "ok")]
    assert upgrade["outcome"].startswith(f"rolled back to {OLD} after it failed at upgrade: ")
    assert "46.00.00.00-2" in upgrade["outcome"] and "post-installation script" in upgrade["outcome"]
    gone = hosts["db02"]
    assert gone["status"] == "failed" and steps_of(gone) == [("precheck", "failed")]
    assert re.search(r"unreachable|could not be sent|connect", gone["outcome"], re.IGNORECASE), gone[
        "outcome"
    ]
    assert [(h["host"], h["status"], h["steps"]) for h in (hosts["db03"], hosts["db04"])] == [
        ("db03", "untouched", []),
        ("db04", "untouched", []),
    ]
    assert host_state(lab, ["db03", "db04"]) == before
    junit = fleetfix(tmp_path, "runs", "show", "1", "--format", "junit")
    suite = ET.fromstring(junit.stdout)
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "2")

    # A run of its own for the soak failure, with the default budget of one host: db04 is never started.
    # The rebuild verifies (it claims the fixed version) and panics under the soak: the host is put back on
    # the package it had, and still counts as failed.
    rc, report, hosts = remediate(tmp_path, inventories, "--limit", "db03,db04", "--soak-runtime", "8")

    assert rc == ExitStatus.INCOMPLETE, report
    assert report["status"] == "stopped-budget"
    assert report["note"] == "failure budget spent: db03 failed; not remediated: db04"
    # The first run measured its steps: this plan's estimates are those, and it says so.
    assert report["plan"]["times"]["source"].startswith("measured by ")
    soaked = hosts["db03"]
    assert soaked["status"] == "failed"
    assert soaked["outcome"].startswith(f"rolled back to {OLD} after it failed at soak: host rebooted")
    assert steps_of(soaked) == [*ALL_OK[:5], ("soak", "failed"), ("rollback", "ok")]
    verified = soaked["steps"][4]["detail"]
    assert (verified["loaded_version"], verified["loaded_srcversion"]) == (TARGET, REBUILD)
    soak = soaked["soak"]
    assert soak["boot_id_after"] != soak["boot_id_before"]  # the rebuild panicked its host
    assert soak["verdict"]["figures"]["kernel_fault_lines"] > 0
    assert soak["verdict"]["reasons"][0].startswith("host rebooted during the soak")
    rollback = soaked["steps"][6]["detail"]
    assert rollback["package"] == f"mpt3sas-driver {OLD_PACKAGE}"
    assert rollback["steps"]["verify"]["loaded_srcversion"] == OLD_BUILD
    assert loaded(lab, "db03") == (OLD, OLD_BUILD)
    assert lab.ssh("db03", "dpkg-query -W -f='${Version}' mpt3sas-driver").stdout == OLD_PACKAGE
    assert hosts["db04"]["status"] == "untouched"
    assert host_state(lab, ["db04"]) == {"db04": before["db04"]}
    shown = fleetfix(tmp_path, "runs", "show", "2", "--format", "json")
    shown_db03 = next(h for h in json.loads(shown.stdout)["hosts"] if h["host"] == "db03")
    assert shown_db03["outcome"] == soaked["outcome"]
    assert "rolled" in fleetfix(tmp_path, "runs", "show", "2").stdout  # the table may wrap the words

    # --no-rollback leaves the failed build on the host for inspection.
    rc, report, hosts = remediate(
        tmp_path, inventories, "--limit", "db04", "--soak-runtime", "8", "--no-rollback"
    )
    assert rc == ExitStatus.HOSTS_FAILED, report  # its only host failed: the run is over, nothing pending
    kept = hosts["db04"]
    assert kept["outcome"].startswith("failed at soak") and steps_of(kept)[-1] == ("soak", "failed")
    assert loaded(lab, "db04") == (TARGET, REBUILD)
    assert [(r["id"], r["status"], r["hosts"]["failed"]) for r in runs(tmp_path)] == [
        (3, "done", 1),
        (2, "stopped-budget", 1),
        (1, "stopped-budget", 2),
    ]


def pinned_to(path: Path, packages: dict[str, str]) -> Path:
    """An inventory pointing each host's mpt3sas target at a package version (host -> version)."""
    driver = {"package_name": "mpt3sas-driver"}
    hosts = {
        host: {"hba_driver_drivers": {"mpt3sas": {**driver, "package_versions": {TARGET: version}}}}
        for host, version in packages.items()
    }
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return path


PACKAGE_VERSION = {  # the installed version of mpt3sas-driver, as each family's package manager says it
    "db01": "dpkg-query -W -f='${Version}' mpt3sas-driver",
    "rdb01": "rpm -q --qf '%{VERSION}-%{RELEASE}' mpt3sas-driver",
}


@pytest.mark.parametrize("name", ["db01", "rdb01"])
def test_a_target_build_that_also_fails_the_soak_ends_back_on_the_previous_build(
    make_lab, tmp_path: Path, name: str
) -> None:
    lab = make_lab(str(BAD_REBUILD_BOTH), hosts=[name])
    assert lab.ssh(name, PACKAGE_VERSION[name]).stdout == OLD_PACKAGE  # the running build's own package
    inventories = [lab.inventory_path, pinned_to(tmp_path / "rebuild.yml", {name: "46.00.00.00-3"})]

    rc, report, hosts = remediate(tmp_path, inventories, "--soak-runtime", "8")

    # Its only host failed and was put back: the run is over with nothing pending, a failed host (exit 4).
    assert rc == ExitStatus.HOSTS_FAILED, report
    assert report["status"] == "done"
    host = hosts[name]
    assert host["status"] == "failed"
    assert steps_of(host) == [*ALL_OK[:5], ("soak", "failed"), ("rollback", "ok")]
    verified = host["steps"][4]["detail"]
    assert (verified["loaded_version"], verified["loaded_srcversion"]) == (TARGET, REBUILD)
    assert host["soak"]["verdict"]["reasons"][0].startswith("host rebooted during the soak")
    assert host["outcome"].startswith(f"rolled back to {OLD} after it failed at soak: host rebooted")
    rollback = host["steps"][6]["detail"]
    assert rollback["package"] == f"mpt3sas-driver {OLD_PACKAGE}"
    assert (
        rollback["steps"]["verify"]["loaded_version"],
        rollback["steps"]["verify"]["loaded_srcversion"],
    ) == (
        OLD,
        OLD_BUILD,
    )
    # On the host: the previous package installed again, and its build the one loaded.
    assert lab.ssh(name, PACKAGE_VERSION[name]).stdout == OLD_PACKAGE
    assert loaded(lab, name) == (OLD, OLD_BUILD)
    shown = fleetfix(tmp_path, "runs", "show", "1", "--format", "json")
    assert json.loads(shown.stdout)["hosts"][0]["outcome"] == host["outcome"]
    table = fleetfix(tmp_path, "runs", "show", "1")
    assert table.returncode == 0 and "rolled" in table.stdout  # the table may wrap the words


def test_an_upgrade_refused_for_the_default_boot_kernel_is_put_back_off_the_disk(
    make_lab, tmp_path: Path
) -> None:
    lab = make_lab(str(BAD_REBUILD_BOTH), hosts=["db01"])
    # A kernel update installed and not booted yet, first in grub.cfg: the kernel the host boots next. The
    # driver package builds for the running kernel only.
    staged = lab.ssh(
        "db01",
        "mkdir -p /lib/modules/6.1.0-21-amd64 && touch /boot/vmlinuz-6.1.0-21-amd64 && "
        "sed -i 's/6[.]1[.]0-18-amd64/6.1.0-21-amd64/g' /boot/grub/grub.cfg",
    )
    assert staged.returncode == 0, staged.stderr
    boot_id = lab.ssh("db01", "cat /proc/sys/kernel/random/boot_id").stdout.strip()

    rc, report, hosts = remediate(tmp_path, [lab.inventory_path], "--soak-runtime", SOAK)

    assert rc == ExitStatus.HOSTS_FAILED, report
    host = hosts["db01"]
    assert steps_of(host) == [*ALL_OK[:2], ("upgrade", "failed"), ("rollback", "ok")]
    refused = host["steps"][2]["detail"]
    assert refused["message"] == (
        "the default boot kernel 6.1.0-21-amd64 would load nothing, not the target 46.00.00.00: the new "
        "build was installed for 6.1.0-18-amd64 only, and the package has no build for the kernel the host "
        "boots next"
    )
    assert refused["on_disk"] == {"version": TARGET, "srcversion": GOOD_BUILD}
    assert host["outcome"] == f"rolled back to {OLD} after it failed at upgrade: {refused['message']}"
    put_back = host["steps"][3]["detail"]["steps"]["upgrade"]
    assert (put_back["installed_version"], put_back["installed_srcversion"]) == (OLD, OLD_BUILD)
    # The running kernel's image was rebuilt and read back: its disks are not the boot disk, so it carries
    # no copy of the driver, neither build; the one on disk is what a reboot loads.
    images = {image["release"]: image["status"] for image in put_back["initramfs"]}
    assert images == {"6.1.0-18-amd64": "absent"}
    assert lab.ssh("db01", "modinfo -F srcversion mpt3sas").stdout.strip() == OLD_BUILD
    assert lab.ssh("db01", PACKAGE_VERSION["db01"]).stdout == OLD_PACKAGE
    assert loaded(lab, "db01") == (OLD, OLD_BUILD)
    assert lab.ssh("db01", "cat /proc/sys/kernel/random/boot_id").stdout.strip() == boot_id  # no reboot


PACKAGE_STATUS = "dpkg-query -W -f='${Status} ${Version}' mpt3sas-driver"
LEFT_BUILD = "9C1E3A5B7D0F2A4C6E8B1D3"  # mpt3sas-driver 46.00.00.00-4: in place before its postinst fails


@pytest.mark.parametrize(
    ("package", "said", "on_disk"),
    [
        # Its postinst fails before it puts the module in place: the loaded build's file stays on disk.
        ("46.00.00.00-2", "mpt3sas: module build failed for kernel 6.1.0-18-amd64: exit status 2", OLD_BUILD),
        # Its postinst puts the module in place, then its initramfs update fails: the new build is on disk.
        ("46.00.00.00-4", "update-initramfs: failed for /boot/initrd.img-6.1.0-18-amd64 with 1.", LEFT_BUILD),
    ],
)
def test_a_package_whose_post_installation_script_fails_is_put_back_and_dpkg_left_healthy(
    make_lab, tmp_path: Path, package: str, said: str, on_disk: str
) -> None:
    lab = make_lab(str(BAD_REBUILD), hosts=["db01"])
    inventories = [lab.inventory_path, pinned_to(tmp_path / "broken.yml", {"db01": package})]
    boot_id = lab.ssh("db01", "cat /proc/sys/kernel/random/boot_id").stdout.strip()
    half_configured = f"half-configured {package}"  # what dpkg says of a package whose postinst failed
    disk_build = {"version": OLD if on_disk == OLD_BUILD else TARGET, "srcversion": on_disk}

    rc, report, hosts = remediate(tmp_path, inventories, "--soak-runtime", SOAK)

    assert rc == ExitStatus.HOSTS_FAILED, report
    host = hosts["db01"]
    assert steps_of(host) == [*ALL_OK[:2], ("upgrade", "failed"), ("rollback", "ok")]
    failed = host["steps"][2]["detail"]
    assert failed["message"].startswith(f"installing mpt3sas-driver={package} failed: ")
    assert said in failed["message"] and "post-installation script" in failed["message"]
    assert failed["package"] == {
        "name": "mpt3sas-driver",
        "before": [f"installed {OLD_PACKAGE}"],
        "after": [half_configured],
    }
    # The install failed before anything was unloaded: the old build is still the loaded one.
    assert failed["loaded"] == {"version": OLD, "srcversion": OLD_BUILD}
    assert failed["on_disk"] == disk_build
    assert host["outcome"] == f"rolled back to {OLD} after it failed at upgrade: {failed['message']}"
    assert "\n" not in host["outcome"]
    rollback = host["steps"][3]["detail"]
    assert rollback["reason"] == (
        f"the failed install left mpt3sas-driver {half_configured} in the package database"
    )
    assert rollback["package"] == f"mpt3sas-driver {OLD_PACKAGE}"
    verified = rollback["steps"]["verify"]
    assert (verified["loaded_version"], verified["loaded_srcversion"]) == (OLD, OLD_BUILD)
    # On the host: the previous package configured again, nothing for dpkg to mend, the build on disk the
    # loaded one, and no reboot.
    assert lab.ssh("db01", PACKAGE_STATUS).stdout == f"install ok installed {OLD_PACKAGE}"
    audit = lab.ssh("db01", "dpkg --audit mpt3sas-driver")
    assert (audit.returncode, audit.stdout) == (0, "")
    assert lab.ssh("db01", "modinfo -F srcversion mpt3sas").stdout.strip() == OLD_BUILD
    assert loaded(lab, "db01") == (OLD, OLD_BUILD)
    assert lab.ssh("db01", "cat /proc/sys/kernel/random/boot_id").stdout.strip() == boot_id
    shown = fleetfix(tmp_path, "runs", "show", "1", "--format", "json")
    assert json.loads(shown.stdout)["hosts"][0]["outcome"] == host["outcome"]
    assert "rolled" in fleetfix(tmp_path, "runs", "show", "1").stdout  # the table may wrap the words

    # --no-rollback leaves the package half-configured for inspection, and the run says what dpkg and the
    # disk hold.
    rc, report, hosts = remediate(tmp_path, inventories, "--soak-runtime", SOAK, "--no-rollback")

    assert rc == ExitStatus.HOSTS_FAILED, report
    kept = hosts["db01"]
    assert steps_of(kept)[-1] == ("upgrade", "failed")
    message = kept["steps"][-1]["detail"]["message"]
    assert kept["outcome"] == (
        f"failed at upgrade: {message}; the failed install left mpt3sas-driver {half_configured} in the "
        f"package database, and modinfo finds {disk_build['version']} (srcversion {on_disk}) on disk"
    )
    assert lab.ssh("db01", PACKAGE_STATUS).stdout == f"install ok {half_configured}"
    assert lab.ssh("db01", "modinfo -F srcversion mpt3sas").stdout.strip() == on_disk
    assert loaded(lab, "db01") == (OLD, OLD_BUILD)


def test_a_canary_is_baked_before_the_next_batch_starts(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=["db01", "db02"])

    rc, report, hosts = remediate(
        tmp_path, [lab.inventory_path], "--canary", "1", "--bake", "20s", "--soak-runtime", SOAK
    )

    assert rc == ExitStatus.OK, report
    assert report["plan"]["times"]["source"].startswith("fixed defaults: no finished mpt3sas step")
    batches = report["plan"]["batches"]
    assert [([h["host"] for h in b["hosts"]], b.get("bake_seconds", 0)) for b in batches] == [
        (["db01"], 20),
        (["db02"], 0),
    ]
    canary = hosts["db01"]
    assert canary["status"] == "done" and steps_of(canary) == [*ALL_OK, ("bake", "ok")]
    bake = canary["steps"][-1]
    started, ended = (datetime.fromisoformat(bake[k]) for k in ("started_at", "ended_at"))
    assert ended - started >= timedelta(seconds=20)
    assert datetime.fromisoformat(hosts["db02"]["steps"][0]["started_at"]) >= ended
    assert hosts["db02"]["status"] == "done" and steps_of(hosts["db02"]) == ALL_OK


# The backup's deep random reads (the seed's cron job), a minute long: the rebuild's fault fires after 5 s.
BACKUP_READS = (
    "fio --name=backup --filename=/dev/sdb --rw=randread --bs=8k --iodepth=64 --ioengine=libaio --direct=1 "
    "--readonly --time_based --runtime=60 --output-format=json --output=/root/backup.json"
)


def test_a_canary_crash_netconsole_brings_during_the_bake_stops_the_run(make_lab, tmp_path: Path) -> None:
    lab = make_lab(str(BAD_REBUILD), hosts=["db01", "db02"])
    # Both on the rebuild, soaked one I/O at a time: the canary passes its soak, then meets the backup's
    # load during its bake and panics; netconsole brings the oops to `fleetfix listen` on the controller.
    inventories = [
        lab.inventory_path,
        pinned_to(tmp_path / "rebuild.yml", dict.fromkeys(("db01", "db02"), "46.00.00.00-3")),
    ]
    listener = Listener(lab.controller_ip, 6666, tmp_path / "netconsole")
    thread = threading.Thread(target=listener.serve_forever)
    thread.start()
    try:
        proc = start_remediate(
            tmp_path, inventories, "--canary", "1", "--bake", "2m", "--profile", "qd1", "--max-failures", "2",
            "--soak-runtime", SOAK,
        )  # fmt: skip
        try:
            wait_for(
                "db01's bake", lambda: ("db01", "bake", "started", None) in journal_steps(tmp_path), proc
            )
            assert lab.ssh("db01", BACKUP_READS, timeout=120).returncode == 255  # the connection died with it
            rc, report, hosts = finish(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        listener.stop()
        thread.join(timeout=10)

    # A canary's crash stops the run before batch 2, though the budget (2) has room for one more failure.
    assert rc == ExitStatus.INCOMPLETE, report
    assert report["status"] == "stopped-canary"
    canary = hosts["db01"]
    assert canary["status"] == "failed" and steps_of(canary) == [*ALL_OK, ("bake", "failed")]
    why = canary["steps"][-1]["detail"]["message"]
    assert re.match(
        r"netconsole: \d+ crash line\(s\) during the bake, worst \(panic\) at \S+: .*Kernel panic", why
    ), why
    assert report["note"] == f"a canary failed its bake (db01: {why}); not remediated: db02"
    assert hosts["db02"]["status"] == "untouched"
    assert loaded(lab, "db02") == (OLD, OLD_BUILD)


def test_a_batch_the_window_cannot_fit_waits_for_the_next_window(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=["db01", "db02"])
    inventories = [lab.inventory_path]
    before = host_state(lab, ["db01", "db02"])
    now = datetime.now(UTC)

    refused = fleetfix(
        tmp_path, *remediate_args(inventories, "--window", window(now + timedelta(days=1), "PT2H"))
    )
    assert refused.returncode == ExitStatus.INCOMPLETE
    assert (
        refused.stderr.startswith("fleetfix: outside the change window") and refused.stderr.count("\n") == 1
    )
    assert runs(tmp_path) == [] and host_state(lab, ["db01", "db02"]) == before

    # One host per batch; the window ends 30 s after batch 1's estimate: batch 1 starts (planning takes
    # less than that), and after it has run (its soak alone takes 20 s, its five plays more than 10 s)
    # batch 2 no longer fits.
    runtime = 20
    times = StepTimes(soak_runtime=timedelta(seconds=runtime), baseline_runtime=timedelta(seconds=4))
    estimate = (
        times.precheck
        + times.baseline_runtime
        + times.soak_margin
        + times.upgrade
        + times.reload
        + times.verify
        + times.soak_runtime
        + times.soak_margin
    )
    now = datetime.now(UTC)
    short = window(now - timedelta(minutes=1), now + estimate + timedelta(seconds=30))

    rc, report, hosts = remediate(tmp_path, inventories, "--window", short, "--soak-runtime", str(runtime))

    assert [b["estimate_seconds"] for b in report["plan"]["batches"]] == [estimate.total_seconds()] * 2
    assert rc == ExitStatus.INCOMPLETE, report
    assert report["status"] == "stopped-window"
    assert report["note"].startswith(f"batch 2 needs about {duration_text(estimate)}, the window has")
    assert report["note"].endswith("left for the next window: db02")
    assert hosts["db01"]["status"] == "done" and steps_of(hosts["db01"]) == ALL_OK
    assert hosts["db02"]["status"] == "untouched" and hosts["db02"]["steps"] == []
    assert host_state(lab, ["db02"]) == {"db02": before["db02"]}

    resumed_at = datetime.now(UTC)
    next_window = window(resumed_at - timedelta(minutes=1), "PT1H")
    result = fleetfix(
        tmp_path,
        "remediate",
        "-i",
        str(lab.inventory_path),
        "--resume",
        "--window",
        next_window,
        "--format",
        "json",
    )
    rc, report, hosts = outcome(result)

    assert rc == ExitStatus.OK, report
    assert report["run"] == 1 and report["status"] == "done"
    assert steps_of(hosts["db01"]) == ALL_OK  # left alone: no step of it since the first run
    assert all(datetime.fromisoformat(s["started_at"]) < resumed_at for s in hosts["db01"]["steps"])
    assert hosts["db02"]["status"] == "done" and steps_of(hosts["db02"]) == ALL_OK
    fio = Path(hosts["db02"]["soak"]["report"]).read_text()
    job = json.loads(fio[fio.index("{") :])["jobs"][0]
    assert job["job options"]["runtime"] == str(runtime)  # the run's own runtime, not the 300 s default
    for host in ("db01", "db02"):
        assert loaded(lab, host) == (TARGET, GOOD_BUILD)
        assert installs(lab, host) == 1
    journal_window = parse_window(next_window).spec  # the resume's window replaces the run's
    assert [(r["id"], r["status"], r["window"]) for r in runs(tmp_path)] == [(1, "done", journal_window)]


def _descendants(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [p for child in map(int, children) for p in (child, *_descendants(child))]


def _playbooks(pids: list[int]) -> list[int]:
    """The ansible-playbook processes among ``pids`` that still run (not ssh connection masters)."""
    alive = []
    for pid in pids:
        try:
            if b"ansible-playbook" in Path(f"/proc/{pid}/cmdline").read_bytes():
                alive.append(pid)
        except OSError:
            continue
    return alive


def test_kill_9_mid_batch_then_resume_upgrades_each_host_once(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=["db01", "db02"])
    inventories = [lab.inventory_path]

    proc = start_remediate(tmp_path, inventories, "--batch", "2", "--soak-runtime", SOAK)
    try:
        wait_for(
            "the upgrade step", lambda: ("db01", "upgrade", "started", None) in journal_steps(tmp_path), proc
        )
        # The worst moment: the package is on db01 but the controller has not recorded the step's end.
        waited = lab.ssh(
            "db01", f"until grep -Eq '{INSTALLED}' /var/log/dpkg.log; do sleep 0.05; done", timeout=300
        )
        assert waited.returncode == 0, waited.stderr
        orphans = _descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert ("db01", "upgrade", "started", None) in journal_steps(tmp_path)  # killed inside the step
    assert [(r["id"], r["status"]) for r in runs(tmp_path)] == [(1, "interrupted")]  # nobody holds its lock
    # The playbook the controller was running loses its terminal and ends; let it go before resuming.
    deadline = time.monotonic() + 60
    while _playbooks(orphans) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in _playbooks(orphans):
        os.kill(pid, signal.SIGKILL)

    result = fleetfix(tmp_path, "remediate", "-i", str(lab.inventory_path), "--resume", "--format", "json")
    rc, report, hosts = outcome(result)

    assert rc == ExitStatus.OK, report
    assert report["status"] == "done"
    for name in ("db01", "db02"):
        host = hosts[name]
        assert host["status"] == "done", host["outcome"]
        latest = {s["step"]: s["state"] for s in host["steps"]}
        assert latest == dict(ALL_OK)
        assert loaded(lab, name) == (TARGET, GOOD_BUILD)
        assert installs(lab, name) == 1, name
    upgrades = [s["detail"].get("status") for s in hosts["db01"]["steps"] if s["step"] == "upgrade"]
    assert upgrades == [None, "ok"]  # the killed step, then the resume finding the package already there
    assert [(r["id"], r["status"], r["hosts"]["done"]) for r in runs(tmp_path)] == [(1, "done", 2)]


def test_ctrl_c_mid_batch_stops_the_playbook_records_interrupted_and_resumes(
    make_lab, tmp_path: Path
) -> None:
    lab = make_lab("seed", hosts=["db01", "db02"], name=f"hx-{os.getpid()}")
    proc = start_remediate(tmp_path, [lab.inventory_path], "--batch", "2", "--soak-runtime", SOAK)
    try:
        wait_for(
            "the upgrade step", lambda: ("db01", "upgrade", "started", None) in journal_steps(tmp_path), proc
        )
        children = _descendants(proc.pid)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == ExitStatus.INTERRUPTED, stderr
    assert stderr.splitlines()[-1].startswith("fleetfix: interrupted by SIGINT"), stderr  # after the plan
    assert stdout == ""
    assert _playbooks(children) == []  # waited for: nothing keeps changing hosts after the exit
    assert [(r["id"], r["status"]) for r in runs(tmp_path)] == [(1, "interrupted")]

    result = fleetfix(tmp_path, "remediate", "-i", str(lab.inventory_path), "--resume", "--format", "json")
    rc, report, hosts = outcome(result)
    assert rc == ExitStatus.OK, report
    assert report["status"] == "done"
    for name in ("db01", "db02"):
        assert hosts[name]["status"] == "done", hosts[name]["outcome"]
        assert loaded(lab, name) == (TARGET, GOOD_BUILD)
        assert installs(lab, name) == 1, name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--module", "nosuch"], "fleetfix: --module: 'nosuch' is not loaded on any reachable host"),
        (
            ["--module", "mpt3sas", "--limit", "app01"],
            "fleetfix: --module: no host runs a known-bad mpt3sas build",
        ),
        (
            ["--module", "mpt3sas", "--window", "Sat 25:00-04:00 UTC"],
            "fleetfix: --window: 'Sat 25:00-04:00 UTC'",
        ),
        (
            ["--module", "mpt3sas", "--to", "46.00 00"],
            "fleetfix: --to: version '46.00 00' contains whitespace",
        ),
        (["--resume"], "fleetfix: --resume: no unfinished remediation run"),
    ],
    ids=["unknown-module", "no-bad-hosts", "bad-window", "invalid-version", "nothing-to-resume"],
)
def test_bad_option_values_are_one_line_and_exit_2(
    seed_pair: tuple[Lab, dict[str, str]], tmp_path: Path, args: list[str], message: str
) -> None:
    lab, before = seed_pair
    result = fleetfix(tmp_path, "remediate", "-i", str(lab.inventory_path), "--yes", *args)
    assert result.returncode == ExitStatus.USAGE, result.stderr
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""
    assert runs(tmp_path) == []
    assert host_state(lab, list(before)) == before


@pytest.fixture(scope="module")
def seed_pair(tmp_path_factory: pytest.TempPathFactory):
    """A bad-build host and a fixed-build one, shared by the bad-input cases (none of them changes a host)."""
    if os.geteuid() != 0:
        pytest.skip("the lab fleet needs root (network namespaces, mounts, loop devices)")
    lab = Lab(f"pytest-remediate-{os.getpid()}")
    try:
        lab.up("seed", ["db01", "app01"])
        lab.inventory_path = lab.write_inventory(tmp_path_factory.mktemp("remediate") / "inventory.yml")
        yield lab, host_state(lab, ["db01", "app01"])
    finally:
        lab.down()
