"""The real-kernel tests' fixtures: step timing printed live, a state directory per module, the image."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetfix.lab.vm import image
from tests.support.vm import Steps


@pytest.fixture(scope="module")
def steps(request: pytest.FixtureRequest) -> Iterator[Steps]:
    label = request.module.__name__.rpartition(".")[2].removeprefix("test_").replace("_", " ")
    recorder = Steps(request.config, label)
    yield recorder
    table = "; ".join(f"{name} {seconds:.0f}s" for name, seconds in recorder.done)
    recorder.say(f"step times: {table}; total {sum(s for _, s in recorder.done):.0f}s")


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Everything fleetfix keeps (runs, journal, VM state) goes to a directory of this module's own."""
    previous = os.environ.get("FLEETFIX_STATE_DIR")
    state = tmp_path_factory.mktemp("state")
    os.environ["FLEETFIX_STATE_DIR"] = str(state)
    yield state
    if previous is None:
        os.environ.pop("FLEETFIX_STATE_DIR", None)
    else:
        os.environ["FLEETFIX_STATE_DIR"] = previous


@pytest.fixture(scope="module")
def built(steps: Steps) -> image.ImageFiles:
    """The guest image, built once per recipe (the first module to ask builds it; the rest find it cached)."""
    if os.geteuid() != 0:
        pytest.skip("the VM lab needs root")
    if shutil.which("qemu-system-x86_64") is None or shutil.which("debootstrap") is None:
        pytest.skip("qemu-system-x86 or debootstrap is not installed (make deps installs them)")
    called = datetime.now(UTC).replace(microsecond=0)
    started = time.monotonic()
    first = image.build(steps.say)
    fresh = datetime.fromisoformat(image.manifest(first)["built"]) >= called
    steps.record("image build" if fresh else "image build (cached by an earlier run)", started)
    return first
