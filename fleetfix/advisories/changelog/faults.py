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
_EXCEEDING = re.compile(r"exceed\w*|overrun|overflow\w*|too many|more \w+ than|beyond", re.I)
_PRECONDITION = re.compile(
    r"\b(?:after|during|under|following|upon)\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+)?$", re.I
)

# (tag, pattern, inferred): inferred patterns imply the fault rather than name it.
_TAGS: tuple[tuple[str, re.Pattern[str], bool], ...] = tuple(
    (tag, re.compile(pattern, re.I), inferred)
    for tag, pattern, inferred in (
        ("race", r"\brac(?:e|es|y)\b(?!\s*-?\s*free)", False),
        ("panic", r"\b(?:panic(?:s|ked)?|crash(?:es|ed)?)\b(?!\s+dump)", False),
        ("oops", r"\boops(?:es|ed)?\b|\bseg(?:mentation)?[ -]?fault", False),
        (
            "null_deref",
            r"null[ -]?(?:pointer|ptr)?[ -]?de-?ref\w*|\bnull\b(?:\s+[\w-]+){0,3}\s+pointer\b"
            r"|\bnull\b[^.;]{0,40}\bde-?referenc\w*",
            False,
        ),
        ("use_after_free", r"use[ -]after[ -]free|\buaf\b", False),
        ("double_free", r"double[ -]free", False),
        ("hang", r"\bhang(?:s|ing)?\b|\bhung\b|\block-?ups?\b(?!\s+(?:code|state|action|detect))", False),
        ("hang", r"\bstall(?:s|ed)?\b|\bstuck\b|\bfreez(?:e|es|ing)\b|\bunresponsive\b", True),
        ("deadlock", r"dead-?lock|circular locking|lock(?:ing)? dependency", False),
        ("deadlock", r"(?:mutex|lock) leak|mismatch\b.{0,60}\block\b|\babba\b|lock[- ]order(?:ing)?\b", True),
        ("data_corruption", r"\b(?:data|file|disk|memory) corruption|\bcorrupt(?:s|ed|ing|ion)?\b", False),
        (
            "data_corruption",
            r"memory scribble|not (?:issue|send)\w* flush cache|garbage in (?:the )?file"
            r"|data inconsistenc\w+",
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
_NOT_HOST_FAULT = re.compile(r"(?:firmware|fw)\s+$", re.I)  # "firmware crash": the controller's own
_WEAK = frozenset({"queue_depth"})  # alone, a fault only when something exceeds the depth


@dataclass(frozen=True)
class Classification:
    """The faults an entry fixes: all tags, those only implied, the words matched, the sentences quoted."""

    faults: tuple[str, ...]
    inferred: tuple[str, ...]
    words: tuple[str, ...]
    evidence: str


def classify(entry: str) -> Classification | None:
    """What ``entry`` (its whole joined text) fixes, or None when it fixes no fault."""
    sentences = [s.strip() for s in SENTENCE.split(entry) if s.strip()]
    stated: dict[str, int] = {}
    implied: dict[str, int] = {}
    words: dict[str, None] = {}
    for index, sentence in enumerate(sentences):
        for tag, pattern, inferred in _TAGS:
            if tag in stated or (inferred and tag in implied):
                continue
            word = _fault_word(pattern, sentence)
            if word is None:
                continue
            (implied if inferred else stated).setdefault(tag, index)
            words.setdefault(word.lower())
    for tag in stated:
        implied.pop(tag, None)
    found = {**implied, **stated}
    if not found or _NOT_A_FIX.search(entry):
        return None
    if set(found) <= _WEAK and not _EXCEEDING.search(entry):
        return None
    if _FEATURE.match(sentences[0]) and not _FIXING.search(entry):
        return None
    faults = tuple(dict.fromkeys(tag for tag, _, _ in _TAGS if tag in found))
    evidence = " ... ".join(sentences[i] for i in sorted(set(found.values())))
    return Classification(faults, tuple(t for t in faults if t in implied), tuple(words), evidence)


def _fault_word(pattern: re.Pattern[str], sentence: str) -> str | None:
    """The first match that is not a precondition ("after controller lockup") nor the firmware's own crash."""
    for match in pattern.finditer(sentence):
        before = sentence[: match.start()]
        if not _PRECONDITION.search(before) and not _NOT_HOST_FAULT.search(before):
            return match.group(0)
    return None
