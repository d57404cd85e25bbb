"""The fio soak (soak_run, playbooks/soak.yml, roles/fio_soak) with real fio on lab hosts' loop-device disks,
and `fleetfix soak --evaluate` on real fio reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetfix.ansible.runner import RunRequest, run_playbook
from fleetfix.cli.soak import soak as soak_command
from fleetfix.commands.soak import soak
from fleetfix.errors import ExitStatus, FleetfixError, InputError
from fleetfix.lab import Lab
from fleetfix.soak.fio_json import parse_fio_json
from fleetfix.soak.host_soak import HostSoak
from fleetfix.soak.profiles import BUILTIN_PROFILES

THRASH = BUILTIN_PROFILES["thrash"]
RANDWRITE = BUILTIN_PROFILES["randwrite"]


def soak_hosts(lab: Lab, state: Path, host: str, **options) -> dict[str, HostSoak]:
    arguments = {"module": "mpt3sas", "devices": (), "profile": THRASH, "runtime": 5, "destructive": False}
    arguments |= options
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLEETFIX_STATE_DIR", str(state))
        return {r.host: r for r in soak([lab.inventory_path], host, **arguments)}


@pytest.mark.fleet
def test_soak_passes_on_a_host_running_a_good_build(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=["app01"])  # mpt3sas 46.00.00.00: no fault under random reads

    result = soak_hosts(lab, tmp_path, "app01")["app01"]

    assert result.status == "passed", result.message
    assert result.devices == ("/dev/sda",)
    assert result.boot_id_before == result.boot_id_after
    assert result.kernel_log and not result.kernel_log.startswith("unavailable")
    assert result.report is not None and result.report.is_file()
    report = parse_fio_json(result.report.read_text(), str(result.report))
    assert report.jobs[0].rw == "randread" and report.jobs[0].error == 0
    assert report.read_iops > 0 and report.write_iops == 0
    assert result.verdict is not None and result.verdict.figures["iops"] == report.iops


@pytest.mark.fleet
def test_write_profile_refused_on_a_device_holding_a_filesystem(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=["store02"])  # qla2xxx with one disk, sdb
    made = lab.ssh("store02", "mkfs.ext4 -q -F /dev/sdb && blkid -o value -s TYPE /dev/sdb")
    assert made.stdout.strip() == "ext4", made.stderr

    with pytest.raises(FleetfixError) as refused:
        soak_hosts(lab, tmp_path, "store02", module="qla2xxx", profile=RANDWRITE)
    assert refused.value.status == ExitStatus.BAD_INPUT
    assert str(refused.value) == (
        "store02: refusing write profile 'randwrite' on sdb: it holds a ext4 filesystem "
        "(pass --destructive to overwrite it)"
    )

    # The role refuses it on its own too, for arguments rendered before the disk got its filesystem.
    args = RANDWRITE.to_args(["/dev/sdb"], 5, "/var/tmp/fleetfix-soak/t/fio.json")
    extravars = {"fio_soak_fio_args": args, "fio_soak_devices": ["/dev/sdb"]}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLEETFIX_STATE_DIR", str(tmp_path))
        played = run_playbook(RunRequest("soak.yml", (lab.inventory_path,), "store02", extravars))
    host = played.hosts["store02"]
    assert host.status == "failed"
    assert "refusing a write profile on /dev/sdb: it holds a ext4 filesystem" in host.message
    assert lab.ssh("store02", "blkid -o value -s TYPE /dev/sdb").stdout.strip() == "ext4"


@pytest.mark.fleet
def test_host_that_panics_under_the_soak_fails_it(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=["db01"])  # mpt3sas 43.00.00.00 panics after 5 s of deep random reads

    result = soak_hosts(lab, tmp_path, "db01", runtime=15)["db01"]

    assert result.status == "failed"
    assert result.boot_id_after and result.boot_id_after != result.boot_id_before
    assert result.kernel_log == "crash dump"  # kdump wrote the panicked boot's log; the ring buffer is gone
    # By weight: what happened to the host, then the evidence it took with it, never "fio's report is
    # unusable" first. The kernel's reason counts every kind and quotes the heaviest: the panic.
    reasons = result.verdict.reasons
    assert reasons[0].startswith("host rebooted during the soak (boot id "), reasons
    assert reasons[1].startswith("kernel logged ") and ", worst (panic): " in reasons[1], reasons
    assert "Kernel panic - not syncing" in reasons[1] and "bug 1" in reasons[1], reasons  # NULL deref
    assert reasons[2] == "no fio report: the host went down before fio finished", reasons
    assert result.message.startswith(reasons[0])
    assert next(h for h in lab.status()["hosts"] if h["name"] == "db01")["panics"] == 1


def evaluate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(soak_command, ["--evaluate", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_evaluate_reports_unmeasured_percentiles_as_unavailable(corpus_dir: Path) -> None:
    code, out = evaluate(
        str(corpus_dir / "fio/01_kubestr_rbd_randread_randwrite_gtod_reduce.json"), "--format", "json"
    )

    assert code == ExitStatus.OK
    report = json.loads(out)
    assert [job["read"]["clat_p99_ns"] for job in report["jobs"]] == [None, None]
    assert report["totals"]["worst_clat_p99_ns"] is None
    assert report["verdict"]["passed"] is True
    assert (
        "unavailable"
        in evaluate(str(corpus_dir / "fio/01_kubestr_rbd_randread_randwrite_gtod_reduce.json"))[1]
    )


def test_evaluate_applies_the_iops_floor(corpus_dir: Path) -> None:
    deep = corpus_dir / "fio/03_fioplot_DL380G8_H420i_MX200x3_RAID0_randread_qd64_nj8.json"
    shallow = corpus_dir / "fio/02_fioplot_DL380G8_H420i_MX200_randread_qd1_nj1.json"

    code, out = evaluate(str(deep), "--iops-floor", "1000000", "--format", "json")
    relative, relative_out = evaluate(
        str(shallow), "--iops-floor", "80%", "--baseline", str(deep), "--format", "json"
    )
    table_code, table = evaluate(str(deep))

    assert code == ExitStatus.FINDINGS
    assert json.loads(out)["verdict"]["reasons"] == ["IOPS 144333 below the floor 1000000 (1e+06 IOPS)"]
    assert relative == ExitStatus.FINDINGS
    reasons = json.loads(relative_out)["verdict"]["reasons"]
    assert len(reasons) == 1 and reasons[0].endswith("(80% of the baseline 144333 IOPS)")
    assert table_code == ExitStatus.OK
    assert "144,333" in table and "PASS" in table


def test_evaluate_rejects_a_file_that_is_not_a_fio_report(tmp_path: Path) -> None:
    broken = tmp_path / "fio.json"
    broken.write_text("fio: pid=123, err=5/file:io_u.c:1889, func=io_u error, error=Input/output error\n")

    with pytest.raises(InputError) as error:
        evaluate(str(broken))
    assert str(error.value).startswith(f"{broken}: no fio JSON report found")
    assert "Input/output error" in str(error.value)
