"""Kernel log files as they lie on disk: plain or compressed, read in chunks, counted, and told apart from
the files beside them that are not kernel logs.

A directory of logs is read whole, in any depth, under any names (``/var/log`` copied off a host, a
ticket's attachments, a folder of ``messages.1.gz`` rotations). A file is a kernel log when a report is
found in it or its first block shows a kernel's hand: a ``[ seconds]`` stamp, a ``kernel:`` syslog tag, a
journal record of the kernel transport, a ``/dev/kmsg`` record, a call trace or a crash ``bt`` header.
Binary files (a NUL in the first block) are not read further.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20
_OPENERS: dict[str, Callable[..., BinaryIO]] = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}
DECOMPRESSION_ERRORS = (OSError, EOFError, lzma.LZMAError)  # gzip.BadGzipFile is an OSError
_KERNEL_SIGNS = re.compile(
    rb"\[ *\d+\.\d{3,}\]|\bkernel(?:\[\d+\])?: |\"_TRANSPORT\" ?: ?\"kernel\"|^\d{1,3},\d+,\d+,[-c+][^;\n]*;"
    rb"|Call [Tt]race:|PID: \d+ +TASK: |Linux version \d",
    re.MULTILINE,
)


def open_log(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when its name ends in .gz, .xz or .bz2."""
    opener = _OPENERS.get(path.suffix)
    return opener(path, "rb") if opener else path.open("rb")


def is_compressed(path: Path) -> bool:
    return path.suffix in _OPENERS


def host_of(path: Path) -> str:
    """A log's host when nothing else names it: its file name without compression and type suffixes."""
    name = path.name[: -len(path.suffix)] if is_compressed(path) else path.name
    return Path(name).stem or name


def log_files(directory: Path) -> Iterator[Path]:
    """Every regular file under ``directory``, in name order, hidden files and directories left out."""
    for root, dirs, files in os.walk(directory, onerror=_raise):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if not name.startswith(".") and path.is_file():
                yield path


def _raise(error: OSError) -> None:
    raise error


class Chunks:
    """A log's blocks for the parser, counting its lines and judging from its first block whether it is a
    kernel log at all (a binary file stops there)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.lines = 0
        self.kernel_signs = False
        self.binary = False

    def __iter__(self) -> Iterator[bytes]:
        first = True
        while chunk := self.handle.read(CHUNK):
            if first:
                first = False
                if b"\0" in chunk:
                    self.binary = True
                    return
                self.kernel_signs = _KERNEL_SIGNS.search(chunk) is not None
            self.lines += chunk.count(b"\n")
            yield chunk
