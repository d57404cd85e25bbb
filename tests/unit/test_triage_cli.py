"""`fleetfix triage` over a crash store of real corpus oopses, and collect's pure pieces (schedule record)."""

from __future__ import annotations

import gzip
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from fleetfix.commands.collect import host_collected, schedule_record, sync_netconsole, zone_name
from fleetfix.commands.triage import parse_duration, parse_run_lengths
from fleetfix.host_result import HostResult
from fleetfix.listen.receiver import ListenEvent, log_name
from fleetfix.state.crash_store import read_jobs
from tests.support import REPO, strip_provenance
from tests.support.cli import fleetfix

BACKUP = "/usr/local/sbin/nightly-backup"
BACKUP_JOB = {"kind": "cron", "source": "/etc/cron.d/nightly-backup", "user": "root", "schedule": "0 1 * * *",
              "command": BACKUP, "unit": None, "on_calendar": [], "monotonic": [],
              "enabled": None}  # fmt: skip
# kdump directory (host local time) of each crash; the last one came in the afternoon, outside the backup.
MPT3SAS_DUMPS = {
    "db01": ["202611180114", "202611220109"],
    "db02": ["202611200121"],
    "db03": ["202611240132", "202611251407"],
}


def corpus(corpus_dir: Path, name: str) -> str:
    return strip_provenance((corpus_dir / "oopses" / name).read_text())


def restamped(text: str, offset: float) -> str:
    return re.sub(r"\[ *(\d+\.\d+)\]", lambda m: f"[{float(m.group(1)) + offset:12.6f}]", text)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLEETFIX_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def store(state: Path, corpus_dir: Path) -> Path:
    """The default store: the mpt3sas warning in five kdump logs on three hosts (db01 in Berlin), an lpfc
    probe oops on db03, and every db host running the nightly backup at 01:00."""
    root = state / "crashes"
    mpt3sas = corpus(corpus_dir, "01_mpt3sas_refcount_uaf_warning.log")
    for host, dumps in MPT3SAS_DUMPS.items():
        for uptime, stamp in enumerate(dumps):  # each boot's crash at its own uptime
            (root / host / "crash" / stamp).mkdir(parents=True)
            (root / host / "crash" / stamp / f"dmesg.{stamp}").write_text(restamped(mpt3sas, 3600.0 * uptime))
        zone = "Europe/Berlin" if host == "db01" else "Etc/UTC"
        jobs = {"timezone": zone, "addresses": [], "scheduled_jobs": [BACKUP_JOB], "systemd_analyze": None}
        (root / host / "jobs.json").write_text(json.dumps(jobs))
    lpfc = root / "db03" / "crash" / "202611300415"
    lpfc.mkdir()
    (lpfc / "dmesg.202611300415").write_text(corpus(corpus_dir, "03_lpfc_null_deref_probe.log"))
    return root


def write_audit(state: Path, version: str) -> None:
    """The last audit as `fleetfix audit` keeps it: db01 and db02 audited, db03 never."""
    module = {"name": "mpt3sas", "version": version, "srcversion": "6E4C8C0A9F6E2B51D3A7C41",
              "taint": ["O", "E"], "out_of_tree": True}  # fmt: skip
    hosts = [
        {"host": h, "status": "ok", "kernel": "6.1.0-18-amd64", "modules": [module]} for h in ("db01", "db02")
    ]
    (state / "audit").mkdir(parents=True)
    (state / "audit" / "latest.json").write_text(json.dumps({"hosts": hosts}))


