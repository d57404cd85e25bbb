#!/usr/bin/python3
"""Where a driver module stands on every boot path: each installed kernel's module tree and initramfs, the
kernel that boots next, Secure Boot and the build's signature. Reads only."""

import lzma
import os
import struct

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetfix.hba.plugins.module_utils.boot_images import (
    image_problems,
    install_problems,
    rebuild_targets,
)
from ansible_collections.fleetfix.hba.plugins.module_utils.initramfs_image import (
    module_build,
    tool_decompressor,
)
from ansible_collections.fleetfix.hba.plugins.module_utils.next_boot import (
    decompress_module,
    module_path,
    next_kernel,
    parse_modinfo,
)
from ansible_collections.fleetfix.hba.plugins.module_utils.secure_boot import (
    EFI_SECURE_BOOT,
    LOCKDOWN,
    enforcement,
    lockdown_mode,
    modinfo_signer,
    secure_boot_state,
    signature_trailer,
    signature_verdict,
)

DOCUMENTATION = r"""
module: fleetfix_boot_images
short_description: A driver module on every boot path, Secure Boot and the build's signature
description:
  - For each installed kernel (C(/lib/modules/<release>) with C(/boot/vmlinuz-<release>)), the build of
    O(module) its C(modules.dep) names and the build inside its initramfs (the image read directly, gzip,
    xz, lzma, bzip2, and zstd, lz4 or lzo through the host's own tool; "unknown" with the reason otherwise).
  - The kernel that boots next (grubby, grubenv, GRUB_DEFAULT, else the newest installed).
  - Secure Boot (the SecureBoot efivar, else C(mokutil --sb-state)), the lockdown mode, and the signer
    (C(modinfo -F signer)) and signature trailer of the build the running and the next kernel would load.
  - With O(target_version), the problems a driver change must stop on; never changes the host.
options:
  module:
    description: The module name, as /proc/modules names it.
    type: str
    required: true
  target_version:
    description: The version the change installs; empty reports no problems.
    type: str
    default: ""
  target_srcversion:
    description: The exact build; empty accepts any build of the version.
    type: str
    default: ""
  trusted_signers:
    description: Signers accepted under Secure Boot or lockdown; empty accepts any signed build.
    type: list
    elements: str
    default: []
  restore:
    description:
      - The change puts back the build the host ran before (a rollback). The kernel's own rule alone judges
        the signature (O(trusted_signers) is for new builds), the default boot kernel need not have the
        build (it keeps what the package gives it), and every initramfs must carry its own kernel's module
        tree build.
    type: bool
    default: false
author: fleetfix
"""

RETURN = r"""
default_kernel:
  description: The release that boots next.
  type: str
  returned: always
default_source:
  description: How it was chosen (grubby, grubenv, GRUB_DEFAULT, newest installed).
  type: str
  returned: always
running_kernel:
  description: The running release.
  type: str
  returned: always
kernels:
  description: Per installed kernel - release, default, disk (the module tree's build), image, in_image.
  type: list
  returned: always
secure_boot:
  description: Secure Boot state and source, lockdown mode, whether the kernel enforces signatures and why.
  type: dict
  returned: always
signatures:
  description: Per kernel checked (running, next) - path, signer, signed, format, problem.
  type: list
  returned: always
images:
  description: Per initramfs - release, image, status (found, absent, unknown), path, version, reason.
  type: list
  returned: always
rebuild:
  description: Releases whose initramfs carries, or should carry, the module.
  type: list
  returned: always
install_problems:
  description: Why the next kernel would not load the target build.
  type: list
  returned: always
signature_problems:
  description: Why the kernel would refuse the build.
  type: list
  returned: always
image_problems:
  description: Why an initramfs would bring another build.
  type: list
  returned: always
"""


def _read(path, binary=False):
    try:
        with open(path, "rb" if binary else "r") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def _image_path(release):
    for path in (f"/boot/initrd.img-{release}", f"/boot/initramfs-{release}.img"):
        data = _read(path, binary=True)
        if data:
            return path, data
    return None, None


