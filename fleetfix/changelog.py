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

from fleetfix.errors import InputError
from fleetfix.versions import compare

_HEADING = re.compile(r"\s*Version\s+(\d\S*)(?:\s+\(([^)]*)\))?\s*$", re.I)
_CURRENT = re.compile(r"\s*(?:\d\s+)?Current Version\s*:\s*(\d\S*)", re.I)
_RELEASE_DATE = re.compile(r"\s*(?:\d\s+)?Release Date\s*:\s*(.*?)\s*-?\s*$", re.I)
_SKIPPED = re.compile(r"\s*(?:(?:\d\s+)?Old(?:er)? Version\s*:|-{5,}\s*$|\(e?mai?ld?-id:)", re.I)
_REV_HEADER = re.compile(r"\s*REV#?\s+DATE\s+NAME\s+DESCRIPTION\s*$", re.I)
_REV_ROW = re.compile(r"\s*(\d[\w.\-\[\]]*)\s+(\d{1,2}/\d{1,2}/\d{2,4}|\d{4}-\d\d-\d\d)\s+(\S+)\s+(\S.*)$")
_BULLET = re.compile(r"(\s*)(?:[-*\u2022]|\d{1,2}\.|[ivx]{1,4}\.)\s*(\S.*)")
_LABEL = re.compile(r"(?:root cause|cause|fix|risk|workaround|note|impact)\s*:", re.I)
_SHA = re.compile(r"[0-9a-f]{7,40}\s+")
_BUMP = re.compile(r"(?:update|bump)\w*\s+(?:the\s+)?driver\s+version\s+to\s+v?(\d\S*?)\.?\s*$", re.I)
_RANGE = re.compile(r"(.*?)\[(\d+)-(\d+)\](.*)")
_FOUND_IN = re.compile(
    r"\b(found|seen|observed|reported|introduced|regressed)\s+in\s+(?:version\s+|driver\s+)?(\d[\w.\-]*\w)",
    re.I,
)
_URL = re.compile(r"https?://[^\s)>\]\"']+")
_SENTENCE = re.compile(r"(?<=[.;!?])\s+(?=\S)|\n")
_FEATURE = re.compile(
    r"(?:add(?:ed|s)?|support(?:ed)?\s+for|new|enabled?|introduc\w+|implement\w*)\b(?!\s+(?:the\s+)?missing)",
    re.I,
)
_PRECONDITION = re.compile(
    r"\b(?:after|during|under|following|upon)\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+)?$", re.I
)

# (tag, pattern, inferred): inferred patterns imply the fault rather than name it.
_TAGS: tuple[tuple[str, re.Pattern[str], bool], ...] = tuple(
    (tag, re.compile(pattern, re.I), inferred)
    for tag, pattern, inferred in (
        ("race", r"\brac(?:e|es|y)\b(?!\s*-?\s*free)", False),
        ("panic", r"\b(?:panic(?:s|ked)?|crash(?:es|ed)?)\b(?!\s+dump)", False),
        ("oops", r"\boops(?:es|ed)?\b", False),
        (
            "null_deref",
            r"null[ -]?(?:pointer|ptr)?[ -]?de-?ref\w*|\bnull\b(?:\s+[\w-]+){0,3}\s+pointer\b",
            False,
        ),
        ("use_after_free", r"use[ -]after[ -]free|\buaf\b", False),
        ("double_free", r"double[ -]free", False),
        ("hang", r"\bhang(?:s|ing)?\b|\bhung\b|\block-?ups?\b(?!\s+(?:code|state|action|detect))", False),
        ("hang", r"\bstall(?:s|ed)?\b|\bstuck\b|\bfreez(?:e|es|ing)\b|\bunresponsive\b", True),
        ("deadlock", r"dead-?lock|circular locking|lock(?:ing)? dependency", False),
        ("deadlock", r"(?:mutex|lock) leak|mismatch\b.{0,60}\block\b", True),
        ("data_corruption", r"\b(?:data|file|disk|memory) corruption|\bcorrupt(?:s|ed|ing|ion)?\b", False),
        (
            "data_corruption",
            r"memory scribble|not (?:issue|send)\w* flush cache|garbage in (?:the )?file",
            True,
        ),
        ("queue_depth", r"queue[ _]?depth|\bcan_queue\b|\bqueue[ _]full\b", False),
        ("queue_depth", r"more \w+ than (?:are )?(?:currently )?(?:free|available)\b", True),
        ("memory_leak", r"memory leak|\bleak\w*\s+(?:of\s+)?memory|kmemleak", False),
        ("memory_leak", r"(?<!mutex )(?<!lock )\bleak(?:s|ed|ing|age)?\b", True),
        ("warning_call_trace", r"call ?trace|back ?trace|stack ?trace|\bwarn_on\b|dump_stack", False),
        ("out_of_bounds", r"out[ -]of[ -]bounds|buffer overflow|\boverrun\b", False),
    )
)
_NOT_HOST_FAULT = re.compile(
    r"(?:firmware|fw)\s+$", re.I
)  # "firmware crash": the controller's, not the host's
_WEAK = frozenset({"queue_depth"})  # on its own, not enough to make an "Add ..." item a fix
_SEVERITY = (
    (frozenset({"data_corruption"}), "critical"),
    (frozenset({"panic", "oops", "null_deref", "use_after_free", "double_free", "hang", "deadlock"}), "high"),
    (frozenset({"queue_depth", "out_of_bounds"}), "high"),
)
_VENDORS = {
    "smartpqi": "Microchip",
    "hpsa": "Microchip",
    "aacraid": "Microchip",
    "mpt3sas": "Broadcom",
    "mpt2sas": "Broadcom",
    "megaraid_sas": "Broadcom",
    "lpfc": "Broadcom",
    "qla2xxx": "Marvell",
    "qedf": "Marvell",
}


