"""A lab host's initramfs: a gzip'd newc cpio archive per installed kernel holding the boot disk's drivers.

``update-initramfs`` (Debian) and ``dracut`` (EL) copy, at the moment they run, the build of every module
that drives the boot disk (and what it depends on) from /lib/modules/<kernel>. At boot the lab's PID 1
loads those drivers from the image's copy, as a real boot does before the root disk exists: an image not
rebuilt after a driver upgrade brings the old build back. ``lsinitramfs`` and ``lsinitrd`` list an image.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
import sys
import time
from pathlib import Path

from .kmod import HARDWARE, Kernel

_TRAILER = "TRAILER!!!"
_NAMING = {"debian": "/boot/initrd.img-{}", "el": "/boot/initramfs-{}.img"}
OS_FILE = Path("/usr/lib/fleetfix-lab/os.json")  # {"key": "el9", "family": "el"}, written at provisioning


def image_path(release: str) -> Path:
    """Where this host's initramfs tool keeps the image for ``release``."""
    family = json.loads(OS_FILE.read_text())["family"] if OS_FILE.is_file() else "debian"
    return Path(_NAMING[family].format(release))


def _entry(name: str, mode: int, data: bytes, ino: int) -> bytes:
    fields = [ino, mode, 0, 0, 1, int(time.time()), len(data), 0, 0, 0, 0, len(name) + 1, 0]
    header = b"070701" + b"".join(f"{f:08X}".encode() for f in fields)
    out = header + name.encode() + b"\0"
    out += b"\0" * (-len(out) % 4) + data
    return out + b"\0" * (-len(out) % 4)


