"""`fleetfix advisories import-osv`: read OSV records from files, directories and zip dumps, convert, write.

OSV publishes a zip of every record per ecosystem (``https://osv-vulnerabilities.storage.googleapis.com/
<ecosystem>/all.zip``, hundreds of MB for Debian or Ubuntu). It is read member by member, each member (one
record) decoded, judged and dropped before the next, so memory holds one record and the advisories kept.
The YAML is written only once every input has been read: a bad record anywhere leaves nothing behind.
"""

from __future__ import annotations

import sys
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from fleetfix.advisories.osv.convert import OsvImport, OsvImportResult, render_osv_yaml
from fleetfix.advisories.osv.record import records_in
from fleetfix.advisories.schema import load_advisories
from fleetfix.errors import InputError
from fleetfix.files import write_atomic
from fleetfix.state.paths import shipped_advisories

MAX_RECORD_BYTES = 64 << 20  # the largest real record (an Ubuntu kernel CVE) is about 0.6 MB


def import_paths(paths: Sequence[Path], output: Path | None) -> OsvImportResult:
    """Convert the records under ``paths`` and write the advisory YAML (stdout when ``output`` is None)."""
    importer = OsvImport()
    for source, data in _documents(paths):
        importer.add_all(records_in(data, source))
    result = importer.result()
    if result.records == 0:
        where = ", ".join(map(str, paths))
        raise InputError(where, "no OSV records found (*.json files or zip dumps of them)")
    shipped = {a.id: a for a in load_advisories([shipped_advisories()]).advisories}
    for draft in result.advisories:
        if (known := shipped.get(draft.id)) is not None:
            result.warnings.append(
                f"{draft.id} is already shipped ({known.source}:{known.line}): merge the new ranges into it"
            )
    document = render_osv_yaml(result)
    if output is None:
        sys.stdout.write(document)
    else:
        write_atomic(output, document)
    return result


def _documents(paths: Sequence[Path]) -> Iterator[tuple[str, bytes]]:
    """``(source, JSON bytes)`` for every record document: files as given, directories walked, zips opened."""
    for path in paths:
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.suffix in (".json", ".zip") and p.is_file()):
                yield from _file(found)
        elif path.exists():
            yield from _file(path)
        else:
            raise InputError(str(path), "no such file or directory")


def _file(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.suffix == ".zip":
        yield from _zip_members(path)
        return
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise InputError(str(path), f"larger than {MAX_RECORD_BYTES >> 20} MiB: not an OSV record file")
        yield str(path), path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None


def _zip_members(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise InputError(str(path), f"not a readable zip archive: {reason}") from None
    with archive:
        for member in archive.infolist():
            if member.is_dir() or not member.filename.endswith(".json"):
                continue
            source = f"{path}:{member.filename}"
            if member.file_size > MAX_RECORD_BYTES:
                raise InputError(source, f"larger than {MAX_RECORD_BYTES >> 20} MiB: not an OSV record")
            try:
                with archive.open(member) as handle:
                    data = handle.read(MAX_RECORD_BYTES + 1)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as exc:
                raise InputError(source, f"cannot read from the zip archive: {exc}") from None
            yield source, data
