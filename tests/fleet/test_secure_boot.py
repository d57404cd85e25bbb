"""Secure Boot on a lab host (mixed scenario's sb01: UEFI, Secure Boot on, lockdown integrity, a signed
running build): the host shows its own efivar and lockdown file, never the machine's; the driver change
refuses an unsigned build before anything is unloaded; the host's modprobe refuses it as a locked-down
kernel does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fleet.test_el import sh
from tests.fleet.test_hba_driver import GOOD_BUILD, MPT3SAS, failure, remediate, running, steps

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


def test_a_build_signed_outside_the_trusted_signers_is_refused_until_its_signer_is_trusted(
    make_lab, tmp_path: Path
) -> None:
    lab = make_lab(str(SIGNERS))
    assert sh(lab, "sbv01", "cat /sys/kernel/security/lockdown").strip() == "none [integrity] confidentiality"
    assert sh(lab, "sbv01", "modinfo -F signer mpt3sas").strip() == DISTRIBUTION_KEY
    version, boot_id = running(lab, "sbv01", "mpt3sas")

    refused = remediate(lab, tmp_path, "sbv01", {**MPT3SAS, "hba_driver_trusted_signers": [DISTRIBUTION_KEY]})

    step, message = failure(refused)
    assert step == "upgrade"
    assert message.startswith(
        "/lib/modules/6.1.0-18-amd64/updates/mpt3sas.ko: kernel lockdown is integrity and the build is"
        f" signed by {VENDOR_KEY}, not by a trusted signer ({DISTRIBUTION_KEY});"
        " the running build stays loaded"
    ), message
    assert "activate" not in steps(refused)
    assert running(lab, "sbv01", "mpt3sas") == (version, boot_id) == ("34.100.00.00", boot_id)

    trusted = [DISTRIBUTION_KEY, VENDOR_KEY]
    accepted = remediate(lab, tmp_path, "sbv01", {**MPT3SAS, "hba_driver_trusted_signers": trusted})

    assert accepted.status == "ok", accepted.message
    verified = steps(accepted)["verify"]
    assert (verified["loaded_version"], verified["loaded_srcversion"]) == ("46.00.00.00", GOOD_BUILD)
    assert running(lab, "sbv01", "mpt3sas") == ("46.00.00.00", boot_id)  # reloaded, not rebooted
