"""Vendor driver changelogs and release notes -> advisory entries for a person to review.

Sample input (the smartpqi README's changelog; ``document`` describes the structure it finds, in any of
the shapes vendors ship)::

    Version 2.1.36-026 (August 2025)
     - Fixed a system crash issue caused by a divide-by-zero condition.
       - Root Cause: RAID map entries blocks_per_row and strip_size are used as
         divisors for AIO calculations.
    Version 1.2.14-[015-017] (June 2020)
      - Kernel compatibility updates.

    >>> result = import_changelog(text, "README.md", "smartpqi", references=["https://example.org/x"])
    >>> [(e.fixed_in, e.faults, e.words) for e in result.entries]
    [('2.1.36-026', ('panic',), ('crash',))]

One entry per changelog entry that fixes a fault; the fault tags use the advisory vocabulary (``panic``,
``race``, ``hang``...) and each entry keeps the words that matched and the sentences that justify them.
A fix that a later build of the same document reverts is dropped. Each entry says what was inferred
rather than stated: a tag implied by the wording, the affected range (bad below ``fixed_in``), a
``fixed_in`` taken from a build range or a commit list's order, the trigger and the severity. Releases
are ordered by version (``release_order``), never by their dates, which vendors get wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import yaml

from fleetfix.advisories.changelog.attribution import citations, vendor_of
from fleetfix.advisories.changelog.document import layout, releases
from fleetfix.advisories.changelog.faults import SENTENCE, classify, severity_of
from fleetfix.advisories.changelog.named_versions import first_build, found_in
from fleetfix.advisories.changelog.release import Release
from fleetfix.advisories.changelog.release_order import ReleaseOrder
from fleetfix.errors import InputError
from fleetfix.versions import SortKey

# A kernel module name as modprobe takes it (MODULE_NAME_LEN is 56 with the NUL); '-' reads as '_'.
_MODULE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,54}")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]+")


@dataclass(frozen=True)
class ChangelogEntry:
    """A fault-fixing changelog entry, ready to become an advisory (``to_advisory_dict``)."""

    id: str
    module: str
    vendor: str
    title: str
    text: str
    fixed_in: str
    faults: tuple[str, ...]
    inferred_faults: tuple[str, ...]
    words: tuple[str, ...]
    evidence: str
    inferred: tuple[str, ...]
    references: tuple[str, ...]
    source: str
    line: int
    introduced_in: str | None = None
    affected_builds: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def severity(self) -> str:
        return severity_of(self.faults)

    def to_advisory_dict(self) -> dict[str, object]:
        """The advisory YAML mapping (the advisories schema); evidence and source go in ``notes``."""
        spec = {"introduced": self.introduced_in, "fixed": self.fixed_in} if self.introduced_in else None
        notes = [
            f'Evidence: "{self.evidence}"',
            f"Fault words: {', '.join(self.words)}",
            f"Source: {self.source}:{self.line}",
            *self.notes,
        ]
        if self.affected_builds:
            notes.append(f"The text names as affected: {', '.join(self.affected_builds)}")
        if self.inferred_faults:
            notes.append(f"Fault tags implied rather than stated: {', '.join(self.inferred_faults)}")
        return {
            "id": self.id,
            "module": self.module,
            "vendor": self.vendor,
            "title": self.title,
            "affected": {"driver": [spec or {"below": self.fixed_in}]},
            "fixed_in": self.fixed_in,
            "fault": list(self.faults),
            "trigger": self.title,
            "severity": self.severity,
            "references": list(self.references),
            "notes": "\n".join(notes),
            "inferred": list(self.inferred),
        }


@dataclass(frozen=True)
class ImportResult:
    """The advisory entries of one changelog, and what the reviewer must know (one line each)."""

    entries: list[ChangelogEntry]
    warnings: list[str]
    releases: int


@dataclass
class _Candidate:
    entry: ChangelogEntry
    key: SortKey
    normalized: str


def module_name(module: str, source: str) -> str:
    """``module`` as the kernel names it (``dm-writeboost`` -> ``dm_writeboost``); else ``InputError``."""
    if not _MODULE_NAME.fullmatch(module):
        raise InputError(
            source,
            f"{module!r} is not a kernel module name (a-z, 0-9, '_' or '-', at most 55 characters)",
            field="--module",
        )
    return module.replace("-", "_")


def import_changelog(
    text: str, source: str, module: str, vendor: str | None = None, references: Sequence[str] = ()
) -> ImportResult:
    """Advisory entries for every fault-fixing entry of ``text`` (a changelog of ``module``).

    ``references`` are the public URLs to cite; without them, ``source`` if it is a URL and the URLs of
    the text's leading ``#`` lines; with none, entries get ``references: []`` and a warning. Raises
    ``InputError`` naming ``source`` for a bad module name or a text with no changelog shape.
    """
    name = module_name(module, source)
    shape = layout(text, module)
    cite = citations(source, shape.header_urls, references)
    who = vendor or vendor_of(name)
    candidates: list[_Candidate] = []
    reverts: list[tuple[str, str]] = []  # (version, normalized text reverted)
    versions: list[str] = []
    count = 0
    for release in releases(text, source, module, shape):
        count += 1
        fixed_in, quirks = first_build(release.version)
        versions.append(fixed_in)
        for item in release.entries:
            if item.reverts is not None:
                reverts.append((fixed_in, _normalized(item.reverts)))
                continue
            entry = _entry(item.line, item.text, fixed_in, quirks, release, name, who, cite, source)
            if entry is not None:
                candidates.append(_Candidate(entry, (), _normalized(item.head or item.text)))
    order = ReleaseOrder(versions)
    kept = _without_reverted(candidates, reverts, order)
    entries = _numbered(kept, order)
    warnings = []
    if entries and not cite:
        warnings.append(
            f"{source}: no public URL to cite: the entries carry 'references: []' for the reviewer to fill"
        )
    return ImportResult(entries, warnings, count)


def render_advisory_yaml(entries: Sequence[ChangelogEntry]) -> str:
    """Advisory YAML for ``entries``, under a header saying it was generated and what was inferred."""
    counts: dict[str, int] = {}
    for entry in entries:
        for name in entry.inferred:
            counts[name] = counts.get(name, 0) + 1
    sources = sorted({e.source for e in entries}) or ["(no entries)"]
    header = [
        f"# Generated by fleetfix from {', '.join(sources)}: {len(entries)} fault-fixing entries.",
        "# Review every entry before use: each was derived from the vendor's wording, not from testing.",
        "# Inferred rather than stated (each entry's `inferred` lists its own):",
        *(f"#   {name}: {n} of {len(entries)} entries" for name, n in sorted(counts.items())),
        "# affected = below fixed_in unless the text names the version that introduced the fault;",
        "# trigger and severity are guesses from the title and the fault kinds. Evidence is quoted in notes.",
    ]
    if any(not e.references for e in entries):
        header.append("# Entries with 'references: []' need the public URL of the changelog before use.")
    body = yaml.safe_dump(
        [e.to_advisory_dict() for e in entries], sort_keys=False, allow_unicode=True, width=110
    )
    return "\n".join(header) + "\n" + (body if entries else "[]\n")


def _entry(
    line: int,
    text: str,
    fixed_in: str,
    quirks: list[str],
    release: Release,
    module: str,
    vendor: str,
    cite: tuple[str, ...],
    source: str,
) -> ChangelogEntry | None:
    found = classify(text)
    if found is None:
        return None
    introduced, affected = found_in(text, fixed_in)
    inferred = [] if introduced else ["affected"]
    if quirks or release.from_order:
        inferred.append("fixed_in")
    if found.inferred:
        inferred.append("fault")
    inferred += ["trigger", "severity"]
    notes = [f"Release date: {release.date}"] if release.date else []
    notes += quirks
    if release.others:
        notes.append(f"The same release names companion module versions: {', '.join(release.others)}")
    if release.from_order:
        notes.append("fixed_in taken from the commit list's order (the next driver version bump)")
    return ChangelogEntry(
        id="",
        module=module,
        vendor=vendor,
        title=_title(text, module),
        text=text,
        fixed_in=fixed_in,
        faults=found.faults,
        inferred_faults=found.inferred,
        words=found.words,
        evidence=found.evidence,
        inferred=tuple(inferred),
        references=cite,
        source=source,
        line=line,
        introduced_in=introduced,
        affected_builds=affected,
        notes=tuple(notes),
    )


def _without_reverted(
    candidates: list[_Candidate], reverts: list[tuple[str, str]], order: ReleaseOrder
) -> list[_Candidate]:
    """Candidates no newer build of the document reverts."""
    latest_revert: dict[str, SortKey] = {}
    for version, text in reverts:
        key = order.key(version)
        if text not in latest_revert or latest_revert[text] < key:
            latest_revert[text] = key
    kept = []
    for candidate in candidates:
        candidate.key = order.key(candidate.entry.fixed_in)
        reverted = latest_revert.get(candidate.normalized)
        if reverted is None or reverted <= candidate.key:
            kept.append(candidate)
    return kept


def _numbered(candidates: Iterable[_Candidate], order: ReleaseOrder) -> list[ChangelogEntry]:
    """Entries with ids ``<module>-<fixed_in>-<title words>``, unique, newest release first."""
    entries: list[ChangelogEntry] = []
    seen: set[str] = set()
    for candidate in sorted(candidates, key=lambda c: c.key, reverse=True):
        entry = candidate.entry
        words = "-".join(re.findall(r"[a-z0-9]+", entry.title.lower())[:6])
        base = _ID_UNSAFE.sub("-", f"{entry.module}-{entry.fixed_in}-{words}").strip("-.:")
        ident, number = base, 1
        while ident in seen:
            number += 1
            ident = f"{base}-{number}"
        seen.add(ident)
        notes = entry.notes
        if order.is_prerelease(entry.fixed_in):
            notes += (
                f"{entry.fixed_in} is a pre-release build; rpm order puts its release below it, "
                "so check hosts on the release itself by hand",
            )
        entries.append(_replace(entry, ident, notes))
    return entries


def _replace(entry: ChangelogEntry, ident: str, notes: tuple[str, ...]) -> ChangelogEntry:
    values = dict(entry.__dict__)
    values.update(id=ident, notes=notes)
    return ChangelogEntry(**values)


def _normalized(text: str) -> str:
    """Text as reverts quote it: no prefixes, quotes, punctuation or case."""
    text = re.sub(r"^(?:[\w./-]+:\s+)+", "", text.strip().strip("\"'\u201c\u201d"))
    text = re.sub(r"\(CVE-[\d-]+\)", "", text)
    return " ".join(re.findall(r"[a-z0-9_]+", text.lower()))


def _title(text: str, module: str) -> str:
    first = SENTENCE.split(text.strip(), maxsplit=1)[0].strip()
    prefix = re.match(
        rf"(?:[\w./-]+:\s+)*?(?:{re.escape(module)}|{re.escape(module.replace('_', '-'))}):\s+", first
    )
    if prefix:
        first = first[prefix.end() :]
    return first if len(first) <= 120 else first[:117].rstrip() + "..."
