"""The hba_driver pre-check's storage health gate on lab hosts whose multipath-tools and /proc/mdstat show a
failed path, a degraded array, a rebuilding array, whole storage or none (tests/data/scenarios/
storage_gates.yaml), over real ssh and ansible: a refused host is left exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetfix.ansible.runner import RunRequest, run_playbook

pytestmark = pytest.mark.fleet

SCENARIO = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "storage_gates.yaml"
MPT3SAS = {
    "hba_driver_module": "mpt3sas",
    "hba_driver_target_version": "46.00.00.00",
    "hba_driver_drivers": {
        "mpt3sas": {"package_name": "mpt3sas-driver", "package_versions": {"46.00.00.00": "46.00.00.00-1"}}
    },
    "fleetfix_remediate_steps": ["precheck", "upgrade", "activate", "verify"],
}


def test_failed_paths_and_degraded_arrays_stop_the_precheck_before_any_change(
    make_lab, tmp_path: Path
) -> None:
    lab = make_lab(str(SCENARIO))
    request = RunRequest("remediate.yml", (lab.inventory_path,), "all", MPT3SAS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLEETFIX_STATE_DIR", str(tmp_path))
        hosts = run_playbook(request, kind="remediate").hosts

    refused = {
        "mp01": "multipath mpatha: path sdc (2:0:0:1) failed in the kernel's map",
        "md01": "md array md0 (raid1) is degraded: 1 of 2 members missing [U_], failed: sdc1",
        "rb01": "md array md0 (raid1) is degraded: 1 of 2 members missing [U_]; "
        "md array md0 is in recovery (12.6%)",
    }
    for host, reason in refused.items():
        record = hosts[host].facts["fleetfix_remediate_result"]
        assert record["failed_step"] == "precheck", hosts[host]
        assert hosts[host].message == (
            f"storage redundancy is already reduced ({reason}): taking this host's HBA paths away now could "
            "take its disks with them; repair first, then run the change again"
        )
        assert "upgrade" not in record["steps"]
        version = lab.ssh(host, "cat /sys/module/mpt3sas/version").stdout.strip()
        installed = lab.ssh(host, "dpkg-query -W -f='${Version}' mpt3sas-driver").stdout
        assert (version, installed) == ("34.100.00.00", "34.100.00.00-1")

    for host, source in (("ok01", "multipath -ll"), ("ok02", "multipath -ll"), ("pl01", None)):
        assert hosts[host].status == "ok", hosts[host].message
        storage = hosts[host].facts["fleetfix_remediate_result"]["steps"]["precheck"]["storage"]
        assert storage["problems"] == [] and storage["multipath_source"] == source
        assert lab.ssh(host, "cat /sys/module/mpt3sas/version").stdout.strip() == "46.00.00.00"
    assert (
        lab.ssh("pl01", "test -e /proc/mdstat || echo none; command -v multipath || true").stdout == "none\n"
    )
    assert "failed faulty running" in lab.ssh("mp01", "multipathd show paths").stdout
