"""fio profiles, fio JSON parsing and the soak verdict, on real fio outputs (corpus and made here)."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetfix.errors import FleetfixError, InputError
from fleetfix.facts.host import WriteSafety
from fleetfix.soak.baseline import SHARE_MIN_SECONDS, BaselineReading, read_baseline, soak_limits
from fleetfix.soak.fio_json import parse_fio_json
from fleetfix.soak.profiles import (
    BUILTIN_PROFILES,
    FioProfile,
    load_profiles,
    refuse_destructive,
    select_profile,
)
from fleetfix.soak.verdict import (
    IopsFloor,
    LatencyCeiling,
    evaluate_file_text,
    judge_fio,
    judge_soak,
    kernel_fault_kind,
    parse_iops_floor,
    parse_p99_ceiling,
)
from tests.support import REPO, collection_plugin, strip_provenance

FIO_DATA = REPO / "tests" / "data" / "fio"
KERNEL_LOG = REPO / "tests" / "data" / "kernel_log"
OOPSES = REPO / "tests" / "data" / "oopses"
WRITE_SAFETY = collection_plugin("module_utils.write_safety")


def made_here(name: str) -> str:
    return (FIO_DATA / name).read_text()


def parse_made_here(name: str):
    return parse_fio_json(made_here(name), name)


# --- the real corpus, against its expected.yaml ------------------------------------------------------------


def corpus_cases(corpus: Path):
    expected = yaml.safe_load((corpus / "fio" / "expected.yaml").read_text())["files"]
    return [(corpus / "fio" / name, facts) for name, facts in expected.items()]


def test_corpus_fio_outputs_match_expected(corpus_dir: Path) -> None:
    cases = corpus_cases(corpus_dir)
    assert cases
    for path, facts in cases:
        result = parse_fio_json(path.read_text(), str(path))
        assert result.fio_version == facts["fio_version"]
        assert [job.name for job in result.jobs] == [job["jobname"] for job in facts["jobs"]]
        for job, want in zip(result.jobs, facts["jobs"], strict=True):
            assert job.rw == want["rw"]
            assert job.error == want.get("error", 0)
            direction = "read" if "read" in want else "write"
            figures = getattr(job, direction)
            assert figures.iops == pytest.approx(want[direction]["iops"])
            assert figures.total_ios == want[direction]["total_ios"]
            assert figures.bandwidth_bytes / 1024 == pytest.approx(want[direction]["bw_kib"], rel=1e-3)
            if "bw_bytes" in want[direction]:
                assert figures.bandwidth_bytes == want[direction]["bw_bytes"]
            if "clat_ns" in want:
                clat = want["clat_ns"]
                assert (figures.clat_p50_ns, figures.clat_p99_ns, figures.clat_p999_ns) == (
                    clat["p50"],
                    clat["p99"],
                    clat["p99_9"],
                )
            else:
                assert want["clat_p99_ns"] is None
                assert figures.clat_p99_ns is None
        summary = facts["randread_summary"]
        randread = [job for job in result.jobs if job.rw == "randread"]
        assert sum(job.read.iops for job in randread) == pytest.approx(summary["iops"])
        assert max((job.read.clat_p99_ns for job in randread), default=None) == summary["clat_p99_ns"]
        assert len(result.failed_jobs) == summary["errors"]


# --- outputs made here with real fio (tests/data/fio/README.md) -------------------------------------------


def test_fio_333_layout_has_ordered_percentiles() -> None:
    result = parse_made_here("randread_libaio.json")
    assert result.fio_version == "fio-3.33"
    (job,) = result.jobs
    assert (job.name, job.rw, job.error) == ("randread-libaio", "randread", 0)
    read = job.read
    assert read.total_ios > 0 and read.iops > 0 and read.bandwidth_bytes > 0
    assert 0 < read.clat_p50_ns <= read.clat_p99_ns <= read.clat_p999_ns
    assert (job.write.iops, job.write.clat_p99_ns) == (0, None)
    assert result.worst_clat_p99_ns == read.clat_p99_ns


def test_gtod_reduce_leaves_percentiles_unavailable_not_zero() -> None:
    result = parse_made_here("randread_gtod_reduce.json")
    (job,) = result.jobs
    assert job.read.iops > 0
    assert (job.read.clat_p50_ns, job.read.clat_p99_ns, job.read.clat_p999_ns) == (None, None, None)
    assert result.worst_clat_p99_ns is None
    assert result.to_dict()["totals"]["worst_clat_p99_ns"] is None


def test_jobs_without_group_reporting_are_kept_apart_and_summed() -> None:
    result = parse_made_here("randread_numjobs2.json")
    assert [job.name for job in result.jobs] == ["randread-two-jobs", "randread-two-jobs"]
    assert result.iops == pytest.approx(sum(job.read.iops for job in result.jobs))
    assert result.total_ios == sum(job.read.total_ios for job in result.jobs)
    assert result.worst_clat_p99_ns == max(job.read.clat_p99_ns for job in result.jobs)


def test_error_lines_before_the_json_become_notes_and_the_job_error_fails_the_soak() -> None:
    result = parse_made_here("missing_file_readonly.json")
    assert [job.error for job in result.jobs] == [2]
    assert any(note.startswith("fio: refusing extend") for note in result.notes)
    verdict = evaluate_file_text(made_here("missing_file_readonly.json"), "missing.json").verdict
    assert not verdict.passed
    assert any("error 2 (No such file or directory)" in reason for reason in verdict.reasons)
    assert "fio completed no I/O" in verdict.reasons


def test_verify_failure_is_a_job_error() -> None:
    result = parse_made_here("verify_failure.json")
    assert [job.error for job in result.jobs] == [84]
    assert result.read_iops > 0


def test_thrash_profile_output_made_from_to_args() -> None:
    result = parse_made_here("thrash_profile.json")
    (job,) = result.jobs  # group_reporting folds the eight jobs into one entry
    assert (job.name, job.rw, job.error) == ("thrash", "randread", 0)


# --- finding the JSON, and bad input --------------------------------------------------------------------


def test_warning_without_newline_before_the_brace() -> None:
    text = "note: both iodepth >= 1 and synchronous I/O engine are selected" + made_here(
        "randread_libaio.json"
    )
    result = parse_fio_json(text, "glued.json")
    assert result.jobs[0].name == "randread-libaio"
    assert result.notes == ("note: both iodepth >= 1 and synchronous I/O engine are selected",)


def test_status_interval_reports_use_the_last() -> None:
    text = made_here("randread_gtod_reduce.json") + made_here("randread_libaio.json")
    assert parse_fio_json(text, "status.json").jobs[0].name == "randread-libaio"


def test_a_cut_short_final_report_is_not_replaced_by_an_earlier_one() -> None:
    final = made_here("randread_libaio.json")
    with pytest.raises(InputError, match="cut short"):
        parse_fio_json(made_here("randread_gtod_reduce.json") + final[: len(final) // 2], "status.json")


def test_truncated_json_names_file_line_and_column() -> None:
    text = made_here("randread_libaio.json")
    cut = text[: len(text) // 2]
    with pytest.raises(InputError) as caught:
        parse_fio_json(cut, "/var/tmp/soak/db01.json")
    assert str(caught.value).startswith(
        f"/var/tmp/soak/db01.json:{cut.count(chr(10)) + 1}: invalid JSON at column "
    )
    assert caught.value.line == cut.count("\n") + 1
    assert str(caught.value).endswith("(the output ends there: cut short?)")


def test_no_json_at_all_quotes_what_fio_said() -> None:
    with pytest.raises(
        InputError, match=r"no fio JSON report found .*fio said: fio: failed parsing rw=bogus"
    ):
        parse_fio_json("fio: failed parsing rw=bogus\n", "out.json")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('"iops" : ', '"iops" : "many", "x" : ', "jobs[0].read.iops"),
        ('"jobname" : ', '"jobname" : 7, "x" : ', "jobs[0].jobname"),
        ('"error" : 0', '"error" : "none"', "jobs[0].error"),
        ('"read" : {', '"read" : 1, "unused" : {', "jobs[0].read"),
    ],
)
def test_bad_fields_are_named(old: str, new: str, field: str) -> None:
    text = made_here("randread_libaio.json").replace(old, new, 1)
    with pytest.raises(InputError) as caught:
        parse_fio_json(text, "bad.json")
    assert str(caught.value).startswith(f"bad.json: {field}: ")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('{}[]":,0123456789.eE-+ \nabjostfrinu\\\x00é')))
def test_any_text_gives_a_result_or_input_error(text: str) -> None:
    with contextlib.suppress(InputError):
        parse_fio_json(text, "fuzz.json")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["jobs", "read", "clat_ns", "percentile", "iops", "error", "99.000000"]), json_values)
def test_any_value_in_a_real_output_gives_a_result_or_input_error(key: str, value: object) -> None:
    text = made_here("randread_libaio.json").replace(
        f'"{key}" : ', f'"{key}" : {json.dumps(value)}, "z" : ', 1
    )
    with contextlib.suppress(InputError):
        parse_fio_json(text, "fuzz.json")


# --- profiles ---------------------------------------------------------------------------------------------


def test_thrash_profile_is_the_issue_default_and_read_only() -> None:
    args = BUILTIN_PROFILES["thrash"].to_args(["/dev/sdb", "/dev/sdc"], 600, "/var/tmp/soak.json")
    issue_default = "--rw=randread --bs=4k --iodepth=64 --numjobs=8 --direct=1 --ioengine=libaio --time_based"
    assert set(issue_default.split()) <= set(args)
    assert {"--runtime=600", "--group_reporting", "--readonly"} <= set(args)
    assert {"--output-format=json", "--output=/var/tmp/soak.json"} <= set(args)
    assert "--filename=/dev/sdb:/dev/sdc" in args


def test_write_profile_is_destructive_and_not_readonly() -> None:
    profile = BUILTIN_PROFILES["randwrite"]
    assert profile.destructive
    assert "--readonly" not in profile.to_args(["/dev/sdb"], 10, "out.json")
    assert not any(p.destructive for name, p in BUILTIN_PROFILES.items() if name != "randwrite")


def test_colons_in_device_paths_are_escaped() -> None:
    args = BUILTIN_PROFILES["qd1"].to_args(["/dev/disk/by-path/pci-0000:03:00.0-sas-0"], 5, "o.json")
    assert "--filename=/dev/disk/by-path/pci-0000\\:03\\:00.0-sas-0" in args


@pytest.mark.parametrize(
    ("devices", "runtime"), [([], 10), (["/dev/sdb"], 0), (["/dev/sdb"], "60"), ([""], 5)]
)
def test_bad_devices_or_runtime(devices: list[str], runtime: object) -> None:
    with pytest.raises(InputError):
        BUILTIN_PROFILES["qd1"].to_args(devices, runtime, "o.json")  # type: ignore[arg-type]


needs_fio = pytest.mark.skipif(shutil.which("fio") is None, reason="fio is not installed")


@needs_fio
@pytest.mark.parametrize("name", sorted(BUILTIN_PROFILES))
def test_real_fio_accepts_every_builtin_profile(name: str, tmp_path: Path) -> None:
    args = BUILTIN_PROFILES[name].to_args([str(tmp_path / "disk.img")], 5, str(tmp_path / "out.json"))
    done = subprocess.run(["fio", "--parse-only", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@needs_fio
def test_real_fio_run_of_a_profile_on_a_path_with_a_colon(tmp_path: Path) -> None:
    disk = tmp_path / "pci-0000:03:00.0.img"
    with disk.open("wb") as handle:
        handle.truncate(16 * 1024 * 1024)
    output = tmp_path / "out.json"
    args = BUILTIN_PROFILES["qd1"].to_args([str(disk)], 1, str(output))
    subprocess.run(["fio", *args], capture_output=True, check=True, timeout=60)
    result = parse_fio_json(output.read_text(), str(output))
    assert result.jobs[0].error == 0 and result.read_iops > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", disk.name]  # no stray "pci-0000" file


PROFILE_FILE = """
profiles:
  nightly-backup:
    description: what the 01:00 backup does
    rw: read
    bs: 1M
    iodepth: 16
    numjobs: 2
  wipe-test:
    rw: randrw
    bs: 8k
    iodepth: 4
    numjobs: 1
    ioengine: io_uring
    direct: false