def test_json_names_the_driver_groups_the_crashes_and_times_them_against_the_backup(
    state: Path, store: Path
) -> None:
    write_audit(state, "34.100.00.00")
    result = fleetfix("triage", "--format", "json", "--run-length", f"{BACKUP}=3h")
    assert result.exit_code == 1, result.output  # crashes found
    document = json.loads(result.stdout)
    read = {"files": 6, "lines": 236, "kernel_logs": 6, "not_kernel_logs": 0, "unreadable": 0}
    assert document["summary"] == {
        "crashes": 6,
        "listed": 6,
        "groups": 2,
        "hosts": 3,
        "untimed": 0,
        "read": read,
    }
    mpt3sas, lpfc = document["groups"]
    assert (mpt3sas["module"], mpt3sas["rip"], mpt3sas["hosts"]) == (
        "mpt3sas", "refcount_warn_saturate", ["db01", "db02", "db03"],
    )  # fmt: skip
    assert (lpfc["module"], lpfc["hosts"], len(lpfc["crashes"])) == ("lpfc", ["db03"], 1)
    first = document["crashes"][mpt3sas["crashes"][0]]
    assert first["host"] == "db01" and first["implicated_module"] == "mpt3sas"
    assert first["time"].startswith("2026-11-18T00:1")  # 01:14 in Berlin
    assert first["taint"] == ["O", "E"] and first["call_trace"][0]["module"] == "mpt3sas"
    assert {"name": "mpt3sas", "markers": "OE"} in first["modules_linked_in"]
    backup = mpt3sas["correlations"][0]
    assert (backup["job"], backup["hits"], backup["crashes"]) == (BACKUP, 4, 5)
    assert backup["run_length"] == {"seconds": 10800.0, "basis": "config", "observed_runs": 0}
    assert backup["p_value"] < 0.01
    assert backup["repro"]["profiles"] == ["backup-seqread", "thrash"]
    advisory = next(a for a in mpt3sas["advisories"] if a["id"] == "mpt3sas-fw-event-reset-race")
    assert advisory["hosts"] == ["db01", "db02"] and advisory["unaudited_hosts"] == ["db03"]
    assert [b["version"] for b in mpt3sas["loaded"]] == ["34.100.00.00", "34.100.00.00"]


def test_the_default_run_length_is_a_stated_guess(store: Path) -> None:
    hour = json.loads(fleetfix("triage", "--format", "json").stdout)["groups"][0]["correlations"][0]
    assert hour["run_length"]["basis"] == "guess"
    assert hour["hits"] == 4  # every crash at 01:xx falls in the first hour
    short = fleetfix("triage", "--format", "json", "--default-run-length", "10min")
    assert json.loads(short.stdout)["groups"][0]["correlations"][0]["hits"] == 1  # only 01:09


def test_table_and_markdown(state: Path, store: Path) -> None:
    write_audit(state, "34.100.00.00")
    table = fleetfix("triage", "--run-length", f"{BACKUP}=3h")
    assert table.exit_code == 1, table.output
    assert re.search(r"^ *db03 +3 +2026-11-30 04:14 +1 +mpt3sas \? +- *$", table.stdout, re.M)
    assert f"4 of 5 crashes fell inside the run of {BACKUP} (cron `0 1 * * *`, about 3 h" in table.stdout
    assert (
        "repro    fleetfix soak --module mpt3sas --profile backup-seqread, then --profile thrash"
        in table.stdout
    )
    assert re.search(
        r"^ *db01 +2 +2026-11-22 00:08 +1 +mpt3sas 34\.100\.00\.00 +mpt3sas-", table.stdout, re.M
    )
    assert "6 crashes on 3 hosts in 2 groups" in table.stdout
    wide = fleetfix("triage", "--wide", "--run-length", f"{BACKUP}=3h")
    assert re.search(r"^│ mpt3sas +│ refcount_warn\S* +│ warning +│ 5 +│ 3 +│ 2026-11-18 ", wide.stdout, re.M)
    assert re.search(r"^│ lpfc +│ lpfc_sli4_cle\S* +│ null_pointer_ +│ 1 +│ 1 +│", wide.stdout, re.M)
    markdown = fleetfix("triage", "--format", "markdown", "--run-length", f"{BACKUP}=3h")
    assert markdown.exit_code == 1
    assert "| mpt3sas | refcount_warn_saturate | warning | 5 | 3 |" in markdown.stdout
    assert f"**Job timing:** 4 of 5 crashes fell inside the run of {BACKUP}" in markdown.stdout
    assert "Loaded builds: db01 34.100.00.00; db02 34.100.00.00." in markdown.stdout


