"""Vendor driver changelogs and release notes -> advisory entries for a person to review.

Sample input (the smartpqi README's changelog; other shapes below)::

    Version 2.1.36-026 (August 2025)
     - Fixed a system crash issue caused by a divide-by-zero condition.
       - Root Cause: RAID map entries blocks_per_row and strip_size are used as
         divisors for AIO calculations.
    Version 1.2.14-[015-017] (June 2020)
      - Kernel compatibility updates.

    >>> [entry] = import_changelog(text, "README.md", "smartpqi", "Microchip",
    ...                            references=["https://github.com/Smart-Storage/smartpqi"])
    >>> entry.fixed_in, entry.faults, entry.evidence
    ('2.1.36-026', ('panic',), 'Fixed a system crash issue caused by a divide-by-zero condition.')

Shapes read: ``Version X (Month YYYY)`` headings; ``Current Version : X`` / ``Old Version : Y`` blocks
(Broadcom's megaraid_sas and mpt3sas notes, with or without the old ``1 Release Date`` numbering); ``REV#
DATE NAME DESCRIPTION`` tables; commit subject lists (``scsi: mpt3sas: Fix ...``) where a ``Update driver
version to X`` commit closes each release. Newest-first and oldest-first both work: releases are ordered
by version (``fleetfix.versions.compare``), never by their dates, which vendors get wrong.

One entry per item that fixes a fault; the fault tags use the advisory vocabulary (``panic``, ``race``,
``hang``...). Each keeps the sentences that justify its tags (``evidence``) and says what was inferred
rather than stated: a tag implied by the wording (``I/O stalls`` -> hang), the affected range (bad below
``fixed_in``), a ``fixed_in`` taken from a build range or from a commit list's order, and the trigger and
severity, which a changelog never states.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml

from fleetfix.advisories.changelog.attribution import citations, vendor_of
from fleetfix.advisories.changelog.faults import SENTENCE, classify
from fleetfix.advisories.changelog.named_versions import first_build, found_in
from fleetfix.advisories.changelog.rows import REV_HEADER, commit_list, rev_table
from fleetfix.advisories.changelog.sections import CURRENT, HEADING, Release, sections
from fleetfix.errors import InputError

_SEVERITY = (
    (frozenset({"data_corruption"}), "critical"),
    (frozenset({"panic", "oops", "null_deref", "use_after_free", "double_free", "hang", "deadlock"}), "high"),
    (frozenset({"queue_depth", "out_of_bounds"}), "high"),
)


@dataclass(frozen=True)
class ChangelogEntry:
    """A fault-fixing item, ready to become an advisory (``to_advisory_dict``)."""

    id: str
    module: str
    vendor: str
    title: str
    fixed_in: str
    faults: tuple[str, ...]
    inferred_faults: tuple[str, ...]
    evidence: str
    inferred: tuple[str, ...]
    references: tuple[str, ...]
    source: str
    line: int
    introduced_in: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def severity(self) -> str:
        for kinds, severity in _SEVERITY:
            if kinds & set(self.faults):
                return severity
        return "medium"

    def to_advisory_dict(self) -> dict[str, object]:
        """The advisory YAML mapping (the advisories schema); evidence and source go in ``notes``."""
        spec = {"introduced": self.introduced_in, "fixed": self.fixed_in} if self.introduced_in else None
        notes = [f'Evidence: "{self.evidence}"', f"Source: {self.source}:{self.line}", *self.notes]
        if self.inferred_faults:
            notes.append(f"Fault tags implied rather than stated: {', '.join(self.inferred_faults)}")
        advisory: dict[str, object] = {
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
        return advisory


def import_changelog(
    text: str, source: str, module: str, vendor: str | None = None, references: Sequence[str] = ()
) -> list[ChangelogEntry]:
    """Advisory entries for every fault-fixing item of ``text`` (a changelog of ``module``).

    ``references`` are the public URLs to cite; without them, the ``source`` if it is a URL and the URLs
    in the text's leading ``#`` header lines are used. Raises ``InputError`` naming ``source`` when the
    text has no recognisable changelog shape, or when entries were found but there is nothing to cite.
    """
    entries: list[ChangelogEntry] = []
    cite = citations(text, source, references)
    who = vendor or vendor_of(module)
    releases, fixed_in_inferred = _releases_for(text, source, module)
    for release in releases:
        fixed_in, quirks = first_build(release.version)
        for item_line, item in release.items:
            tags = classify(item)
            if tags is None:
                continue
            faults, inferred_faults, evidence = tags
            introduced, found_note = found_in(item, fixed_in)
            inferred = ["affected"] if introduced is None else []
            if quirks or fixed_in_inferred:
                inferred.append("fixed_in")
            if inferred_faults:
                inferred.append("fault")
            inferred += ["trigger", "severity"]
            notes = [f"Release date: {release.date}"] if release.date else []
            notes += quirks + found_note
            if fixed_in_inferred:
                notes.append("fixed_in taken from the commit list's order (the next driver version bump)")
            number = sum(e.fixed_in == fixed_in for e in entries) + 1
            entries.append(
                ChangelogEntry(
                    id=re.sub(r"[^A-Za-z0-9._:-]", "-", f"{module}-{fixed_in}-{number}"),
                    module=module,
                    vendor=who,
                    title=_title(item),
                    fixed_in=fixed_in,
                    faults=faults,
                    inferred_faults=inferred_faults,
                    evidence=evidence,
                    inferred=tuple(inferred),
                    references=cite,
                    source=source,
                    line=item_line,
                    introduced_in=introduced,
                    notes=tuple(notes),
                )
            )
    if entries and not cite:
        raise InputError(
            source, "no public URL to cite: add a '# SOURCE: https://...' line or give references"
        )
    return entries


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
    body = yaml.safe_dump(
        [e.to_advisory_dict() for e in entries], sort_keys=False, allow_unicode=True, width=110
    )
    return "\n".join(header) + "\n" + (body if entries else "[]\n")


def parse_releases(text: str, source: str, module: str) -> list[Release]:
    """The releases of ``text`` in document order; ``InputError`` when no changelog shape is there."""
    return _releases_for(text, source, module)[0]


def _releases_for(text: str, source: str, module: str) -> tuple[list[Release], bool]:
    """The releases of the first shape ``text`` has, and whether their ``fixed_in`` comes from order."""
    lines = text.splitlines()
    if any(HEADING.match(line) for line in lines):
        return sections(lines, HEADING), False
    if any(CURRENT.match(line) for line in lines):
        return sections(lines, CURRENT), False
    if any(REV_HEADER.match(line) for line in lines):
        return rev_table(lines), False
    commits = commit_list(lines, module, source)
    if commits is not None:
        return commits, True
    raise InputError(
        source,
        f"no changelog shape found: no 'Version X' headings, 'Current Version :' blocks, REV# table, "
        f"or commit subjects naming {module}",
        line=1,
    )


def _title(item: str) -> str:
    first = SENTENCE.split(item.strip(), maxsplit=1)[0].strip()
    return first if len(first) <= 120 else first[:117].rstrip() + "..."