"""


def test_profiles_load_from_yaml() -> None:
    profiles = load_profiles(PROFILE_FILE, "profiles.yaml")
    assert profiles["nightly-backup"] == FioProfile("nightly-backup", "read", "1M", 16, 2, "libaio", True,
                                                    "what the 01:00 backup does")  # fmt: skip
    assert profiles["wipe-test"].destructive
    assert select_profile("nightly-backup", profiles) is profiles["nightly-backup"]
    assert select_profile("thrash", profiles) is BUILTIN_PROFILES["thrash"]


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ("rw: read", "rw: randomread", r"profiles\.nightly-backup\.rw: unknown fio rw 'randomread'"),
        ("bs: 1M", "bs: big", r"profiles\.nightly-backup\.bs: not a block size"),
        ("iodepth: 16", "iodepth: 0", r"profiles\.nightly-backup\.iodepth: expected a whole number"),
        ("numjobs: 2", "numjobs: two", r"profiles\.nightly-backup\.numjobs: expected a whole number"),
        ("numjobs: 2", "numjobs: 2\n    verify: md5", r"profiles\.nightly-backup: unknown field 'verify'"),
        ("iodepth: 16", "", r"profiles\.nightly-backup\.iodepth: missing"),
        ("direct: false", "direct: maybe", r"profiles\.wipe-test\.direct: expected true or false"),
        ("ioengine: io_uring", "ioengine: psync", r"profiles\.wipe-test: psync ignores iodepth 4"),
        ("nightly-backup:", "nightly backup:", r"profiles\.nightly backup: a profile name is"),
        ("    rw: read", "  rw: [read", r"^profiles\.yaml:\d+: "),
        ("profiles:", "profile:", r"profiles: expected a non-empty mapping"),
    ],
)
def test_bad_profile_files(replace: str, by: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        load_profiles(PROFILE_FILE.replace(replace, by, 1), "profiles.yaml")
    assert str(caught.value).startswith("profiles.yaml")


def test_unknown_profile_lists_known_ones() -> None:
    with pytest.raises(
        InputError, match=r"unknown profile 'fast'; known: backup-seqread, qd1, randwrite, thrash"
    ):
        select_profile("fast")


# --- the destructive guard -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    name: str
    write_safety: WriteSafety


def disk(name: str, **surfaces: Any) -> Device:
    """A disk judged by the facts module's write safety rule, as a facts run hands it to fleetfix."""
    facts = {"name": name, "partitions": [], "holders": [], "fstype": None, "partition_table": None}
    verdict = WRITE_SAFETY.write_safety({**facts, "has_data": False, "boot_disk": False, **surfaces})
    safe, overwritable, reasons = verdict["safe"], verdict["overwritable"], tuple(verdict["reasons"])
    return Device(name, WriteSafety(safe=safe, overwritable=overwritable, reasons=reasons))


