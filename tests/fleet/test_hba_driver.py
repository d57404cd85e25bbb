"""The driver steps of playbooks/remediate.yml (roles/hba_driver) on seed hosts of the lab fleet, over real
ssh, apt and dpkg: upgrade from the lab's repository or a package file, reload or gated reboot, verify."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from fleetfix.ansible.runner import RunRequest, run_playbook
from fleetfix.host_result import HostResult
from fleetfix.lab import Lab

pytestmark = pytest.mark.fleet

DRIVER_STEPS = ["precheck", "upgrade", "activate", "verify"]
BAD_BUILD = "6E4C8C0A9F6E2B51D3A7C41"  # srcversion of the seed's bad mpt3sas build
MPT3SAS = {
    "hba_driver_module": "mpt3sas",
    "hba_driver_target_version": "46.00.00.00",
    "hba_driver_drivers": {
        "mpt3sas": {"package_name": "mpt3sas-driver", "package_versions": {"46.00.00.00": "46.00.00.00-1"}}
    },
}
GOOD_BUILD = "1B9E3F2A7C5D8E0F4A6B2C9"  # srcversion of mpt3sas-driver 46.00.00.00-1 in the seed repository


def remediate(
    lab: Lab, state: Path, host: str, extravars: Mapping[str, Any], check: bool = False
) -> HostResult:
    """One run of the playbook on one host, its runs kept under ``state``."""
    variables = {"fleetfix_remediate_steps": DRIVER_STEPS, **extravars}
    request = RunRequest("remediate.yml", (lab.inventory_path,), host, variables, check=check, diff=check)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLEETFIX_STATE_DIR", str(state))
        return run_playbook(request, kind="remediate").hosts[host]


def running(lab: Lab, host: str, module: str) -> tuple[str, str]:
    """(version, boot id) as the host shows them."""
    out = lab.ssh(host, f"cat /sys/module/{module}/version /proc/sys/kernel/random/boot_id").stdout.split()
    return out[0], out[1]


def steps(result: HostResult) -> dict[str, Any]:
    return result.facts["fleetfix_remediate_result"]["steps"]


def failure(result: HostResult) -> tuple[str, str]:
    """The step that failed and why, as the host's result record tells it."""
    record = result.facts["fleetfix_remediate_result"]
    step = record["failed_step"]
    assert result.status == "failed" and result.message == record["steps"][step]["message"], result
    return step, result.message


def test_reload_where_nothing_holds_the_module_then_nothing_to_do(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=["db02"])
    bad, boot_before = running(lab, "db02", "mpt3sas")
    replacing = {**MPT3SAS, "hba_driver_from_versions": [bad]}

    result = remediate(lab, tmp_path, "db02", replacing)

    assert result.status == "ok", result.message
    done = steps(result)
    assert done["precheck"]["loaded_version"] == bad
    assert done["upgrade"]["status"] == "changed"
    assert done["upgrade"]["installed_version"] == "46.00.00.00"
    assert done["activate"]["method"] == "reload"
    verified = done["verify"]
    assert (verified["loaded_version"], verified["loaded_srcversion"]) == ("46.00.00.00", GOOD_BUILD)
    assert running(lab, "db02", "mpt3sas") == ("46.00.00.00", boot_before)
    assert lab.ssh("db02", "dpkg-query -W -f='${Version}' mpt3sas-driver").stdout == "46.00.00.00-1"
    # The job events name each step, which is how a remediation follows a host.
    named = {task.task.split(" | ")[0] for task in result.tasks if " | " in task.task}
    assert set(DRIVER_STEPS) <= named

    again = remediate(lab, tmp_path, "db02", replacing)

    assert again.status == "ok", again.message
    assert not again.changed
    assert steps(again)["upgrade"]["status"] == "skipped"
    assert steps(again)["activate"]["status"] == "skipped"


def test_package_file_from_the_controller(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=["db03"])
    deb = lab.layout.repo_dir / "mpt3sas-driver_46.00.00.00-1_amd64.deb"
    settings = {**MPT3SAS, "hba_driver_drivers": {"mpt3sas": {"source": "file", "package_file": str(deb)}}}

    result = remediate(lab, tmp_path, "db03", settings)

    assert result.status == "ok", result.message
    assert steps(result)["upgrade"]["installed"] == deb.name
    assert running(lab, "db03", "mpt3sas")[0] == "46.00.00.00"


