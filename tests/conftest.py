"""Shared test fixtures: where the repository and the real-world corpus are."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def strip_provenance(text: str) -> str:
    """Corpus .log/.txt files open with '#' provenance lines that are not data."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")) + "\n"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"real-world corpus not found at {CORPUS}")
    return CORPUS
