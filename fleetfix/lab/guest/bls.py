"""EL's boot loader side: Boot Loader Specification entries under /boot/loader/entries, edited by ``grubby``.

GRUB on EL 8+ builds its menu from these entries; the default is grubenv's ``saved_entry``, else the
newest kernel. The lab host's PID 1 reads the default entry's kernel and ``options`` at every boot. Debian
hosts keep /boot/grub/grub.cfg and have no grubby, as a real Debian host has none.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from . import grub_cli

ENTRIES = Path("/boot/loader/entries")
GRUBENV = Path("/boot/grub2/grubenv")


def entry(machine_id: str, release: str, args: str, title: str) -> str:
    return (
        f"title {title}\nversion {release}\nlinux /vmlinuz-{release}\n"
        f"initrd /initramfs-{release}.img $tuned_initrd\n"
        f"options {args} $tuned_params\ngrub_users $grub_users\ngrub_arg --unrestricted\ngrub_class rocky\n"
    )


def parse(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and not key.startswith("#"):
            fields[key] = value.strip()
    return fields


def _options(fields: dict[str, str]) -> str:
    """The kernel arguments, without GRUB's variables (tuned's are empty on a host without tuned)."""
    return " ".join(w for w in fields.get("options", "").split() if not w.startswith("$"))


def entries(root: Path = Path("/")) -> list[Path]:
    """Entry files, newest kernel first (GRUB's blscfg order)."""
    directory = root / ENTRIES.relative_to("/")
    found = list(directory.glob("*.conf")) if directory.is_dir() else []
    return sorted(found, key=lambda p: _version_key(parse(p.read_text()).get("version", "")), reverse=True)


def _version_key(version: str) -> list[tuple[int, str]]:
    return [(int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.\-_]", version)]


def _default(found: list[Path]) -> Path:
    saved = ""
    if GRUBENV.is_file():
        match = re.search(r"^saved_entry=(\S+)", GRUBENV.read_text(), re.MULTILINE)
        saved = match.group(1) if match else ""
    return next((p for p in found if p.stem == saved), found[0])


def default_boot() -> tuple[str, str]:
    """(kernel image, arguments) the next boot uses: the default BLS entry, else grub.cfg's first entry."""
    found = entries()
    if not found:
        image, args = grub_cli.boot_line(grub_cli.GRUB_CFG.read_text())
        return image, grub_cli.as_booted(args)
    fields = parse(_default(found).read_text())
    return fields.get("linux", ""), grub_cli.as_booted(_options(fields))


def _info(index: int, path: Path, found: list[Path]) -> str:
    fields = parse(path.read_text())
    words = _options(fields).split()
    root = next((w.split("=", 1)[1] for w in words if w.startswith("root=")), "")
    args = " ".join(w for w in words if not w.startswith("root="))
    initrd = fields.get("initrd", "").split()[0] if fields.get("initrd") else ""
    return (
        f'index={index}\nkernel="/boot{fields.get("linux", "")}"\nargs="{args}"\nroot="{root}"\n'
        f'initrd="/boot{initrd}"\ntitle="{fields.get("title", "")}"\nid="{path.stem}"'
    )


def _edit(path: Path, add: list[str], remove: list[str]) -> None:
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("options "):
            words = line.split()[1:]
            variables = [w for w in words if w.startswith("$")]
            words = grub_cli.edit_args([w for w in words if not w.startswith("$")], add, remove)
            lines[i] = "options " + " ".join(words + variables)
    path.write_text("\n".join(lines) + "\n")


def grubby_main(argv: list[str]) -> int:
    """grubby --info=ALL|DEFAULT|<kernel>, --default-kernel, --default-index,
    --update-kernel=ALL|DEFAULT|<kernel> [--args=..] [--remove-args=..]."""
    found = entries()
    if not found:
        print("grubby: no boot loader entries in /boot/loader/entries", file=sys.stderr)
        return 1
    opts = dict(a.split("=", 1) for a in argv if a.startswith("--") and "=" in a)
    default = _default(found)
    if "--default-kernel" in argv:
        print(f"/boot{parse(default.read_text()).get('linux', '')}")
        return 0
    if "--default-index" in argv:
        print(found.index(default))
        return 0

    def chosen(spec: str) -> list[Path]:
        if spec == "ALL":
            return found
        if spec == "DEFAULT":
            return [default]
        if spec.isdigit():
            return [found[int(spec)]] if int(spec) < len(found) else []
        return [p for p in found if f"/boot{parse(p.read_text()).get('linux', '')}" == spec]

    if "--info" in opts:
        picked = chosen(opts["--info"])
        if not picked:
            print(f"The param {opts['--info']} is incorrect", flush=True)
            return 1
        print("\n".join(_info(found.index(p), p, found) for p in picked))
        return 0
    if "--update-kernel" in opts:
        picked = chosen(opts["--update-kernel"])
        if not picked:
            print(f"The param {opts['--update-kernel']} is incorrect")
            return 1
        for path in picked:
            # grubby splits its arguments on blanks and keeps backslashes, as the shell's word splitting does
            _edit(path, opts.get("--args", "").split(), opts.get("--remove-args", "").split())
        return 0
    print("grubby: no action specified")
    return 1