def test_paths_instead_of_the_store(tmp_path: Path, state: Path, corpus_dir: Path) -> None:
    log = tmp_path / "web01.log"
    log.write_text(corpus(corpus_dir, "05_megaraid_sas_fortify_warning.log"))
    result = fleetfix("triage", log, "--format", "json")
    assert result.exit_code == 1
    (crash,) = json.loads(result.stdout)["crashes"]
    assert (crash["host"], crash["implicated_module"], crash["time"]) == ("web01", "megaraid_sas", None)


def test_no_crash_is_exit_status_zero_and_says_what_was_read(state: Path, tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.log"
    quiet.write_text("[    1.000000] sd 0:0:0:0: [sda] Attached SCSI disk\n")
    result = fleetfix("triage", quiet)
    assert result.exit_code == 0, result.output
    assert "No kernel crash reports found" in result.stdout and "1 files, 1 lines read" in result.stdout
    assert json.loads(fleetfix("triage", quiet, "--format", "json").stdout)["crashes"] == []


def test_having_read_nothing_is_never_no_crash(state: Path, tmp_path: Path) -> None:
    """No store yet, an empty directory, or only files that are not kernel logs: an error, not "no crash"."""
    result = fleetfix("triage")
    assert result.exit_code == 3 and "no crash store yet" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = fleetfix("triage", empty)
    assert result.exit_code == 3 and "no kernel log to read: 0 files, 0 lines read" in result.output
    (empty / "notes.txt").write_text("shopping list\nmilk\n")
    (empty / "core.bin").write_bytes(b"\x7fELF\0\0\0[ 1.000000] kernel: x")
    result = fleetfix("triage", empty)
    assert result.exit_code == 3, result.output
    assert "2 files, 2 lines read; 2 not kernel logs" in result.output
    assert "Traceback" not in result.output


def test_a_directory_of_logs_is_read_recursively_under_any_names(
    state: Path, tmp_path: Path, corpus_dir: Path
) -> None:
    """The host is the first directory under the one given, or the file's stem at its top; rotations may be
    compressed; files that are not kernel logs are counted, an unreadable one does not stop the rest."""
    logs = tmp_path / "incident-4711"
    (logs / "db1" / "var" / "log").mkdir(parents=True)
    (logs / "db1" / "var" / "log" / "kern.log.2.gz").write_bytes(
        gzip.compress(corpus(corpus_dir, "01_mpt3sas_refcount_uaf_warning.log").encode())
    )
    (logs / "db1" / "var" / "log" / "auth.log").write_text("Jan  1 00:00:01 db1 sshd[1]: Accepted key\n")
    (logs / "db1" / "broken.gz").write_bytes(b"not gzip at all")
    (logs / "web7.txt").write_text(corpus(corpus_dir, "05_megaraid_sas_fortify_warning.log"))
    result = fleetfix("triage", logs, "--format", "json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    found = sorted((c["host"], c["implicated_module"]) for c in document["crashes"])
    assert found == [("db1", "mpt3sas"), ("web7", "megaraid_sas")]
    read = document["summary"]["read"]
    assert (read["files"], read["kernel_logs"], read["not_kernel_logs"], read["unreadable"]) == (4, 2, 1, 1)
    assert read["lines"] > 50


def test_a_receivers_directory_is_read_as_netconsole_logs(
    state: Path, tmp_path: Path, corpus_dir: Path
) -> None:
    received = tmp_path / "netconsole"
    received.mkdir()
    text = received_lines(
        corpus(corpus_dir, "03_lpfc_null_deref_probe.log"), "2026-11-25T01:12:03.123456+00:00"
    )
    (received / f"{log_name('10.0.0.7', 6666)}").write_text(text)
    result = fleetfix("triage", received, "--format", "json")
    assert result.exit_code == 1, result.output
    (crash,) = json.loads(result.stdout)["crashes"]
    assert (crash["host"], crash["implicated_module"], crash["time"]) == (
        "10.0.0.7",
        "lpfc",
        "2026-11-25T01:12:03.123456+00:00",
    )


def received_lines(text: str, at: str) -> str:
    return "".join(f"{at} {line}\n" for line in text.splitlines())


def test_the_receivers_logs_are_brought_into_the_store_and_given_to_their_host(
    tmp_path: Path, state: Path, corpus_dir: Path
) -> None:
    received = state / "netconsole"  # where `fleetfix listen` writes by default
    received.mkdir(parents=True)
    log = log_name("10.9.0.11", 6665)
    text = corpus(corpus_dir, "01_mpt3sas_refcount_uaf_warning.log")
    (received / log).write_text(received_lines(text, "2026-11-27T00:42:10.000000+00:00"))
    event = ListenEvent("2026-11-27T00:42:10.000000+00:00", "10.9.0.11:6665", "refcount_t", "warning", log)
    (received / "events.jsonl").write_text(event.to_json() + "\n")
    host = state / "crashes" / "db04"
    host.mkdir(parents=True)
    (host / "jobs.json").write_text(json.dumps({"addresses": ["10.9.0.11"], "scheduled_jobs": [BACKUP_JOB]}))
    result = fleetfix("triage", "--format", "json")
    assert result.exit_code == 1, result.output
    (crash,) = json.loads(result.stdout)["crashes"]
    assert (crash["host"], crash["time"]) == ("db04", "2026-11-27T00:42:10+00:00")
    assert crash["time_basis"] == "log prefix"
    assert crash["source"] == str(state / "crashes" / "netconsole" / log)

    with (received / log).open("a") as handle:  # the receiver appends the next boot's crash
        handle.write(received_lines(restamped(text, 86400.0), "2026-11-28T01:05:00.000000+00:00"))
    document = json.loads(fleetfix("triage", "--format", "json").stdout)
    assert [c["time"] for c in document["crashes"]] == [
        "2026-11-27T00:42:10+00:00",
        "2026-11-28T01:05:00+00:00",
    ]
    assert (state / "crashes" / "netconsole" / log).read_text() == (received / log).read_text()
    assert sync_netconsole(received, state / "crashes") == 0  # up to date: nothing copied

    elsewhere = tmp_path / "loghost"
    elsewhere.mkdir()
    (elsewhere / log).write_text((received / log).read_text()[:100])  # rotated: shorter than the copy
    assert sync_netconsole(elsewhere, state / "crashes") == 1
    assert (state / "crashes" / "netconsole" / log).read_text() == (elsewhere / log).read_text()


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--run-length", "backup"], r"--run-length: expected JOB=DURATION, got 'backup'", 2),
        (
            ["--run-length", f"{BACKUP}=3 hours please"],
            r"--run-length /usr/local/sbin/nightly-backup: expected a",
            2,
        ),
        (["--default-run-length", "0h"], r"--default-run-length: a run length must be longer than zero", 2),
        (["missing.log"], r"missing\.log: no such file or directory", 3),
    ],
)
def test_bad_options_and_paths_are_one_line_errors(
    state: Path, store: Path, args: list[str], message: str, code: int
) -> None:
    """A bad option value is a usage error (2); a file that cannot be read is bad input (3)."""
    result = fleetfix("triage", *args)
    assert result.exit_code == code
    assert re.search(message, result.stderr) and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_a_broken_jobs_file_or_audit_report_is_bad_input(state: Path, store: Path) -> None:
    (store / "db02" / "jobs.json").write_text('{"timezone": "Etc/UTC", "scheduled_jobs": {"kind": "cron"}}')
    result = fleetfix("triage")
    assert result.exit_code == 3
    assert "db02/jobs.json: scheduled_jobs: expected a list, got dict" in result.stderr
    (store / "db02" / "jobs.json").write_text('{"timezone": "Etc/UTC", "scheduled_jobs": []}')
    (state / "audit").mkdir()
    (state / "audit" / "latest.json").write_text('{"hosts": [')
    result = fleetfix("triage")
    assert result.exit_code == 3 and "latest.json:1: invalid JSON" in result.stderr
    (state / "audit" / "latest.json").write_text('{"hosts": [{"host": "db01"}]}')
    assert "latest.json: hosts[0]: expected an object with host and modules" in fleetfix("triage").stderr


