"""Which kernel boots next, and which build of a module it will load: pure parsers of what the boot loader
and the module tree say.

Standard library only, Python 3.8+ (it runs on the managed hosts). The facts module fetches the text; these
functions decide. The next kernel is, in order of authority:

1. ``grubby --default-kernel`` where grubby exists (EL, Fedora):
   ``/boot/vmlinuz-5.14.0-427.13.1.el9_4.x86_64``;
2. with ``GRUB_DEFAULT=saved``, grubenv's one-shot ``next_entry`` (``grub-reboot``), else its ``saved_entry``,
   when it names an installed kernel (``gnulinux-6.1.0-17-amd64-advanced-<uuid>``, a submenu path
   ``gnulinux-advanced-<uuid>>gnulinux-5.13.0-41-generic-advanced-<uuid>``, a title
   ``... with Linux 6.1.0-21-amd64``);
3. ``GRUB_DEFAULT`` itself when it names an installed kernel (an id or a title);
4. else the newest installed kernel, which ``grub-mkconfig`` puts first (``GRUB_DEFAULT=0``, the default).

A kernel is installed when ``/lib/modules/<release>`` and ``/boot/vmlinuz-<release>`` both exist. The module
that kernel loads is the one its ``modules.dep`` names (depmod has already chosen between ``updates/``,
``extra/``, ``weak-updates/`` and ``kernel/``); its version and srcversion are read from the file's
``.modinfo`` section.
"""

from __future__ import annotations

import gzip
import lzma
import re
import struct

_GRUBBY_KERNEL = re.compile(r"^/boot/vmlinuz-(\S+)$")
_VERSION_TOKEN = re.compile(r"[0-9]+|[A-Za-z]+|~|\^")
_SHELL_VALUE = re.compile(r"""^\s*GRUB_DEFAULT=(?:"([^"]*)"|'([^']*)'|(\S*))\s*$""")
# Characters that may stand on either side of a release inside a menu entry id or title.
_RELEASE_EDGE = "-( )>'\""


def release_from_grubby(text):
    """``grubby --default-kernel`` output -> the release of its vmlinuz, or None."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    match = _GRUBBY_KERNEL.match(lines[-1]) if lines else None
    return match.group(1) if match else None


def parse_grubenv(text):
    """GRUB's environment block (``key=value`` lines, ``#`` padding) -> dict."""
    values = {}
    for line in (text or "").splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def grub_default(text):
    """The last ``GRUB_DEFAULT=`` of /etc/default/grub (a shell file), unquoted; None when unset."""
    value = None
    for line in (text or "").splitlines():
        match = _SHELL_VALUE.match(line)
        if match:
            value = next(group for group in match.groups() if group is not None)
    return value


def release_in_entry(entry, installed):
    """The installed release a menu entry id, submenu path or title names, or None.

    The last ``>`` part is the entry itself; of the installed releases standing in it between separators
    the longest wins (``6.1.0-17-amd64-rt`` over ``6.1.0-17-amd64`` in the former's entry).
    """
    if not entry:
        return None
    leaf = entry.split(">")[-1]
    found = []
    for release in installed:
        start = leaf.find(release)
        while start != -1:
            end = start + len(release)
            before_ok = start == 0 or leaf[start - 1] in _RELEASE_EDGE
            after_ok = end == len(leaf) or leaf[end] in _RELEASE_EDGE
            if before_ok and after_ok:
                found.append(release)
                break
            start = leaf.find(release, start + 1)
    return max(found, key=len) if found else None


def version_key(text):
    """rpmvercmp order as a tuple (see fleetfix.versions): digits above letters, ``~`` below the end."""
    key = []
    for token in _VERSION_TOKEN.findall(text):
        if token == "~":
            key.append((0, 0))
        elif token == "^":
            key.append((2, 0))
        elif token[0].isdigit():
            key.append((4, int(token)))
        else:
            key.append((3, token))
    key.append((1, 0))
    return tuple(key)


def next_kernel(installed, grubby_text=None, default_grub_text=None, grubenv_text=None):
    """(release, how it was chosen) of the kernel that boots next; (None, why) when none is installed."""
    installed = sorted(set(installed))
    if not installed:
        return None, "no installed kernel (/lib/modules/<release> with /boot/vmlinuz-<release>)"
    release = release_from_grubby(grubby_text)
    if release:
        return release, "grubby --default-kernel"
    default = grub_default(default_grub_text)
    if default == "saved":
        env = parse_grubenv(grubenv_text)
        for key in ("next_entry", "saved_entry"):
            release = release_in_entry(env.get(key), installed)
            if release:
                return release, "grubenv " + key
    elif default and not default.isdigit():
        release = release_in_entry(default, installed)
        if release:
            return release, "GRUB_DEFAULT"
    return max(installed, key=version_key), "newest installed"


def module_path(modules_dep_text, module):
    """The file ``modules.dep`` names for ``module`` (``-`` and ``_`` alike), relative to the release dir."""
    wanted = module.replace("-", "_")
    for line in (modules_dep_text or "").splitlines():
        path = line.partition(":")[0].strip()
        base = path.rsplit("/", 1)[-1]
        name = base.split(".ko", 1)[0]
        if path and ".ko" in base and name.replace("-", "_") == wanted:
            return path
    return None


def decompress_module(path, data):
    """The ELF image of a module file: ``.ko`` as is, ``.ko.xz`` and ``.ko.gz`` unpacked; ValueError for a
    compression the standard library cannot read (``.ko.zst`` before Python 3.14)."""
    if path.endswith(".ko"):
        return data
    if path.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.endswith(".ko.gz"):
        return gzip.decompress(data)
    raise ValueError("cannot read " + path.rsplit(".", 1)[-1] + "-compressed modules")


def parse_modinfo(elf):
    """The ``.modinfo`` section of a module's ELF image as a dict (``version``, ``srcversion``,
    ``vermagic``...); ValueError when the image is not ELF or has no such section."""
    if elf[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    is64 = elf[4] == 2
    order = "<" if elf[5] == 1 else ">"
    if is64:
        (shoff,) = struct.unpack_from(order + "Q", elf, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", elf, 0x3A)
        header = order + "IIQQQQIIQQ"
    else:
        (shoff,) = struct.unpack_from(order + "I", elf, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", elf, 0x2E)
        header = order + "IIIIIIIIII"

    def section(index):
        fields = struct.unpack_from(header, elf, shoff + index * shentsize)
        return fields[0], fields[4], fields[5]  # name offset, file offset, size

    _, names_offset, names_size = section(shstrndx)
    names = elf[names_offset : names_offset + names_size]
    for index in range(shnum):
        name_at, offset, size = section(index)
        if names[name_at : names.find(b"\0", name_at)] == b".modinfo":
            info = {}
            for item in elf[offset : offset + size].split(b"\0"):
                key, sep, value = item.decode("utf-8", "replace").partition("=")
                if sep and key not in info:
                    info[key] = value
            return info
    raise ValueError("no .modinfo section")