@pytest.mark.parametrize(
    ("device", "reason"),
    [
        (disk("sdb", partitions=["sdb1", "sdb2"], has_data=True), "it holds partitions sdb1, sdb2"),
        (disk("sdc", fstype="xfs", has_data=True), "it holds a xfs filesystem"),
        (disk("sdd", holders=["dm-0"]), "it holds holders dm-0"),
        (disk("sde", partition_table="gpt", has_data=True), "it holds a gpt partition table"),
        (disk("sdf", has_data=True), r"it holds data \(a signature in its first sectors\)"),
        (disk("sdg", has_data=None), "its contents could not be read"),
    ],
)
def test_write_profile_refused_on_devices_holding_data(device: Device, reason: str) -> None:
    write = BUILTIN_PROFILES["randwrite"]
    with pytest.raises(FleetfixError, match=f"on {device.name}: {reason} .*--destructive"):
        refuse_destructive(write, [disk("sda"), device], destructive=False)
    refuse_destructive(write, [device], destructive=True)
    refuse_destructive(BUILTIN_PROFILES["thrash"], [device], destructive=False)


def test_write_profile_never_on_the_boot_disk() -> None:
    boot = disk("sda", boot_disk=True, partitions=["sda1"], has_data=True)
    with pytest.raises(FleetfixError, match=r"sda: it is the boot disk; it holds partitions sda1$"):
        refuse_destructive(BUILTIN_PROFILES["randwrite"], [boot], destructive=True)