@dataclass(frozen=True)
class Release:
    """One version's worth of changelog items, as written."""

    version: str
    date: str | None
    line: int
    items: tuple[tuple[int, str], ...]  # (line, text with "\n" before each sub-point)


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
        """The advisory YAML mapping (fleetfix.advisories schema); evidence and source go in ``notes``."""
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
    cite = _references(text, source, references)
    who = vendor or _VENDORS.get(module, "unknown")
    releases, fixed_in_inferred = _releases_for(text, source, module)
    for release in releases:
        fixed_in, quirks = _fixed_in(release.version)
        for item_line, item in release.items:
            tags = _classify(item)
            if tags is None:
                continue
            faults, inferred_faults, evidence = tags
            introduced, found_note = _found_in(item, fixed_in)
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
    lines = text.splitlines()
    if any(_HEADING.match(line) for line in lines):
        return _sections(lines, _HEADING), False
    if any(_CURRENT.match(line) for line in lines):
        return _sections(lines, _CURRENT), False
    if any(_REV_HEADER.match(line) for line in lines):
        return _rev_table(lines), False
    commits = _commit_list(lines, module, source)
    if commits is not None:
        return commits, True
    raise InputError(
        source,
        f"no changelog shape found: no 'Version X' headings, 'Current Version :' blocks, REV# table, "
        f"or commit subjects naming {module}",
        line=1,
    )


def _sections(lines: list[str], heading: re.Pattern[str]) -> list[Release]:
    releases: list[Release] = []
    date: str | None = None
    date_of_heading: str | None = None
    start, version, items = 0, "", []
    for number, line in enumerate(lines, 1):
        dated = _RELEASE_DATE.match(line)
        found = heading.match(line)
        if dated:
            date = dated.group(1)
        elif found:
            if version:
                releases.append(Release(version, date_of_heading, start, _items(items)))
            start, version, items = number, found.group(1), []
            date_of_heading = found.group(2) if heading is _HEADING and found.lastindex == 2 else date
        elif version and not _SKIPPED.match(line) and not line.lstrip().startswith("#"):
            items.append((number, line))
    if version:
        releases.append(Release(version, date_of_heading, start, _items(items)))
    return releases


