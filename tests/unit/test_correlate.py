"""Crash times against cron jobs and timers: a realistic synthetic history, zones, timers, the probability."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleetfix.facts.history import ScheduledJob
from fleetfix.soak.profiles import BUILTIN_PROFILES
from fleetfix.triage.calendar.analyze import parse_analyze_calendar
from fleetfix.triage.correlate.chance import coverage, p_at_least
from fleetfix.triage.correlate.job_schedule import CronSchedule, HostJobs, schedule_of
from fleetfix.triage.correlate.jobs import correlate
from fleetfix.triage.correlate.repro import suggest_repro
from fleetfix.triage.correlate.run_length import run_length

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
BACKUP = "/usr/local/bin/backup.sh"


def cron(schedule: str, command: str, source: str = "/etc/cron.d/backup") -> ScheduledJob:
    return ScheduledJob(kind="cron", source=source, user="root", command=command, schedule=schedule)


def timer(on_calendar: str, command: str, unit: str = "backup.service", enabled: bool = True) -> ScheduledJob:
    source = f"/etc/systemd/system/{unit.replace('.service', '.timer')}"
    return ScheduledJob(
        kind="timer", source=source, command=command, unit=unit, on_calendar=(on_calendar,), enabled=enabled
    )


FLEET_JOBS = (
    cron("0 1 * * *", BACKUP),
    cron("25 6 * * *", "test -x /usr/sbin/anacron || run-parts --report /etc/cron.daily", "/etc/crontab"),
    cron("*/10 * * * *", "/usr/lib/sysstat/debian-sa1 1 1", "/etc/cron.d/sysstat"),
    timer("Mon *-*-* 00:00:00", "/sbin/fstrim --listed-in /etc/fstab", "fstrim.service"),
)


def history() -> list[tuple[str, datetime]]:
    """Twelve crashes over two months on six hosts: eleven during the 01:00 backup (3 h), one at noon."""
    into_backup = [  # (host, day, hours and minutes after 01:00 local time)
        ("db01", 3, (0, 42)),
        ("db02", 7, (2, 5)),
        ("db03", 11, (1, 17)),
        ("db01", 16, (0, 9)),
        ("db04", 20, (2, 51)),
        ("db05", 24, (1, 33)),
        ("db02", 29, (0, 58)),
        ("db06", 35, (2, 22)),
        ("db03", 41, (1, 4)),
        ("db05", 47, (0, 37)),
        ("db04", 55, (2, 40)),
    ]
    crashes = [
        (host, datetime(2026, 9, 1, 1, tzinfo=BERLIN) + timedelta(days=day, hours=h, minutes=m))
        for host, day, (h, m) in into_backup
    ]
    crashes.append(("db06", datetime(2026, 10, 20, 13, 12, tzinfo=BERLIN)))
    return [(h, t.astimezone(UTC)) for h, t in crashes]


def fleet(zone=BERLIN, jobs=FLEET_JOBS) -> dict[str, HostJobs]:
    return {f"db0{i}": HostJobs(f"db0{i}", jobs, zone) for i in range(1, 7)}


def test_eleven_of_twelve_crashes_in_the_nightly_backup() -> None:
    found = correlate(history(), fleet(), configured={BACKUP: timedelta(hours=3)})
    top = found.jobs[0]
    assert (top.job, top.hits, top.crashes) == (BACKUP, 11, 12)
    assert top.coverage == pytest.approx(3 / 24, abs=0.002)
    expected = sum(math.comb(12, k) * (1 / 8) ** k * (7 / 8) ** (12 - k) for k in (11, 12))
    assert top.p_value == pytest.approx(expected, rel=0.05)
    assert top.p_value_all_jobs == pytest.approx(min(1.0, top.p_value * len(found.jobs)))
    assert top.sentence() == (
        "11 of 12 crashes fell inside the run of /usr/local/bin/backup.sh (cron `0 1 * * *`, about 3 h; "
        "p = 1.2e-09 by chance)"
    )
    assert top.repro.profiles == ("backup-seqread", "thrash")
    assert [r.inside for r in top.runs].count(False) == 1
    outside = next(r for r in top.runs if not r.inside)
    assert outside.run_start == datetime(2026, 10, 20, 1, tzinfo=BERLIN)
    others = {j.job: j for j in found.jobs[1:]}
    assert others["/usr/lib/sysstat/debian-sa1 1 1"].hits == 12  # a 1 h guess every 10 min covers all time
    assert others["/usr/lib/sysstat/debian-sa1 1 1"].p_value == pytest.approx(1.0)
    assert others["/usr/lib/sysstat/debian-sa1 1 1"].run_length.describe() == "about 1 h, a guess"
    assert others["/sbin/fstrim --listed-in /etc/fstab"].hits <= 2


def test_cron_runs_in_the_host_zone() -> None:
    crashes = [("ny1", datetime(2026, 3, d, 6, 30, tzinfo=UTC)) for d in (2, 3, 4)]  # 01:30 in New York
    nightly = (cron("0 1 * * *", BACKUP),)
    in_new_york = correlate(crashes, {"ny1": HostJobs("ny1", nightly, NEW_YORK)})
    in_utc = correlate(crashes, {"ny1": HostJobs("ny1", nightly)})
    assert in_new_york.jobs[0].hits == 3
    assert in_utc.jobs[0].hits == 0
    assert in_utc.jobs[0].p_value == 1.0


def test_a_timer_correlates_like_cron_and_only_counts_its_own_hosts() -> None:
    hosts = fleet()
    hosts["db06"] = HostJobs("db06", (timer("*-*-* 01:00:00", BACKUP),), BERLIN)
    found = correlate(history(), hosts, configured={BACKUP: timedelta(hours=3)})
    by_kind = {(j.kind, j.job): j for j in found.jobs}
    cron_backup, timer_backup = by_kind[("cron", BACKUP)], by_kind[("timer", BACKUP)]
    assert (cron_backup.hits, cron_backup.hosts) == (10, ("db01", "db02", "db03", "db04", "db05"))
    assert (timer_backup.hits, timer_backup.hosts) == (1, ("db06",))
    assert timer_backup.schedule == "timer `*-*-* 01:00:00`"
    assert "scheduled on 1 of the 6 crashing hosts" in timer_backup.notes
    assert cron_backup.p_value < 1e-6 < timer_backup.p_value


def test_the_hosts_own_systemd_analyze_answer_sets_the_starts() -> None:
    output = """\
  Original form: *-*-* 01:00:00