def _disk_build(release, module):
    path = module_path(_read(f"/lib/modules/{release}/modules.dep"), module)
    if path is None:
        return None, None
    full = f"/lib/modules/{release}/{path}"
    data = _read(full, binary=True) or b""
    build = {"path": path, "file": full, "version": None, "srcversion": None}
    try:
        info = parse_modinfo(decompress_module(path, data))
    except (ValueError, EOFError, lzma.LZMAError, OSError, struct.error) as error:
        build["error"] = str(error)
    else:
        build["version"] = info.get("version") or None
        build["srcversion"] = info.get("srcversion") or None
    return build, data


def _grubby(ansible):
    binary = ansible.get_bin_path("grubby")
    if binary is None:
        return None
    rc, out, _err = ansible.run_command([binary, "--default-kernel"])
    return out if rc == 0 else None


def _secure_boot(ansible):
    mokutil = ansible.get_bin_path("mokutil")
    said = None
    if mokutil is not None:
        _rc, out, err = ansible.run_command([mokutil, "--sb-state"])
        said = out + "\n" + err
    state, source = secure_boot_state(_read(EFI_SECURE_BOOT, binary=True), said)
    lockdown = lockdown_mode(_read(LOCKDOWN))
    enforced, why = enforcement(state, lockdown)
    return {"state": state, "source": source, "lockdown": lockdown, "enforced": enforced, "why": why}


def _signer(ansible, path):
    binary = ansible.get_bin_path("modinfo")
    if binary is None:
        return ""
    rc, out, _err = ansible.run_command([binary, "-F", "signer", path])
    return modinfo_signer(out) if rc == 0 else ""


def main():
    ansible = AnsibleModule(
        argument_spec={
            "module": {"type": "str", "required": True},
            "target_version": {"type": "str", "default": ""},
            "target_srcversion": {"type": "str", "default": ""},
            "trusted_signers": {"type": "list", "elements": "str", "default": []},
            "restore": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = ansible.params
    restore = params["restore"]
    trusted = [] if restore else params["trusted_signers"]
    module = params["module"].replace("-", "_")
    running = (_read("/proc/sys/kernel/osrelease") or "").strip()
    try:
        releases = sorted(r for r in os.listdir("/lib/modules") if os.path.exists(f"/boot/vmlinuz-{r}"))
    except OSError:
        releases = []
    default, source = next_kernel(
        releases,
        _grubby(ansible),
        _read("/etc/default/grub"),
        _read("/boot/grub/grubenv") or _read("/boot/grub2/grubenv"),
    )

    def run(argv, data):
        rc, out, _err = ansible.run_command(argv, data=data, binary_data=True, encoding=None)
        return rc, out

    external = tool_decompressor(ansible.get_bin_path, run)
    kernels, files = [], {}
    for release in releases:
        disk, data = _disk_build(release, module)
        files[release] = data
        image, image_data = _image_path(release)
        kernels.append(
            {
                "release": release,
                "default": release == default,
                "disk": disk,
                "image": image,
                "in_image": module_build(image_data, release, module, external) if image_data else None,
            }
        )

    secure_boot = _secure_boot(ansible)
    signatures = []
    for kernel in kernels:
        if kernel["disk"] is None or kernel["release"] not in (running, default):
            continue
        signed, how = signature_trailer(files[kernel["release"]])
        signer = _signer(ansible, kernel["disk"]["file"])
        problem = signature_verdict(secure_boot["state"], secure_boot["lockdown"], signer, signed, trusted)
        signatures.append(
            {"release": kernel["release"], "path": kernel["disk"]["file"], "signer": signer or None,
             "signed": signed, "format": how, "problem": problem}
        )  # fmt: skip

    target = params["target_version"]
    result = {
        "changed": False,
        "default_kernel": default,
        "default_source": source,
        "running_kernel": running,
        "kernels": kernels,
        "secure_boot": secure_boot,
        "signatures": signatures,
        "rebuild": rebuild_targets(kernels),
        "images": [
            dict(k["in_image"], release=k["release"], image=k["image"])
            for k in kernels
            if k["in_image"] is not None
        ],
        "install_problems": (
            install_problems(kernels, target, params["target_srcversion"]) if target and not restore else []
        ),
        "signature_problems": [f"{s['path']}: {s['problem']}" for s in signatures if s["problem"]],
        "image_problems": (
            image_problems(kernels, target, params["target_srcversion"], restore=restore) if target else []
        ),
    }
    ansible.exit_json(**result)


if __name__ == "__main__":
    main()