def test_durations() -> None:
    assert parse_duration("1h30m", "x") == parse_duration("90 min", "x") == timedelta(minutes=90)
    assert parse_duration("2d", "x") == timedelta(days=2) and parse_duration("45s", "x") == timedelta(
        seconds=45
    )
    assert parse_run_lengths(["/usr/bin/x --mode=full=2h"]) == {"/usr/bin/x --mode=full": timedelta(hours=2)}


# --- collect: what a host's answer becomes in jobs.json ---------------------------------------------------

# `LC_ALL=C TZ=:/usr/share/zoneinfo/Europe/Berlin systemd-analyze calendar --iterations=2
#   --base-time=@1774828800 '*-*-* 01:00' 'Mon *-*-* 01:00:00 UTC'` (systemd 252): the second expression
# is already in normal form, so systemd prints no "Original form:" for it.
ANALYZE = """\
  Original form: *-*-* 01:00
Normalized form: *-*-* 01:00:00
    Next elapse: Tue 2026-03-31 01:00:00 CEST
       (in UTC): Mon 2026-03-30 23:00:00 UTC
       From now: 7 months 26 days ago
       Iter. #2: Wed 2026-04-01 01:00:00 CEST
       (in UTC): Tue 2026-03-31 23:00:00 UTC
       From now: 7 months 25 days ago

Normalized form: Mon *-*-* 01:00:00 UTC
    Next elapse: Mon 2026-03-30 03:00:00 CEST
       (in UTC): Mon 2026-03-30 01:00:00 UTC
       From now: 7 months 27 days ago
       Iter. #2: Mon 2026-04-06 03:00:00 CEST
       (in UTC): Mon 2026-04-06 01:00:00 UTC
       From now: 7 months 20 days ago
"""


