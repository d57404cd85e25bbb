"""Plain helpers the test modules share (fixtures live in conftest.py)."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("FLEETFIX_CORPUS") or REPO.parent / "shared" / "corpus")  # a checkout's sibling
# A collections path: ansible_collections/fleetfix/hba in it links to the repository, the collection's root.
COLLECTIONS = REPO / "collections"


def collection_plugin(name: str) -> ModuleType:
    """A plugin file of the fleetfix.hba collection imported as Ansible imports it, e.g.
    ``modules.fleetfix_facts`` or ``module_utils.write_safety``."""
    if str(COLLECTIONS) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS))
    return importlib.import_module(f"ansible_collections.fleetfix.hba.plugins.{name}")


def strip_provenance(text: str) -> str:
    """Corpus .log/.txt files open with '#' provenance lines that are not data."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")) + "\n"
