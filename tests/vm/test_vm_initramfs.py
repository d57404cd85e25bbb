"""The driver change where the HBA driver loads from the initramfs, on a real kernel booted by its own GRUB.

When the boot disk sits behind the HBA, its driver is in the initramfs and loads before the root file system
exists: upgrading the package under /lib/modules changes nothing a reboot would load unless the images are
rebuilt too. Here the guest boots through the GRUB on its disk (so each boot loads what /boot holds then),
the operator's precondition puts fxhba into the initramfs, and ``fleetfix remediate`` with a reboot
activation must leave 1.0.1 loaded from the rebuilt image: the kernel's log shows fxhba 1.0.1 registering
before the root file system was mounted.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fleetfix.lab.vm import image
from fleetfix.lab.vm.machine import Vm
from tests.support.vm import LAB_ADVISORIES, Steps, boot_id, fleetfix, ok, running

pytestmark = pytest.mark.vm

MODULE = "fxhba"
REBOOT_WAIT = 900.0
# fxhba's probe line, and the kernel mounting the root partition (the initramfs' last act before switch_root)
_FXHBA_UP = re.compile(r"fxhba \S+: version (\S+): fxhba0")
_ROOT_MOUNTED = re.compile(r"EXT4-fs \(vda1\): mounted filesystem")
# Every fxhba.ko inside the running kernel's initramfs, with its version (unmkinitramfs handles the early
# microcode archive and the compressed main one alike).
_IMAGE_BUILDS = (
    "set -e; d=$(mktemp -d); unmkinitramfs /boot/initrd.img-$(uname -r) $d; "
    "find $d -name 'fxhba.ko*' -exec modinfo -F version {} \\;; rm -rf $d"
)


@pytest.fixture(scope="module")
def guest(built: image.ImageFiles, steps: Steps, state_dir: Path) -> Iterator[Vm]:
    with running(Vm("initramfs", boot_loader=True), steps, "boot through GRUB to ssh") as vm:
        yield vm


@pytest.fixture(scope="module")
def inventory(guest: Vm, state_dir: Path) -> Path:
    """The guest's inventory, with the activation an initramfs-loaded driver needs: a reboot."""
    document = guest.inventory()
    document["all"]["children"]["fxhba_hosts"]["vars"]["hba_driver_activate"] = "reboot"
    path = state_dir / "inventory.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _reboot(vm: Vm) -> str:
    """Reboot the guest from inside and wait for the new boot; its boot id."""
    before = boot_id(vm)
    vm.run("systemctl reboot", timeout=30)
    deadline = time.monotonic() + REBOOT_WAIT
    while time.monotonic() < deadline:
        time.sleep(5)
        answer = vm.run("cat /proc/sys/kernel/random/boot_id", timeout=30)
        if answer.returncode == 0 and answer.stdout.strip() != before:
            return answer.stdout.strip()
    raise AssertionError(f"no new boot after {REBOOT_WAIT:.0f} s: {vm.console_tail()}")


def _loaded_before_root(vm: Vm) -> str:
    """The fxhba version whose probe the kernel logged before mounting the root file system, this boot."""
    log = ok(vm, "dmesg")
    probe = _FXHBA_UP.search(log)
    root = _ROOT_MOUNTED.search(log)
    assert probe and root, f"fxhba probe {bool(probe)}, root mount {bool(root)} in this boot's kernel log"
    assert probe.start() < root.start(), "fxhba loaded after the root file system was mounted"
    return probe.group(1)


def test_the_guest_boots_its_own_grub_and_loads_fxhba_from_the_initramfs(guest: Vm, steps: Steps) -> None:
    assert "BOOT_IMAGE=/boot/vmlinuz-" in ok(guest, "cat /proc/cmdline")  # GRUB booted it, not QEMU
    # The operator's precondition: fxhba among the initramfs' modules, as for the boot disk's HBA.
    started = time.monotonic()
    ok(guest, f"echo {MODULE} >> /etc/initramfs-tools/modules && update-initramfs -u -k $(uname -r)", 900)
    assert ok(guest, _IMAGE_BUILDS).split() == ["1.0.0"]
    _reboot(guest)
    steps.record("fxhba into the initramfs, reboot", started)
    assert "BOOT_IMAGE=/boot/vmlinuz-" in ok(guest, "cat /proc/cmdline")
    assert _loaded_before_root(guest) == "1.0.0"
    assert ok(guest, f"cat /sys/module/{MODULE}/version") == "1.0.0"


def test_remediate_rebuilds_the_initramfs_and_the_reboot_loads_1_0_1_from_it(
    guest: Vm, inventory: Path, steps: Steps
) -> None:
    before = boot_id(guest)
    started = time.monotonic()
    # Queue depth 1 never races: the baseline measures 1.0.0 instead of reproducing the fault.
    done = fleetfix(
        "remediate", "--module", MODULE, "--yes", "--reboot", "-i", str(inventory),
        "--advisories", str(LAB_ADVISORIES), "--profile", "qd1", "--soak-runtime", "10",
        "--baseline-runtime", "5", "--format", "json",
    )  # fmt: skip
    steps.record(
        "fleetfix remediate (upgrade, initramfs rebuilt and read back, reboot, verify, soak)", started
    )
    host = json.loads(done.stdout)["hosts"][0] if done.stdout.startswith("{") else {}
    assert done.returncode == 0, host.get("outcome") or done.stderr
    assert host["status"] == "done", host
    details = {s["step"]: s["detail"] for s in host["steps"]}
    # the role rebuilt the running kernel's image and read 1.0.1 back from it before the reboot
    images = details["upgrade"]["initramfs"]
    release = ok(guest, "uname -r")
    built = [(i["image"], i["status"], i["version"]) for i in images]
    assert built == [(f"/boot/initrd.img-{release}", "found", "1.0.1")], images
    activate = details["activate"]
    assert activate["method"] == "reboot" and activate["boot_id_before"] == before
    after = boot_id(guest)
    assert after != before
    # GRUB loaded the rebuilt image, and the build in it is what registered before the root was mounted.
    assert "BOOT_IMAGE=/boot/vmlinuz-" in ok(guest, "cat /proc/cmdline")
    assert ok(guest, _IMAGE_BUILDS).split() == ["1.0.1"]
    assert _loaded_before_root(guest) == "1.0.1"
    assert ok(guest, f"cat /sys/module/{MODULE}/version") == "1.0.1"
    assert ok(guest, "dpkg-query -W -f='${Version}' fxhba-driver") == "1.0.1-1"
    assert host["soak"]["status"] == "passed" and host["soak"]["boot_id_after"] == after