def pack(files: dict[str, bytes]) -> bytes:
    """A newc cpio archive of ``files`` (relative path -> content) with their parent directories."""
    dirs = sorted({"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)})
    entries = [(".", 0o040755, b"")] + [(d, 0o040755, b"") for d in dirs]
    entries += [(p, 0o100644, files[p]) for p in sorted(files)]
    body = b"".join(_entry(n, m, d, i + 1) for i, (n, m, d) in enumerate(entries))
    return body + _entry(_TRAILER, 0, b"", 0)


def unpack(archive: bytes) -> dict[str, tuple[int, bytes]]:
    """Path -> (mode, content) of every member of a newc cpio archive."""
    out: dict[str, tuple[int, bytes]] = {}
    at = 0
    while at + 110 <= len(archive) and archive[at : at + 6] == b"070701":
        fields = [int(archive[at + 6 + 8 * i : at + 14 + 8 * i], 16) for i in range(13)]
        mode, size, name_size = fields[1], fields[6], fields[11]
        name_at = at + 110
        name = archive[name_at : name_at + name_size - 1].decode()
        data_at = name_at + name_size + (-(110 + name_size) % 4)
        if name == _TRAILER:
            break
        out[name] = (mode, archive[data_at : data_at + size])
        at = data_at + size + (-size % 4)
    return out


def read(image: Path) -> dict[str, tuple[int, bytes]]:
    raw = image.read_bytes()
    return unpack(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)


def boot_drivers() -> list[str]:
    hardware = Path("/") / HARDWARE
    controllers = json.loads(hardware.read_text())["controllers"] if hardware.is_file() else []
    return [c["driver"] for c in controllers if c["boot_disk"]]


def image_bytes(release: str, modules: dict[str, bytes], hostname: str) -> bytes:
    """The compressed image for ``release`` holding ``modules`` (relative path -> data)."""
    files = {f"usr/lib/modules/{release}/{rel}": data for rel, data in modules.items()}
    files[f"usr/lib/modules/{release}/modules.dep"] = "".join(f"{rel}:\n" for rel in sorted(modules)).encode()
    files["etc/hostname"] = f"{hostname}\n".encode()
    return gzip.compress(pack(files), compresslevel=1, mtime=0)


def write(image: Path, release: str) -> None:
    """Build the image for ``release`` from the module files installed now: boot disk drivers, their deps."""
    kernel = Kernel()
    base = Path("/lib/modules") / release
    chosen: dict[str, Path] = {}
    pending = boot_drivers()
    while pending:
        name = pending.pop()
        path = kernel.find(name, release)
        if path is None or name in chosen:
            continue
        chosen[name] = path
        pending += [d for d in kernel.modinfo(str(path))[1].get("depends", "").split(",") if d]
    modules = {str(p.relative_to(base)): p.read_bytes() for p in chosen.values()}
    image.parent.mkdir(parents=True, exist_ok=True)
    tmp = image.with_name(f".{image.name}.tmp")
    tmp.write_bytes(image_bytes(release, modules, os.uname().nodename))
    tmp.replace(image)


def module_copy(release: str, name: str) -> Path | None:
    """The initramfs copy of module ``name`` for this boot, written under /run; None if the image lacks it."""
    image = image_path(release)
    if not image.is_file() or image.stat().st_size == 0:
        return None
    for path, (_mode, data) in read(image).items():
        member = Path(path)
        if (
            path.startswith(f"usr/lib/modules/{release}/")
            and member.suffix == ".ko"
            and member.stem.replace("-", "_") == name
        ):
            copy = Path("/run/fleetfix-lab/initramfs") / path
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(data)
            return copy
    return None


def _installed_kernels() -> list[str]:
    base = Path("/lib/modules")
    return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def update_initramfs_main(argv: list[str]) -> int:
    """``update-initramfs {-u|-c|-d} [-k version|all]``, as initramfs-tools reads it."""
    verbs = [a for a in argv if a in ("-u", "-c", "-d")]
    if len(verbs) != 1:
        print("Usage: update-initramfs {-c|-d|-u} [-k version] [-v] [-b directory]", file=sys.stderr)
        return 2
    version = argv[argv.index("-k") + 1] if "-k" in argv and argv.index("-k") + 1 < len(argv) else None
    if version == "all":
        releases = _installed_kernels()
    elif version:
        releases = [version]
    else:
        releases = [Kernel().release()] if verbs[0] != "-c" else []
    for release in releases:
        image = image_path(release)
        if verbs[0] == "-d":
            image.unlink(missing_ok=True)
            continue
        if verbs[0] == "-u" and not image.exists() and version == "all":
            continue
        if not (Path("/lib/modules") / release).is_dir():
            print(f"update-initramfs: /lib/modules/{release} does not exist. Cannot update.", file=sys.stderr)
            return 1
        print(f"update-initramfs: Generating {image}", file=sys.stderr)
        write(image, release)
    return 0


def dracut_main(argv: list[str]) -> int:
    """``dracut [-f] [--kver K] [--regenerate-all] [image [kernel version]]``."""
    force = any(a in ("-f", "--force") for a in argv)
    words: list[str] = []
    kver = None
    args = iter(argv)
    for arg in args:
        if arg == "--kver":
            kver = next(args, None)
        elif arg.startswith("--kver="):
            kver = arg.split("=", 1)[1]
        elif not arg.startswith("-"):
            words.append(arg)
    if "--regenerate-all" in argv:
        targets = [(image_path(r), r) for r in _installed_kernels()]
    else:
        release = kver or (words[1] if len(words) > 1 else Kernel().release())
        targets = [(Path(words[0]) if words else image_path(release), release)]
    for image, release in targets:
        if image.exists() and image.stat().st_size and not force:
            print(f"dracut: Will not override existing initramfs ({image}) without --force", file=sys.stderr)
            return 1
        if not (Path("/lib/modules") / release).is_dir():
            print(f"dracut: Cannot find module directory /lib/modules/{release}/", file=sys.stderr)
            return 1
        write(image, release)
    return 0


def _listing(image: Path) -> list[str]:
    return sorted(read(image))


def lsinitramfs_main(argv: list[str]) -> int:
    images = [a for a in argv if not a.startswith("-")]
    if not images:
        print("Usage: lsinitramfs [-l] initramfs-file...", file=sys.stderr)
        return 1
    for image in images:
        try:
            print("\n".join(_listing(Path(image))))
        except OSError as exc:
            print(f"lsinitramfs: {image}: {exc.strerror}", file=sys.stderr)
            return 1
    return 0


def lsinitrd_main(argv: list[str]) -> int:
    """``lsinitrd [image]``, ``lsinitrd --kver K`` and ``lsinitrd -f FILE [image]`` (print one member)."""
    member = None
    kver = None
    words: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in ("-f", "--file"):
            member = next(args, None)
        elif arg in ("-k", "--kver"):
            kver = next(args, None)
        elif not arg.startswith("-"):
            words.append(arg)
    image = Path(words[0]) if words else image_path(kver or Kernel().release())
    try:
        members = read(image)
    except OSError as exc:
        print(
            f"No <initramfs file> specified and the default image '{image}' cannot be accessed! "
            f"({exc.strerror})",
            file=sys.stderr,
        )
        return 1
    if member is not None:
        data = members.get(member.lstrip("/"), (0, None))[1]
        if data is None:
            return 1
        os.write(sys.stdout.fileno(), data)
        return 0
    stamp = time.strftime("%b %d %H:%M", time.localtime(image.stat().st_mtime))
    print(f"Image: {image}: {image.stat().st_size // 1024}K\n{'=' * 72}")
    print(f"Version: dracut-057-53.git20240104.el9\n\nArguments: -f\n{'=' * 72}")
    for path, (mode, data) in sorted(members.items()):
        print(f"{stat.filemode(mode)}   1 root     root     {len(data):>9} {stamp} {path}")
    print("=" * 72)
    return 0
