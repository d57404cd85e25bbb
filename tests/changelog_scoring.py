"""Scoring changelog imports against expectations written by reading each real changelog (recall, precision).

Shared by the corpus tests: an emitted entry matches an expected fix when it carries the same ``fixed_in``
and its joined text holds every fragment of the quote ("..." joins fragments; a trailing "(...)" may be the
expectation's own gloss). Entries matching an ``either`` quote count for neither figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from fleetfix.advisories.changelog.convert import ChangelogEntry, import_changelog

DATA = Path(__file__).resolve().parent / "data" / "changelogs"
SHARED = Path("/work/shared/corpus/changelogs")
TAG_NAMES = {"panic_or_crash": "panic"}


@dataclass
class Score:
    """One file's (or the corpus's) counts."""

    expected: int = 0
    found: int = 0
    emitted: int = 0
    false_positives: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.expected += other.expected
        self.found += other.found
        self.emitted += other.emitted
        self.false_positives += other.false_positives
        self.missed += other.missed

    @property
    def recall(self) -> float:
        return self.found / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.found / self.emitted if self.emitted else 1.0


def corpus() -> dict[str, dict]:
    """Every corpus file's expectations, in one form: module, shape, fixes (fixed_in, quote), not, either."""
    cases = {}
    for name, want in yaml.safe_load((DATA / "expected.yaml").read_text()).items():
        cases[name] = {**want, "path": DATA / name}
    shared = SHARED / "expected.yaml"
    if shared.is_file():
        for name, want in yaml.safe_load(shared.read_text()).items():
            fixes = [
                {
                    "fixed_in": f["fixed_in"],
                    "quote": f["literal"],
                    "tags": [TAG_NAMES.get(t, t) for t in f["tags"]],
                }
                for f in want["fixes"]
            ]
            cases[name] = {
                "module": want["driver"],
                "shape": "version_month_year",
                "fixes": fixes,
                "path": SHARED / name,
            }
    return cases


def words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def quoted(entry: ChangelogEntry, quote: str) -> bool:
    text = words(entry.text)

    def holds(fragment: str) -> bool:
        fragment = words(fragment)
        return fragment in text or re.sub(r"\s*\([^)]*\)$", "", fragment) in text

    return all(holds(fragment) for fragment in quote.split("..."))


def score(case: dict) -> tuple[Score, list[ChangelogEntry]]:
    """Import the case's file and score the entries against its expectations."""
    path: Path = case["path"]
    entries = import_changelog(path.read_text(encoding="utf-8"), path.name, case["module"]).entries
    result = Score(expected=len(case["fixes"]))
    unmatched = list(entries)
    for fix in case["fixes"]:
        hit = next((e for e in unmatched if e.fixed_in == fix["fixed_in"] and quoted(e, fix["quote"])), None)
        if hit is None:
            result.missed.append(f"{path.name}: {fix['fixed_in']} {fix['quote']!r}")
            continue
        unmatched.remove(hit)
        result.found += 1
    either = case.get("either") or []
    judged = [e for e in unmatched if not any(quoted(e, q) for q in either)]
    result.emitted = result.found + len(judged)
    result.false_positives = [f"{path.name}: {e.fixed_in} {e.title!r}" for e in judged]
    return result, entries
