"""The kernel that boots next and the module build it loads (plugins/module_utils/next_boot.py), on real
boot loader output.

Sources of the strings (public pages and repositories, found by text search):
- grubby --default-kernel: "/boot/vmlinuz-4.18.0-477.13.1.el8_8.x86_64" (a RHEL 8 grubby guide, find_string
  id 200617740), "/boot/vmlinuz-5.14.0-427.13.1.el9_4.x86_64" (Intel FPGA DFL install notes, id 28570821112),
  "/boot/vmlinuz-6.1.6-1.el8.elrepo.x86_64" (a CentOS Stream 8 kernel-update lab, id 20149530738).
- grubenv saved_entry: Ubuntu's submenu path "gnulinux-advanced-b9e3bb1e-c04c-4695-927d-13682cfab29c>
  gnulinux-5.13.0-41-generic-advanced-b9e3bb1e-c04c-4695-927d-13682cfab29c" (id 24662661954), Debian's
  "gnulinux-6.1.0-17-amd64-advanced-8f3c1a92-..." (as printed, uuid elided; id 63290888351), Debian 13's
  "gnulinux-6.12.90+deb13.1-amd64-advanced-<uuid>" (id 58262240880; uuids elided in the sources), and an
  entry naming no kernel, "gnulinux-simple-abc" (id 54497949956). The one-shot next_entry is the target
  grub-reboot was given in the same Debian page.
"""

from __future__ import annotations

import lzma
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetfix.lab.guest import initramfs
from fleetfix.lab.guest.elfmodinfo import write_ko
from tests.support import collection_plugin

nb = collection_plugin("module_utils.next_boot")


@pytest.mark.parametrize(
    ("text", "release"),
    [
        ("/boot/vmlinuz-4.18.0-477.13.1.el8_8.x86_64\n", "4.18.0-477.13.1.el8_8.x86_64"),
        ("/boot/vmlinuz-5.14.0-427.13.1.el9_4.x86_64", "5.14.0-427.13.1.el9_4.x86_64"),
        ("/boot/vmlinuz-6.1.6-1.el8.elrepo.x86_64\n", "6.1.6-1.el8.elrepo.x86_64"),
        ("", None),
        ("grubby: no default kernel\n", None),
    ],
)
def test_grubby_default_kernel(text: str, release: str | None) -> None:
    assert nb.release_from_grubby(text) == release


UBUNTU_SAVED = (
    "# GRUB Environment Block\n"
    "saved_entry=gnulinux-advanced-b9e3bb1e-c04c-4695-927d-13682cfab29c>"
    "gnulinux-5.13.0-41-generic-advanced-b9e3bb1e-c04c-4695-927d-13682cfab29c\n" + "#" * 40 + "\n"
)


def test_saved_entry_of_a_submenu_names_the_older_kernel() -> None:
    installed = ["5.13.0-41-generic", "5.15.0-43-generic"]
    assert nb.next_kernel(installed, None, 'GRUB_DEFAULT="saved"\n', UBUNTU_SAVED) == (
        "5.13.0-41-generic",
        "grubenv saved_entry",
    )
    # Without GRUB_DEFAULT=saved grub ignores saved_entry: the first entry, the newest kernel, boots.
    assert nb.next_kernel(installed, None, "GRUB_DEFAULT=0\n", UBUNTU_SAVED) == (
        "5.15.0-43-generic",
        "newest installed",
    )


def test_a_one_shot_next_entry_outranks_the_saved_one() -> None:
    env = (
        "saved_entry=gnulinux-6.1.0-17-amd64-advanced-8f3c1a92-...\n"
        "next_entry=gnulinux-6.1.0-18-amd64-advanced-8f3c1a92-...\n"
    )
    installed = ["6.1.0-17-amd64", "6.1.0-18-amd64"]
    assert nb.next_kernel(installed, None, "GRUB_DEFAULT=saved", env) == (
        "6.1.0-18-amd64",
        "grubenv next_entry",
    )


def test_debian13_entry_and_an_entry_naming_no_kernel() -> None:
    entry = "gnulinux-6.12.90+deb13.1-amd64-advanced-UUID"  # the source elides the uuid
    assert (
        nb.release_in_entry(entry, ["6.12.90+deb13.1-amd64", "6.12.38+deb13-amd64"])
        == "6.12.90+deb13.1-amd64"
    )
    installed = ["6.12.38+deb13-amd64", "6.12.90+deb13.1-amd64"]
    assert nb.next_kernel(installed, None, "GRUB_DEFAULT=saved", "saved_entry=gnulinux-simple-abc\n") == (
        "6.12.90+deb13.1-amd64",
        "newest installed",
    )


