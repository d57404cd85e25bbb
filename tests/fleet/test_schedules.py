"""Jobs as they really run, read from lab hosts: Debian's /etc/crontab run-parts lines on one host, EL's
anacron set-up on the other; `fleetfix collect` stores them and correlation names the scripts by window."""

from __future__ import annotations

import json
import shlex
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fleetfix.lab import Lab
from fleetfix.state.crash_store import read_jobs
from fleetfix.triage.correlate.jobs import correlate
from tests.support import REPO
from tests.support.cli import fleetfix

pytestmark = pytest.mark.fleet

SCHEDULES = REPO / "tests" / "data" / "schedules"
SCRIPT = "#!/bin/sh\n/usr/local/bin/backup-all\n"


def put(lab: Lab, host: str, path: str, text: str, mode: str = "644") -> None:
    target, parent = shlex.quote(path), shlex.quote(str(Path(path).parent))
    command = f"mkdir -p {parent} && printf %s {shlex.quote(text)} > {target} && chmod {mode} {target}"
    done = lab.ssh(host, command)
    assert done.returncode == 0, done.stderr


def test_run_parts_and_anacron_scripts_are_collected_and_correlated_by_window(
    make_lab, tmp_path: Path
) -> None:
    lab = make_lab("seed", hosts=["app01", "app02"], name="tr-sched")
    debian, el = "app01", "app02"
    lab.ssh(debian, "rm -f /usr/sbin/anacron /etc/anacrontab")
    put(lab, debian, "/etc/crontab", (SCHEDULES / "debian12/etc/crontab").read_text())
    put(lab, debian, "/etc/cron.daily/backup", SCRIPT, "755")
    put(lab, debian, "/etc/cron.daily/backup.sh", SCRIPT, "755")  # a dot: Debian's run-parts skips it
    for name in ("anacrontab", "cron.d/0hourly"):
        put(lab, el, f"/etc/{name}", (SCHEDULES / "el9/etc" / name).read_text())
    put(lab, el, "/etc/cron.hourly/0anacron", "#!/bin/sh\n/usr/sbin/anacron -s\n", "755")
    put(lab, el, "/usr/sbin/anacron", "#!/bin/sh\n", "755")
    put(lab, el, "/etc/cron.daily/backup", SCRIPT, "755")
    put(lab, el, "/var/spool/anacron/cron.weekly", "20261129\n")

    state = tmp_path / "state"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLEETFIX_STATE_DIR", str(state))
        collected = fleetfix("collect", "-i", lab.inventory_path, "--format", "json")
    assert collected.exit_code == 0, collected.output

    stored = {h: json.loads((state / "crashes" / h / "jobs.json").read_text()) for h in (debian, el)}
    daily = next(d for d in stored[debian]["run_parts"]["directories"] if d["path"] == "/etc/cron.daily")
    assert stored[debian]["run_parts"]["flavour"] == "debianutils"
    assert "backup" in daily["scripts"] and "backup.sh" in daily["passed_over"]
    table = stored[el]["anacron"]["anacrontab"]
    assert stored[el]["anacron"]["installed"] and (table["random_delay"], table["start_hours_range"]) == (
        "45",
        "3-22",
    )
    assert table["jobs"][1]["last_run"] == "20261129"

    hosts = {h: read_jobs(state / "crashes" / h / "jobs.json", h) for h in (debian, el)}
    day = datetime(2026, 11, 2, tzinfo=hosts[debian].zone)
    crashes = [(debian, day + timedelta(days=2 * i, hours=6, minutes=27 + i)) for i in range(4)]
    crashes += [(el, day + timedelta(days=2 * i + 1, hours=3, minutes=10 + 10 * i)) for i in range(4)]
    found = correlate(crashes, hosts, configured={"/etc/cron.daily/backup": timedelta(minutes=10)})
    by_schedule = {(j.job, j.schedule.split(":")[0]): j for j in found.jobs}
    at_0625 = by_schedule[("/etc/cron.daily/backup", "cron `25 6 * * *`")]
    assert at_0625.hosts == (debian,) and at_0625.hits == 4
    anacron = by_schedule[("/etc/cron.daily/backup", "anacron cron.daily")]
    assert anacron.hosts == (el,) and anacron.hits == 4  # 03:10 to 03:40, inside 03:06 + 45 min + 10 min
    assert not any(j.job.endswith("backup.sh") for j in found.jobs)
