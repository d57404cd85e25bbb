"""Secure Boot on a lab host (mixed scenario's sb01: UEFI, Secure Boot on, lockdown integrity, a signed
running build): the host shows its own efivar and lockdown file, never the machine's; the driver change
refuses an unsigned build before anything is unloaded; the host's modprobe refuses it as a locked-down
kernel does. A build refused once installed is put back off the disk (the running build's own package
reinstalled), unless --no-rollback, which the run then spells out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fleetfix.errors import ExitStatus
from fleetfix.lab import Lab
from tests.fleet.test_el import sh
from tests.fleet.test_hba_driver import GOOD_BUILD, MPT3SAS, failure, remediate, running, steps
from tests.fleet.test_remediate import ALL_OK, OLD, OLD_BUILD, OLD_PACKAGE, SOAK, TARGET, fleetfix, steps_of
from tests.fleet.test_remediate import remediate as run_remediate

pytestmark = pytest.mark.fleet


def test_an_unsigned_build_is_refused_under_secure_boot_before_the_running_one_is_unloaded(
    make_lab, tmp_path: Path
) -> None:
    lab = make_lab("mixed", hosts=["sb01"])
    assert sh(lab, "sb01", "cat /sys/kernel/security/lockdown").strip() == "none [integrity] confidentiality"
    efivar = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
    assert sh(lab, "sb01", f"od -An -tx1 {efivar}").split() == ["06", "00", "00", "00", "01"]
    version, boot_id = running(lab, "sb01", "mpt3sas")

    result = remediate(lab, tmp_path, "sb01", MPT3SAS)

    step, message = failure(result)
    assert step == "upgrade"
    assert message.startswith(
        "/lib/modules/6.1.0-18-amd64/updates/mpt3sas.ko: kernel lockdown is integrity and the build is not "
        "signed: the kernel would refuse to load it; the running build stays loaded"
    )
    assert steps(result)["precheck"]["secure_boot"] == {
        "state": "enabled",
        "source": "efivars",
        "lockdown": "integrity",
        "enforced": True,
    }
    assert "activate" not in steps(result)
    assert running(lab, "sb01", "mpt3sas") == (version, boot_id) == ("34.100.00.00", boot_id)

    # What the refusal spared the host: the locked-down kernel will not take the unsigned build.
    reload = lab.ssh("sb01", "modprobe -r mpt3sas && modprobe mpt3sas")
    assert reload.returncode == 1
    assert reload.stderr.strip() == "modprobe: ERROR: could not insert 'mpt3sas': Required key not available"


def test_a_host_without_secure_boot_has_no_efivars_and_no_lockdown(make_lab) -> None:
    lab = make_lab("mixed", hosts=["db01"])
    assert sh(lab, "db01", "cat /sys/kernel/security/lockdown").strip() == "[none] integrity confidentiality"
    assert lab.ssh("db01", "test -e /sys/firmware/efi").returncode == 1


SIGNERS = Path(__file__).parents[1] / "data" / "scenarios" / "secure_boot_signers.yaml"
VENDOR_KEY = "fleetfix lab vendor key"  # signs mpt3sas-driver 46.00.00.00-1 in that scenario
DISTRIBUTION_KEY = "Debian Secure Boot CA"  # signs the running build
PACKAGE_VERSION = "dpkg-query -W -f='${Version}' mpt3sas-driver"


def trusting(path: Path, signers: list[str]) -> Path:
    """An inventory naming the signers a new build may carry."""
    path.write_text(yaml.safe_dump({"all": {"vars": {"hba_driver_trusted_signers": signers}}}))
    return path


def on_disk(lab: Lab, host: str) -> tuple[str, str, str]:
    """(version, srcversion, signer) of the mpt3sas file the running kernel's modprobe would load now."""
    fields = ("version", "srcversion", "signer")
    out = [sh(lab, host, f"modinfo -F {field} mpt3sas").strip() for field in fields]
    return out[0], out[1], out[2]


