"""A remediation run's report without a terminal: JSON, Markdown and JUnit XML (`fleetfix runs show`)."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from fleetfix.plan.document import plan_to_dict
from fleetfix.plan.outcome import RemediateOutcome


def to_json(shown: dict[str, Any]) -> str:
    return json.dumps(shown, indent=2, default=str) + "\n"


def _soak_figures(soak: dict[str, Any] | None) -> str:
    if not soak:
        return "-"
    figures = soak.get("verdict", {}).get("figures") or soak.get("figures") or {}
    iops = figures.get("read_iops") or figures.get("iops")
    return f"{iops:.0f} IOPS" if isinstance(iops, int | float) else soak.get("status", "-")


def step_text(step: dict[str, Any]) -> str:
    """A step as ``runs show`` lists it: a baseline says what it read (measured, reproduced, unusable); a
    hook adds its exit code and duration."""
    detail = step.get("detail") or {}
    reading = detail.get("baseline") if step["step"] == "baseline" else None
    state = reading["outcome"] if step["state"] == "ok" and isinstance(reading, dict) else step["state"]
    text = f"{step['step']} {state}"
    if step["step"] in ("pre_hook", "post_hook") and "duration_s" in detail:
        code = detail.get("exit_code")
        text += f" (exit {'none' if code is None else code}, {detail['duration_s']:.1f}s)"
    return text


def to_markdown(shown: dict[str, Any]) -> str:
    run = shown["run"]
    lines = [
        f"# Remediation run {run['id']}: {run['module']} to {run['target']} ({run['status']})",
        "",
        f"Started {run['started_at']}, ended {run['ended_at'] or '-'}; window {run['window'] or 'none'}; "
        f"failure budget {run['budget']}.",
    ]
    if run.get("note"):
        lines += ["", run["note"]]
    lines += ["", "| host | status | outcome | steps | soak |", "|---|---|---|---|---|"]
    for host in shown["hosts"]:
        steps = ", ".join(step_text(s) for s in host["steps"]) or "-"
        cells = (host["host"], host["status"], host["outcome"], steps, _soak_figures(host.get("soak")))
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def to_junit(shown: dict[str, Any]) -> str:
    """One testcase per host: failed is a failure, anything not done (interrupted, untouched) is skipped."""
    run = shown["run"]
    suite = ET.Element("testsuite", name=f"fleetfix.remediate.run{run['id']}", tests=str(len(shown["hosts"])))
    failures = skipped = 0
    for host in shown["hosts"]:
        case = ET.SubElement(
            suite, "testcase", classname=f"fleetfix.remediate.{run['module']}", name=host["host"]
        )
        if host["status"] == "failed":
            failures += 1
            ET.SubElement(case, "failure", type="remediation", message=host["outcome"])
        elif host["status"] != "done":
            skipped += 1
            ET.SubElement(case, "skipped", message=host["outcome"])
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def outcome_json(outcome: RemediateOutcome) -> str:
    """What ``remediate --format json`` prints: the run, how it ended, the plan and each host."""
    document = {
        "run": outcome.run_id,
        "status": outcome.status,
        "note": outcome.note,
        "plan": plan_to_dict(outcome.plan),
        "hosts": outcome.hosts,
    }
    return json.dumps(document, indent=2, default=str) + "\n"


def listing_json(listing: list[dict[str, Any]]) -> str:
    return json.dumps(listing, indent=2) + "\n"
