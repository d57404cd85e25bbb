"""Fixtures for tests that run against the namespace lab fleet (root only)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fleetfix.lab import Lab


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab fleet needs root (network namespaces, mounts, loop devices)")


@pytest.fixture
def lab_root() -> None:
    """Skips the test where the lab cannot run (not root)."""
    _require_root()


# Labs of concurrent test runs on one machine stay apart by name: FLEETFIX_TEST_LAB_PREFIX sets its start.
LAB_PREFIX = os.environ.get("FLEETFIX_TEST_LAB_PREFIX", "pytest")


@pytest.fixture(scope="session")
def seed_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The seed scenario under a lab name of this test process; ``lab.inventory_path`` is its inventory."""
    _require_root()
    lab = Lab(f"{LAB_PREFIX}-seed-{os.getpid()}")
    lab.up("seed")
    lab.inventory_path = lab.write_inventory(tmp_path_factory.mktemp("seed-lab") / "inventory.yml")
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[Callable[..., Lab]]:
    """Factory for a test's own small lab: ``make_lab(scenario="seed", hosts=[...], name=...)``."""
    _require_root()
    made: list[Lab] = []

    def make(scenario: str = "seed", hosts: int | list[str] | None = None, name: str | None = None) -> Lab:
        lab = Lab(name or f"{LAB_PREFIX}-{os.getpid()}-{len(made)}")
        made.append(lab)
        lab.up(scenario, hosts)
        lab.inventory_path = lab.write_inventory(tmp_path / f"{lab.name}.yml")
        return lab

    yield make
    for lab in made:
        lab.down()
