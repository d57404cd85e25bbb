"""Which build of a module an initramfs image carries: a pure reader of the image's bytes.

Standard library only, Python 3.8+ (it runs on the managed hosts). An initramfs is one or more cpio
archives (``newc``, magic ``070701``, or ``070702`` with checksums) laid end to end, each may be compressed,
with NUL padding between them. Debian and EL images usually start with an uncompressed "early" archive
(CPU microcode under ``kernel/x86/microcode/``) followed by the compressed main archive; the kernel reads
them in that order, as this reader does. ``lsinitramfs`` and ``lsinitrd`` list the same members, e.g.::

    usr/lib/modules/6.1.0-18-amd64/kernel/drivers/scsi/mpt3sas/mpt3sas.ko
    usr/lib/modules/5.14.0-427.13.1.el9_4.x86_64/kernel/drivers/scsi/mpt3sas/mpt3sas.ko.xz

gzip, xz, lzma and bzip2 are read with the standard library. zstd (the default of recent initramfs-tools
and dracut), lz4 and lzo are not before Python 3.14: the caller may hand in a decompressor for them (the
facts module runs the host's own ``zstd -dc``), and without one the build is reported as unknown, never
guessed.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib

try:  # Python 3.14 reads zstd itself
    from compression import zstd as _zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the interpreter
    _zstd = None

from ansible_collections.fleetfix.hba.plugins.module_utils.next_boot import decompress_module, parse_modinfo

_CPIO_MAGICS = (b"070701", b"070702")
_TRAILER = "TRAILER!!!"
_HEADER = 110
# Leading bytes of each compression format an initramfs may use, most specific first.
_COMPRESSIONS = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\x02\x21\x4c\x18", "lz4"),
    (b"\x89LZO", "lzo"),
    (b"\x5d\x00\x00", "lzma"),
)


class Unreadable(ValueError):
    """The image, or part of it, cannot be read here; the message says why."""


def compression(data):
    """The compression format ``data`` starts with (``gzip``, ``zstd``...), ``cpio`` or None."""
    if data[:6] in _CPIO_MAGICS:
        return "cpio"
    for magic, name in _COMPRESSIONS:
        if data.startswith(magic):
            return name
    return None


def _decompress_stream(kind, data, external):
    """Every compressed stream of ``kind`` laid end to end in ``data`` (trailing NUL padding allowed)."""
    if kind in ("gzip", "xz", "lzma", "bzip2"):
        out = []
        rest = data
        while rest.strip(b"\0"):
            if kind == "gzip":
                engine = zlib.decompressobj(31)
            elif kind == "bzip2":
                engine = bz2.BZ2Decompressor()
            else:
                engine = lzma.LZMADecompressor(lzma.FORMAT_XZ if kind == "xz" else lzma.FORMAT_ALONE)
            try:
                out.append(engine.decompress(rest))
            except (zlib.error, lzma.LZMAError, OSError, EOFError) as error:
                raise Unreadable(f"{kind} stream is corrupt: {error}") from None
            if not engine.eof:
                raise Unreadable(f"{kind} stream is truncated")
            rest = engine.unused_data
            if kind == "lzma":  # the .lzma format has no way to mark a second stream
                break
        return b"".join(out)
    if kind == "zstd" and _zstd is not None:  # pragma: no cover - Python 3.14 only
        try:
            return _zstd.decompress(data.rstrip(b"\0"))
        except _zstd.ZstdError as error:
            raise Unreadable(f"zstd stream is corrupt: {error}") from None
    if external is not None:
        result = external(kind, data)
        if result is not None:
            return result
    raise Unreadable(f"{kind}-compressed image: no {kind} decompressor on this host")


def members(data, external=None):
    """(name, mode, content) of every member of every archive in the image, in the kernel's order.

    ``external(kind, data)`` decompresses a format the standard library cannot (None: it cannot either).
    Raises ``Unreadable`` naming what stopped it.
    """
    at = 0
    while at < len(data):
        if data[at] == 0:  # padding between archives
            at += 1
            continue
        kind = compression(data[at : at + 6])
        if kind is None:
            raise Unreadable(f"unknown data at byte {at} of the image")
        if kind != "cpio":
            # A compressed archive runs to the end of the image: read it and what it holds.
            for member in members(_decompress_stream(kind, data[at:], external), external):
                yield member
            return
        archive, at = _read_cpio(data, at)
        for member in archive:
            yield member


def _read_cpio(data, at):
    """(members, offset after the trailer) of the newc archive starting at ``at``."""
    out = []
    while True:
        if data[at : at + 6] not in _CPIO_MAGICS or at + _HEADER > len(data):
            raise Unreadable(f"cpio header expected at byte {at}")
        try:
            fields = [int(data[at + 6 + 8 * i : at + 14 + 8 * i], 16) for i in range(13)]
        except ValueError:
            raise Unreadable(f"corrupt cpio header at byte {at}") from None
        mode, size, name_size = fields[1], fields[6], fields[11]
        name_at = at + _HEADER
        name = data[name_at : name_at + name_size - 1].decode("utf-8", "replace")
        data_at = name_at + name_size + (-(_HEADER + name_size) % 4)
        end = data_at + size
        if end > len(data):
            raise Unreadable(f"cpio member {name} runs past the end of the image")
        at = end + (-size % 4)
        if name == _TRAILER:
            return out, at
        out.append((name[2:] if name.startswith("./") else name, mode, data[data_at:end]))


def _module_name(member):
    base = member.rsplit("/", 1)[-1]
    for suffix in (".ko", ".ko.xz", ".ko.gz", ".ko.zst"):
        if base.endswith(suffix):
            return base[: -len(suffix)].replace("-", "_")
    return None


def module_build(data, release, module, external=None):
    """The build of ``module`` the image for ``release`` carries, as a dict:

    ``{"status": "found", "path": ..., "version": ..., "srcversion": ...}``; ``{"status": "absent"}`` when
    the image holds no such module (it loads from the root file system, after the image's work is done);
    ``{"status": "unknown", "reason": ...}`` when the image, or the module inside it, cannot be read.
    """
    return module_builds(data, release, [module], external)[module]


def module_builds(data, release, modules, external=None):
    """``module_build`` for each of ``modules`` (name -> dict) in one pass over the image: it is decompressed
    once, and read no further once every module is found (the first copy of a module is the one that
    counts, as the kernel unpacks the archives in order and a later copy would be a duplicate)."""
    wanted = {module.replace("-", "_"): module for module in modules}
    prefixes = (f"usr/lib/modules/{release}/", f"lib/modules/{release}/")
    found = {}
    try:
        for name, mode, content in members(data, external):
            key = _module_name(name)
            regular = mode & 0o170000 == 0o100000
            if key not in wanted or key in found or not regular or not name.startswith(prefixes):
                continue
            found[key] = _build(name, name.split(f"/modules/{release}/", 1)[1], content)
            if len(found) == len(wanted):
                break
    except Unreadable as error:
        reason = str(error)
        unknown = {"status": "unknown", "path": None, "version": None, "srcversion": None, "reason": reason}
        return {module: found.get(key, unknown) for key, module in wanted.items()}
    absent = {"status": "absent", "path": None, "version": None, "srcversion": None, "reason": None}
    return {module: found.get(key, absent) for key, module in wanted.items()}


def _build(member, path, content):
    build = {"status": "found", "path": path, "version": None, "srcversion": None, "reason": None}
    try:
        info = parse_modinfo(decompress_module(path, content))
    except (ValueError, EOFError, lzma.LZMAError, OSError, struct.error) as error:
        return dict(build, status="unknown", reason=f"{member}: {error}")
    return dict(build, version=info.get("version") or None, srcversion=info.get("srcversion") or None)


_TOOLS = {"zstd": ["zstd", "-dcq"], "lz4": ["lz4", "-dcq"], "lzo": ["lzop", "-dc"]}


def tool_decompressor(find_tool, run):
    """An ``external`` decompressor for ``members`` from the host's own tools: ``find_tool(name)`` gives a
    binary's path or None, ``run(argv, data)`` returns (exit status, stdout bytes)."""

    def decompress(kind, data):
        argv = _TOOLS.get(kind)
        binary = find_tool(argv[0]) if argv else None
        if binary is None:
            return None
        rc, out = run([binary, *argv[1:]], data)
        if rc != 0 and not out:
            raise Unreadable(f"{argv[0]} could not decompress the image (exit status {rc})")
        return out

    return decompress
