"""The lab's EL pieces without a host: the scenario's os field, the initramfs archive, BLS entries and
grubby's edits, RPM versions and the kmod package the lab builds."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from fleetfix.errors import InputError
from fleetfix.lab import rpmrepo
from fleetfix.lab.distro import DISTROS
from fleetfix.lab.guest import bls, initramfs
from fleetfix.lab.scenario import Package
from fleetfix.lab.scenario_load import load_scenario

DATA = Path(__file__).resolve().parents[1] / "data/lab/os"
ROLES = Path(__file__).resolve().parents[2] / "roles"
EL_KERNEL = "5.14.0-503.35.1.el9_5.x86_64"


@pytest.mark.parametrize(("key", "record"), [("el9", "rocky-9.5.txt"), ("el10", "rocky-10.0.txt")])
def test_el_identity_is_the_recorded_rocky_one(key: str, record: str) -> None:
    recorded = (DATA / record).read_text().split("$ cat ")
    os_release = next(p for p in recorded if p.startswith("/etc/os-release")).split("\n", 1)[1]
    version = next(p for p in recorded if p.startswith("/proc/version")).split("\n", 1)[1].strip()
    distro = DISTROS[key]
    assert distro.os_release == os_release
    assert version.endswith(f" {distro.kernel_build} {distro.kernel_version}")
    redhat = [p for p in recorded if p.startswith("/etc/redhat-release")]
    if redhat:
        assert distro.redhat_release == redhat[0].split("\n", 1)[1]


@pytest.mark.parametrize(("key", "vars_file"), [("el9", "RedHat.yml"), ("el10", "RedHat_10.yml")])
def test_el_kdump_packages_are_the_ones_crash_capture_installs(key: str, vars_file: str) -> None:
    role_vars = yaml.safe_load((ROLES / "crash_capture/vars" / vars_file).read_text())
    assert list(DISTROS[key].kdump_packages) == role_vars["__crash_capture_packages"]


def test_mixed_scenario_has_both_families_and_seed_stays_debian() -> None:
    mixed = load_scenario("mixed")
    assert {g.os for g in mixed.groups} == {"debian12", "el9", "el10"}
    assert mixed.el_kernels() == {"el10": ("6.12.0-55.9.1.el10_0.x86_64",), "el9": (EL_KERNEL,)}
    assert next(g for g in mixed.groups if g.os == "el9").kernel_version == DISTROS["el9"].kernel_version
    assert {g.os for g in load_scenario("seed").groups} == {"debian12"}
    assert load_scenario("seed").el_kernels() == {}


def test_unknown_os_is_one_line_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        textwrap.dedent("""\
        groups:
          - name: web
            os: el7
            kernel: 3.10.0-1160.el7.x86_64
        """)
    )
    with pytest.raises(InputError) as caught:
        load_scenario(str(path))
    assert (
        str(caught.value)
        == f"{path}:3: groups[0].os: 'el7' is not an OS the lab simulates (debian12, el10, el9)"
    )


def test_initramfs_archive_round_trips_and_cpio_reads_it(tmp_path: Path) -> None:
    modules = {
        "extra/mpt3sas/mpt3sas.ko": b"\x7fELF new build",
        "kernel/drivers/scsi/raid_class.ko": b"\x7fELF",
    }
    image = tmp_path / "initramfs.img"
    image.write_bytes(initramfs.image_bytes(EL_KERNEL, modules, "rapp01"))

    members = initramfs.read(image)

    base = f"usr/lib/modules/{EL_KERNEL}"
    assert members[f"{base}/extra/mpt3sas/mpt3sas.ko"][1] == b"\x7fELF new build"
    assert members[f"{base}/modules.dep"][1].decode().splitlines() == [
        "extra/mpt3sas/mpt3sas.ko:",
        "kernel/drivers/scsi/raid_class.ko:",
    ]
    assert members["etc/hostname"][1] == b"rapp01\n"
    assert f"{base}/extra/mpt3sas" in members  # parent directories, as cpio lists them
    if shutil.which("cpio"):
        listing = subprocess.run(
            ["sh", "-c", f"zcat {image} | cpio -t --quiet"], capture_output=True, text=True, check=True
        )
        assert f"{base}/extra/mpt3sas/mpt3sas.ko" in listing.stdout.split()


def test_bls_default_entry_and_grubby_edits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = tmp_path / "boot/loader/entries"
    entries.mkdir(parents=True)
    for release in (EL_KERNEL, "5.14.0-427.13.1.el9_4.x86_64"):
        text = bls.entry("abc", release, "root=UUID=1 ro quiet", f"Rocky Linux ({release}) 9.5 (Blue Onyx)")
        (entries / f"abc-{release}.conf").write_text(text)
    monkeypatch.setattr(bls, "ENTRIES", entries)
    monkeypatch.setattr(bls, "GRUBENV", tmp_path / "boot/grub2/grubenv")

    assert bls.default_boot() == (f"/vmlinuz-{EL_KERNEL}", "root=UUID=1 ro quiet")  # newest first
    assert bls.grubby_main(["--update-kernel=ALL", "--args=crashkernel=256M"]) == 0
    assert bls.grubby_main(["--update-kernel=DEFAULT", "--remove-args=quiet"]) == 0

    assert bls.default_boot()[1] == "root=UUID=1 ro crashkernel=256M"
    older = bls.parse((entries / "abc-5.14.0-427.13.1.el9_4.x86_64.conf").read_text())
    assert older["options"] == "root=UUID=1 ro quiet crashkernel=256M $tuned_params"
    (tmp_path / "boot/grub2").mkdir()
    (tmp_path / "boot/grub2/grubenv").write_text("saved_entry=abc-5.14.0-427.13.1.el9_4.x86_64\n")
    assert bls.default_boot()[0] == "/vmlinuz-5.14.0-427.13.1.el9_4.x86_64"


def test_grubby_keeps_repeated_consoles_and_grub_unescapes_a_dollar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = tmp_path / "boot/loader/entries"
    entries.mkdir(parents=True)
    text = bls.entry("abc", EL_KERNEL, "root=UUID=1 ro console=ttyS1 quiet", "Rocky Linux 9.5")
    (entries / f"abc-{EL_KERNEL}.conf").write_text(text)
    monkeypatch.setattr(bls, "ENTRIES", entries)
    monkeypatch.setattr(bls, "GRUBENV", tmp_path / "boot/grub2/grubenv")
    # what crash_capture runs: "console" named once per console= of the entry, then both added, serial last
    argv = ["--update-kernel=ALL", "--remove-args=console", "--args=console=tty0 console=ttyS0,115200n8"]
    assert bls.grubby_main(argv) == 0
    assert bls.default_boot()[1] == "root=UUID=1 ro quiet console=tty0 console=ttyS0,115200n8"
    # --args alone replaces consoles one for one (the first two here), the new ones in order
    assert bls.grubby_main(["--update-kernel=ALL", "--args=console=ttyS1 console=tty0"]) == 0
    assert bls.default_boot()[1] == "root=UUID=1 ro quiet console=ttyS1 console=tty0"
    # a value given to --remove-args removes that one only
    assert bls.grubby_main(["--update-kernel=ALL", "--remove-args=console=ttyS1"]) == 0
    assert bls.default_boot()[1] == "root=UUID=1 ro quiet console=tty0"
    assert bls.grubby_main(["--update-kernel=ALL", r"--args=memmap=0x100000\$0x7f000000"]) == 0
    assert "memmap=0x100000\\$0x7f000000" in (entries / f"abc-{EL_KERNEL}.conf").read_text()
    assert bls.default_boot()[1].endswith(" memmap=0x100000$0x7f000000")


@pytest.mark.parametrize(
    ("options", "argv", "expected"),
    [
        # --args replaces the first argument of its name only: another memmap= region is lost, one stays
        (
            "ro memmap=64M\\$0x100000000 memmap=1M\\$0x200000000 quiet",
            [r"--args=memmap=0x100000\$0x7f000000"],
            "ro memmap=1M\\$0x200000000 quiet memmap=0x100000\\$0x7f000000",
        ),
        # --remove-args by name removes the first of that name, once per time it is named
        (
            "ro console=tty0 console=ttyS1 console=ttyS2",
            ["--remove-args=console"],
            "ro console=ttyS1 console=ttyS2",
        ),
        ("ro console=tty0 console=ttyS1 quiet", ["--remove-args=console console"], "ro quiet"),
        # what crash_capture runs on EL: every memmap= removed, one holding all regions added back
        (
            "ro memmap=64M\\$0x100000000 memmap=1M\\$0x200000000",
            [
                "--remove-args=memmap memmap",
                r"--args=memmap=64M\$0x100000000,1M\$0x200000000,0x100000\$0x7f000000"
                " ramoops.mem_size=0x100000",
            ],
            "ro memmap=64M\\$0x100000000,1M\\$0x200000000,0x100000\\$0x7f000000 ramoops.mem_size=0x100000",
        ),
    ],
)
def test_grubby_edits_the_first_argument_of_a_name_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: str, argv: list[str], expected: str
) -> None:
    entries = tmp_path / "boot/loader/entries"
    entries.mkdir(parents=True)
    (entries / f"abc-{EL_KERNEL}.conf").write_text(bls.entry("abc", EL_KERNEL, options, "Rocky Linux 9.5"))
    monkeypatch.setattr(bls, "ENTRIES", entries)
    monkeypatch.setattr(bls, "GRUBENV", tmp_path / "boot/grub2/grubenv")
    assert bls.grubby_main(["--update-kernel=ALL", *argv]) == 0
    options = bls.parse((entries / f"abc-{EL_KERNEL}.conf").read_text())["options"]
    assert options == f"{expected} $tuned_params"


@pytest.mark.parametrize(
    ("debian_style", "rpm"),
    [
        ("46.00.00.00-1", ("46.00.00.00", "1")),
        ("1:2.0-3", ("2.0", "3")),
        ("07.727.03.00", ("07.727.03.00", "1")),
    ],
)
def test_package_versions_map_to_rpm_version_and_release(debian_style: str, rpm: tuple[str, str]) -> None:
    assert rpmrepo.split_version(debian_style) == rpm


@pytest.mark.skipif(shutil.which("rpmbuild") is None, reason="needs rpmbuild (apt-get install rpm)")
def test_kmod_package_owns_the_module_per_kernel_and_leaves_the_initramfs_alone(tmp_path: Path) -> None:
    package = Package("mpt3sas-driver", "46.00.00.00-1", "mpt3sas", "46.00.00.00", "1B9E3F", "OE", False)
    built = rpmrepo.build_rpm(rpmrepo.driver_rpm(package, (EL_KERNEL,)), tmp_path)

    def query(*args: str) -> str:
        return subprocess.run(["rpm", "-qp", *args, str(built)], capture_output=True, text=True).stdout

    assert built.name == "mpt3sas-driver-46.00.00.00-1.x86_64.rpm"
    assert query("-l").split() == [f"/lib/modules/{EL_KERNEL}/extra/mpt3sas/mpt3sas.ko"]
    assert "kmod(mpt3sas.ko) = 46.00.00.00" in query("--provides")
    post = query("--scripts")
    assert "depmod -a" in post and "dracut" not in post  # rebuilding the image is the driver change's job