def test_grubby_outranks_grub_files_and_a_title_in_grub_default() -> None:
    installed = ["4.18.0-477.13.1.el8_8.x86_64", "4.18.0-513.5.1.el8_9.x86_64"]
    grubby = "/boot/vmlinuz-4.18.0-477.13.1.el8_8.x86_64\n"
    assert nb.next_kernel(installed, grubby, "GRUB_DEFAULT=saved", "") == (
        "4.18.0-477.13.1.el8_8.x86_64",
        "grubby --default-kernel",
    )
    title = (
        "GRUB_DEFAULT='Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-17-amd64'\n"
    )
    assert nb.next_kernel(["6.1.0-17-amd64", "6.1.0-18-amd64"], None, title, None) == (
        "6.1.0-17-amd64",
        "GRUB_DEFAULT",
    )
    assert nb.next_kernel([], None, None, None)[0] is None


def test_newest_installed_follows_version_order_not_text_order() -> None:
    installed = ["5.14.0-70.13.1.el9_0.x86_64", "5.14.0-162.6.1.el9_1.x86_64", "5.14.0-427.13.1.el9_4.x86_64"]
    assert nb.next_kernel(installed)[0] == "5.14.0-427.13.1.el9_4.x86_64"
    assert nb.next_kernel(["6.1.0-9-amd64", "6.1.0-18-amd64"])[0] == "6.1.0-18-amd64"


def test_modules_dep_names_the_file_depmod_chose() -> None:
    # modules.dep lines as depmod writes them: path, colon, dependencies.
    dep = (
        "kernel/drivers/scsi/scsi_transport_fc.ko.xz:\n"
        "kernel/drivers/scsi/qla2xxx/qla2xxx.ko.xz: kernel/drivers/nvme/host/nvme-fc.ko.xz "
        "kernel/drivers/scsi/scsi_transport_fc.ko.xz\n"
        "weak-updates/mpt3sas/mpt3sas.ko: kernel/drivers/scsi/raid_class.ko.xz\n"
    )
    assert nb.module_path(dep, "qla2xxx") == "kernel/drivers/scsi/qla2xxx/qla2xxx.ko.xz"
    assert nb.module_path(dep, "mpt3sas") == "weak-updates/mpt3sas/mpt3sas.ko"
    assert nb.module_path(dep, "scsi_transport_fc") == "kernel/drivers/scsi/scsi_transport_fc.ko.xz"
    assert nb.module_path(dep, "lpfc") is None


def test_modinfo_of_a_module_file_plain_and_xz(tmp_path: Path) -> None:
    info = [
        ("version", "43.100.00.00"),
        ("srcversion", "9A1B2C3D4E5F60718293A4B"),
        ("vermagic", "6.1.0-18-amd64 SMP"),
    ]
    write_ko(tmp_path / "mpt3sas.ko", info)
    data = (tmp_path / "mpt3sas.ko").read_bytes()
    assert nb.parse_modinfo(nb.decompress_module("x/mpt3sas.ko", data)) == dict(info)
    packed = lzma.compress(data, format=lzma.FORMAT_XZ)
    assert nb.parse_modinfo(nb.decompress_module("x/mpt3sas.ko.xz", packed))["srcversion"] == info[1][1]
    with pytest.raises(ValueError, match="zst"):
        nb.decompress_module("x/mpt3sas.ko.zst", b"")


def test_a_real_elf_without_modinfo_and_a_non_elf_file_are_refused() -> None:
    with pytest.raises(ValueError, match=r"no \.modinfo"):
        nb.parse_modinfo(Path(sys.executable).resolve().read_bytes())
    with pytest.raises(ValueError, match="not an ELF"):
        nb.parse_modinfo(b"#!/bin/sh\n")


