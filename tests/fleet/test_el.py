"""The EL paths of the roles on the mixed scenario's Rocky Linux 9 hosts, with the assertions of the Debian
tests: capture status and enable (dnf, kexec-tools, grubby, kdumpctl), audit, remediate from the dnf
repository and from an RPM file, soak and collect; and the initramfs: a stale image brings the old build of
the boot disk's driver back after a reboot, on both families."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fleetfix.lab import Lab
from tests.fleet.test_capture import enable, needing_reboot, status
from tests.fleet.test_capture import fleetfix as fleetfix_command
from tests.fleet.test_hba_driver import GOOD_BUILD, MPT3SAS, failure, remediate, running, steps
from tests.fleet.test_soak import soak_hosts

pytestmark = pytest.mark.fleet

EL_KERNEL = "5.14.0-503.35.1.el9_5.x86_64"
BAD_BUILD = "6E4C8C0A9F6E2B51D3A7C41"
SNAPSHOT = (
    "md5sum /etc/kdump.conf /boot/loader/entries/* /etc/modprobe.d/* 2>&1; rpm -q kexec-tools 2>&1; "
    "systemctl is-enabled kdump 2>&1; systemctl is-active kdump 2>&1; grubby --info=ALL; "
    "cat /sys/kernel/kexec_crash_loaded /proc/sys/kernel/random/boot_id"
)


def sh(lab: Lab, host: str, command: str) -> str:
    result = lab.ssh(host, command)
    assert result.returncode == 0, (host, command, result.stderr)
    return result.stdout


def test_el_host_is_rocky_9_with_an_rpm_database_dnf_and_bls_boot_entries(make_lab) -> None:
    lab = make_lab("mixed", hosts=["rdb01", "db01"])

    facts = sh(lab, "rdb01", ". /etc/os-release; echo $ID $VERSION_ID; cat /etc/redhat-release; uname -r")
    packages = sh(lab, "rdb01", "rpm -qa --qf '%{NAME}\\n' | sort").split()
    available = sh(lab, "rdb01", "dnf -q list --available --showduplicates mpt3sas-driver")
    info = sh(lab, "rdb01", "grubby --info=DEFAULT")
    cmdline = sh(lab, "rdb01", "cat /proc/cmdline")

    assert facts.split("\n")[:3] == ["rocky 9.5", "Rocky Linux release 9.5 (Blue Onyx)", EL_KERNEL]
    assert packages == ["fleetfix-lab-system", "gpg-pubkey", "kexec-tools", "rocky-release"]
    signed = sh(
        lab, "rdb01", "rpm -K /var/lib/fleetfix-lab/repo/el/9/mpt3sas-driver-46.00.00.00-1.x86_64.rpm"
    )
    assert signed.strip().endswith("digests signatures OK")
    assert "34.100.00.00-1" in available and "46.00.00.00-1" in available
    assert f'kernel="/boot/vmlinuz-{EL_KERNEL}"' in info
    assert 'args="ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M quiet"' in info
    assert cmdline.startswith(f"BOOT_IMAGE=/vmlinuz-{EL_KERNEL} root=UUID=")
    assert "kdump: Kdump is operational" in lab.ssh("rdb01", "kdumpctl status").stderr
    # The Debian host beside it keeps its own identity, dpkg and grub.cfg, and has no RPM database.
    assert sh(lab, "db01", ". /etc/os-release; echo $ID").strip() == "debian"
    assert lab.ssh("db01", "test -e /etc/redhat-release || test -e /var/lib/rpm/rpmdb.sqlite").returncode == 1


def test_capture_status_check_and_enable_on_el_hosts(make_lab, tmp_path: Path) -> None:
    # EL 9 with full capture; EL 9 and EL 10 with nothing at all (EL 10 packages kdump as kdump-utils).
    lab = make_lab("mixed", hosts=["rdb01", "rdb03", "rdb04"])
    bare = {"rdb03": "kexec-tools", "rdb04": "kdump-utils"}
    rc, before = status(lab, tmp_path)
    assert rc == 1
    assert {n: (h["kdump_ready"], h["netconsole_ready"]) for n, h in before.items()} == {
        "rdb01": (True, True),
        "rdb03": (False, False),
        "rdb04": (False, False),
    }
    assert needing_reboot(before) == set(bare)
    files = {host: sh(lab, host, SNAPSHOT) for host in before}

    rc, checked = enable(lab, tmp_path, "--check")
    assert rc == 1 and all(checked[host]["status"] == "reboot-needed" for host in bare)
    assert {host: sh(lab, host, SNAPSHOT) for host in before} == files

    rc, first = enable(lab, tmp_path)
    assert rc == 1
    for host, package in bare.items():
        assert first[host]["status"] == "reboot-needed"
        assert "reboot needed: crashkernel=256M" in first[host]["message"]
        assert "kdump packages" in first[host]["changed"] and "crash memory" in first[host]["changed"]
        assert sh(lab, host, f"rpm -q --qf '%{{NAME}}' {package}") == package  # from the lab's dnf repository
        assert 'args="ro quiet crashkernel=256M"' in sh(lab, host, "grubby --info=ALL")
        assert sh(lab, host, "systemctl is-enabled kdump").strip() == "enabled"
        assert "path /var/crash" in sh(lab, host, "cat /etc/kdump.conf")
    assert sh(lab, "rdb04", "rpm -q --qf '%{NAME} ' kexec-tools makedumpfile") == "kexec-tools makedumpfile "

    booted = {host: sh(lab, host, "cat /proc/sys/kernel/random/boot_id") for host in bare}
    rc, rebooted = enable(lab, tmp_path, "--reboot")
    assert rc == 0 and {h for h, r in rebooted.items() if r["status"] == "rebooted"} == set(bare), rebooted
    for host in bare:
        assert sh(lab, host, "cat /proc/sys/kernel/random/boot_id") != booted[host]
        assert "crashkernel=256M" in sh(lab, host, "cat /proc/cmdline")
    rc, ready = status(lab, tmp_path)
    assert rc == 0 and all(h["ready"] for h in ready.values()), ready

    rc, last = enable(lab, tmp_path)
    assert rc == 0 and all(h["status"] == "unchanged" for h in last.values()), last


def test_audit_of_a_mixed_fleet_reads_both_families_alike(make_lab, tmp_path: Path) -> None:
    lab = make_lab("mixed", hosts=["db01", "rdb01", "rdb03"])

    result = fleetfix_command(tmp_path, "audit", "-i", str(lab.inventory_path), "--format", "json")

    hosts = {h["host"]: h for h in json.loads(result.stdout)["hosts"]}
    assert result.returncode == 1, result.stderr  # findings
    for name in ("db01", "rdb01", "rdb03"):
        mpt3sas = next(m for m in hosts[name]["modules"] if m["name"] == "mpt3sas")
        assert (mpt3sas["version"], mpt3sas["taint"], mpt3sas["disks"]) == (
            "34.100.00.00",
            ["O", "E"],
            ["sdb", "sdc"],
        )
        assert any(f["advisory"] == "mpt3sas-fw-event-reset-race" for f in hosts[name]["findings"])
    assert hosts["rdb01"]["kernel"] == hosts["rdb03"]["kernel"] == EL_KERNEL
    kdump = next(c for c in hosts["rdb01"]["crash_capture"]["checks"] if c["name"] == "kdump.service")
    assert kdump == {"name": "kdump.service", "ok": True, "detail": "kdump enabled and active"}
    assert hosts["rdb01"]["crash_capture"]["ready"] and not hosts["rdb03"]["crash_capture"]["ready"]


def test_remediate_with_dnf_from_the_repository_then_nothing_to_do(make_lab, tmp_path: Path) -> None:
    lab = make_lab("mixed", hosts=["rdb02"])
    bad, boot_before = running(lab, "rdb02", "mpt3sas")
    replacing = {**MPT3SAS, "hba_driver_from_versions": [bad]}

    result = remediate(lab, tmp_path, "rdb02", replacing)

    assert result.status == "ok", result.message
    done = steps(result)
    assert done["upgrade"]["status"] == "changed"
    assert done["upgrade"]["installed"] == "mpt3sas-driver-46.00.00.00-1"
    assert done["activate"]["method"] == "reload"
    assert (done["verify"]["loaded_version"], done["verify"]["loaded_srcversion"]) == (
        "46.00.00.00",
        GOOD_BUILD,
    )
    assert running(lab, "rdb02", "mpt3sas") == ("46.00.00.00", boot_before)
    assert sh(lab, "rdb02", "rpm -q mpt3sas-driver").strip() == "mpt3sas-driver-46.00.00.00-1.x86_64"
    owned = f"/lib/modules/{EL_KERNEL}/extra/mpt3sas/mpt3sas.ko"
    assert sh(lab, "rdb02", f"rpm -qf {owned}").strip() == "mpt3sas-driver-46.00.00.00-1.x86_64"

    again = remediate(lab, tmp_path, "rdb02", replacing)

    assert again.status == "ok" and not again.changed, again.message
    assert steps(again)["upgrade"]["status"] == "skipped"


def test_remediate_from_an_rpm_file_and_a_broken_kmod_fails_with_its_words(make_lab, tmp_path: Path) -> None:
    lab = make_lab("mixed", hosts=["rdb01", "rdb03"])
    rpm = lab.layout.repo_dir / "el" / "9" / "mpt3sas-driver-46.00.00.00-1.x86_64.rpm"
    from_file = {**MPT3SAS, "hba_driver_drivers": {"mpt3sas": {"source": "file", "package_file": str(rpm)}}}
    broken = {**MPT3SAS, "hba_driver_drivers": {"mpt3sas": {**MPT3SAS["hba_driver_drivers"]["mpt3sas"]}}}
    broken["hba_driver_drivers"]["mpt3sas"]["package_versions"] = {"46.00.00.00": "46.00.00.00-2"}

    installed = remediate(lab, tmp_path, "rdb01", from_file)
    refused = remediate(lab, tmp_path, "rdb03", broken)

    assert installed.status == "ok", installed.message
    assert steps(installed)["upgrade"]["installed"] == rpm.name
    assert running(lab, "rdb01", "mpt3sas")[0] == "46.00.00.00"
    step, why = failure(refused)
    assert step == "upgrade"
    assert why.startswith("installing mpt3sas-driver-46.00.00.00-2 failed: ")
    assert f"mpt3sas: module build failed for kernel {EL_KERNEL}: exit status 2" in why
    assert running(lab, "rdb03", "mpt3sas")[0] == "34.100.00.00"
    # Its %pre refused before rpm installed anything: the database is as it was, and nothing is put back.
    left = steps(refused)["upgrade"]["package"]
    assert left["before"] == left["after"] == ["package mpt3sas-driver is not installed"]


def test_boot_disk_driver_upgrade_reboots_into_the_new_build_from_the_rebuilt_initramfs(
    make_lab, tmp_path: Path
) -> None:
    lab = make_lab("mixed", hosts=["rapp01"])
    image = f"/boot/initramfs-{EL_KERNEL}.img"
    ko = f"usr/lib/modules/{EL_KERNEL}/extra/mpt3sas/mpt3sas.ko"
    in_image = f"lsinitrd -f {ko} {image} > /tmp/ko && modinfo -F srcversion /tmp/ko"
    assert sh(lab, "rapp01", in_image).strip() == BAD_BUILD
    boot_before = running(lab, "rapp01", "mpt3sas")[1]

    result = remediate(lab, tmp_path, "rapp01", {**MPT3SAS, "hba_driver_reboot_ok": True})

    assert result.status == "ok", result.message
    assert steps(result)["activate"]["method"] == "reboot"
    assert steps(result)["activate"]["reason"].startswith("mpt3sas cannot be unloaded: ")
    version, boot_after = running(lab, "rapp01", "mpt3sas")
    assert (version, boot_after != boot_before) == ("46.00.00.00", True)
    assert sh(lab, "rapp01", in_image).strip() == GOOD_BUILD  # the kmod's %post ran dracut


STALE = {
    # host: (install the new build's module file without rebuilding the initramfs, rebuild it, list it)
    "rapp01": (
        "rpm -Uvh --noscripts /var/lib/fleetfix-lab/repo/el/9/mpt3sas-driver-46.00.00.00-1.x86_64.rpm"
        " && depmod -a",
        "dracut -f",
        f"lsinitrd /boot/initramfs-{EL_KERNEL}.img",
    ),
    "app01": (
        "dpkg-deb -x /var/lib/fleetfix-lab/repo/mpt3sas-driver_46.00.00.00-1_amd64.deb /tmp/deb && "
        "install -m 0644 /tmp/deb/usr/src/mpt3sas-46.00.00.00/mpt3sas.ko "
        "/lib/modules/$(uname -r)/updates/mpt3sas.ko && depmod -a",
        "update-initramfs -u",
        "lsinitramfs /boot/initrd.img-$(uname -r)",
    ),
}


def reboot(lab: Lab, host: str, timeout: float = 90) -> None:
    """Reboot ``host`` and wait for its next boot (a new boot id over ssh)."""
    before = sh(lab, host, "cat /proc/sys/kernel/random/boot_id")
    lab.ssh(host, "systemctl reboot")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = lab.ssh(host, "cat /proc/sys/kernel/random/boot_id", timeout=10)
        if now.returncode == 0 and now.stdout != before:
            return
        time.sleep(0.5)
    raise AssertionError(f"{host} did not boot again")


@pytest.mark.parametrize("host", sorted(STALE))
def test_a_stale_initramfs_brings_the_old_build_back_after_a_reboot(make_lab, host: str) -> None:
    lab = make_lab("mixed", hosts=[host])
    install, rebuild, listing = STALE[host]
    assert "/mpt3sas.ko" in sh(lab, host, listing)

    sh(lab, host, install)
    assert sh(lab, host, "modinfo -F version mpt3sas").strip() == "46.00.00.00"
    reboot(lab, host)

    assert running(lab, host, "mpt3sas")[0] == "34.100.00.00"  # loaded from the image's copy
    assert sh(lab, host, "modinfo -F version mpt3sas").strip() == "46.00.00.00"  # while the disk has the new

    sh(lab, host, rebuild)
    reboot(lab, host)

    assert running(lab, host, "mpt3sas")[0] == "46.00.00.00"


def test_soak_and_collect_on_el_hosts(make_lab, tmp_path: Path) -> None:
    lab = make_lab("mixed", hosts=["rapp01", "rdb01"])
    # the kmod leaves the initramfs alone: rebuild it, as the driver change does
    sh(lab, "rapp01", "dnf -y -q install mpt3sas-driver-46.00.00.00-1 && dracut -f --kver $(uname -r)")
    reboot(lab, "rapp01")
    assert running(lab, "rapp01", "mpt3sas")[0] == "46.00.00.00"

    passed = soak_hosts(lab, tmp_path, "rapp01")["rapp01"]
    crashed = soak_hosts(lab, tmp_path, "rdb01", runtime=15)["rdb01"]

    assert passed.status == "passed", passed.message
    assert passed.devices == ("/dev/sda",) and passed.boot_id_before == passed.boot_id_after
    assert crashed.status == "failed"
    assert crashed.kernel_log == "crash dump"  # kdump wrote the panicked boot's vmcore-dmesg.txt
    oops = "BUG: kernel NULL pointer dereference"
    # the panic is the heaviest fault line, quoted first; the oops before it is counted as a kernel BUG
    logged = [r for r in crashed.verdict.reasons if r.startswith("kernel logged")]
    assert logged and "(panic 1, bug 1, oops 1), worst (panic): [" in logged[0]
    assert logged[0].endswith("] Kernel panic - not syncing: Fatal exception in interrupt")

    state = tmp_path / "collect"
    collected = fleetfix_command(
        state, "collect", "-i", str(lab.inventory_path), "-l", "rdb01", "--format", "json"
    )
    assert collected.returncode == 0, collected.stderr
    host = next(h for h in json.loads(collected.stdout)["hosts"] if h["host"] == "rdb01")
    assert host["status"] == "ok", host
    dumps = sorted((state / "crashes" / "rdb01" / "crash").glob("*/vmcore-dmesg.txt"))
    assert len(dumps) == 2, dumps  # the scenario's past crash and the soak's
    assert all(oops in d.read_text() for d in dumps)


@pytest.mark.parametrize(
    ("host", "image"), [("app01", "/boot/initrd.img-{}"), ("rapp01", "/boot/initramfs-{}.img")]
)
def test_audit_after_an_upgrade_without_activation_shows_the_next_boot_and_initramfs_builds(
    make_lab, tmp_path: Path, host: str, image: str
) -> None:
    lab = make_lab("mixed", hosts=[host])
    kernel = sh(lab, host, "uname -r").strip()
    variables = {**MPT3SAS, "fleetfix_remediate_steps": ["precheck", "upgrade"]}

    result = remediate(lab, tmp_path, host, variables)

    assert result.status == "ok", result.message
    upgrade = steps(result)["upgrade"]
    assert upgrade["next_boot_kernel"] == kernel
    (built,) = [i for i in upgrade["initramfs"] if i["release"] == kernel]
    assert (built["image"], built["status"], built["version"], built["srcversion"]) == (
        image.format(kernel),
        "found",
        "46.00.00.00",
        GOOD_BUILD,
    )
    assert running(lab, host, "mpt3sas")[0] == "34.100.00.00"  # nothing activated

    audit = fleetfix_command(tmp_path, "audit", "-i", str(lab.inventory_path), "--format", "json")
    (report,) = json.loads(audit.stdout)["hosts"]
    mpt3sas = next(m for m in report["modules"] if m["name"] == "mpt3sas")
    assert mpt3sas["version"] == "34.100.00.00"
    assert (mpt3sas["next_boot"]["kernel"], mpt3sas["next_boot"]["version"]) == (kernel, "46.00.00.00")
    assert mpt3sas["initramfs"] == {
        "image": image.format(kernel),
        "status": "found",
        "version": "46.00.00.00",
        "srcversion": GOOD_BUILD,
        "reason": None,
    }
    assert mpt3sas["boot_findings"] == [
        f"mpt3sas-fw-event-reset-race: fixed on disk (46.00.00.00 for {kernel}), reboot pending"
    ]
    text = " ".join(fleetfix_command(tmp_path, "audit", "-i", str(lab.inventory_path)).stdout.split())
    assert f"mpt3sas: loaded 34.100.00.00, next boot 46.00.00.00 ({kernel}, " in text
    assert f"fixed on disk (46.00.00.00 for {kernel}), reboot pending" in text
