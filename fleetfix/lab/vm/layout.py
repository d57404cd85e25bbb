"""Where built images are cached and where a running VM keeps its state."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fleetfix.state import paths


def cache_root() -> Path:
    """Built images: $FLEETFIX_VM_CACHE, else the XDG cache home. One directory per cache key."""
    explicit = os.environ.get("FLEETFIX_VM_CACHE")
    return Path(explicit) if explicit else paths.xdg_dir("XDG_CACHE_HOME", ".cache") / "vm"


@dataclass(frozen=True)
class ImageFiles:
    """A built image: the guest's kernel and initrd (for a direct boot with -kernel/-initrd), its boot disk
    (GRUB in the MBR, the ext4 root in partition 1), the ssh key its root accepts and the public half of its
    host key."""

    root: Path

    @property
    def kernel(self) -> Path:
        return self.root / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.root / "initrd.img"

    @property
    def disk(self) -> Path:
        return self.root / "disk.raw"

    @property
    def client_key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def host_key_pub(self) -> Path:
        return self.root / "ssh_host_ed25519_key.pub"

    @property
    def manifest(self) -> Path:
        """Written last: its presence marks a complete image."""
        return self.root / "image.json"


@dataclass(frozen=True)
class VmFiles:
    """A VM's state: QEMU's PID, the copy-on-write disk over the image, the serial console log, ssh files."""

    root: Path

    @classmethod
    def named(cls, name: str) -> VmFiles:
        return cls(paths.state_dir() / "vm" / name)

    @property
    def pid(self) -> Path:
        return self.root / "qemu.pid"

    @property
    def state(self) -> Path:
        return self.root / "vm.json"

    @property
    def overlay(self) -> Path:
        return self.root / "disk.qcow2"

    @property
    def console(self) -> Path:
        return self.root / "console.log"

    @property
    def monitor(self) -> Path:
        return self.root / "monitor.sock"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"
