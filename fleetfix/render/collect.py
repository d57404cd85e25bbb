"""What ``fleetfix collect`` brought back, as a JSON document."""

from __future__ import annotations

import dataclasses
import json

from fleetfix.triage.collected import CollectOutcome


def outcome_json(outcome: CollectOutcome) -> str:
    hosts = [dataclasses.asdict(h) | {"notes": list(h.notes)} for h in outcome.hosts]
    document = {"store": str(outcome.store), "hosts": hosts, "netconsole_files": outcome.netconsole_files}
    return json.dumps(document, indent=2) + "\n"
