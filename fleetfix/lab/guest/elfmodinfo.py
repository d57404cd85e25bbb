"""Kernel module files as the lab ships them: ELF relocatable objects carrying a real ``.modinfo`` section.

Nothing executes them; they exist so that module files are found, owned by packages, replaced by upgrades
and described (``modinfo``) the way real ``.ko`` files are.
"""

from __future__ import annotations

import struct
from pathlib import Path

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")


def write_ko(path: Path, info: list[tuple[str, str]]) -> None:
    """Write a minimal ELF64 relocatable file whose .modinfo holds ``key=value`` entries."""
    modinfo = b"".join(f"{key}={value}".encode() + b"\0" for key, value in info)
    shstrtab = b"\0.modinfo\0.shstrtab\0"
    modinfo_off = _EHDR.size
    shstr_off = modinfo_off + len(modinfo)
    sh_off = (shstr_off + len(shstrtab) + 7) & ~7
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = _EHDR.pack(ident, 1, 62, 1, 0, 0, sh_off, 0, _EHDR.size, 0, 0, _SHDR.size, 3, 2)
    sections = [
        _SHDR.pack(0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        _SHDR.pack(1, 1, 2, 0, modinfo_off, len(modinfo), 0, 0, 1, 0),
        _SHDR.pack(10, 3, 0, 0, shstr_off, len(shstrtab), 0, 0, 1, 0),
    ]
    body = header + modinfo + shstrtab
    body += bytes(sh_off - len(body)) + b"".join(sections)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


def read_modinfo(path: Path) -> list[tuple[str, str]]:
    """The ``key=value`` entries of a module file's .modinfo section; ValueError if it is not one."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or len(data) < _EHDR.size:
        raise ValueError(f"{path}: not an ELF module")
    fields = _EHDR.unpack_from(data)
    sh_off, sh_num, str_index = fields[6], fields[12], fields[13]
    headers = [_SHDR.unpack_from(data, sh_off + i * _SHDR.size) for i in range(sh_num)]
    names_off = headers[str_index][4]
    for name_off, _type, _flags, _addr, offset, size, *_ in headers:
        name = data[names_off + name_off : data.index(b"\0", names_off + name_off)]
        if name == b".modinfo":
            entries = data[offset : offset + size].split(b"\0")
            return [tuple(e.decode().split("=", 1)) for e in entries if b"=" in e]  # type: ignore[misc]
    raise ValueError(f"{path}: no .modinfo section")