def test_write_profile_allowed_on_blank_device() -> None:
    refuse_destructive(BUILTIN_PROFILES["randwrite"], [disk("sdb")], destructive=False)


# --- the verdict ------------------------------------------------------------------------------------------


def corpus_fault_lines(corpus: Path) -> list[str]:
    lines = []
    for path in sorted((corpus / "oopses").glob("*.log")):
        lines.extend(strip_provenance(path.read_text()).splitlines())
    return lines


def test_fault_markers_on_real_oopses(corpus_dir: Path) -> None:
    for path in sorted((corpus_dir / "oopses").glob("*.log")):
        kinds = {kernel_fault_kind(line) for line in strip_provenance(path.read_text()).splitlines()}
        assert kinds - {None}, path.name
    assert kernel_fault_kind("[  12.3] mpt3sas_cm0: log_info(0x31120303): originator(PL)") is None
    assert kernel_fault_kind("Kernel panic - not syncing: Fatal exception") == "panic"
    assert kernel_fault_kind("general protection fault, probably for non-canonical address") == "gpf"


def kinds_in(path: Path) -> list[tuple[str, str]]:
    lines = strip_provenance(path.read_text()).splitlines()
    return [(kind, line) for line in lines if (kind := kernel_fault_kind(line))]


def test_storage_path_faults_on_a_real_lsi_hba_log() -> None:
    # Read from the file: two task aborts started (their "task abort: SUCCESS" ends are not faults), a
    # device, a target and a host reset attempted; DID_TIME_OUT, "Power-on or device reset occurred" and
    # "sending diag reset" are consequences, not counted.
    found = kinds_in(KERNEL_LOG / "lsi_task_abort_host_reset.log")
    assert [kind for kind, _ in found] == ["task_abort", "scsi_reset", "scsi_reset", "scsi_reset"]
    assert "attempting host reset!" in found[-1][1]


