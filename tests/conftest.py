"""Shared fixtures: the real-world corpus beside the repository (plain helpers are in tests/support)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from tests.support import CORPUS

# Property tests judge results, never speed: a per-example deadline only measures how busy the machine is.
settings.register_profile("fleetfix", deadline=None)
settings.load_profile("fleetfix")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """``../shared/corpus``; a test that needs it is skipped, saying why, when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"needs the shared real-world corpus at {CORPUS} (not beside this checkout)")
    return CORPUS
