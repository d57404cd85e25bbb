"""Real corpus oopses and variants of them, read from a crash store and plain logs, grouped across hosts."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fleetfix.advisories.database import Advisory, AdvisoryDB, Affected, Trigger, VersionRange
from fleetfix.errors import InputError
from fleetfix.listen.text import ListenEvent, log_name
from fleetfix.render.triage import COLUMNS, group_rows, host_rows, to_dict, to_json, to_markdown
from fleetfix.state.crash_store import Deduplicator, dump_time, read_jobs, read_paths, source_host
from fleetfix.triage.group import Crash, Tally, group_crashes
from fleetfix.triage.oops.find_all import Oops, iter_oopses, signature
from fleetfix.versions import DriverVersion
from tests.support import strip_provenance

BACKUP = "/usr/local/bin/backup.sh"
BERLIN = ZoneInfo("Europe/Berlin")


def corpus(corpus_dir: Path, name: str) -> str:
    return strip_provenance((corpus_dir / "oopses" / name).read_text())


def restamped(text: str, offset: float) -> str:
    return re.sub(r"\[ *(\d+\.\d+)\]", lambda m: f"[{float(m.group(1)) + offset:12.6f}]", text)


def prefixed(text: str, prefix: str) -> str:
    return "".join(f"{prefix}{line}\n" for line in text.splitlines())


@pytest.fixture
def store(tmp_path: Path, corpus_dir: Path) -> Path:
    """db01 (Berlin, nightly backup): kdump and netconsole saw one crash; netconsole alone a second.
    db02 (EL kdump layout, UTC): the mpt3sas crash built with a clone suffix, and the lpfc probe oops."""
    mpt3sas = corpus(corpus_dir, "01_mpt3sas_refcount_uaf_warning.log")
    root = tmp_path / "store"
    dump = root / "db01" / "crash" / "202611250112"
    dump.mkdir(parents=True)
    (dump / "dmesg.202611250112").write_text(mpt3sas)
    (root / "db01" / "jobs.json").write_text(
        json.dumps(
            {
                "timezone": "Europe/Berlin",
                "addresses": ["10.0.0.5"],
                "scheduled_jobs": [
                    {"kind": "cron", "source": "/etc/cron.d/backup", "user": "root", "schedule": "0 1 * * *",
                     "command": BACKUP},
                    {"kind": "timer", "source": "/lib/systemd/system/fstrim.timer", "unit": "fstrim.service",
                     "on_calendar": ["weekly"], "command": "/sbin/fstrim -av", "enabled": True},
                ],
            }
        )
    )  # fmt: skip
    netconsole = root / "netconsole"
    netconsole.mkdir()
    log = log_name("10.0.0.5", 6665)
    (netconsole / log).write_text(
        prefixed(mpt3sas, "2026-11-25T00:11:05.250000+00:00 ")
        + prefixed(restamped(mpt3sas, 260000.0), "2026-11-28T01:30:00.000000+00:00 ")
    )
    first = mpt3sas.splitlines()[2]
    event = ListenEvent("2026-11-25T00:11:05.250000+00:00", "10.0.0.5:6665", first, "warning", log)
    (netconsole / "events.jsonl").write_text(event.to_json() + '\n{"time": "2026-11-28T01:3')  # cut mid-write
    clone = restamped(mpt3sas, 3556.0).replace("_scsih_host_reset+", "_scsih_host_reset.isra.12+")
    el_dump = root / "db02" / "crash" / "127.0.0.1-2026-11-26-01:47:10"
    el_dump.mkdir(parents=True)
    (el_dump / "vmcore-dmesg.txt").write_text(clone)
    lpfc_dump = root / "db02" / "crash" / "202611300415"
    lpfc_dump.mkdir()
    (lpfc_dump / "dmesg.202611300415").write_text(corpus(corpus_dir, "03_lpfc_null_deref_probe.log"))
    return root


@pytest.fixture
def plain_logs(tmp_path: Path, corpus_dir: Path) -> list[Path]:
    """db03's /var/log/messages (syslog prefix, no year) and web01's bare dmesg (no wall clock at all)."""
    messages = tmp_path / "db03.log"
    mpt3sas = corpus(corpus_dir, "01_mpt3sas_refcount_uaf_warning.log")
    messages.write_text(prefixed(mpt3sas, "Nov 29 02:10:11 db03 kernel: "))
    stamp = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    os.utime(messages, (stamp, stamp))
    dmesg = tmp_path / "web01.log"
    dmesg.write_text(corpus(corpus_dir, "05_megaraid_sas_fortify_warning.log"))
    return [messages, dmesg]


def test_reading_a_store_and_plain_logs_places_each_crash_in_time(
    store: Path, plain_logs: list[Path]
) -> None:
    collected = read_paths([store, *plain_logs])
    found = sorted((c.host, c.oops.implicated_module, c.time, c.time_basis) for c in collected.crashes)
    assert found == sorted(
        [
            ("db01", "mpt3sas", datetime(2026, 11, 25, 0, 11, 5, 250000, tzinfo=UTC), "log prefix"),
            ("db01", "mpt3sas", datetime(2026, 11, 28, 1, 30, tzinfo=UTC), "log prefix"),
            # a dump's time is its log's last stamp: a report earlier in the log is placed back by the gap
            ("db02", "mpt3sas", datetime(2026, 11, 26, 1, 47, 10, tzinfo=UTC) - timedelta(seconds=0.000306),
             "dump directory"),
            ("db02", "lpfc", datetime(2026, 11, 30, 4, 15, tzinfo=UTC)
             - timedelta(seconds=490.332609 - 490.036661), "dump directory"),
            ("db03", "mpt3sas", datetime(2026, 11, 29, 2, 10, 11, tzinfo=UTC), "log prefix"),
            ("web01", "megaraid_sas", None, "unknown"),
        ]
    )  # fmt: skip
    assert collected.hosts["db01"].zone == BERLIN
    assert [j.command for j in collected.hosts["db01"].jobs] == [BACKUP, "/sbin/fstrim -av"]


def test_a_dump_directory_time_is_in_the_hosts_zone() -> None:
    assert dump_time("202611250112", BERLIN) == datetime(2026, 11, 25, 0, 12, tzinfo=UTC)
    assert dump_time("10.1.2.3-2026-11-26-01:47:10", UTC) == datetime(2026, 11, 26, 1, 47, 10, tzinfo=UTC)
    assert dump_time("202613250112", UTC) is None
    assert dump_time("latest", UTC) is None


def test_grouping_by_signature_across_hosts(store: Path, plain_logs: list[Path]) -> None:
    collected = read_paths([store, *plain_logs])
    groups = group_crashes(collected.crashes, jobs=collected.hosts, configured={BACKUP: timedelta(hours=3)})
    assert [(g.module, g.rip, len(g.crashes), g.hosts) for g in groups] == [
        ("mpt3sas", "refcount_warn_saturate", 4, ("db01", "db02", "db03")),
        ("lpfc", "lpfc_sli4_cleanup_poll_list", 1, ("db02",)),
        ("megaraid_sas", "megasas_prepare_secondRaid1_IO", 1, ("web01",)),
    ]
    mpt3sas = groups[0]
    assert mpt3sas.signature.startswith("mpt3sas|refcount_warn_saturate|_scsih_fw_event_cleanup_queue|")
    assert list(mpt3sas.times) == sorted(mpt3sas.times)
    backup = mpt3sas.correlations.jobs[0]
    assert (backup.job, backup.hits, backup.crashes, backup.hosts) == (BACKUP, 2, 4, ("db01",))
    assert backup.p_value == pytest.approx((1 / 8) ** 2, rel=1e-6)
    assert backup.sentence() == (
        "2 of 4 crashes fell inside the run of /usr/local/bin/backup.sh (cron `0 1 * * *`, about 3 h; "
        "p = 0.02 by chance)"
    )
    assert groups[2].correlations.untimed == 1


def _advisory(module: str, fixed: str) -> Advisory:
    return Advisory(
        id=f"TEST-{module}-1",
        module=module,
        vendor="Broadcom",
        title=f"{module} use-after-free in host reset",
        affected=Affected(driver=(VersionRange(fixed=DriverVersion(fixed)),)),
        fixed_in=DriverVersion(fixed),
        fault=("use_after_free",),
        trigger=Trigger("sg_reset during I/O"),
        severity="high",
        references=("https://example.org/advisory",),
    )


AUDIT = {
    "generated_at": "2026-12-01T08:00:00+00:00",
    "hosts": [
        {"host": "db01", "kernel": "5.14.0-70.13.1.el9_0.x86_64",
         "modules": [{"name": "mpt3sas", "version": "39.100.00.00", "srcversion": "9A1B2C3D4E5F60718293A4B",
                      "taint": ["O", "E"], "out_of_tree": True}]},
        {"host": "db02", "kernel": "5.14.0-70.13.1.el9_0.x86_64",
         "modules": [{"name": "mpt3sas", "version": "43.100.00.00", "srcversion": None, "taint": ["O", "E"],
                      "out_of_tree": True},
                     {"name": "lpfc", "version": "12.8.0.10", "srcversion": None, "taint": [],
                      "out_of_tree": False}]},
    ],
}  # fmt: skip


def test_groups_carry_the_audited_builds_and_matching_advisories(store: Path) -> None:
    collected = read_paths([store])
    db = AdvisoryDB([_advisory("mpt3sas", "40.00.00.00"), _advisory("lpfc", "12.8.0.5")])
    mpt3sas, lpfc = group_crashes(collected.crashes, audit=AUDIT, db=db, jobs=collected.hosts)
    assert [(b.host, b.version) for b in mpt3sas.loaded] == [
        ("db01", "39.100.00.00"),
        ("db02", "43.100.00.00"),
    ]
    [hit] = mpt3sas.advisories
    assert (hit.id, hit.hosts, hit.unaudited, hit.fixed_in) == (
        "TEST-mpt3sas-1",
        ("db01",),
        (),
        "40.00.00.00",
    )
    assert hit.why.startswith("db01: version 39.100.00.00 < fixed 40.00.00.00")
    assert lpfc.advisories == ()  # 12.8.0.10 is past the fix


def test_hosts_without_an_audited_version_are_named_apart(store: Path, plain_logs: list[Path]) -> None:
    collected = read_paths([store, plain_logs[0]])
    db = AdvisoryDB([_advisory("mpt3sas", "40.00.00.00")])
    [hit] = group_crashes(collected.crashes, audit=AUDIT, db=db)[0].advisories
    assert (hit.hosts, hit.unaudited) == (("db01",), ("db03",))


def test_the_triage_document(store: Path, plain_logs: list[Path]) -> None:
    collected = read_paths([store, *plain_logs])
    db = AdvisoryDB([_advisory("mpt3sas", "40.00.00.00")])
    groups = group_crashes(
        collected.crashes, audit=AUDIT, db=db, jobs=collected.hosts, configured={BACKUP: timedelta(hours=3)}
    )
    generated = datetime(2026, 12, 1, 9, tzinfo=UTC)
    document = json.loads(to_json(groups, generated))
    assert document == to_dict(groups, generated)
    assert document["summary"] == {
        "crashes": 6,
        "listed": 6,
        "groups": 3,
        "hosts": 4,
        "untimed": 1,
        "read": {},
    }
    assert (document["groups"][0]["count"], document["groups"][0]["listed_every"]) == (4, 1)
    assert document["groups"][0]["crashes_per_host"] == {"db01": 2, "db02": 1, "db03": 1}
    first = document["crashes"][document["groups"][0]["crashes"][0]]
    assert first["host"] == "db01"
    assert first["time"] == "2026-11-25T00:11:05.250000+00:00"
    assert (first["kind"], first["rip"], first["rip_module"], first["implicated_module"]) == (
        "warning",
        "refcount_warn_saturate",
        None,
        "mpt3sas",
    )
    assert first["taint"] == ["O", "E"]
    example = document["crashes"][document["groups"][0]["example"]]  # later crashes of a signature are brief
    assert example["modules_linked_in"][0] == {"name": "mpt3sas", "markers": "OE"}
    assert example["call_trace"][0] == {
        "function": "_scsih_fw_event_cleanup_queue",
        "offset": "0x1ce/0x200",
        "module": "mpt3sas",
        "reliable": True,
    }
    assert first["source"].endswith("10.0.0.5_6665.log")
    correlation = document["groups"][0]["correlations"][0]
    assert correlation["sentence"].startswith(
        "2 of 4 crashes fell inside the run of /usr/local/bin/backup.sh"
    )
    assert correlation["repro"]["profiles"] == ["backup-seqread", "thrash"]
    assert document["groups"][0]["advisories"][0]["unaudited_hosts"] == ["db03"]
    rows = group_rows(groups)
    assert len(astuple(rows[0])) == len(COLUMNS)
    assert (rows[0].module, rows[0].crashes, rows[0].hosts) == ("mpt3sas", "4", "3")
    assert rows[0].advisories == "TEST-mpt3sas-1"
    assert rows[0].correlation == "2/4 in /usr/local/bin/backup.sh (p = 0.02)"
    markdown = to_markdown(groups, generated)
    assert "**Job timing:** 2 of 4 crashes fell inside the run of /usr/local/bin/backup.sh" in markdown
    assert (
        "Suggested repro: fleetfix soak --module mpt3sas --profile backup-seqread, then --profile thrash"
        in markdown
    )
    assert "| web01 | unknown |" in markdown


def test_a_broken_jobs_file_names_itself(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.json"
    jobs.write_text('{"timezone": "Mars/Olympus", "scheduled_jobs": []}')
    with pytest.raises(InputError, match=r"jobs\.json: timezone: unknown time zone"):
        read_jobs(jobs, "db01")
    jobs.write_text('{"scheduled_jobs": [{"kind": "anacron", "source": "/etc/anacrontab"}]}')
    with pytest.raises(InputError, match=r"scheduled_jobs\[0\]\.kind"):
        read_jobs(jobs, "db01")
    jobs.write_text("{\n  not json")
    with pytest.raises(InputError, match=r"jobs\.json:2: invalid JSON"):
        read_jobs(jobs, "db01")
    with pytest.raises(InputError, match="no such file"):
        read_paths([tmp_path / "missing.log"])


def test_an_audit_report_of_the_wrong_shape_is_an_input_error(store: Path) -> None:
    crashes = read_paths([store]).crashes
    with pytest.raises(InputError, match=r"audit report: hosts\[0\]"):
        group_crashes(crashes, audit={"hosts": [{"name": "db01"}]})


def test_a_netconsole_log_is_given_to_its_host_by_sender_address() -> None:
    addresses = {"10.0.0.5": "db01", "fe80::1": "db09"}
    ipv6 = Path(log_name("fe80::1", 6665))
    assert source_host(ipv6, {ipv6.name: "fe80::1"}, addresses) == "db09"
    assert source_host(Path(log_name("10.0.0.5", 6665)), {}, addresses) == "db01"  # no events: the file name
    assert source_host(Path(log_name("10.0.0.7", 6665)), {}, addresses) == "10.0.0.7"


def _real_oops() -> Oops:
    """The qla2xxx GPF of a real mail (tests/data/oopses, its source in the file's header)."""
    text = strip_provenance(
        (Path(__file__).parents[1] / "data/oopses/11_qla2xxx_gpf_wrapped_taint.log").read_text()
    )
    [oops] = iter_oopses(text)
    return oops


def test_a_large_group_keeps_exact_counts_and_lists_a_bounded_sample() -> None:
    oops = _real_oops()
    brief = dataclasses.replace(oops, call_trace=(), modules_linked_in=())
    start = datetime(2026, 11, 1, tzinfo=UTC)
    tally = Tally(limit=8)
    for i in range(1000):  # read in time order except one late-read earliest crash; every 10th untimed
        when = None if i % 10 == 9 else start + timedelta(minutes=i)
        tally.add(Crash(f"db{i % 3:02d}", oops if i == 0 else brief, "kern.log", when, "log prefix"))
    earliest = Crash("db07", brief, "kern.log", start - timedelta(days=1), "log prefix")
    tally.add(earliest)
    [group] = group_crashes({"sig": tally})
    assert (group.total, group.untimed, group.sampled) == (1001, 100, True)
    assert group.per_host == {"db00": 334, "db01": 333, "db02": 333, "db07": 1}
    assert group.every == 128 and len(group.crashes) <= 8 + 3
    assert group.crashes[0] is earliest and group.times[-1] == start + timedelta(minutes=998)
    assert group.example.oops.call_trace  # the whole report of the first crash stays listed
    assert group.host_last["db07"] == earliest.time
    document = to_dict([group], start)
    assert (document["summary"]["crashes"], document["summary"]["untimed"]) == (1001, 100)
    assert document["groups"][0]["listed_every"] == 128
    assert "Of its 1,001 crashes, listing" in to_markdown([group], start)
    [row] = host_rows([group])[-1:]
    assert (row.host, row.crashes) == ("db07", 1)


def test_a_better_timed_copy_read_later_replaces_the_first(tmp_path: Path) -> None:
    oops = _real_oops()
    key = signature(oops)  # a brief copy is grouped by its whole report's signature
    untimed = Crash("db01", oops, "dmesg", None, "unknown", key)
    dated = Crash(
        "db01",
        dataclasses.replace(oops, call_trace=()),
        "syslog",
        datetime(2026, 11, 1, tzinfo=UTC),
        "log prefix",
        key,
    )
    dedup = Deduplicator(["db01", "db01"])
    dedup.add(untimed)
    dedup.add(dated)
    dedup.add(untimed)  # a third copy, worse than the kept one
    [group] = group_crashes(dedup.groups)
    assert (group.total, group.untimed, group.times) == (1, 0, (dated.time,))
    assert group.example.oops.call_trace == oops.call_trace  # the whole report kept with the better time