def test_did_reset_on_a_real_mpt3sas_log() -> None:
    found = kinds_in(KERNEL_LOG / "mpt3sas_report_zones_did_reset.log")
    assert found == [
        ("did_reset", "sd 18:0:0:0: [sdc] REPORT ZONES: Result: hostbyte=DID_RESET driverbyte=DRIVER_OK")
    ]


def test_soft_lockup_outranks_the_bug_it_is_printed_as() -> None:
    found = kinds_in(KERNEL_LOG / "soft_lockup_panic.log")
    assert [kind for kind, _ in found] == ["soft_lockup", "panic"]


def test_rcu_stalls_in_three_kernel_generations() -> None:
    found = kinds_in(KERNEL_LOG / "rcu_stalls.log")
    # the stall lines; not the "(detected by 1, ...)" continuation, the starved kthread or the I/O error
    assert [kind for kind, _ in found] == ["rcu_stall"] * 4


def test_hung_task_and_hpsa_reset_on_a_real_syslog() -> None:
    found = kinds_in(OOPSES / "13_hpsa_hung_task_syslog.log")
    assert found[0] == (
        "scsi_reset",
        "Jul 30 15:25:20 venus kernel: [  992.076122] hpsa 0000:05:00.0: resetting device 2:0:0:1",
    )
    assert {kind for kind, _ in found[1:]} == {"hung_task"}


def test_reasons_quote_the_heaviest_fault_first() -> None:
    result = parse_made_here("randread_libaio.json")
    lines = strip_provenance((KERNEL_LOG / "lsi_task_abort_host_reset.log").read_text()).splitlines()
    lines += strip_provenance((KERNEL_LOG / "soft_lockup_panic.log").read_text()).splitlines()
    verdict = judge_soak(result, "b1", "b1", lines, IopsFloor.absolute(0))
    (reason,) = verdict.reasons
    assert reason.startswith("kernel logged 6 fault line(s) during the soak (panic 1, soft_lockup 1, ")
    assert "scsi_reset 3, task_abort 1), worst (panic): [ 5300.237965] Kernel panic - not syncing" in reason


def test_a_crashed_host_reads_as_crashed_before_the_missing_report() -> None:
    empty = parse_fio_json(made_here("randread_libaio.json"), "x")
    verdict = judge_soak(empty, "b1", "b2", [], IopsFloor.absolute(0), ["no fio report: the host went down"])
    assert verdict.reasons[0].startswith("host rebooted during the soak")
    assert verdict.reasons[1] == "no fio report: the host went down"


