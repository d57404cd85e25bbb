"""Jobs as they really run: run-parts directories and anacron jobs, on Debian 12 and EL 9 defaults.

The hosts are tests/data/schedules/{debian12,el9}: real default /etc/crontab, /etc/anacrontab and
/etc/cron.d/0hourly (sources and the expected windows, written first, in tests/data/schedules/README.md),
read by the facts module's own readers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from fleetfix.errors import InputError
from fleetfix.facts.history import Anacron, RunParts, ScheduledJob
from fleetfix.state.crash_store import read_jobs
from fleetfix.triage.correlate.job_schedule import AnacronSchedule, HostJobs
from fleetfix.triage.correlate.jobs import correlate
from fleetfix.triage.correlate.run_parts import Placed, Unplaced, host_schedules, runs_anacron
from tests.support import REPO, collection_plugin

ff = collection_plugin("modules.fleetfix_facts")
SCHEDULES = REPO / "tests" / "data" / "schedules"


def read_tree(tree: Path) -> dict[str, Any]:
    host = ff.Host(str(tree))
    jobs = ff.read_scheduled_jobs(host)
    anacron = ff.read_anacron(host)
    return {"scheduled_jobs": jobs, "anacron": anacron, "run_parts": ff.read_run_parts(host, jobs, anacron)}


def host_of(facts: dict[str, Any], name: str = "h1") -> HostJobs:
    return HostJobs(
        name,
        tuple(msgspec.convert(j, ScheduledJob) for j in facts["scheduled_jobs"]),
        anacron=msgspec.convert(facts["anacron"], Anacron),
        run_parts=msgspec.convert(facts["run_parts"], RunParts),
    )


def placed(host: HostJobs) -> dict[str, Placed]:
    return {p.job.command or "": p for p in host_schedules(host) if isinstance(p, Placed)}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- what the facts module lists -------------------------------------------------------------------------


def test_debian_run_parts_runs_only_plain_names() -> None:
    facts = read_tree(SCHEDULES / "debian12")
    run_parts = msgspec.convert(facts["run_parts"], RunParts)
    assert run_parts.flavour == "debianutils"
    daily = run_parts.directory("/etc/cron.daily")
    assert daily is not None and daily.scripts == ("backup", "dpkg")
    assert daily.passed_over == (".placeholder", "backup.sh", "notes")  # a dot in the name; not executable
    assert facts["anacron"] == {"installed": False, "anacrontab": None}


def test_el_run_parts_skips_backups_and_honours_jobs_deny() -> None:
    facts = read_tree(SCHEDULES / "el9")
    run_parts = msgspec.convert(facts["run_parts"], RunParts)
    assert run_parts.flavour == "crontabs"
    assert run_parts.directory("/etc/cron.daily").scripts == ("backup.sh", "logrotate")  # type: ignore[union-attr]
    assert run_parts.directory("/etc/cron.daily").passed_over == ("backup.sh.rpmsave",)  # type: ignore[union-attr]
    assert run_parts.directory("/etc/cron.weekly").scripts == ("report",)  # type: ignore[union-attr]
    assert run_parts.directory("/etc/cron.hourly").scripts == ("0anacron",)  # type: ignore[union-attr]
    table = facts["anacron"]["anacrontab"]
    assert facts["anacron"]["installed"] is True
    assert (table["random_delay"], table["start_hours_range"]) == ("45", "3-22")
    assert [(j["period"], j["delay"], j["identifier"], j["last_run"]) for j in table["jobs"]] == [
        ("1", "5", "cron.daily", "20261205"),
        ("7", "25", "cron.weekly", "20261129"),
        ("@monthly", "45", "cron.monthly", "20261201"),
    ]
    assert table["jobs"][0]["command"] == "nice run-parts /etc/cron.daily"


# --- the windows -----------------------------------------------------------------------------------------


def test_debian_daily_scripts_start_at_0625() -> None:
    jobs = placed(host_of(read_tree(SCHEDULES / "debian12")))
    assert "/etc/cron.daily/backup.sh" not in jobs
    backup = jobs["/etc/cron.daily/backup"]
    assert (backup.job.source, backup.job.schedule) == ("/etc/crontab", "25 6 * * *")
    assert backup.schedule.last_start(at("2026-12-05T07:00")) == at("2026-12-05T06:25")
    assert backup.schedule.spread == timedelta(0)
    assert jobs["/etc/cron.daily/dpkg"].job.schedule == "25 6 * * *"


def test_debian_with_anacron_installed_runs_nothing_from_the_crontab_lines() -> None:
    facts = read_tree(SCHEDULES / "debian12")
    facts["anacron"] = {"installed": True, "anacrontab": None}
    assert not any(c.startswith("/etc/cron.daily/") for c in placed(host_of(facts)))


def test_el_daily_scripts_start_between_0306_and_0351() -> None:
    jobs = placed(host_of(read_tree(SCHEDULES / "el9")))
    backup = jobs["/etc/cron.daily/backup.sh"]
    assert "/etc/cron.daily/backup.sh.rpmsave" not in jobs
    assert isinstance(backup.schedule, AnacronSchedule)
    assert backup.job.source == "/etc/anacrontab"
    assert backup.schedule.last_start(at("2026-12-05T03:40")) == at("2026-12-05T03:06")
    assert backup.schedule.last_start(at("2026-12-05T03:05")) == at("2026-12-04T03:06")
    assert backup.schedule.spread == timedelta(minutes=45)
    starts = list(backup.schedule.starts(at("2026-12-01T00:00"), at("2026-12-03T23:59")))
    assert starts == [at("2026-12-01T03:06"), at("2026-12-02T03:06"), at("2026-12-03T03:06")]
    assert "hours 3-22" in backup.schedule.description and "0-45 min" in backup.schedule.description


def test_el_weekly_scripts_follow_their_last_run_and_monthly_the_first() -> None:
    host = host_of(read_tree(SCHEDULES / "el9"))
    report = placed(host)["/etc/cron.weekly/report"]
    assert "/etc/cron.weekly/unwanted" not in placed(host)
    assert report.schedule.last_start(at("2026-12-10T12:00")) == at("2026-12-06T03:26")  # 2026-11-29 + 7
    assert report.schedule.spread == timedelta(minutes=45)


def test_el_monthly_job_on_the_first_of_the_month() -> None:
    facts = read_tree(SCHEDULES / "el9")
    facts["run_parts"]["directories"].append(
        {"path": "/etc/cron.monthly", "exists": True, "scripts": ["scrub"], "passed_over": []}
    )
    facts["run_parts"]["directories"] = [
        d for d in facts["run_parts"]["directories"] if d["path"] != "/etc/cron.monthly" or d["scripts"]
    ]
    scrub = placed(host_of(facts))["/etc/cron.monthly/scrub"]
    assert scrub.schedule.last_start(at("2026-12-20T00:00")) == at("2026-12-01T03:46")


def test_anacron_settings_that_cannot_be_read_name_the_file() -> None:
    facts = read_tree(SCHEDULES / "el9")
    facts["anacron"]["anacrontab"]["start_hours_range"] = "22-3"
    facts["anacron"]["anacrontab"]["jobs"][1]["last_run"] = None
    reasons = {u.label: u.reason for u in host_schedules(host_of(facts)) if isinstance(u, Unplaced)}
    assert reasons["/etc/cron.daily/backup.sh"] == (
        "/etc/anacrontab: START_HOURS_RANGE: expected hours like 3-22, got '22-3'"
    )
    facts["anacron"]["anacrontab"]["start_hours_range"] = "3-22"
    reasons = {u.label: u.reason for u in host_schedules(host_of(facts)) if isinstance(u, Unplaced)}
    assert "/var/spool/anacron/cron.weekly was not read" in reasons["/etc/cron.weekly/report"]


def test_anacron_without_anything_starting_it_is_unplaced() -> None:
    facts = read_tree(SCHEDULES / "el9")
    facts["scheduled_jobs"] = []
    reasons = {u.label: u.reason for u in host_schedules(host_of(facts)) if isinstance(u, Unplaced)}
    assert "no cron job or timer on this host starts anacron" in reasons["/etc/cron.daily/backup.sh"]


@pytest.mark.parametrize(
    ("command", "starts"),
    [
        ("/usr/sbin/anacron -s", True),
        ("/usr/sbin/anacron -d -q $ANACRON_ARGS", True),
        ("test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }", False),
        ("run-parts /etc/cron.hourly", False),
    ],
)
def test_what_starts_anacron(command: str, starts: bool) -> None:
    assert runs_anacron(command) is starts


def test_facts_without_run_parts_keep_the_line() -> None:
    facts = read_tree(SCHEDULES / "debian12")
    host = HostJobs("h1", tuple(msgspec.convert(j, ScheduledJob) for j in facts["scheduled_jobs"]))
    assert "cd / && run-parts --report /etc/cron.hourly" in placed(host)


# --- correlation by window -------------------------------------------------------------------------------


def test_crashes_inside_the_anacron_window_name_the_script() -> None:
    host = host_of(read_tree(SCHEDULES / "el9"), "app02")
    minutes = (8, 20, 34, 47, 50)  # after 03:00, all inside 03:06 + 45 min + the run
    crashes = [
        ("app02", at("2026-11-02T03:00") + timedelta(days=3 * i, minutes=m)) for i, m in enumerate(minutes)
    ]
    found = correlate(
        crashes, {"app02": host}, configured={"/etc/cron.daily/backup.sh": timedelta(minutes=5)}
    )
    top = found.jobs[0]
    assert top.job == "/etc/cron.daily/backup.sh" and top.hits == 5
    assert top.schedule.startswith("anacron cron.daily")
    # with the window's width ignored, the crash at 03:50 (44 min after the earliest start) would miss
    assert all(run.inside for run in top.runs)


def test_a_crash_at_debians_0625_is_outside_the_el_window() -> None:
    host = host_of(read_tree(SCHEDULES / "el9"), "app02")
    found = correlate([("app02", at("2026-12-03T06:25"))], {"app02": host})
    backup = next(j for j in found.jobs if j.job == "/etc/cron.daily/backup.sh")
    assert backup.hits == 0


# --- the crash store's jobs.json ------------------------------------------------------------------------


def test_jobs_file_keeps_anacron_and_run_parts(tmp_path: Path) -> None:
    facts = read_tree(SCHEDULES / "el9")
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps({"timezone": "UTC", **facts}))
    host = read_jobs(path, "app02")
    assert host.anacron is not None and host.anacron.installed
    assert "/etc/cron.daily/backup.sh" in placed(host)
    facts["run_parts"]["directories"][0]["scripts"] = "backup.sh"
    path.write_text(json.dumps(facts))
    with pytest.raises(InputError, match=r"jobs\.json: run_parts\.directories\[0\]\.scripts: "):
        read_jobs(path, "app02")
