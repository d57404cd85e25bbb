"""Plain helpers the test modules share (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"


def strip_provenance(text: str) -> str:
    """Corpus .log/.txt files open with '#' provenance lines that are not data."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")) + "\n"