def test_p99_ceiling_is_judged() -> None:
    result = parse_made_here("randread_libaio.json")
    p99 = result.worst_clat_p99_ns
    assert p99
    assert judge_fio(result, None, LatencyCeiling.absolute(p99 / 1e6 * 2)).passed
    verdict = judge_fio(result, None, LatencyCeiling.absolute(p99 / 1e6 / 2))
    assert verdict.reasons[0].startswith(f"p99 latency {p99 / 1e6:.3g} ms above the ceiling")
    assert verdict.figures["p99_ceiling_ns"] == pytest.approx(p99 / 2)


@pytest.mark.parametrize(
    ("spec", "baseline", "ns"),
    [
        ("50ms", None, 50e6),
        ("2.5", None, 2.5e6),
        ("500%", 4e6, 20e6),
        ("500%", 1e5, 10e6),
        ("500%", None, None),
    ],
)
def test_p99_ceiling_specs(spec: str, baseline: float | None, ns: float | None) -> None:
    ceiling = parse_p99_ceiling(spec, baseline)
    assert (ceiling.ns if ceiling else None) == (pytest.approx(ns) if ns else None)


@pytest.mark.parametrize("spec", ["fast", "50%", "0", "-1ms", "nan%"])
def test_bad_p99_ceiling_specs(spec: str) -> None:
    with pytest.raises(InputError, match=r"^--p99-ceiling: "):
        parse_p99_ceiling(spec, 1e6)


OOPS_REASON = "kernel logged 1 fault line(s) during the soak (oops 1), worst (oops): Oops: 0000"


def _baseline(status: str = "passed", runtime: int = 60, **figures: object) -> dict[str, object]:
    """A baseline soak as the journal keeps it (``HostSoak.to_dict()``), same boot unless told."""
    before, after = figures.pop("boot_ids", ("b1", "b1"))
    reasons = figures.pop("reasons", [])
    return {"status": status, "message": "; ".join(reasons), "boot_id_before": before, "boot_id_after": after,
            "verdict": {"passed": status == "passed", "reasons": reasons, "figures": figures}}  # fmt: skip


def test_limits_come_from_the_hosts_own_baseline() -> None:
    measured = parse_made_here("randread_libaio.json")
    soak = {**_baseline(), "verdict": judge_fio(measured, None).to_dict()}
    reading = read_baseline(soak, 60, lost=False)
    assert reading.outcome == "measured" and reading.shares_apply
    limits = soak_limits("80%", "500%", reading)
    assert limits.floor is not None and limits.floor.iops == pytest.approx(0.8 * measured.iops)
    assert limits.ceiling is not None and limits.ceiling.ns == max(5 * measured.worst_clat_p99_ns, 10e6)
    assert limits.unjudged is None
    # Absolute specs need no baseline; shares without one judge nothing and say why.
    absolute = soak_limits("5000", "50", None)
    assert (absolute.floor.iops, absolute.ceiling.ns, absolute.unjudged) == (5000, 50e6, None)
    none = soak_limits("80%", "500%", None)
    assert (none.floor, none.ceiling, none.unjudged) == (None, None, "no baseline for this host")
    assert none.to_dict()["text"] == "no IOPS floor, no p99 ceiling: no baseline for this host"


def test_a_short_baseline_is_reported_and_takes_no_share() -> None:
    short = read_baseline(_baseline(iops=1000.0, worst_clat_p99_ns=2e6), SHARE_MIN_SECONDS - 1, lost=False)
    assert short.outcome == "measured" and short.iops == 1000.0 and not short.shares_apply
    assert "too short to take shares of" in short.note
    limits = soak_limits("80%", "50ms", short)
    assert limits.floor is None and limits.ceiling is not None and limits.ceiling.ns == 50e6
    assert limits.unjudged == f"the baseline ran {SHARE_MIN_SECONDS - 1} s, under the 20 s a share needs"
    long_enough = read_baseline(_baseline(iops=1000.0), SHARE_MIN_SECONDS, lost=False)
    assert soak_limits("80%", "500%", long_enough).floor.iops == 800.0
    # No p99 in the baseline (fio's gtod_reduce): the floor is a share, the ceiling judges nothing.
    assert soak_limits("80%", "500%", long_enough).ceiling is None