Normalized form: *-*-* 01:00:00
    Next elapse: Tue 2026-11-24 01:07:13 UTC
       Iter. #2: Wed 2026-11-25 01:03:40 UTC
       Iter. #3: Thu 2026-11-26 01:09:02 UTC
"""
    analyzed = {a.original: a for a in parse_analyze_calendar(output, "out")}
    host = HostJobs("db01", (timer("*-*-* 01:00:00", BACKUP),), UTC, analyzed)
    schedule = schedule_of(host.jobs[0], host)
    assert schedule.last_start(datetime(2026, 11, 25, 2, tzinfo=UTC)) == datetime(
        2026, 11, 25, 1, 3, 40, tzinfo=UTC
    )
    assert schedule.last_start(datetime(2026, 11, 20, 2, tzinfo=UTC)) == datetime(2026, 11, 20, 1, tzinfo=UTC)
    assert schedule.last_start(datetime(2026, 11, 28, 2, tzinfo=UTC)) == datetime(2026, 11, 28, 1, tzinfo=UTC)
    found = correlate([("db01", datetime(2026, 11, 25, 1, 2, tzinfo=UTC))], {"db01": host})
    assert found.jobs[0].hits == 0  # the run began at 01:03:40 that night
    assert any("host systemd" in note for note in found.jobs[0].notes)


def test_run_length_from_config_then_logs_then_a_guess() -> None:
    job = cron("0 1 * * *", BACKUP)
    runs = [timedelta(minutes=m) for m in (150, 170, 160, 155, 200, 165, 158, 162, 171, 149)]
    assert run_length(job, {BACKUP: timedelta(hours=3)}, {BACKUP: runs}).basis == "config"
    logged = run_length(job, {}, {"/etc/cron.d/backup": runs})
    assert (logged.duration, logged.basis) == (timedelta(minutes=171), "logs")
    assert logged.describe() == "about 3 h from 10 logged runs"
    guess = run_length(job, {}, {})
    assert (guess.duration, guess.describe()) == (timedelta(hours=1), "about 1 h, a guess")


def test_coverage_is_the_share_of_time_inside_runs() -> None:
    begin, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 29, tzinfo=UTC)
    assert coverage(CronSchedule("0 1 * * *", UTC), timedelta(hours=3), begin, end) == pytest.approx(1 / 8)
    assert coverage(CronSchedule("0 * * * *", UTC), timedelta(hours=3), begin, end) == pytest.approx(1.0)
    weekly = CronSchedule("0 0 * * 1", UTC)
    assert coverage(weekly, timedelta(hours=12), begin, end) == pytest.approx(0.5 / 7)


def test_probability_is_binomial_when_every_host_covers_the_same_share() -> None:
    for n, k, p in [(12, 11, 0.125), (20, 3, 0.1), (5, 0, 0.3), (7, 7, 0.5)]:
        binomial = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))
        assert p_at_least(k, [p] * n) == pytest.approx(binomial, rel=1e-9)
    assert p_at_least(2, [0.0, 0.0, 0.5]) == 0.0
    assert p_at_least(1, [0.5, 0.0]) == pytest.approx(0.5)


def test_unplaceable_jobs_are_skipped_with_the_reason() -> None:
    jobs = (
        cron("@reboot", "/usr/local/bin/warmup.sh"),
        cron("61 * * * *", "/bin/true"),
        timer("*-*-* 25:00", "/bin/false", "broken.service"),
        timer("daily", "/usr/bin/updatedb", "plocate-updatedb.service", enabled=False),
        ScheduledJob(
            kind="timer",
            source="/lib/systemd/system/apt.timer",
            unit="apt.service",
            monotonic=("OnBootSec=1h",),
        ),
    )
    found = correlate(
        [("db01", datetime(2026, 1, 1, tzinfo=UTC)), ("db01", None)], {"db01": HostJobs("db01", jobs)}
    )
    reasons = {s.job: s.reason for s in found.skipped}
    assert "boot only" in reasons["/usr/local/bin/warmup.sh"]
    assert "invalid cron schedule" in reasons["/bin/true"]
    assert "invalid calendar expression" in reasons["/bin/false"]
    assert "disabled" in reasons["/usr/bin/updatedb"]
    assert "no OnCalendar" in reasons["apt.service"]
    assert (found.jobs, found.untimed) == ((), 1)


@pytest.mark.parametrize(
    ("command", "profiles"),
    [
        ("/usr/local/bin/backup.sh", ("backup-seqread", "thrash")),
        ("rsync -aH --delete /srv/ backup01:/srv/", ("backup-seqread", "thrash")),
        ("restic backup /var/lib/postgresql", ("backup-seqread", "thrash")),
        ("mysqldump --all-databases > /backup/all.sql", ("backup-seqread",)),
        ("/usr/share/mdadm/checkarray --cron --all --idle --quiet", ("backup-seqread",)),
        ("btrfs scrub start -B /", ("backup-seqread",)),
        ("/usr/bin/updatedb.plocate", ("thrash",)),
        ("/usr/sbin/logrotate /etc/logrotate.conf", ()),
        ("/usr/local/bin/start-stats.sh", ()),
    ],
)
def test_repro_follows_the_jobs_access_pattern(command: str, profiles: tuple[str, ...]) -> None:
    repro = suggest_repro(command)
    assert repro.profiles == profiles
    assert set(repro.profiles) <= set(BUILTIN_PROFILES)


def test_a_cron_date_that_never_comes_has_no_runs() -> None:
    host = HostJobs("db01", (cron("0 0 31 2 *", "/usr/local/bin/backup.sh"),))
    [job] = correlate([("db01", datetime(2026, 3, 1, tzinfo=UTC))], {"db01": host}).jobs
    assert (job.hits, job.coverage, job.p_value) == (0, 0.0, 1.0)
    assert job.runs[0].run_start is None