def test_facts_of_a_tree_with_a_kernel_installed_after_boot(tmp_path: Path) -> None:
    """The captured Debian host (running 6.1.0-18-amd64, mpt3sas 43.100.00.00 out of tree) after 6.1.0-21
    was installed with a DKMS build of mpt3sas and no reboot: the next boot loads 6.1.0-21's files."""
    from tests.unit.test_facts_module import DEBIAN, run_facts

    root = tmp_path / "root"
    shutil.copytree(DEBIAN, root, symlinks=True)
    (root / "boot").mkdir()
    for release in ("6.1.0-18-amd64", "6.1.0-21-amd64"):
        (root / "boot" / f"vmlinuz-{release}").write_bytes(b"")
        (root / "lib/modules" / release).mkdir(parents=True)
    new = root / "lib/modules/6.1.0-21-amd64"
    (new / "modules.dep").write_text(
        "updates/dkms/mpt3sas.ko: kernel/drivers/scsi/raid_class.ko\n"
        "kernel/drivers/scsi/megaraid/megaraid_sas.ko.xz:\n"
    )
    (new / "updates/dkms").mkdir(parents=True)
    write_ko(
        new / "updates/dkms/mpt3sas.ko",
        [("version", "46.00.00.00"), ("srcversion", "0123456789ABCDEF0123456")],
    )
    (new / "kernel/drivers/scsi/megaraid").mkdir(parents=True)
    write_ko(tmp_path / "megaraid_sas.ko", [("version", "07.719.03.00-rc1")])
    packed = lzma.compress((tmp_path / "megaraid_sas.ko").read_bytes(), format=lzma.FORMAT_XZ)
    (new / "kernel/drivers/scsi/megaraid/megaraid_sas.ko.xz").write_bytes(packed)
    (root / "etc/default").mkdir(exist_ok=True)
    (root / "etc/default/grub").write_text('GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n')
    # 6.1.0-21's initramfs was built before the DKMS build: an early microcode archive, then the main one
    # (gzip) still holding the 43.100.00.00 build.
    write_ko(tmp_path / "old.ko", [("version", "43.100.00.00"), ("srcversion", "9A1B2C3D4E5F60718293A4B")])
    stale = {"updates/dkms/mpt3sas.ko": (tmp_path / "old.ko").read_bytes()}
    early = initramfs.pack({"kernel/x86/microcode/GenuineIntel.bin": b"\x01" * 64})
    image = early + initramfs.image_bytes("6.1.0-21-amd64", stale, "db01")
    (root / "boot/initrd.img-6.1.0-21-amd64").write_bytes(image)

    facts = run_facts(tmp_path, f"root={root}")["ansible_facts"]["fleetfix"]
    next_boot = facts["next_boot"]
    assert (next_boot["kernel"], next_boot["source"]) == ("6.1.0-21-amd64", "newest installed")
    builds = {m["name"]: m for m in next_boot["modules"]}
    assert builds["mpt3sas"] == {
        "name": "mpt3sas",
        "path": "updates/dkms/mpt3sas.ko",
        "version": "46.00.00.00",
        "srcversion": "0123456789ABCDEF0123456",
        "initramfs": {
            "image": "/boot/initrd.img-6.1.0-21-amd64",
            "status": "found",
            "path": "updates/dkms/mpt3sas.ko",
            "version": "43.100.00.00",
            "srcversion": "9A1B2C3D4E5F60718293A4B",
            "reason": None,
        },
    }
    assert builds["megaraid_sas"]["version"] == "07.719.03.00-rc1"
    assert builds["megaraid_sas"]["initramfs"]["status"] == "absent"  # it loads from the root file system
    assert builds["nvme"]["path"] is None  # 6.1.0-21's modules.dep has no nvme: it would not load
    assert "sd_mod" not in builds and "dm_mod" not in builds


def test_audit_shows_loaded_and_next_boot_builds_with_findings_for_both() -> None:
    """db01 runs mpt3sas 43.100.00.00 out of tree; the next boot would load a DKMS build at 35.00.00.00,
    below the shipped mpt3sas-fw-event-reset-race fix (35.100.00.00, advisories/mpt3sas.yaml)."""
    import json

    from fleetfix.advisories.schema import load_advisories
    from fleetfix.audit import Auditor, AuditReport
    from fleetfix.facts.host import HostFacts
    from fleetfix.render import audit as audit_render
    from fleetfix.state.paths import shipped_advisories

    raw = json.loads((Path(__file__).parents[1] / "data/facts/db01.json").read_text())
    raw["next_boot"] = {
        "kernel": "6.1.0-21-amd64",
        "source": "newest installed",
        "modules": [
            {"name": "mpt3sas", "path": "updates/dkms/mpt3sas.ko", "version": "35.00.00.00",
             "srcversion": None},
            {"name": "megaraid_sas", "path": "kernel/drivers/scsi/megaraid/megaraid_sas.ko.xz",
             "version": "07.719.03.00-rc1", "srcversion": "AB12"},
            {"name": "nvme", "path": None, "version": None, "srcversion": None},
        ],
    }  # fmt: skip
    db = load_advisories([shipped_advisories()])
    host = Auditor(db).host("db01", HostFacts.from_dict(raw, "db01"))
    views = {d.name: d for d in host.drivers}
    assert views["mpt3sas"].next_boot_note == (
        "loaded 43.100.00.00, next boot 35.00.00.00 (6.1.0-21-amd64, updates/dkms/mpt3sas.ko)"
    )
    assert views["megaraid_sas"].next_boot_note is None  # same in-tree version on the next kernel
    assert views["nvme"].next_boot_note == "loaded ?, not installed for next boot (6.1.0-21-amd64)"
    next_findings = [f for f in host.findings if f.why.startswith("next boot (6.1.0-21-amd64, ")]
    assert next_findings and all(f.module == "mpt3sas" and f.version == "35.00.00.00" for f in next_findings)
    loaded = [f for f in host.findings if f.module == "mpt3sas" and not f.why.startswith("next boot")]
    assert all(f.version == "43.100.00.00" for f in loaded)
    report = AuditReport(hosts=(host,), generated_at=datetime(2026, 12, 5, tzinfo=UTC))
    document = json.loads(audit_render.to_json(report))
    (mpt3sas,) = [m for m in document["hosts"][0]["modules"] if m["name"] == "mpt3sas"]
    assert mpt3sas["next_boot"]["version"] == "35.00.00.00"


