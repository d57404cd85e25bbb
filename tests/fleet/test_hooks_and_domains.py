"""`fleetfix remediate --pre-hook/--post-hook --batch-by` on lab hosts (tests/data/scenarios/
storage_gates.yaml), through the installed command: a real command hook on the controller, a real playbook
hook on the hosts, batches cut by rack groups, and hosts the storage gate refuses before any hook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetfix.errors import ExitStatus
from tests.fleet.test_remediate import SOAK, fleetfix, loaded, remediate, steps_of

pytestmark = pytest.mark.fleet

SCENARIO = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "storage_gates.yaml"
DRAIN = """#!/bin/sh
# Drains a host from the load balancer; ok02 refuses, as a host still holding sessions would.
echo "$FLEETFIX_HOOK $FLEETFIX_HOST $FLEETFIX_RUN_ID $1" >> "$(dirname "$0")/drain.log"
if [ "$FLEETFIX_HOST" = ok02 ]; then
    echo "ok02 still holds 12 sessions" >&2
    exit 3
fi
echo "drained $1"
"""
UNDRAIN = """---
- name: Put the host back in service
  hosts: all
  gather_facts: false
  tasks:
    - name: Mark the host in service
      ansible.builtin.copy:
        dest: /var/tmp/in-service
        content: "run {{ fleetfix_run_id }} {{ fleetfix_hook }}\\n"
        mode: "0644"
"""


def test_hooks_wrap_each_host_and_batches_stay_in_their_rack(make_lab, tmp_path: Path) -> None:
    lab = make_lab(str(SCENARIO))
    drain = tmp_path / "drain"
    drain.write_text(DRAIN)
    drain.chmod(0o755)
    undrain = tmp_path / "undrain.yml"
    undrain.write_text(UNDRAIN)
    state = tmp_path / "state"

    rc, report, hosts = remediate(
        state,
        [lab.inventory_path],
        *("--batch", "2", "--batch-by", "group:rack_", "--max-failures", "6", "--soak-runtime", SOAK),
        *("--pre-hook", f"{drain} {{host}}", "--post-hook", str(undrain)),
    )

    assert rc == ExitStatus.HOSTS_FAILED, report
    batches = [(b.get("domain"), [h["host"] for h in b["hosts"]]) for b in report["plan"]["batches"]]
    assert batches == [
        ("rack_a", ["md01", "mp01"]),
        ("rack_b", ["ok01", "ok02"]),
        ("rack_b", ["rb01"]),
        (None, ["pl01"]),
    ]
    assert report["plan"]["batch_by"] == "group:rack_"
    for name in ("md01", "mp01", "rb01"):  # refused by the storage gate: no hook ran for them
        assert steps_of(hosts[name]) == [("precheck", "failed")], hosts[name]
    for name in ("ok01", "pl01"):
        host = hosts[name]
        assert host["status"] == "done", host["outcome"]
        assert [s for s, _ in steps_of(host)] == [
            "precheck",
            "baseline",
            "pre_hook",
            "upgrade",
            "activate",
            "verify",
            "soak",
            "post_hook",
        ]
        hooks = {s["step"]: s["detail"] for s in host["steps"] if s["step"].endswith("_hook")}
        assert hooks["pre_hook"]["kind"] == "command" and hooks["pre_hook"]["exit_code"] == 0
        assert hooks["pre_hook"]["output"] == f"drained {name}"
        assert hooks["post_hook"]["kind"] == "playbook" and hooks["post_hook"]["exit_code"] == 0
        assert hooks["post_hook"]["duration_s"] > 0
        assert lab.ssh(name, "cat /var/tmp/in-service").stdout == "run 1 post\n"
        assert loaded(lab, name)[0] == "46.00.00.00"
    refused = hosts["ok02"]
    assert steps_of(refused) == [("precheck", "ok"), ("baseline", "ok"), ("pre_hook", "failed")]
    assert refused["outcome"] == "failed at pre_hook: pre-hook exited 3: ok02 still holds 12 sessions"
    assert loaded(lab, "ok02")[0] == "34.100.00.00"
    assert lab.ssh("ok02", "test -e /var/tmp/in-service || echo absent").stdout == "absent\n"
    assert sorted((tmp_path / "drain.log").read_text().splitlines()) == [
        "pre ok01 1 ok01",
        "pre ok02 1 ok02",
        "pre pl01 1 pl01",
    ]

    table = fleetfix(state, "runs", "show", "1")
    assert table.returncode == 0, table.stderr
    assert "pre_hook failed (exit 3," in table.stdout.replace("\n", "")
    shown = json.loads(fleetfix(state, "runs", "show", "1", "--format", "json").stdout)
    assert {h["host"]: h["status"] for h in shown["hosts"]}["ok01"] == "done"