def test_boot_disk_driver_reboots_only_when_allowed(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=["store01"])
    version_before, boot_before = running(lab, "store01", "megaraid_sas")
    megaraid = {
        "hba_driver_module": "megaraid_sas",
        "hba_driver_target_version": "07.727.03.00",
        "hba_driver_package_name": "megaraid-sas-driver",
        "hba_driver_package_version": "07.727.03.00-1",
    }

    refused = remediate(lab, tmp_path, "store01", megaraid)

    step, why = failure(refused)
    assert step == "activate"
    assert why.startswith("reboot needed to run megaraid_sas 07.727.03.00 (megaraid_sas cannot be unloaded: ")
    assert why.endswith("allow it with hba_driver_reboot_ok=true (fleetfix remediate --reboot)")
    assert steps(refused)["upgrade"]["status"] == "changed"  # installed, waiting for a reboot
    assert running(lab, "store01", "megaraid_sas") == (version_before, boot_before)

    allowed = remediate(lab, tmp_path, "store01", {**megaraid, "hba_driver_reboot_ok": True})

    assert allowed.status == "ok", allowed.message
    assert steps(allowed)["activate"]["method"] == "reboot"
    version_after, boot_after = running(lab, "store01", "megaraid_sas")
    assert version_after == "07.727.03.00"
    assert boot_after != boot_before
    assert steps(allowed)["verify"]["boot_id"] == boot_after


def test_broken_package_fails_the_host_with_the_package_scripts_words(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=["db04"])
    bad = running(lab, "db04", "mpt3sas")[0]
    broken = {**MPT3SAS, "hba_driver_drivers": {"mpt3sas": {**MPT3SAS["hba_driver_drivers"]["mpt3sas"]}}}
    broken["hba_driver_drivers"]["mpt3sas"]["package_versions"] = {"46.00.00.00": "46.00.00.00-2"}

    result = remediate(lab, tmp_path, "db04", broken)

    step, why = failure(result)
    assert step == "upgrade"
    assert why.startswith("installing mpt3sas-driver=46.00.00.00-2 failed: ")
    assert "mpt3sas: module build failed for kernel 6.1.0-18-amd64: exit status 2" in why
    assert running(lab, "db04", "mpt3sas")[0] == bad


def test_precheck_verify_and_check_mode_stop_or_change_nothing(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=["db05"])  # bad build, no crash capture at all
    before = running(lab, "db05", "mpt3sas")
    unexpected = {**MPT3SAS, "hba_driver_from_versions": ["1.0"]}

    required = remediate(lab, tmp_path, "db05", {**MPT3SAS, "hba_driver_require_capture": True})
    verify_only = remediate(lab, tmp_path, "db05", {**MPT3SAS, "fleetfix_remediate_steps": ["verify"]})
    checked = remediate(lab, tmp_path, "db05", MPT3SAS, check=True)
    stopped = remediate(lab, tmp_path, "db05", unexpected)

    assert failure(required)[0] == "precheck"
    assert required.message.startswith("crash capture is not ready (")
    assert "hba_driver_require_capture is set" in required.message
    assert failure(verify_only) == (
        "verify",
        f"mpt3sas is loaded at {before[0]} (srcversion {BAD_BUILD}), not the target 46.00.00.00",
    )
    assert failure(stopped) == (
        "precheck",
        f"mpt3sas is loaded at {before[0]} (srcversion {BAD_BUILD}), neither the target "
        "46.00.00.00 nor a version this change replaces (1.0)",
    )
    assert checked.status == "ok", checked.message
    assert steps(checked)["precheck"]["warnings"]
    assert steps(checked)["activate"]["method"] == "reload"
    assert steps(checked)["verify"]["status"] == "skipped"
    assert running(lab, "db05", "mpt3sas") == before
    status = lab.ssh("db05", "dpkg-query -W -f='${db:Status-Status}' mpt3sas-driver 2>/dev/null").stdout
    assert status in ("", "not-installed")


def test_a_default_boot_kernel_without_the_new_build_stops_the_host_before_activation(
    make_lab, tmp_path: Path
) -> None:
    lab = make_lab("seed", hosts=["db02"])
    # A kernel update installed and not booted yet: update-grub put it first in grub.cfg (GRUB_DEFAULT=0), so
    # it is the kernel the host boots next.
    staged = lab.ssh(
        "db02",
        "mkdir -p /lib/modules/6.1.0-21-amd64 && touch /boot/vmlinuz-6.1.0-21-amd64 && "
        "sed -i 's/6[.]1[.]0-18-amd64/6.1.0-21-amd64/g' /boot/grub/grub.cfg",
    )
    assert staged.returncode == 0, staged.stderr
    version, boot_id = running(lab, "db02", "mpt3sas")

    result = remediate(lab, tmp_path, "db02", MPT3SAS)

    step, message = failure(result)
    assert (step, message) == (
        "upgrade",
        "the default boot kernel 6.1.0-21-amd64 would load nothing, not the target 46.00.00.00: the new "
        "build was installed for 6.1.0-18-amd64 only, and the package has no build for the kernel the host "
        "boots next",
    )
    assert steps(result)["precheck"]["next_boot_kernel"] == "6.1.0-21-amd64"
    assert running(lab, "db02", "mpt3sas") == (version, boot_id)  # nothing unloaded, no reboot
