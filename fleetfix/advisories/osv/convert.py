"""OSV records -> draft advisories for the HBA modules they touch, for a person to review.

Records arrive one at a time (a zip of a whole ecosystem is read member by member) and only what touches a
known HBA module is kept, so memory follows the advisories made, not the records read. A record touching no
HBA module is skipped and counted; so is a withdrawn one.

One advisory per module and CVE: the kernel CNA's ``CVE-2024-40901``, Debian's ``DEBIAN-CVE-2024-40901`` and
Ubuntu's ``UBUNTU-CVE-2024-40901`` fold into ``mpt3sas-CVE-2024-40901``, upstream ranges and distribution
ranges side by side, as the audit wants them. An erratum fixing many CVEs (``ALSA-2024:5101``, a USN, a DSA)
lists each on its own line (``kernel: scsi: mpt3sas: Fix use-after-free warning (CVE-2022-48695)``): the
line naming the module gives the CVE, and the erratum's fixed package applies to it. Without one, the
advisory is keyed by the record's id.

    >>> importer = OsvImport()
    >>> importer.add(record)          # UBUNTU-CVE-2024-40901 (tests/data/osv)
    >>> [a.id for a in importer.result().advisories]
    ['mpt3sas-CVE-2024-40901']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import yaml

from fleetfix.advisories.changelog.attribution import vendor_of
from fleetfix.advisories.changelog.faults import classify, severity_of
from fleetfix.advisories.osv.modules import Touch, touches
from fleetfix.advisories.osv.ranges import KernelRange, PackageRange, Ranges, ranges_of
from fleetfix.advisories.osv.record import Record
from fleetfix.versions import DriverVersion

_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
_WRAPPED_CVE = re.compile(r"(?:[A-Z]+-)+(?P<cve>CVE-\d{4}-\d{4,})")  # DEBIAN-CVE-..., UBUNTU-CVE-...
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]+")
_TITLE_LENGTH = 120
_SHOWN_SOURCES = 3


@dataclass
class Draft:
    """One advisory being assembled from every record that speaks of its module and CVE."""

    module: str
    key: str  # the CVE, else the record's id
    title: str = ""
    titled_by_summary: bool = False
    faults: dict[str, None] = field(default_factory=dict)
    faults_inferred: bool = False
    kernel: dict[KernelRange, None] = field(default_factory=dict)
    distributions: dict[PackageRange, None] = field(default_factory=dict)
    references: dict[str, None] = field(default_factory=dict)
    records: dict[str, None] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return _ID_UNSAFE.sub("-", f"{self.module}-{self.key}").strip("-.:")

    def advisory(self) -> dict[str, object]:
        """The advisory YAML mapping (the advisories schema, docs/advisories.md)."""
        affected: dict[str, object] = {}
        if self.kernel:
            affected["kernel"] = [r.yaml() for r in sorted(self.kernel, key=_kernel_order)]
        if self.distributions:
            affected["distributions"] = [r.yaml() for r in sorted(self.distributions, key=_package_order)]
        faults = tuple(self.faults) or ("oops",)
        inferred = (["fault"] if self.faults_inferred or not self.faults else []) + ["trigger", "severity"]
        notes = [f"From OSV records: {', '.join(self.records)}"]
        if not self.faults:
            notes.append("No fault word in the records: 'oops' stands in for the reviewer to correct")
        return {
            "id": self.id,
            "module": self.module,
            "vendor": vendor_of(self.module),
            "title": self.title,
            "affected": affected,
            "fault": list(faults),
            "trigger": self.title,
            "severity": severity_of(faults),
            "references": list(self.references),
            "notes": "\n".join(notes),
            "inferred": inferred,
        }


@dataclass(frozen=True)
class OsvImportResult:
    """The drafts made, what was read, and what the reviewer must know (one line each)."""

    advisories: list[Draft]
    records: int
    skipped: int  # touched no HBA module, or withdrawn
    sources: list[str]
    warnings: list[str]


class OsvImport:
    """Feed records with ``add``; ``result`` gives the advisories."""

    def __init__(self) -> None:
        self._drafts: dict[tuple[str, str], Draft] = {}
        self._records = self._skipped = 0
        self._sources: dict[str, None] = {}
        self._warnings: dict[str, None] = {}

    def add_all(self, records: Iterable[Record]) -> None:
        for record in records:
            self.add(record)

    def add(self, record: Record) -> None:
        self._records += 1
        hits = touches(record.text)
        if record.withdrawn or not hits:
            self._skipped += 1
            return
        ranges = ranges_of(record)
        if not ranges.kernel and not ranges.distributions:
            modules = ", ".join(dict.fromkeys(hit.module for hit in hits))
            self._warn(f"{record.source}: {record.id} touches {modules} but gives no version range: skipped")
            self._skipped += 1
            return
        for note in ranges.left_out:
            self._warn(f"{record.source}: {record.id}: {note}")
        self._sources[_container(record.source)] = None
        own_cves = _cves_of(record)
        for module, cve, touch in _keys(hits, own_cves):
            draft = self._drafts.setdefault((module, cve or record.id), Draft(module, cve or record.id))
            self._fold(draft, record, touch, erratum=len(own_cves) != 1, ranges=ranges)

    def result(self) -> OsvImportResult:
        drafts = sorted(self._drafts.values(), key=lambda d: d.id)
        warnings = list(self._warnings)
        if not drafts:
            warnings.append(f"no record of the {self._records} read touches a known HBA module")
        return OsvImportResult(drafts, self._records, self._skipped, list(self._sources), warnings)

    def _warn(self, message: str) -> None:
        self._warnings[message] = None

    def _fold(self, draft: Draft, record: Record, touch: Touch, erratum: bool, ranges: Ranges) -> None:
        draft.records[record.id] = None
        draft.kernel.update(dict.fromkeys(ranges.kernel))
        draft.distributions.update(dict.fromkeys(ranges.distributions))
        summary_names_module = touch.module in {t.module for t in touches(record.summary)}
        title = record.summary if summary_names_module else (touch.subject or touch.line)
        if title and (not draft.title or (summary_names_module and not draft.titled_by_summary)):
            draft.title = _shortened(title)
            draft.titled_by_summary = summary_names_module
        # An erratum's text covers many CVEs: only the line naming the module speaks for this one.
        found = classify(touch.line if erratum else record.text)
        if found is not None:
            draft.faults.update(dict.fromkeys(found.faults))
            draft.faults_inferred = draft.faults_inferred or bool(found.inferred)
        draft.references.update(dict.fromkeys(record.references))
        draft.references[f"https://osv.dev/vulnerability/{record.id}"] = None


def render_osv_yaml(result: OsvImportResult) -> str:
    """Advisory YAML for ``result``, under a header saying where it came from and what was inferred."""
    shown = result.sources[:_SHOWN_SOURCES]
    more = len(result.sources) - len(shown)
    origin = ", ".join(shown) + (f" and {more} more" if more > 0 else "") or "(no records kept)"
    header = [
        f"# Generated by fleetfix from OSV records in {origin}: {len(result.advisories)} advisories from "
        f"{result.records} records; {result.skipped} records skipped (no known HBA module, or withdrawn).",
        "# Review every entry before use: each comes from the records' wording and ranges, not from testing.",
        "# Inferred rather than stated (each entry's `inferred` lists its own): fault kinds the wording only",
        "# implies, the trigger (the fix's subject) and the severity (from the fault kinds).",
        "# kernel: upstream releases (the kernel CNA's ranges); distributions: the distributions' packages.",
    ]
    body = yaml.safe_dump(
        [draft.advisory() for draft in result.advisories], sort_keys=False, allow_unicode=True, width=110
    )
    return "\n".join(header) + "\n" + (body if result.advisories else "[]\n")


def _cves_of(record: Record) -> list[str]:
    """The CVEs a record stands for: itself, the one it wraps, or those it names as aliases."""
    if _CVE.fullmatch(record.id):
        return [record.id]
    if wrapped := _WRAPPED_CVE.fullmatch(record.id):
        return [wrapped["cve"]]
    return list(dict.fromkeys(alias for alias in record.aliases if _CVE.fullmatch(alias)))


def _keys(hits: Sequence[Touch], own_cves: Sequence[str]) -> list[tuple[str, str | None, Touch]]:
    """``(module, CVE or None, first touch)`` per advisory a record feeds, in order of first mention."""
    keys: dict[tuple[str, str | None], Touch] = {}
    for hit in hits:
        if len(own_cves) == 1:
            cve: str | None = own_cves[0]
        else:
            on_line = _CVE.findall(hit.line)
            cve = on_line[0] if len(on_line) == 1 else None
        keys.setdefault((hit.module, cve), hit)
    return [(module, cve, touch) for (module, cve), touch in keys.items()]


def _shortened(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TITLE_LENGTH else text[: _TITLE_LENGTH - 3].rstrip() + "..."


def _container(source: str) -> str:
    """The file a record came from: the zip for a member (``all.zip:CVE-1.json``), else the file."""
    head, sep, _ = source.partition(".zip:")
    return f"{head}.zip" if sep else source


def _kernel_order(item: KernelRange) -> DriverVersion:
    return DriverVersion(item.introduced or "0")


def _package_order(item: PackageRange) -> tuple[str, str]:
    return (item.ecosystem, item.package)  # a stable sort keeps each package's ranges in the record's order
