"""Which faults a changelog item fixes, in the advisory vocabulary, and the sentences that say so.

A tag is stated (``kernel panic`` -> panic) or implied by the wording (``I/O stalls`` -> hang). A fault
word that is a precondition (``after controller lockup``) or the firmware's own crash names no host fault,
and an ``Add ...`` item with nothing but a weak tag is a feature, not a fix.
"""

from __future__ import annotations

import re

SENTENCE = re.compile(r"(?<=[.;!?])\s+(?=\S)|\n")
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


def classify(item: str) -> tuple[tuple[str, ...], tuple[str, ...], str] | None:
    """``(faults, inferred faults, evidence)`` of a fault-fixing item, or None for anything else."""
    sentences = [s.strip() for s in SENTENCE.split(item) if s.strip()]
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