def _items(lines: list[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    """Top-level points of a release body; deeper bullets and "Root Cause:"-style points continue them."""
    bullets = [(n, _BULLET.match(text)) for n, text in lines]
    indents = [len(m.group(1).expandtabs()) for _, m in bullets if m and not _LABEL.match(m.group(2))]
    top = min(indents, default=0)
    items: list[list] = []
    for (number, text), (_, bullet) in zip(lines, bullets, strict=True):
        if not text.strip():
            continue
        if bullet and len(bullet.group(1).expandtabs()) <= top and not _LABEL.match(bullet.group(2)):
            items.append([number, bullet.group(2).strip()])
        elif items:
            joiner = "\n" if bullet else " "
            items[-1][1] += joiner + (bullet.group(2) if bullet else text).strip()
    return tuple((number, text) for number, text in items)


def _rev_table(lines: list[str]) -> list[Release]:
    releases: list[Release] = []
    for number, line in enumerate(lines, 1):
        row = _REV_ROW.match(line)
        if row:
            releases.append(Release(row.group(1), row.group(2), number, ((number, row.group(4).strip()),)))
        elif releases and line[:1].isspace() and line.strip():
            last = releases[-1]
            text = last.items[0][1] + " " + line.strip()
            releases[-1] = Release(last.version, last.date, last.line, ((last.items[0][0], text),))
    return releases


def _commit_list(lines: list[str], module: str, source: str) -> list[Release] | None:
    """Commit subjects naming ``module``, each given to the release its version bump closes."""
    mentions = re.compile(rf"(?:[\w-]+:\s+)*{re.escape(module)}:\s+(\S.*)")
    commits: list[tuple[int, str]] = []
    bumps: list[tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        subject = mentions.match(_SHA.sub("", line.strip(), count=1))
        if subject:
            bump = _BUMP.search(subject.group(1))
            (bumps if bump else commits).append((number, bump.group(1) if bump else subject.group(1)))
    if not commits and not bumps:
        return None
    if not bumps:
        raise InputError(source, f"commit subjects name {module} but no 'Update driver version to X'", line=1)
    versions = [v for _, v in bumps]
    newest_first = len(versions) > 1 and compare(versions[0], versions[-1]) > 0
    releases = []
    for index, (line, version) in enumerate(bumps):
        if newest_first:
            low, high = line, bumps[index + 1][0] if index + 1 < len(bumps) else len(lines) + 1
        else:
            low, high = bumps[index - 1][0] if index else 0, line
        items = tuple((n, s) for n, s in commits if low < n < high)
        releases.append(Release(version, None, line, items))
    return releases


def _classify(item: str) -> tuple[tuple[str, ...], tuple[str, ...], str] | None:
    """``(faults, inferred faults, evidence)`` of a fault-fixing item, or None for anything else."""
    sentences = [s.strip() for s in _SENTENCE.split(item) if s.strip()]
    stated: dict[str, int] = {}
    implied: dict[str, int] = {}
    for index, sentence in enumerate(sentences):
        for tag, pattern, inferred in _TAGS:
            if tag in stated or (inferred and tag in implied) or not _names_fault(pattern, sentence):
                continue
            (implied if inferred else stated).setdefault(tag, index)
    for tag in stated:
        implied.pop(tag, None)
    found = {**implied, **stated}
    if not found:
        return None
    title = sentences[0] if sentences else ""
    if _FEATURE.match(title) and set(found) <= _WEAK:
        return None
    faults = tuple(dict.fromkeys(tag for tag, _, _ in _TAGS if tag in found))
    evidence = " ... ".join(sentences[i] for i in sorted(set(found.values())))
    return faults, tuple(t for t in faults if t in implied), evidence


def _names_fault(pattern: re.Pattern[str], sentence: str) -> bool:
    """A match that is not a precondition ("after controller lockup") nor the firmware's own crash."""
    for match in pattern.finditer(sentence):
        before = sentence[: match.start()]
        if not _PRECONDITION.search(before) and not _NOT_HOST_FAULT.search(before):
            return True
    return False


def _fixed_in(version: str) -> tuple[str, list[str]]:
    """The first build of a build range (``1.2.14-[015-017]`` -> ``1.2.14-015``), and what was done."""
    version = version.rstrip(",;:)")
    ranged = _RANGE.fullmatch(version)
    if ranged is None:
        return version, []
    first = f"{ranged.group(1)}{ranged.group(2)}{ranged.group(4)}"
    last = f"{ranged.group(1)}{ranged.group(3)}{ranged.group(4)}"
    return first, [f"Release {version} is a build range {first}..{last}: fixed_in is its first build"]


def _found_in(item: str, fixed_in: str) -> tuple[str | None, list[str]]:
    """A version the text names as bad: ``introduced in X`` bounds the range, ``found in X`` is noted."""
    for match in _FOUND_IN.finditer(item):
        version = match.group(2)
        if compare(version, fixed_in) >= 0:
            continue
        if match.group(1).lower() == "introduced":
            return version, []
        return None, [f"The text names {version} as affected ({match.group(0)!r})"]
    return None, []


def _title(item: str) -> str:
    first = _SENTENCE.split(item.strip(), maxsplit=1)[0].strip()
    return first if len(first) <= 120 else first[:117].rstrip() + "..."


def _references(text: str, source: str, given: Sequence[str]) -> tuple[str, ...]:
    if given:
        return tuple(given)
    found = [source] if _URL.fullmatch(source) else []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        found += [url.rstrip(".,") for url in _URL.findall(line)]
    return tuple(dict.fromkeys(found))