@pytest.mark.parametrize(
    ("soak", "lost", "note"),
    [
        (_baseline("failed", boot_ids=("b1", "b2"), kernel_fault_lines=3,
                   reasons=["host rebooted during the soak (boot id b1 -> b2)", "no fio report"]),
         False, "host rebooted during the soak (boot id b1 -> b2)"),
        (_baseline("failed", kernel_fault_lines=1, iops=900.0, reasons=[OOPS_REASON]), False, OOPS_REASON),
        ({"status": "error", "message": "Failed to connect to the host via ssh"}, True,
         "the host stopped answering under the load (Failed to connect to the host via ssh)"),
    ],
)  # fmt: skip
def test_a_baseline_that_faults_is_the_bug_reproduced_not_a_host_failure(
    soak: dict[str, object], lost: bool, note: str
) -> None:
    reading = read_baseline(soak, 60, lost=lost)
    assert (reading.outcome, reading.note, reading.iops) == ("reproduced", note, None)
    limits = soak_limits("80%", "500%", reading)
    assert (limits.floor, limits.ceiling) == (None, None)
    assert limits.unjudged == "the baseline reproduced the fault on the old build"
    # An explicit absolute floor still judges the soak after the change.
    assert soak_limits("300", "500%", reading).floor.iops == 300


def test_a_baseline_without_figures_is_unusable() -> None:
    no_report = "no fio report: fio wrote none (fio exit status 1)"
    reading = read_baseline(_baseline("failed", reasons=[no_report]), 60, lost=False)
    assert reading.outcome == "unusable"
    assert reading.note == "no usable figures: no fio report: fio wrote none (fio exit status 1)"
    assert BaselineReading.from_dict(reading.to_dict()) == reading


def test_soak_passes_when_everything_holds() -> None:
    result = parse_made_here("randread_libaio.json")
    verdict = judge_soak(result, "b1", "b1", ["sd 0:0:0:0: [sdb] Synchronizing SCSI cache"],
                         IopsFloor.relative(0.8, result.iops))  # fmt: skip
    assert verdict.passed and verdict.reasons == ()
    assert verdict.figures["iops"] == result.iops
    assert verdict.figures["iops_floor"] == pytest.approx(0.8 * result.iops)


def test_soak_fails_for_each_broken_condition(corpus_dir: Path) -> None:
    result = parse_made_here("randread_libaio.json")
    floor = IopsFloor.absolute(result.iops * 2)
    verdict = judge_soak(result, "b1", "b2", corpus_fault_lines(corpus_dir), floor)
    assert not verdict.passed
    assert len(verdict.reasons) == 3
    assert "host rebooted during the soak (boot id b1 -> b2)" in verdict.reasons
    # the NULL dereference (lpfc) outranks the two warnings logged before it
    assert any(r.startswith("kernel logged ") and "worst (bug): " in r for r in verdict.reasons)
    assert any(r.startswith(f"IOPS {result.iops:.0f} below the floor") for r in verdict.reasons)
    assert verdict.figures["kernel_fault_lines"] >= 3


def test_unknown_boot_id_fails_the_soak() -> None:
    result = parse_made_here("randread_libaio.json")
    verdict = judge_soak(result, None, "b1", [], IopsFloor.absolute(0))
    assert verdict.reasons == (
        "boot id not known before and after the soak: cannot tell whether the host rebooted",
    )


@pytest.mark.parametrize(
    ("spec", "baseline", "iops"), [("5000", None, 5000.0), ("80%", 10000.0, 8000.0), (" 50% ", 300.0, 150.0)]
)
def test_iops_floor_specs(spec: str, baseline: float | None, iops: float) -> None:
    assert parse_iops_floor(spec, baseline).iops == pytest.approx(iops)


@pytest.mark.parametrize(("spec", "baseline"), [("80%", None), ("fast", None), ("150%", 100.0), ("-5", None)])
def test_bad_iops_floor_specs(spec: str, baseline: float | None) -> None:
    with pytest.raises(InputError, match=r"^--iops-floor: "):
        parse_iops_floor(spec, baseline)


def test_evaluation_is_json_ready() -> None:
    evaluation = evaluate_file_text(
        made_here("randread_gtod_reduce.json"), "gtod.json", IopsFloor.absolute(1)
    )
    document = json.loads(json.dumps(evaluation.to_dict()))
    assert document["verdict"]["passed"] is True
    assert document["jobs"][0]["read"]["clat_p99_ns"] is None
    assert document["totals"]["iops"] == evaluation.result.iops
