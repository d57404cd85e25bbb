"""``modprobe``, ``rmmod``, ``lsmod``, ``modinfo`` and ``depmod`` over the lab host's module state."""

from __future__ import annotations

import sys
from pathlib import Path

from .kmod import Kernel, KeyRequired, canonical

_MODINFO_ORDER = ("filename", "version", "license", "description", "author", "srcversion", "depends")


def _params(words: list[str]) -> dict[str, str]:
    return dict(w.split("=", 1) for w in words if "=" in w)


def _options_from_config(name: str) -> dict[str, str]:
    """``options <module> k=v`` lines from /etc/modprobe.d, applied as modprobe does."""
    found: dict[str, str] = {}
    for conf in sorted(Path("/etc/modprobe.d").glob("*.conf")):
        for line in conf.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) > 2 and parts[0] == "options" and canonical(parts[1]) == canonical(name):
                found |= _params(parts[2:])
    return found


def modprobe_main(argv: list[str]) -> int:
    remove = any(a in ("-r", "--remove") for a in argv)
    quiet = any(a in ("-q", "--quiet") for a in argv)
    words = [a for a in argv if not a.startswith("-")]
    if not words:
        print("modprobe: ERROR: missing module name.", file=sys.stderr)
        return 1
    kernel = Kernel()
    try:
        if remove:
            for name in words:
                kernel.unload(name)
            return 0
        kernel.load(words[0], _options_from_config(words[0]) | _params(words[1:]))
        return 0
    except LookupError as exc:
        if not quiet:
            print(f"modprobe: FATAL: {exc}", file=sys.stderr)
        return 1
    except PermissionError as exc:
        print(f"modprobe: FATAL: {exc}", file=sys.stderr)
        return 1
    except KeyRequired as exc:  # as kmod words EKEYREJECTED/ENOKEY from init_module
        print(f"modprobe: ERROR: {exc}", file=sys.stderr)
        return 1


def rmmod_main(argv: list[str]) -> int:
    kernel = Kernel()
    for name in (a for a in argv if not a.startswith("-")):
        try:
            kernel.unload(name)
        except (LookupError, PermissionError) as exc:
            print(f"rmmod: ERROR: {exc}", file=sys.stderr)
            return 1
    return 0


def insmod_main(argv: list[str]) -> int:
    words = [a for a in argv if not a.startswith("-")]
    try:
        Kernel().load(Path(words[0]).stem, _params(words[1:]))
    except (LookupError, IndexError, KeyRequired) as exc:
        print(f"insmod: ERROR: could not insert module: {exc}", file=sys.stderr)
        return 1
    return 0


def lsmod_main(argv: list[str]) -> int:
    print(f"{'Module':<28}{'Size':>8}  Used by")
    for module in Kernel().loaded():
        print(f"{module.name:<28}{module.size:>8}  {module.refcount} {','.join(module.used_by)}".rstrip())
    return 0


def modinfo_main(argv: list[str]) -> int:
    field = None
    words = []
    it = iter(argv)
    for arg in it:
        if arg in ("-F", "--field"):
            field = next(it, None)
        elif arg.startswith("--field="):
            field = arg.split("=", 1)[1]
        elif arg in ("-k",):
            next(it, None)
        elif not arg.startswith("-"):
            words.append(arg)
    kernel = Kernel()
    for word in words:
        try:
            path, info = kernel.modinfo(word)
        except (LookupError, ValueError) as exc:
            print(f"modinfo: ERROR: {exc}", file=sys.stderr)
            return 1
        entries = [("filename", str(path)), *info.items()]
        entries.sort(key=lambda kv: _MODINFO_ORDER.index(kv[0]) if kv[0] in _MODINFO_ORDER else 99)
        for key, value in entries:
            if field is None:
                print(f"{key + ':':<16}{value}")
            elif key == field:
                print(value)
    return 0


def depmod_main(argv: list[str]) -> int:
    """Write modules.dep for the release (default: the running one) from the module files' depends=."""
    kernel = Kernel()
    releases = [a for a in argv if not a.startswith("-") and (Path("/lib/modules") / a).is_dir()]
    for release in releases or [kernel.release()]:
        base = Path("/lib/modules") / release
        lines = []
        for ko in sorted(base.rglob("*.ko")):
            _path, info = kernel.modinfo(str(ko))
            deps = [d for d in info.get("depends", "").split(",") if d]
            lines.append(f"{ko.relative_to(base)}: {' '.join(deps)}".rstrip())
        (base / "modules.dep").write_text("".join(f"{ln}\n" for ln in lines))
    return 0