def test_a_build_signed_outside_the_trusted_signers_is_refused_put_back_and_loaded_once_trusted(
    make_lab, tmp_path: Path
) -> None:
    lab = make_lab(str(SIGNERS))
    assert sh(lab, "sbv01", "cat /sys/kernel/security/lockdown").strip() == "none [integrity] confidentiality"
    assert on_disk(lab, "sbv01") == (OLD, OLD_BUILD, DISTRIBUTION_KEY)
    assert sh(lab, "sbv01", PACKAGE_VERSION).strip() == OLD_PACKAGE
    version, boot_id = running(lab, "sbv01", "mpt3sas")
    inventories = [lab.inventory_path, trusting(tmp_path / "trust.yml", [DISTRIBUTION_KEY])]
    refusal = (
        "/lib/modules/6.1.0-18-amd64/updates/mpt3sas.ko: kernel lockdown is integrity and the build is"
        f" signed by {VENDOR_KEY}, not by a trusted signer ({DISTRIBUTION_KEY});"
        " the running build stays loaded"
    )

    rc, report, hosts = run_remediate(tmp_path, inventories, "--soak-runtime", SOAK)

    # Refused once installed: the running build's package is put back at once, nothing unloaded.
    assert rc == ExitStatus.HOSTS_FAILED, report  # its only host failed: the run is over
    host = hosts["sbv01"]
    assert host["status"] == "failed"
    assert steps_of(host) == [*ALL_OK[:2], ("upgrade", "failed"), ("rollback", "ok")]
    refused = host["steps"][2]["detail"]
    assert refused["message"].startswith(refusal), refused["message"]
    assert refused["on_disk"] == {"version": TARGET, "srcversion": GOOD_BUILD}
    assert refused["loaded"] == {"version": OLD, "srcversion": OLD_BUILD}
    assert host["outcome"].startswith(f"rolled back to {OLD} after it failed at upgrade: {refusal}")
    rollback = host["steps"][3]["detail"]
    assert rollback["reason"] == (
        f"the refused build {TARGET} (srcversion {GOOD_BUILD}) was installed on disk:"
        " the next boot would load it"
    )
    assert rollback["package"] == f"mpt3sas-driver {OLD_PACKAGE}"
    put_back = rollback["steps"]
    assert (put_back["upgrade"]["installed_version"], put_back["upgrade"]["installed_srcversion"]) == (
        OLD,
        OLD_BUILD,
    )
    assert put_back["activate"]["status"] == "skipped"  # the previous build never stopped running
    assert put_back["verify"]["loaded_srcversion"] == OLD_BUILD
    # On the host: the package and the on-disk build are the previous ones, the one loaded.
    assert sh(lab, "sbv01", PACKAGE_VERSION).strip() == OLD_PACKAGE
    assert on_disk(lab, "sbv01") == (OLD, OLD_BUILD, DISTRIBUTION_KEY)
    assert running(lab, "sbv01", "mpt3sas") == (version, boot_id) == (OLD, boot_id)
    shown = fleetfix(tmp_path, "runs", "show", "1", "--format", "json")
    assert json.loads(shown.stdout)["hosts"][0]["outcome"] == host["outcome"]
    assert "rolled" in fleetfix(tmp_path, "runs", "show", "1").stdout  # the table may wrap the words

    # --no-rollback leaves the refused build on disk for inspection, and the run says what that means.
    rc, report, hosts = run_remediate(tmp_path, inventories, "--soak-runtime", SOAK, "--no-rollback")

    assert rc == ExitStatus.HOSTS_FAILED, report
    kept = hosts["sbv01"]
    assert steps_of(kept)[-1] == ("upgrade", "failed")
    assert kept["outcome"] == (
        f"failed at upgrade: {kept['steps'][-1]['detail']['message']}; the refused build stays installed on"
        f" disk: the next boot loads it: {TARGET} (srcversion {GOOD_BUILD})"
    )
    assert on_disk(lab, "sbv01") == (TARGET, GOOD_BUILD, VENDOR_KEY)
    assert running(lab, "sbv01", "mpt3sas") == (OLD, boot_id)

    # The package installed now is the refused one: the next run's pre-check sees its build is not the
    # loaded one, so its rollback reinstalls nothing, and says so.
    rc, report, hosts = run_remediate(tmp_path, inventories, "--soak-runtime", SOAK)

    assert rc == ExitStatus.HOSTS_FAILED, report
    again = hosts["sbv01"]
    assert steps_of(again)[-2:] == [("upgrade", "failed"), ("rollback", "failed")]
    assert again["outcome"].endswith(
        f"; rollback failed: no previous package recorded to reinstall: mpt3sas-driver 46.00.00.00-1 is"
        f" installed, but its build on disk is {TARGET} (srcversion {GOOD_BUILD}), not the loaded {OLD}"
        f" (srcversion {OLD_BUILD}); the refused build stays installed on disk: the next boot loads it:"
        f" {TARGET} (srcversion {GOOD_BUILD})"
    ), again["outcome"]

    trusted = [DISTRIBUTION_KEY, VENDOR_KEY]
    accepted = remediate(lab, tmp_path, "sbv01", {**MPT3SAS, "hba_driver_trusted_signers": trusted})

    assert accepted.status == "ok", accepted.message
    verified = steps(accepted)["verify"]
    assert (verified["loaded_version"], verified["loaded_srcversion"]) == (TARGET, GOOD_BUILD)
    assert running(lab, "sbv01", "mpt3sas") == (TARGET, boot_id)  # reloaded, not rebooted
