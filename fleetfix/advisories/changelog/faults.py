"""Which faults a changelog entry fixes, in the advisory vocabulary, the words that say so, and the sentences.

The classifier reads the whole joined entry. A tag is stated (``kernel panic`` -> panic) or implied by the
wording (``I/O stalls`` -> hang, ``ABBA lock ordering`` -> deadlock). A fault word that is a precondition
(``after controller lockup``) or the firmware's own crash names no host fault. Not fixes: an entry that
adds something (``Add``, ``Adds in sysfs entry for ... lockup behavior``) without a word of fixing, one
that only documents a workaround or a known issue, and one whose only fault word is the queue depth
without anything exceeding it (``Add .change_queue_depth support``).

    >>> found = classify("Fix bsg_done() causing double free")
    >>> found.faults, found.words
    (('double_free',), ('double free',))
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

SENTENCE = re.compile(r"(?<=[.;!?])\s+(?=\S)|\n")
_FEATURE = re.compile(
    r"(?:add(?:ed|s)?|support(?:ed|s)?\s+for|new|enabled?|introduc\w+|implement\w*)\b"
    r"(?!\s+(?:the\s+)?missing)",
    re.I,
)
_FIXING = re.compile(
    r"\b(?:fix\w*|correct\w*|resolv\w*|prevent\w*|avoid\w*|address\w*|workaround|work around|"
    r"eliminat\w*|protect\w*)\b",
    re.I,
)
_NOT_A_FIX = re.compile(
    r"\b(?:updated?|added?|documented?)\b[^.]{0,40}\b(?:release[ -]?notes?|readme|documentation)\b"
    r"|\bknown (?:issue|problem|device \w+ issue)",
    re.I,
)
_PREFIXES = re.compile(r"^(?:[\w./-]+:\s+)+")  # "scripts: Added ...": the verb comes after the prefixes
_EXCEEDING = re.compile(r"exceed\w*|overrun|overflow\w*|too many|more \w+ than|beyond", re.I)
_PRECONDITION = re.compile(
    r"\b(?:after|during|under|following|upon)\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+)?$", re.I
)

# (tag, pattern, inferred, keywords): inferred patterns imply the fault rather than name it; every match
# of a pattern holds one of its lower-case keywords, which are looked for first (plain substring search is
# far cheaper than a case-insensitive regex, and most entries name no fault at all).
_TAGS: tuple[tuple[str, re.Pattern[str], bool, tuple[str, ...]], ...] = tuple(
    (tag, re.compile(pattern, re.I), inferred, tuple(keywords.split("|")))
    for tag, pattern, inferred, keywords in (
        ("race", r"\brac(?:e|es|y)\b(?!\s*-?\s*free)", False, "race|racy"),
        (
            "panic",
            r"\b(?:panic(?:s|ked)?|crash(?:es|ed)?)\b(?!\s+(?:dump|handl|kernel|recovery|capture|tool|utility|notifier))",
            False,
            "panic|crash",
        ),
        ("oops", r"\boops(?:es|ed)?\b|\bseg(?:mentation)?[ -]?fault", False, "oops|seg"),
        (
            "null_deref",
            r"null[ -]?(?:pointer|ptr)?[ -]?de-?ref\w*|\bnull\b(?:\s+[\w-]+){0,3}\s+pointer\b(?!\s+checks?)"
            r"|\bnull\b[^.;]{0,40}\bde-?referenc\w*",
            False,
            "null",
        ),
        ("use_after_free", r"use[ -]after[ -]free|\buaf\b", False, "after free|after-free|uaf"),
        ("double_free", r"double[ -]free", False, "double"),
        (
            "hang",
            r"\bhang(?:s|ing)?\b|\bhung\b|\block-?ups?\b(?!\s+(?:code|state|action|detect))",
            False,
            "hang|hung|lockup|lock-up",
        ),
        (
            "hang",
            r"\bstall(?:s|ed)?\b|\bstuck\b|\bfreez(?:e|es|ing)\b|\bunresponsive\b",
            True,
            "stall|stuck|freez|unresponsive",
        ),
        (
            "deadlock",
            r"dead-?lock|circular locking|lock(?:ing)? dependency",
            False,
            "deadlock|dead-lock|circular|dependency",
        ),
        (
            "deadlock",
            r"(?:mutex|lock) leak|mismatch\b.{0,60}\block\b|\babba\b|lock[- ]order(?:ing)?\b",
            True,
            "leak|mismatch|abba|lock order|lock-order",
        ),
        (
            "data_corruption",
            r"\b(?:data|file|disk|memory) corruption|\bcorrupt(?:s|ed|ing|ion)?\b",
            False,
            "corrupt",
        ),
        (
            "data_corruption",
            r"memory scribble|not (?:issue|send)\w* flush cache|garbage in (?:the )?file"
            r"|data inconsistenc\w+",
            True,
            "scribble|flush cache|garbage|inconsistenc",
        ),
        ("queue_depth", r"queue[ _]?depth|\bcan_queue\b|\bqueue[ _]full\b", False, "queue"),
        ("queue_depth", r"more \w+ than (?:are )?(?:currently )?(?:free|available)\b", True, "than"),
        ("memory_leak", r"memory leak|\bleak\w*\s+(?:of\s+)?memory|kmemleak|\bmem ?leaks?\b", False, "leak"),
        ("memory_leak", r"(?<!mutex )(?<!lock )\bleak(?:s|ed|ing|age)?\b", True, "leak"),
        (
            "warning_call_trace",
            r"\b(?:call|back|stack) ?traces?\b|\bwarn_on\b|dump_stack",
            False,
            "trace|warn_on|dump_stack",
        ),
        (
            "out_of_bounds",
            r"out[ -]of[ -]bounds|buffer overflow|\boverrun\b",
            False,
            "bounds|overflow|overrun",
        ),
    )
)
_KEYWORDS = tuple(dict.fromkeys(word for *_, keywords in _TAGS for word in keywords))
# Each keyword's tags, as positions in _TAGS: an entry's words name the patterns worth running.
_TAGS_OF = {word: frozenset(i for i, (*_, words) in enumerate(_TAGS) if word in words) for word in _KEYWORDS}
_READ_FOR = ("revert", *_KEYWORDS)
_NOT_HOST_FAULT = re.compile(r"(?:firmware|fw)\s+$", re.I)  # "firmware crash": the controller's own
_WEAK = frozenset({"queue_depth"})  # alone, a fault only when something exceeds the depth
_SEVERITY = (
    (frozenset({"data_corruption"}), "critical"),
    (frozenset({"panic", "oops", "null_deref", "use_after_free", "double_free", "hang", "deadlock"}), "high"),
    (frozenset({"queue_depth", "out_of_bounds"}), "high"),
)


@dataclass(frozen=True)
class Classification:
    """The faults an entry fixes: all tags, those only implied, the words matched, the sentences quoted."""

    faults: tuple[str, ...]
    inferred: tuple[str, ...]
    words: tuple[str, ...]
    evidence: str


def severity_of(faults: tuple[str, ...]) -> str:
    """A guess at the operational impact of ``faults`` on a fleet: data loss first, then a dead host."""
    for kinds, severity in _SEVERITY:
        if kinds.intersection(faults):
            return severity
    return "medium"


def worth_reading(lowered: str, start: int = 0, end: int | None = None) -> bool:
    """Whether lower-cased ``lowered[start:end]`` has a fault word or a revert; without, it yields nothing."""
    end = len(lowered) if end is None else end
    return any(lowered.find(word, start, end) >= 0 for word in _READ_FOR)


def classify(entry: str) -> Classification | None:
    """What ``entry`` (its whole joined text) fixes, or None when it fixes no fault."""
    lowered = entry.lower()
    named: set[int] = set()
    for word in _KEYWORDS:
        if word in lowered:
            named |= _TAGS_OF[word]
    starts: list[int] = []  # where each sentence starts, found once a pattern matches
    stated: dict[str, tuple[int, str]] = {}
    implied: dict[str, tuple[int, str]] = {}
    for index in sorted(named):
        tag, pattern, inferred, _ = _TAGS[index]
        if pattern.search(entry) is None:
            continue
        starts = starts or [0] + [m.end() for m in SENTENCE.finditer(entry)]
        found = _first_fault(pattern, entry, starts)
        chosen = implied if inferred else stated
        if found is not None and (tag not in chosen or found[0] < chosen[tag][0]):
            chosen[tag] = found
    for tag in stated:
        implied.pop(tag, None)
    hits = {**implied, **stated}
    if not hits or _NOT_A_FIX.search(entry):
        return None
    if set(hits) <= _WEAK and not _EXCEEDING.search(entry):
        return None
    sentences = [entry[a:b].strip() for a, b in zip(starts, [*starts[1:], len(entry)], strict=True)]
    if _FEATURE.match(_PREFIXES.sub("", sentences[0], count=1)) and not _FIXING.search(entry):
        return None
    faults = tuple(dict.fromkeys(tag for tag, *_ in _TAGS if tag in hits))
    words = tuple(dict.fromkeys(hits[tag][1].lower() for tag in faults))
    evidence = " ... ".join(sentences[i] for i in sorted({hits[tag][0] for tag in faults}) if sentences[i])
    return Classification(faults, tuple(t for t in faults if t in implied), words, evidence)


def _first_fault(pattern: re.Pattern[str], entry: str, starts: list[int]) -> tuple[int, str] | None:
    """(sentence index, word) of the first match that is not a precondition nor the firmware's own crash."""
    for match in pattern.finditer(entry):
        index = bisect_right(starts, match.start()) - 1
        before = entry[starts[index] : match.start()]
        if not _PRECONDITION.search(before) and not _NOT_HOST_FAULT.search(before):
            return index, match.group(0)
    return None
