"""Failure-domain batches (fleetfix/plan/domains.py, plan/batches.py): no batch spans two domains, hosts
without one are alone, the plan says how it cut; domains read from real inventories' groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.advisories.schema import load_file
from fleetfix.ansible.runner import inventory_hosts
from fleetfix.errors import InputError
from fleetfix.plan.build import build_plan
from fleetfix.plan.count import parse_count
from fleetfix.plan.describe import describe
from fleetfix.plan.document import plan_from_dict, plan_to_dict
from fleetfix.plan.domains import BatchBy, host_domains, parse_batch_by
from tests.support.plans import ADVISORIES, QUICK, host

INVENTORIES = Path(__file__).resolve().parents[1] / "data" / "inventories"
RACKS = {
    "db01": ["db", "rack_a"],
    "db02": ["db", "rack_b"],
    "db03": ["db", "rack_a"],
    "db04": ["db", "rack_b"],
    "db05": ["db", "rack_a"],
    "db06": ["db"],
    "db07": ["db"],
}


@pytest.fixture()
def db(tmp_path: Path) -> AdvisoryDB:
    path = tmp_path / "test.yaml"
    path.write_text(ADVISORIES)
    return AdvisoryDB(load_file(path))


def plan_for(db: AdvisoryDB, batch: str, domains: dict, canary: int = 0, batch_by: str = "group:rack_"):
    fleet = [host(db, name) for name in sorted(RACKS)]
    return build_plan(
        fleet,
        "mpt3sas",
        db,
        batch=parse_count(batch, "--batch"),
        times=QUICK,
        canary=canary,
        batch_by=parse_batch_by(batch_by),
        domains=domains,
    )


def cut(plan) -> list[tuple[str | None, tuple[str, ...]]]:
    return [(b.domain, b.names) for b in plan.batches]


def test_no_batch_spans_two_racks_and_hosts_without_one_are_alone(db: AdvisoryDB) -> None:
    domains = host_domains(sorted(RACKS), parse_batch_by("group:rack_"), RACKS, {})
    assert domains == {
        "db01": "rack_a", "db02": "rack_b", "db03": "rack_a", "db04": "rack_b", "db05": "rack_a",
        "db06": None, "db07": None,
    }  # fmt: skip
    plan = plan_for(db, "2", domains)
    assert cut(plan) == [
        ("rack_a", ("db01", "db03")),
        ("rack_a", ("db05",)),
        ("rack_b", ("db02", "db04")),
        (None, ("db06",)),
        (None, ("db07",)),
    ]
    assert [b.number for b in plan.batches] == [1, 2, 3, 4, 5]
    text = describe(plan)
    assert "Batches cut by failure domain (--batch-by group:rack_): no batch spans two domains; in no " \
        "domain, each alone: db06, db07" in text  # fmt: skip
    assert any(line.startswith("Batch 3 [rack_b] (~") for line in text)
    assert any(line.startswith("Batch 4 [own domain] (~") for line in text)
    restored = plan_from_dict(plan_to_dict(plan), "journal")
    assert cut(restored) == cut(plan) and restored.batch_by == "group:rack_"


def test_a_batch_larger_than_a_domain_still_stops_at_its_edge(db: AdvisoryDB) -> None:
    domains = host_domains(sorted(RACKS), parse_batch_by("group:rack_"), RACKS, {})
    assert [len(b.hosts) for b in plan_for(db, "100%", domains).batches] == [3, 2, 1, 1]


def test_canary_comes_from_the_first_domain_only(db: AdvisoryDB) -> None:
    domains = host_domains(sorted(RACKS), parse_batch_by("group:rack_"), RACKS, {})
    plan = plan_for(db, "2", domains, canary=5)
    assert cut(plan)[:2] == [("rack_a", ("db01", "db03", "db05")), ("rack_b", ("db02", "db04"))]


def test_domains_by_variable(db: AdvisoryDB) -> None:
    hostvars = {
        "db01": {"power_feed": "A"},
        "db02": {"power_feed": "B"},
        "db03": {"power_feed": "A"},
        "db04": {"power_feed": 2},
        "db05": {"power_feed": ""},
        "db06": {},
        "db07": {"power_feed": True},
    }
    domains = host_domains(sorted(hostvars), parse_batch_by("var:power_feed"), {}, hostvars)
    assert domains == {
        "db01": "A", "db02": "B", "db03": "A", "db04": "2", "db05": None, "db06": None, "db07": "true",
    }  # fmt: skip
    plan = plan_for(db, "10", domains, batch_by="var:power_feed")
    assert cut(plan) == [
        ("A", ("db01", "db03")),
        ("B", ("db02",)),
        ("2", ("db04",)),
        (None, ("db05",)),
        (None, ("db06",)),
        ("true", ("db07",)),
    ]
    with pytest.raises(InputError, match="host db01: power_feed is a list"):
        host_domains(["db01"], BatchBy("var", "power_feed"), {}, {"db01": {"power_feed": ["A", "B"]}})


def test_groups_from_a_real_inventory_and_a_host_in_two_domains_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FLEETFIX_STATE_DIR", str(tmp_path))
    hostvars, groups = inventory_hosts([INVENTORIES / "test-playbooks-more"], None)
    assert groups["group_four_host_01"] == ["group_four"]
    assert groups["ungrouped_host_06"] == []
    names = [h for h in groups if h.startswith(("group_four_host", "group_six_host", "ungrouped"))]
    domains = host_domains(names, parse_batch_by("group:group_"), groups, hostvars)
    assert {domains[h] for h in names} == {"group_four", "group_six", None}
    with pytest.raises(InputError) as refused:
        host_domains(["group_four_five_and_six_host_01"], parse_batch_by("group:group_"), groups, hostvars)
    assert str(refused.value) == (
        "--batch-by: host group_four_five_and_six_host_01 is in group_five and group_four and group_six: "
        "a host belongs to one failure domain at most"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rack_", "give group:PREFIX or var:NAME"),
        ("label:x", "give group:PREFIX or var:NAME"),
        ("group:rack-", "is not a group name prefix"),
        ("var:1feed", "is not a variable name"),
        ("var:feed;rm", "is not a variable name"),
    ],
)
def test_bad_batch_by(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_batch_by(text)