BAD = {"version": "34.100.00.00", "srcversion": "6E4C8C0A9F6E2B51D3A7C41"}
GOOD = {"version": "46.00.00.00", "srcversion": "1B9E3F2A7C5D8E0F4A6B2C9"}


def _db01_with(next_build: dict, initramfs: dict | None):
    import json

    from fleetfix.advisories.schema import load_advisories
    from fleetfix.audit import Auditor
    from fleetfix.facts.host import HostFacts
    from fleetfix.state.paths import shipped_advisories

    raw = json.loads((Path(__file__).parents[1] / "data/facts/db01.json").read_text())
    (loaded,) = [m for m in raw["modules"] if m["name"] == "mpt3sas"]
    loaded.update(BAD)  # the seed's bad build, which the shipped mpt3sas-fw-event-reset-race entry hits
    module = {"name": "mpt3sas", "path": "updates/mpt3sas.ko", **next_build, "initramfs": initramfs}
    raw["next_boot"] = {"kernel": "6.1.0-18-amd64", "source": "newest installed", "modules": [module]}
    host = Auditor(load_advisories([shipped_advisories()])).host("db01", HostFacts.from_dict(raw, "db01"))
    return {d.name: d for d in host.drivers}["mpt3sas"], host


def test_fixed_on_disk_with_the_image_rebuilt_is_a_pending_reboot() -> None:
    """db01 loaded at the seed's bad build (mpt3sas-fw-event-reset-race); after an upgrade without
    activation the module tree and the rebuilt initramfs both hold 46.00.00.00."""
    image = {
        "image": "/boot/initrd.img-6.1.0-18-amd64",
        "status": "found",
        "path": "updates/mpt3sas.ko",
        **GOOD,
    }
    view, host = _db01_with(GOOD, image)
    assert view.next_boot_note == (
        "loaded 34.100.00.00, next boot 46.00.00.00 (6.1.0-18-amd64, updates/mpt3sas.ko)"
    )
    assert view.boot_findings and all("fixed on disk (46.00.00.00 for 6.1.0-18-amd64), reboot pending" in note
                                      for note in view.boot_findings)  # fmt: skip
    assert not [f for f in host.findings if f.why.startswith("initramfs")]


def test_a_stale_initramfs_still_carries_the_bad_build() -> None:
    image = {
        "image": "/boot/initrd.img-6.1.0-18-amd64",
        "status": "found",
        "path": "updates/mpt3sas.ko",
        **BAD,
    }
    view, host = _db01_with(GOOD, image)
    assert view.next_boot_note.endswith("; initramfs 34.100.00.00 (/boot/initrd.img-6.1.0-18-amd64)")
    assert view.boot_findings == (
        "mpt3sas-fw-event-reset-race: the initramfs still carries the bad build 34.100.00.00 "
        "(/boot/initrd.img-6.1.0-18-amd64) while updates/mpt3sas.ko has 46.00.00.00: rebuild the image "
        "before any reboot",
    )
    assert [f for f in host.findings if f.why.startswith("initramfs (/boot/initrd.img-6.1.0-18-amd64): ")]


def test_an_unreadable_initramfs_is_said_unknown() -> None:
    image = {"image": "/boot/initrd.img-6.1.0-18-amd64", "status": "unknown",
             "reason": "zstd-compressed image: no zstd decompressor on this host"}  # fmt: skip
    view, _host = _db01_with(GOOD, image)
    assert view.next_boot_note.endswith(
        "; initramfs unknown (/boot/initrd.img-6.1.0-18-amd64: zstd-compressed image: no zstd decompressor "
        "on this host)"
    )
