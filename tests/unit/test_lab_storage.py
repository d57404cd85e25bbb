"""The lab's storage stand-ins (fleetfix/lab/guest/storage.py) print what the gate parser reads as the
scenario meant it, and a bad ``storage`` field is one line naming it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fleetfix.errors import InputError
from fleetfix.lab.guest import storage
from fleetfix.lab.scenario_load import load_scenario
from tests.support import collection_plugin

sh = collection_plugin("module_utils.storage_health")
SCENARIO = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "storage_gates.yaml"


def _shown(group: str) -> dict:
    scenario = load_scenario(str(SCENARIO))
    state = dataclasses.asdict(next(g for g in scenario.groups if g.name == group).storage)
    mdstat = storage.mdstat(state) if state["md"] else None
    return {
        "ll": sh.storage_problems(mdstat=mdstat, multipath_ll=storage.multipath_ll(state)),
        "daemon": sh.storage_problems(multipathd_paths=storage.multipathd_show_paths(state)),
    }


@pytest.mark.parametrize(
    ("group", "problems"),
    [
        ("mpfail", ["multipath mpatha: path sdc (2:0:0:1) failed in the kernel's map"]),
        ("mddeg", ["md array md0 (raid1) is degraded: 1 of 2 members missing [U_], failed: sdc1"]),
        (
            "mdrec",
            [
                "md array md0 (raid1) is degraded: 1 of 2 members missing [U_]",
                "md array md0 is in recovery (12.6%)",
            ],
        ),
        ("whole", []),
        ("plain", []),
    ],
)
def test_stand_ins_show_the_scenario_state(group, problems):
    shown = _shown(group)
    assert shown["ll"]["problems"] == problems
    assert shown["daemon"]["problems"] == [p.replace("mpatha", "a map") for p in problems if "multipath" in p]


def test_offline_path_reads_as_offline():
    state = {
        "multipath": [
            {"name": "m", "wwid": "36001", "paths": [{"dev": "sdq", "hcil": "3:0:0:1", "state": "offline"}]}
        ],
        "md": [],
    }
    text = storage.multipath_ll(state)
    assert "3:0:0:1 sdq 65:0 failed faulty offline" in text


def test_bad_storage_field_names_file_and_field(tmp_path: Path):
    bad = SCENARIO.read_text().replace("state: degraded", "state: sad")
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    with pytest.raises(InputError) as caught:
        load_scenario(str(path))
    assert "bad.yaml" in str(caught.value) and "clean, degraded, recovery, resync" in str(caught.value)
