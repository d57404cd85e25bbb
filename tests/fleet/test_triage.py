"""The seed incident on the namespace lab: the backup's workload crashes the hosts running the bad mpt3sas
build; `fleetfix collect` and `fleetfix triage` name the driver, group the crashes and find the backup."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result

from fleetfix.lab import Lab
from fleetfix.listen.receiver import Listener
from tests.support.cli import fleetfix
from tests.support.lab_hosts import wait_up

pytestmark = pytest.mark.fleet

BACKUP = "/usr/local/sbin/nightly-backup"
CRASHING = ("db01", "db02")  # bad build, kdump and netconsole
HISTORY = {"db01": 2, "db02": 2, "db06": 1}  # crash dumps the scenario ships (db06: kdump only)
ZONE = str(Path("/etc/localtime").readlink()).rpartition("zoneinfo/")[
    2
]  # lab hosts share this machine's /etc


def run(state: Path, *args: str | Path) -> Result:
    """A fleetfix command with its state in ``state``; the lab itself keeps the default state directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLEETFIX_STATE_DIR", str(state))
        return fleetfix(*args)


@pytest.fixture
def receiver(tmp_path: Path, make_lab) -> Iterator[tuple[Lab, Path]]:
    """A lab with the bad build (db01, db02, db06), the fixed one (app01) and a host that is down (db07), and
    `fleetfix listen`'s receiver on the controller address the hosts' netconsole sends to."""
    lab = make_lab("seed", hosts=["db01", "db02", "db06", "app01", "db07"])
    state = tmp_path / "state"
    listener = Listener(lab.controller_ip, 6666, state / "netconsole")
    thread = threading.Thread(target=listener.serve_forever)
    thread.start()
    try:
        yield lab, state
    finally:
        listener.stop()
        thread.join(timeout=10)


def test_the_backup_workload_crashes_the_bad_build_and_triage_finds_driver_and_job(
    receiver: tuple[Lab, Path],
) -> None:
    lab, state = receiver
    inventory = lab.inventory_path
    audit = run(state, "audit", "-i", inventory, "--format", "json")
    assert audit.exit_code == 4, audit.output  # findings, and db07 is down

    def backup(host: str) -> int:  # the cron job's own command, shortened
        return lab.ssh(host, f"BACKUP_VERIFY_SECONDS=60 {BACKUP}", timeout=120).returncode

    with ThreadPoolExecutor(len(CRASHING)) as pool:
        assert list(pool.map(backup, CRASHING)) == [255] * len(CRASHING)  # the connection died with the host
    for host in CRASHING:
        wait_up(lab, host)

    collected = run(state, "collect", "-i", inventory, "--format", "json")
    assert collected.exit_code == 4, collected.output  # db07 unreachable
    hosts = {h["host"]: h for h in json.loads(collected.stdout)["hosts"]}
    assert hosts["db07"]["status"] == "unreachable" and hosts["db07"]["jobs"] is None
    for host, shipped in HISTORY.items():
        dumps = shipped + (host in CRASHING)
        assert (hosts[host]["status"], hosts[host]["fetched"], hosts[host]["dumps"]) == ("ok", dumps, dumps)
        jobs = json.loads((state / "crashes" / host / "jobs.json").read_text())
        backup = next(j for j in jobs["scheduled_jobs"] if j["command"] == BACKUP)
        assert (backup["kind"], backup["schedule"], jobs["timezone"]) == ("cron", "0 1 * * *", ZONE)
    assert hosts["app01"]["fetched"] == 0
    assert len(list((state / "crashes").glob("db0[12]/crash/*/dmesg.*"))) == 6
    again = json.loads(run(state, "collect", "-i", inventory, "--format", "json").stdout)
    assert [h["fetched"] for h in again["hosts"]] == [0] * 5  # only what is not in the store yet

    triage = run(state, "triage", "--format", "json")
    assert triage.exit_code == 1, triage.output
    document = json.loads(triage.stdout)
    group = next(g for g in document["groups"] if g["module"] == "mpt3sas")
    assert (group["rip"], group["kind"]) == ("_scsih_io_done", "null_pointer_dereference")
    assert group["hosts"] == ["db01", "db02", "db06"]
    crashes = [document["crashes"][i] for i in group["crashes"]]
    assert len(crashes) == sum(HISTORY.values()) + len(CRASHING)  # kdump and netconsole copies kept once
    fresh = [c for c in crashes if c["time_basis"] == "log prefix"]
    assert sorted(c["host"] for c in fresh) == list(CRASHING)
    assert all(c["source"].startswith(str(state / "crashes" / "netconsole")) for c in fresh)
    assert {c["rip_module"] for c in crashes} == {"mpt3sas"} and all("O" in c["taint"] for c in crashes)
    assert [b["version"] for b in group["loaded"]] == ["34.100.00.00"] * 3
    advisory = next(a for a in group["advisories"] if a["id"] == "mpt3sas-fw-event-reset-race")
    assert advisory["hosts"] == ["db01", "db02", "db06"]

    backup_job = group["correlations"][0]
    assert (backup_job["job"], backup_job["schedule"]) == (BACKUP, "cron `0 1 * * *`")
    for crash in backup_job["runs"]:  # the shipped history, at 01:09-01:21, falls inside the guessed hour
        local = datetime.fromisoformat(crash["crash"]).astimezone(ZoneInfo(ZONE))
        assert crash["inside"] == (local.hour == 1)
    assert backup_job["hits"] >= sum(HISTORY.values()) and backup_job["p_value"] < 1e-4
    assert backup_job["repro"]["profiles"] == ["backup-seqread", "thrash"]

    table = run(state, "triage")
    assert f"crashes fell inside the run of {BACKUP} (cron `0 1 * * *`" in table.stdout
    assert "mpt3sas-fw-event-reset-race" in run(state, "triage", "--format", "markdown").stdout
