"""A canary's bake: what, in a host's facts read while the run waits, means the new build is not trusted.

Pure. The faults a storage driver brings show up late (the seed's every few days): a canary batch is done,
then watched for ``--bake`` before the next batch starts. A reboot since the soak (the boot id changed) or a
crash dump written since the bake began fails the canary, and so spends the failure budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fleetfix.facts.host import HostFacts


def boot_id_after_change(details: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The boot id the host had once the change was done: after its soak, else at its verify."""
    soak = details.get("soak") or {}
    return soak.get("boot_id_after") or (details.get("verify") or {}).get("boot_id")


def bake_problem(facts: HostFacts | None, boot_id: str | None, since: datetime) -> str | None:
    """Why a baking host fails, from facts read now; None while it holds."""
    if facts is None:
        return "no facts during the bake: the host does not answer"
    if boot_id and facts.boot_id and facts.boot_id != boot_id:
        return f"rebooted during the bake (boot id {boot_id} -> {facts.boot_id})"
    new = [d for d in facts.crash_dumps if d.time >= since]
    if new:
        first = new[0]
        when = first.time.isoformat()
        return f"{len(new)} crash dump(s) written during the bake, first {first.path} at {when}"
    return None