def test_the_zone_comes_from_the_localtime_link_else_etc_timezone() -> None:
    assert zone_name("../usr/share/zoneinfo/Europe/Berlin", "") == "Europe/Berlin"
    assert zone_name("/usr/share/zoneinfo/posix/America/New_York", "Etc/UTC") == "America/New_York"
    assert zone_name("", "Asia/Tokyo\n") == "Asia/Tokyo"
    assert zone_name("", "") is None


def test_a_hosts_answer_becomes_its_jobs_file(tmp_path: Path) -> None:
    facts = json.loads((REPO / "tests" / "data" / "facts" / "db01.json").read_text())
    expressions = ["*-*-* 01:00", "Mon *-*-* 01:00:00 UTC"]
    record = {
        "localtime_link": "/usr/share/zoneinfo/Europe/Berlin",
        "timezone_file": "",
        "address": "10.0.0.5",
        "calendar": ANALYZE,
        "calendar_expressions": expressions,
        "calendar_error": "",
    }
    result = HostResult("db01", "ok", "", {"fleetfix": facts, "fleetfix_collect": record}, ())
    document, notes = schedule_record(result)
    assert notes == ()
    assert document["timezone"] == "Europe/Berlin" and "10.0.0.5" in document["addresses"]
    assert document["scheduled_jobs"] == facts["scheduled_jobs"]
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps(document))
    assert set(read_jobs(path, "db01").analyzed) == set(expressions)

    broken = {
        "localtime_link": "/usr/share/zoneinfo/Mars/Olympus",
        "calendar": "",
        "calendar_error": "Failed",
    }
    odd = HostResult("db01", "ok", "", {"fleetfix": facts, "fleetfix_collect": record | broken}, ())
    document, notes = schedule_record(odd)
    assert document["timezone"] is None and document["systemd_analyze"] is None
    assert notes == (
        "unknown time zone 'Mars/Olympus': its times are taken as UTC",
        "systemd-analyze calendar: Failed",
    )


def test_a_dump_directory_several_hosts_claim_is_a_note_naming_them(tmp_path: Path) -> None:
    facts = json.loads((REPO / "tests" / "data" / "facts" / "db01.json").read_text())
    shared = [
        {"path": "/var/crash/fleet/172.17.0.1-202612060412", "server": "dumps01", "hosts": ["db01", "db02"]},
        "not a record",
    ]
    result = HostResult("db01", "ok", "", {"fleetfix": facts, "fleetfix_collect_shared_dumps": shared}, ())
    assert host_collected(result, tmp_path).notes == (
        "not fetched: dumps01:/var/crash/fleet/172.17.0.1-202612060412 is named by a tag db01, db02 all carry"
        " (set HOSTTAG=hostname)",
    )
