"""A canary's bake: what, in a host's facts and the netconsole receiver's events read while the run waits,
means the new build is not trusted.

Pure. The faults a storage driver brings show up late (the seed's every few days): a canary batch is done,
then watched for ``--bake`` before the next batch starts. A crash line `fleetfix listen` recorded from the
host since the bake began (a panic, an oops, a BUG, a soft lockup), a reboot since the soak (the boot id
changed) or a crash dump written since the bake began fails the canary; the run stops before its next batch.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from fleetfix.facts.host import HostFacts
from fleetfix.listen.text import ListenEvent

# The receiver's event kinds (``soak.verdict.FAULT_KINDS``) that mean the kernel crashed or wedged a CPU;
# a warning, a stall or a SCSI reset is the soak's business, not a reason to call a canary crashed.
CRASH_KINDS = ("panic", "soft_lockup", "bug", "gpf", "oops")


def netconsole_crashes(
    lines: Iterable[str], addresses: Collection[str], since: datetime
) -> list[ListenEvent]:
    """The crash events among the receiver's ``events.jsonl`` lines sent from ``addresses`` since ``since``.

    A line that is not an event (the receiver stopped mid-write), or has no readable time, is passed over.

    >>> line = ('{"time": "2026-11-28T02:10:00.000001+00:00", "source": "10.0.0.5:6666", "line": '
    ...         '"Kernel panic - not syncing: Fatal exception", "kind": "panic", "log": "10.0.0.5_6666.log"}')
    >>> since = datetime.fromisoformat("2026-11-28T02:00Z")
    >>> [e.kind for e in netconsole_crashes([line], {"10.0.0.5"}, since)]
    ['panic']
    """
    found = []
    for text in lines:
        event = ListenEvent.from_json(text)
        if event is None or event.kind not in CRASH_KINDS:
            continue
        try:
            when = datetime.fromisoformat(event.time)
        except ValueError:
            continue
        source = event.source.rpartition(":")[0] or event.source
        if source in addresses and when.tzinfo and when >= since:
            found.append(event)
    return found


def _crash_reason(events: list[ListenEvent]) -> str:
    worst = min(events, key=lambda e: CRASH_KINDS.index(e.kind))
    head = f"netconsole: {len(events)} crash line(s) during the bake, worst ({worst.kind})"
    return f"{head} at {worst.time}: {worst.line.strip()}"


def boot_id_after_change(details: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The boot id the host had once the change was done: after its soak, else at its verify."""
    soak = details.get("soak") or {}
    return soak.get("boot_id_after") or (details.get("verify") or {}).get("boot_id")


def bake_problem(
    facts: HostFacts | None,
    boot_id: str | None,
    since: datetime,
    crashes: list[ListenEvent] | None = None,
) -> str | None:
    """Why a baking host fails, from facts read now and the crash events netconsole brought (heaviest
    first: the crash's own line, then what it left, a dump or a reboot); None while it holds."""
    problems = [_crash_reason(crashes)] if crashes else []
    if facts is None:
        return "; ".join([*problems, "no facts during the bake: the host does not answer"])
    new = [d for d in facts.crash_dumps if d.time >= since]
    if new:
        first = new[0]
        when = first.time.isoformat()
        problems.append(f"{len(new)} crash dump(s) written during the bake, first {first.path} at {when}")
    if boot_id and facts.boot_id and facts.boot_id != boot_id:
        problems.append(f"rebooted during the bake (boot id {boot_id} -> {facts.boot_id})")
    return "; ".join(problems) or None
