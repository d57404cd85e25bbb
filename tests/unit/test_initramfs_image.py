"""The build of a module inside an initramfs image (plugins/module_utils/initramfs_image.py) and the
verdicts on a driver upgrade's boot paths (boot_images.py).

Images are built the way initramfs-tools and dracut lay them out: an uncompressed early archive (CPU
microcode) then the compressed main one; member names are real ``lsinitrd``/``cpio -t`` listing lines
(tests/data/secure_boot/initramfs_listings.txt, sources in SOURCES.md beside it)."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest

from fleetfix.lab.guest import initramfs
from fleetfix.lab.guest.elfmodinfo import write_ko
from tests.support import collection_plugin

ii = collection_plugin("module_utils.initramfs_image")
bi = collection_plugin("module_utils.boot_images")
LISTINGS = (Path(__file__).parents[1] / "data/secure_boot/initramfs_listings.txt").read_text().split()
EARLY = initramfs.pack({"kernel/x86/microcode/GenuineIntel.bin": b"\x01" * 64})


def _ko(tmp_path: Path, version: str, srcversion: str) -> bytes:
    write_ko(tmp_path / "m.ko", [("version", version), ("srcversion", srcversion)])
    return (tmp_path / "m.ko").read_bytes()


def _raw_archive(member: str, data: bytes) -> bytes:
    """A newc archive with ``member`` named exactly as the listing prints it (``./`` kept)."""
    body = initramfs._entry(member, 0o100644, data, 1)
    return body + initramfs._entry("TRAILER!!!", 0, b"", 0)


@pytest.mark.parametrize(
    ("compress", "kind"),
    [
        (lambda raw: gzip.compress(raw), "gzip"),
        (lambda raw: lzma.compress(raw, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32), "xz"),
        (lambda raw: lzma.compress(raw, format=lzma.FORMAT_ALONE), "lzma"),
        (lambda raw: bz2.compress(raw), "bzip2"),
        (lambda raw: raw, "cpio"),
    ],
)
def test_early_archive_then_a_compressed_main_archive(tmp_path: Path, compress, kind: str) -> None:
    release = "6.1.0-18-amd64"
    main = initramfs.pack(
        {f"usr/lib/modules/{release}/updates/dkms/mpt3sas.ko": _ko(tmp_path, "46.00.00.00", "1B9E")}
    )
    image = EARLY + b"\0" * 12 + compress(main)
    assert ii.compression(compress(main)[:6]) == kind
    assert ii.module_build(image, release, "mpt3sas") == {
        "status": "found",
        "path": "updates/dkms/mpt3sas.ko",
        "version": "46.00.00.00",
        "srcversion": "1B9E",
        "reason": None,
    }
    assert ii.module_build(image, "6.1.0-21-amd64", "mpt3sas")["status"] == "absent"  # another kernel's
    assert ii.module_build(image, release, "megaraid_sas")["status"] == "absent"


def test_real_member_names_compressed_modules_and_leading_dot(tmp_path: Path) -> None:
    hpsa, isci, ext3 = LISTINGS
    module = _ko(tmp_path, "3.4.20-200", "AB")
    gz = _raw_archive(hpsa, gzip.compress(module))
    assert ii.module_build(gzip.compress(gz), "5.15.37-1-lts", "hpsa")["version"] == "3.4.20-200"
    plain = _raw_archive(ext3, module)
    assert ii.module_build(EARLY + plain, "3.0.74-0.6.10-default", "ext3")["path"] == "kernel/fs/ext3/ext3.ko"
    zst = ii.module_build(_raw_archive(isci, b"(\xb5/\xfd..."), "5.16.15-zen1-1-zen", "isci")
    assert zst["status"] == "unknown" and "zst" in zst["reason"]  # a zstd module without Python 3.14


def test_zstd_image_is_unknown_without_a_decompressor_and_read_with_one(tmp_path: Path) -> None:
    release = "5.14.0-427.13.1.el9_4.x86_64"
    main = initramfs.pack(
        {f"usr/lib/modules/{release}/extra/mpt3sas/mpt3sas.ko": _ko(tmp_path, "46.00.00.00", "1B")}
    )
    fake_zstd = b"\x28\xb5\x2f\xfd" + main  # what the host's zstd -dc would turn back into ``main``
    unknown = ii.module_build(EARLY + fake_zstd, release, "mpt3sas")
    assert unknown["status"] == "unknown"
    assert unknown["reason"] == "zstd-compressed image: no zstd decompressor on this host"
    calls = []

    def run(argv: list[str], data: bytes) -> tuple[int, bytes]:
        calls.append(argv)
        return 0, data[4:]

    external = ii.tool_decompressor(lambda name: f"/usr/bin/{name}", run)
    assert ii.module_build(EARLY + fake_zstd, release, "mpt3sas", external)["version"] == "46.00.00.00"
    assert calls == [["/usr/bin/zstd", "-dcq"]]


def test_every_module_of_a_host_in_one_decompression_stopping_once_all_are_found(tmp_path: Path) -> None:
    release = "6.1.0-18-amd64"
    kernel = f"usr/lib/modules/{release}/kernel/drivers"
    main = initramfs.pack(
        {
            f"{kernel}/scsi/megaraid/megaraid_sas.ko": _ko(tmp_path, "07.714.04.00-rc1", "8C3D"),
            f"{kernel}/scsi/mpt3sas/mpt3sas.ko": _ko(tmp_path, "43.100.00.00", "6E4C"),
        }
    )
    calls = []

    def run(argv: list[str], data: bytes) -> tuple[int, bytes]:
        calls.append(argv)
        return 0, data[4:]

    external = ii.tool_decompressor(lambda name: f"/usr/bin/{name}", run)
    image = EARLY + b"\x28\xb5\x2f\xfd" + main
    builds = ii.module_builds(image, release, ["mpt3sas", "megaraid_sas", "nvme"], external)
    assert calls == [["/usr/bin/zstd", "-dcq"]]  # one decompression for the three modules
    assert builds["mpt3sas"]["version"] == "43.100.00.00"
    assert builds["megaraid_sas"]["path"] == "kernel/drivers/scsi/megaraid/megaraid_sas.ko"
    assert builds["nvme"]["status"] == "absent"
    assert builds["mpt3sas"] == ii.module_build(image, release, "mpt3sas", external)
    # Found in the early archive: the compressed main one is not opened (a corrupt one would say so).
    early = initramfs.pack({f"lib/modules/{release}/kernel/mpt3sas.ko": _ko(tmp_path, "46.00.00.00", "1B")})
    assert ii.module_builds(early + b"\x1f\x8b\x08garbage", release, ["mpt3sas"])["mpt3sas"]["version"] == (
        "46.00.00.00"
    )
    after = ii.module_builds(early + b"\x1f\x8b\x08garbage", release, ["mpt3sas", "hpsa"])
    assert after["mpt3sas"]["status"] == "found"
    assert after["hpsa"]["status"] == "unknown" and after["hpsa"]["reason"].startswith("gzip stream")


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (b"\x1f\x8b\x08\x00garbage", "gzip stream is truncated"),
        (gzip.compress(bytes(range(256)) * 8)[:200], "gzip stream is truncated"),
        (b"\x1f\x8b\x07" + b"\0" * 20, "gzip stream is corrupt"),
        (b"070701" + b"Z" * 104, "corrupt cpio header at byte 0"),
        (b"hello world", "unknown data at byte 0 of the image"),
    ],
)
def test_unreadable_images_are_unknown_with_the_reason(image: bytes, reason: str) -> None:
    build = ii.module_build(image, "6.1.0-18-amd64", "mpt3sas")
    assert build["status"] == "unknown" and build["reason"].startswith(reason)


def test_a_truncated_module_in_the_image_is_unknown(tmp_path: Path) -> None:
    release = "6.1.0-18-amd64"
    main = initramfs.pack({f"usr/lib/modules/{release}/updates/mpt3sas.ko": _ko(tmp_path, "46", "1")[:80]})
    build = ii.module_build(gzip.compress(main), release, "mpt3sas")
    assert build["status"] == "unknown" and build["path"] == "updates/mpt3sas.ko"


GOOD = {"path": "updates/mpt3sas.ko", "version": "46.00.00.00", "srcversion": "1B9E"}
BAD = {"path": "updates/mpt3sas.ko", "version": "34.100.00.00", "srcversion": "6E4C"}


def _kernel(release, default, disk, in_image, image="/boot/initrd.img-{}"):
    return {
        "release": release,
        "default": default,
        "disk": disk,
        "image": image.format(release) if image else None,
        "in_image": None if in_image is None else {"status": "found", **in_image},
    }


def test_install_problems_name_the_default_kernel_without_the_target() -> None:
    kernels = [_kernel("6.1.0-18-amd64", False, GOOD, GOOD), _kernel("6.1.0-21-amd64", True, BAD, BAD)]
    (problem,) = bi.install_problems(kernels, "46.00.00.00")
    assert problem == (
        "the default boot kernel 6.1.0-21-amd64 would load 34.100.00.00 (srcversion 6E4C) "
        "(updates/mpt3sas.ko), not the target 46.00.00.00: the new build was installed for 6.1.0-18-amd64 "
        "only, and the package has no build for the kernel the host boots next"
    )
    assert bi.install_problems([_kernel("6.1.0-21-amd64", True, GOOD, None)], "46.00.00.00", "1B9E") == []
    assert bi.install_problems([_kernel("6.1.0-21-amd64", True, GOOD, None)], "46.00.00.00", "FFFF")
    assert bi.install_problems([], "46.00.00.00")[0].startswith("no default boot kernel found")


def test_rebuild_targets_every_kernel_with_an_image_carrying_the_module() -> None:
    kernels = [
        _kernel("6.1.0-17-amd64", False, None, BAD),  # the tree dropped it, the image still has a copy
        _kernel("6.1.0-18-amd64", False, GOOD, None),
        _kernel("6.1.0-21-amd64", True, GOOD, GOOD),
        _kernel("6.1.0-22-amd64", False, GOOD, None, image=None),  # no initramfs at all
        _kernel("6.1.0-23-amd64", False, None, None),
    ]
    assert bi.rebuild_targets(kernels) == ["6.1.0-17-amd64", "6.1.0-18-amd64", "6.1.0-21-amd64"]


def test_image_problems_after_the_rebuild() -> None:
    assert bi.image_problems([_kernel("6.1.0-21-amd64", True, GOOD, GOOD)], "46.00.00.00", "1B9E") == []
    (stale,) = bi.image_problems([_kernel("6.1.0-21-amd64", True, GOOD, BAD)], "46.00.00.00", "1B9E")
    assert stale == (
        "the initramfs of 6.1.0-21-amd64 (/boot/initrd.img-6.1.0-21-amd64) still carries 34.100.00.00 "
        "(srcversion 6E4C) where the target is 46.00.00.00 (srcversion 1B9E): a boot from it loads that build"
    )
    # an older kernel keeps its own build, as long as its image matches its tree
    assert bi.image_problems([_kernel("6.1.0-18-amd64", False, BAD, BAD)], "46.00.00.00") == []
    unknown = _kernel("6.1.0-21-amd64", True, GOOD, None)
    unknown["in_image"] = {"status": "unknown", "reason": "zstd-compressed image: no zstd decompressor"}
    assert bi.image_problems([unknown], "46.00.00.00") == [
        "the initramfs of 6.1.0-21-amd64 (/boot/initrd.img-6.1.0-21-amd64) cannot be checked: "
        "zstd-compressed image: no zstd decompressor"
    ]


def test_a_rollback_judges_the_default_kernel_image_by_its_own_module_tree() -> None:
    # Put back on 34.100.00.00 while the host boots next into a kernel whose tree keeps the fixed build
    # (the package's build for it): its image must match that tree, not the version being put back.
    kernels = [_kernel("6.1.0-18-amd64", False, BAD, BAD), _kernel("6.1.0-21-amd64", True, GOOD, GOOD)]
    assert bi.image_problems(kernels, "34.100.00.00", "6E4C", restore=True) == []
    assert bi.image_problems(kernels, "34.100.00.00", "6E4C")  # as a change, the default kernel must have it
    (stale,) = bi.image_problems([_kernel("6.1.0-18-amd64", True, BAD, GOOD)], "34.100.00.00", restore=True)
    assert stale == (
        "the initramfs of 6.1.0-18-amd64 (/boot/initrd.img-6.1.0-18-amd64) still carries 46.00.00.00 "
        "(srcversion 1B9E) where the module tree has 34.100.00.00 (srcversion 6E4C): a boot from it loads "
        "that build"
    )
