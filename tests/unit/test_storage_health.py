"""The pre-change storage health gate (plugins/module_utils/storage_health.py) on real `multipath -ll`,
`multipathd show paths` and /proc/mdstat output; tests/data/storage_health/SOURCES.md names each source.
The expected answers were read off the samples by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import collection_plugin

sh = collection_plugin("module_utils.storage_health")
DATA = Path(__file__).resolve().parents[1] / "data" / "storage_health"


def sample(name: str) -> str:
    return (DATA / name).read_text()


def test_two_maps_each_with_a_failed_path():
    maps = sh.parse_multipath_topology(sample("multipath_ll_two_failed.txt"))
    assert [m["name"] for m in maps] == ["mpatha", "mpathb"]
    assert [p["dev"] for p in maps[0]["paths"]] == ["sdd", "sde"]
    assert maps[0]["paths"][0] == {
        "hcil": "5:0:0:0",
        "dev": "sdd",
        "dm_state": "failed",
        "checker_state": "faulty",
        "online_state": "running",
    }
    assert sh.multipath_faults(maps) == [
        "multipath mpatha: path sdd (5:0:0:0) failed in the kernel's map",
        "multipath mpathb: path sdb (7:0:0:0) failed in the kernel's map",
    ]


def test_checker_ready_but_kernel_still_failed_is_a_fault():
    problems = sh.storage_problems(multipath_ll=sample("multipath_ll_failed_ready.txt"))["problems"]
    assert [p.split(": ")[1].split(" (")[0] for p in problems] == ["path sdd", "path sdb"]


@pytest.mark.parametrize(
    ("name", "maps", "paths"),
    [
        ("multipath_ll_healthy_warning.txt", 2, 4),
        ("multipath_ll_rhel6_doc.txt", 1, 2),
        ("multipath_ll_old_brackets.txt", 1, 2),
    ],
)
def test_healthy_topologies_pass(name, maps, paths):
    result = sh.storage_problems(multipath_ll=sample(name))
    assert result == {"problems": [], "multipath_maps": maps, "multipath_paths": paths, "md_arrays": 0}


def test_old_bracket_format_paths():
    (mpath,) = sh.parse_multipath_topology(sample("multipath_ll_old_brackets.txt"))
    assert mpath["name"] == "mpath1"
    assert [(p["hcil"], p["dev"], p["dm_state"], p["checker_state"]) for p in mpath["paths"]] == [
        ("2:0:0:6", "sdb", "active", "ready"),
        ("3:0:0:6", "sdc", "active", "ready"),
    ]


def test_stale_map_and_removed_device():
    problems = sh.storage_problems(multipath_ll=sample("multipath_ll_stale_map.txt"))["problems"]
    first, second = (
        "multipath 3600601601290380036a00936cf13e711",
        "multipath 3600601601bd032007c097518e96ae411",
    )
    assert problems == [
        f"{first}: path sdef (11:0:0:151) failed in the kernel's map",
        f"{first}: path sdeg (12:0:0:151) failed in the kernel's map",
        f"{second}: path a removed device (#:#:#:#) path checker says faulty",
    ]


def test_multipathd_show_paths_columns_and_orphans():
    rows = sh.parse_multipathd_paths(sample("multipathd_show_paths_default.txt"))
    assert len(rows) == 6
    assert rows[1] == {
        "hcil": "3:0:0:1",
        "dev": "sdb",
        "dev_t": "8:16",
        "pri": "1",
        "dm_st": "active",
        "chk_st": "ready",
        "dev_st": "running",
        "next_check": "XXXXXXX... 14/20",
    }
    assert sh.multipath_faults(daemon_rows=rows) == []
    orphans = sh.parse_multipathd_paths(sample("multipathd_show_paths_orphans.txt"))
    assert [(r["dev"], r["vend/prod/rev"], r["multipath"]) for r in orphans] == [
        ("sdd", "Nimble,Server", "[orphan]"),
        ("sdc", "Nimble,Server", "[orphan]"),
    ]
    assert sh.multipath_faults(daemon_rows=orphans) == []


def test_multipathd_row_with_a_faulty_checker_fails():
    text = sample("multipathd_show_paths_default.txt").replace(
        "active ready  running XXXXXX....", "failed faulty running XXXXXX...."
    )
    assert sh.storage_problems(multipathd_paths=text)["problems"] == [
        "multipath a map: path sdf (3:0:1:1) failed in the kernel's map"
    ]


def test_mdstat_degraded_with_failed_member():
    arrays = sh.parse_mdstat(sample("mdstat_degraded_failed_member.txt"))
    assert [(a["name"], a["level"], a["slots"]) for a in arrays] == [
        ("md0", "raid1", "UU"),
        ("md1", "raid1", "U_"),
    ]
    assert arrays[1]["members"][0] == {"dev": "sdb3", "slot": 2, "faulty": True, "spare": False}
    assert sh.md_faults(arrays) == [
        "md array md1 (raid1) is degraded: 1 of 2 members missing [U_], failed: sdb3"
    ]


def test_mdstat_raid5_missing_member():
    assert sh.storage_problems(mdstat=sample("mdstat_raid5_degraded.txt"))["problems"] == [
        "md array md2 (raid5) is degraded: 1 of 4 members missing [_UUU]"
    ]


def test_mdstat_recovery_in_progress():
    arrays = sh.parse_mdstat(sample("mdstat_recovery.txt"))
    assert [a["name"] for a in arrays] == ["md3", "md2", "md1", "md4"]
    assert arrays[2]["sync"] == {"action": "recovery", "done": "8.1%"}
    problems = sh.md_faults(arrays)
    assert "md array md1 is in recovery (8.1%)" in problems
    assert len([p for p in problems if "is degraded" in p]) == 4


def test_healthy_array_with_bitmap_and_no_storage_pass():
    result = sh.storage_problems(mdstat=sample("mdstat_healthy_bitmap.txt"))
    assert result["problems"] == [] and result["md_arrays"] == 1
    empty = "Personalities : \nunused devices: <none>\n"
    assert sh.storage_problems(mdstat=empty, multipath_ll="") == {
        "problems": [],
        "multipath_maps": 0,
        "multipath_paths": 0,
        "md_arrays": 0,
    }
    assert sh.storage_problems()["problems"] == []


def test_scrub_is_not_a_fault_but_resync_is():
    base = "md0 : active raid1 sdb1[1] sda1[0]\n      1023936 blocks super 1.2 [2/2] [UU]\n"
    check = (
        base
        + "      [==>..................]  check = 12.5% (128000/1023936) finish=1.0min speed=12000K/sec\n"
    )
    resync = base.replace("check", "resync") + "      resync=DELAYED\n"
    assert sh.storage_problems(mdstat=check)["problems"] == []
    assert sh.storage_problems(mdstat=resync)["problems"] == ["md array md0 is in resync (delayed)"]
