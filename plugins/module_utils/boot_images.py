"""Whether a driver upgrade reached every boot path: the default boot kernel's module tree and the
initramfs of each kernel that carries the module. Pure: the ``fleetfix_boot_images`` module reads the
host and hands this module what it found.

A kernel's entry, as that module builds it::

    {"release": "6.1.0-18-amd64", "default": True,
     "disk": {"path": "updates/mpt3sas.ko", "version": "46.00.00.00", "srcversion": "1B9E..."},
     "image": "/boot/initrd.img-6.1.0-18-amd64",
     "in_image": {"status": "found", "path": "updates/mpt3sas.ko", "version": "46.00.00.00", ...}}

``disk`` is None when the kernel's ``modules.dep`` names no such module, ``image`` None when the kernel has
no initramfs, ``in_image`` None when it was not read.
"""

from __future__ import annotations


def _build(entry):
    if not entry:
        return "nothing"
    text = entry.get("version") or "no version"
    return text + (f" (srcversion {entry['srcversion']})" if entry.get("srcversion") else "")


def _same(one, other):
    return (one.get("version"), one.get("srcversion")) == (other.get("version"), other.get("srcversion"))


def install_problems(kernels, target_version, target_srcversion=""):
    """Why the default boot kernel would not load the target build from its module tree; [] when it does."""
    default = next((k for k in kernels if k.get("default")), None)
    if default is None:
        return ["no default boot kernel found (no /lib/modules/<release> with /boot/vmlinuz-<release>)"]
    disk = default.get("disk")

    def is_target(build):
        return (
            bool(build)
            and build.get("version") == target_version
            and (not target_srcversion or build.get("srcversion") == target_srcversion)
        )

    if is_target(disk):
        return []
    others = sorted(k["release"] for k in kernels if is_target(k.get("disk")))
    return [
        f"the default boot kernel {default['release']} would load {_build(disk)}"
        + (f" ({disk['path']})" if disk else "")
        + f", not the target {target_version}: "
        + (
            f"the new build was installed for {', '.join(others)} only"
            if others
            else "no kernel has the new build"
        )
        + ", and the package has no build for the kernel the host boots next"
    ]


def rebuild_targets(kernels):
    """Releases whose initramfs must be rebuilt: every kernel with an image that carries the module on disk
    or in the image (a stale copy in an image counts, the module tree may have dropped it)."""
    return [
        k["release"]
        for k in kernels
        if k.get("image") and (k.get("disk") or (k.get("in_image") or {}).get("status") == "found")
    ]


def image_problems(kernels, target_version, target_srcversion="", restore=False):
    """Why a rebuilt initramfs would not bring the module tree's build at boot; [] when every one does.

    Each image must carry the same build as its kernel's module tree (or none: the module then loads from
    the root file system); the default boot kernel's must be the target, except in a rollback
    (``restore``), where the default kernel keeps what the package gives it, like every other.
    """
    problems = []
    for kernel in kernels:
        image, found = kernel.get("image"), kernel.get("in_image") or {}
        if not image or not found:
            continue
        where = f"the initramfs of {kernel['release']} ({image})"
        if found.get("status") == "unknown":
            problems.append(f"{where} cannot be checked: {found.get('reason')}")
            continue
        if found.get("status") != "found":
            continue
        disk = kernel.get("disk")
        if kernel.get("default") and not restore:
            wanted = {"version": target_version, "srcversion": target_srcversion or found.get("srcversion")}
            said = "the target is " + _build(wanted)
        else:
            wanted = dict(disk or {}, srcversion=(disk or {}).get("srcversion") or found.get("srcversion"))
            said = "the module tree has " + _build(disk)
        if disk is None or not _same(found, wanted):
            problems.append(
                f"{where} still carries {_build(found)} where {said}: a boot from it loads that build"
            )
    return problems
