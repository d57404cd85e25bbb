"""HostFacts from the facts module's JSON: round trips, accessors, and one-line errors on malformed facts.

db01.json and app02.json are the module's output for the captured trees (test_facts_module checks they
still are).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fleetfix.errors import ExitStatus, InputError
from fleetfix.facts.host import STORAGE_DRIVERS, HostFacts

DATA = Path(__file__).parents[1] / "data" / "facts"


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())


@pytest.mark.parametrize("name", ["db01.json", "app02.json"])
def test_round_trip(name: str) -> None:
    raw = load(name)
    facts = HostFacts.from_dict(raw, source=name)
    assert facts.to_dict() == raw
    assert HostFacts.from_dict(facts.to_dict(), source=name) == facts


def test_typed_view_of_a_debian_host() -> None:
    facts = HostFacts.from_dict(load("db01.json"), source="db01.json")
    mpt3sas = facts.module("mpt3sas")
    assert mpt3sas is not None and mpt3sas.out_of_tree and mpt3sas.unsigned
    assert mpt3sas.version == "43.100.00.00" and mpt3sas.taint == ("O", "E")
    megaraid = facts.module("megaraid-sas")  # the kernel treats - and _ alike
    assert megaraid is not None and not megaraid.out_of_tree
    assert facts.module("qla2xxx") is None
    assert facts.tainted is not None and facts.tainted.letters == ("O", "E")
    assert facts.crash_capture.kdump_service is not None and facts.crash_capture.kdump_service.installed
    assert facts.crash_capture.netconsole.targets[0].remote_port == 6666
    assert facts.crash_dumps[0].time == datetime.fromisoformat("2026-11-25T01:12:00+00:00")
    assert facts.crash_dumps[0].time.utcoffset() == timedelta(0)
    cron = [j for j in facts.scheduled_jobs if j.kind == "cron"]
    assert cron[0].schedule == "17 * * * *" and cron[0].on_calendar == ()


def test_storage_modules_and_their_disks() -> None:
    facts = HostFacts.from_dict(load("db01.json"), source="db01.json")
    # ahci is no HBA driver, but it drives this host's boot disk
    assert [m.name for m in facts.storage_modules()] == ["mpt3sas", "megaraid_sas", "nvme", "ahci"]
    assert [m.name for m in facts.storage_modules(["dm-mod"])] == ["mpt3sas", "nvme", "ahci", "dm_mod"]
    assert [d.name for d in facts.disks_of("mpt3sas")] == ["sdb", "sdc"]
    assert [d.name for d in facts.disks_of("ahci") if d.boot_disk] == ["sda"]
    assert facts.disks_of("lpfc") == ()
    assert {"mpt3sas", "megaraid_sas", "qla2xxx", "lpfc", "smartpqi", "3w_9xxx"} <= STORAGE_DRIVERS


def test_host_without_module_support() -> None:
    facts = HostFacts.from_dict(load("app02.json"), source="app02.json")
    assert facts.module_support is False and facts.modules == () and facts.storage_modules() == ()
    config = facts.crash_capture.kdump_config
    assert config is not None and (config.kind, config.target, config.directory) == (
        "ssh",
        "kdump@10.0.0.9",
        "/var/crash/fleet",
    )
    assert facts.crash_dumps_total == 2


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is KeyError:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (_set("schema", 1), "schema", "unsupported facts schema 1 (this fleetfix reads 2)"),
        (_set("crash_capture.readiness.ready", None), "crash_capture.readiness.ready", "true or false"),
        (_set("block_devices.0.write_safety", None), "block_devices[0].write_safety", "expected an object"),
        (_set("schema", KeyError), "schema", "expected a whole number, got null"),
        (_set("module_support", "yes"), "module_support", "expected true or false, got str"),
        (_set("kernel", None), "kernel", "expected an object, got null"),
        (_set("modules.0.size", "352256"), "modules[0].size", "expected a whole number, got str"),
        (_set("modules.0.size", True), "modules[0].size", "expected a whole number, got bool"),
        (_set("modules.3.taint", "OE"), "modules[3].taint", "expected a list of strings, got str"),
        (_set("modules.1.name", KeyError), "modules[1].name", "expected a string, got null"),
        (_set("crash_capture.kexec_crash_loaded", 1), "crash_capture.kexec_crash_loaded", "true or false"),
        (_set("crash_capture.netconsole.targets.0.remote_port", "6666"),
         "crash_capture.netconsole.targets[0].remote_port", "expected a whole number"),
        (_set("crash_capture.netconsole.persistent", None), "crash_capture.netconsole.persistent",
         "expected an object"),
        (_set("block_devices.2", ["sdb"]), "block_devices[2]", "expected an object, got list"),
        (_set("block_devices.0.partitions", ["sda1", 2]), "block_devices[0].partitions[1]",
         "expected a string, got int"),
        (_set("scheduled_jobs.0.kind", "anacron"), "scheduled_jobs[0].kind", '"cron" or "timer"'),
        (_set("scheduled_jobs.0.schedule", None), "scheduled_jobs[0].schedule", "expected a string"),
        (_set("crash_dumps.0.time", "25/11/2026 01:12"), "crash_dumps[0].time", "an ISO 8601 time"),
        (_set("uptime_seconds", "8123.4"), "uptime_seconds", "expected a number, got str"),
        (_set("errors", {"surface": "x"}), "errors", "expected a list, got dict"),
    ],
)  # fmt: skip
def test_malformed_facts_name_the_field(
    change: Callable[[dict[str, Any]], None], field: str, message: str
) -> None:
    data = copy.deepcopy(load("db01.json"))
    change(data)
    with pytest.raises(InputError) as caught:
        HostFacts.from_dict(data, source="artifacts:db01")
    assert caught.value.field == field and caught.value.source == "artifacts:db01"
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.status is ExitStatus.BAD_INPUT


def test_facts_that_are_not_an_object() -> None:
    with pytest.raises(InputError, match=r"^events\.json: expected an object, got list$"):
        HostFacts.from_dict([], source="events.json")


def test_missing_lists_read_as_empty() -> None:
    data = load("app02.json")
    for key in ("modules", "block_devices", "scheduled_jobs", "crash_dumps", "errors"):
        del data[key]
    facts = HostFacts.from_dict(data, source="app02.json")
    assert facts.modules == () and facts.crash_dumps == () and facts.errors == ()
