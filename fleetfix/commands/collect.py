"""The collect command's work: run playbooks/collect.yml into the crash store and write each host's schedule.

The play fetches the kdump kernel logs and pstore records itself (each pstore file then gets back its time
on the host, the record's time where its name carries none); what each host schedules comes back in the job
events (the facts module's ``scheduled_jobs`` and the play's ``fleetfix_collect`` fact) and is written here as
``<store>/<host>/jobs.json`` (layout: ``fleetfix.state.crash_store``). Writing it from the events rather than
from the play keeps the play free of controller-side writes besides the fetch, and lets a host that failed
half-way keep its previous schedule. The netconsole receiver's files (``fleetfix listen`` writes them to
``<state>/netconsole`` by default) are brought up to date in ``<store>/netconsole``, so a store holds every
kernel log a triage reads and can be handed on whole.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleetfix.ansible.nodes import ExecutionNodes
from fleetfix.ansible.runner import RunObserver, RunRequest, run_playbook
from fleetfix.errors import EnvironmentProblem, InputError
from fleetfix.facts.host import HostFacts
from fleetfix.files import write_atomic
from fleetfix.host_result import HostResult
from fleetfix.state import paths
from fleetfix.triage.collected import CollectOutcome, HostCollected

_FETCH_ACTIONS = ("ansible.builtin.fetch", "fetch")


def zone_name(localtime_link: str, timezone_file: str) -> str | None:
    """The IANA zone from the ``/etc/localtime`` link (``../usr/share/zoneinfo/Europe/Berlin``), else from
    ``/etc/timezone``; None when neither names one."""
    if "zoneinfo/" in localtime_link:
        name = localtime_link.rpartition("zoneinfo/")[2]
        return name.removeprefix("posix/").removeprefix("right/") or None
    return timezone_file.strip() or None


def netconsole_addresses(facts: HostFacts, address: str) -> list[str]:
    """The source addresses a host's netconsole messages arrive from: its targets' local IPs, and its
    inventory address when that is an IP."""
    netconsole = facts.crash_capture.netconsole
    found = [t.local_ip for t in (*netconsole.targets, *netconsole.persistent.targets) if t.local_ip]
    with contextlib.suppress(ValueError):  # a DNS name: netconsole messages come from an address
        found.append(str(ipaddress.ip_address(address)))
    return list(dict.fromkeys(found))


def schedule_record(result: HostResult) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``jobs.json`` for a host that answered the play, and notes on what it could not tell."""
    source = f"{result.host}: facts"
    raw = result.facts.get("fleetfix")
    facts = HostFacts.from_dict(raw, source)
    record: Mapping[str, Any] = result.facts.get("fleetfix_collect") or {}
    notes = []
    zone = zone_name(str(record.get("localtime_link") or ""), str(record.get("timezone_file") or ""))
    if zone is not None and zone != "UTC":
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            notes.append(f"unknown time zone {zone!r}: its times are taken as UTC")
            zone = None
    calendar = str(record.get("calendar") or "")
    if not calendar and record.get("calendar_error"):
        notes.append(f"systemd-analyze calendar: {' '.join(str(record['calendar_error']).split())[:200]}")
    document: dict[str, Any] = {
        "timezone": zone,
        "addresses": netconsole_addresses(facts, str(record.get("address") or "")),
        "scheduled_jobs": raw.get("scheduled_jobs") or [],
        "anacron": raw.get("anacron"),
        "run_parts": raw.get("run_parts"),
        "systemd_analyze": calendar or None,
    }
    return document, tuple(notes)


def shared_dump_notes(shared: object) -> list[str]:
    """The play's ``fleetfix_collect_shared_dumps`` (dump directories whose tag several hosts of the run
    carry, fetched for none of them) as notes naming each directory and its claimants."""
    notes = []
    for item in shared if isinstance(shared, list) else ():
        if isinstance(item, Mapping) and isinstance(item.get("hosts"), list):
            hosts = ", ".join(str(h) for h in item["hosts"])
            where = f"{item.get('server')}:{item.get('path')}"
            notes.append(f"not fetched: {where} is named by a tag {hosts} all carry (set HOSTTAG=hostname)")
    return notes


def _fetched(result: HostResult, store: Path, kind: str) -> int:
    """Files the play fetched into ``<store>/<host>/<kind>`` (``crash``: kdump logs; ``pstore``: records)."""
    under = str(store / result.host / kind) + "/"
    return sum(
        1
        for task in result.tasks
        if task.action in _FETCH_ACTIONS
        for item in task.result.get("results") or ()
        if isinstance(item, Mapping) and item.get("changed") and str(item.get("dest") or "").startswith(under)
    )


def keep_pstore_times(facts: Mapping[str, Any], host: str, store: Path) -> int:
    """Give each pstore file in the store its time on the host (a record's time when its name carries none);
    returns how many of the host's pstore files the store holds."""
    pstore = (facts.get("crash_capture") or {}).get("pstore") or {}
    held = 0
    for item in pstore.get("files") or ():
        relative, mtime = str(item.get("relative") or ""), item.get("mtime")
        if not relative or not isinstance(mtime, int) or ".." in relative.split("/"):
            continue
        where = f"live-{mtime}/{relative}" if item.get("origin") == "live" else f"archive/{relative}"
        path = store / host / "pstore" / where
        try:
            os.utime(path, (mtime, mtime))
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise EnvironmentProblem(f"{path}: cannot set its time: {exc.strerror or exc}") from None
        held += 1
    return held


def host_collected(result: HostResult, store: Path) -> HostCollected:
    """Write the host's ``jobs.json`` when its facts came back, and sum up what it gave."""
    fetched = _fetched(result, store, "crash")
    if "fleetfix" not in result.facts:
        return HostCollected(result.host, result.status, result.message or "no facts", fetched)
    try:
        document, notes = schedule_record(result)
    except InputError as exc:
        return HostCollected(result.host, "failed", str(exc), fetched)
    write_atomic(store / result.host / "jobs.json", json.dumps(document, indent=1) + "\n")
    dumps = result.facts["fleetfix"].get("crash_dumps") or []
    pstore_files = keep_pstore_times(result.facts["fleetfix"], result.host, store)
    return HostCollected(
        result.host,
        result.status,
        result.message,
        fetched,
        len(dumps),
        sum(1 for d in dumps if not d.get("dmesg_file")),
        len(document["scheduled_jobs"]),
        document["timezone"],
        (*notes, *shared_dump_notes(result.facts.get("fleetfix_collect_shared_dumps"))),
        _fetched(result, store, "pstore"),
        pstore_files,
    )


def sync_netconsole(source: Path, store: Path) -> int:
    """Bring the receiver's logs and events up to date in ``<store>/netconsole``; returns how many changed.

    The receiver only appends, so a copy that is shorter gets the new bytes appended; one that is longer
    (the receiver's file was rotated) is replaced.
    """
    target = store / "netconsole"
    if not source.is_dir() or source.resolve() == target.resolve():
        return 0
    changed = 0
    try:
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted([*source.glob("*.log"), source / "events.jsonl"]):
            if path.is_file() and _bring_up_to_date(path, target / path.name):
                changed += 1
    except OSError as exc:
        raise EnvironmentProblem(f"{target}: cannot copy netconsole logs: {exc.strerror or exc}") from None
    return changed


def _bring_up_to_date(path: Path, copy: Path) -> bool:
    size, kept = path.stat().st_size, copy.stat().st_size if copy.exists() else -1
    if kept == size:
        return False
    if kept < 0 or kept > size:
        shutil.copyfile(path, copy)
        return True
    with path.open("rb") as new, copy.open("ab") as old:
        new.seek(kept)
        shutil.copyfileobj(new, old)
    return True


def collect(
    inventories: Sequence[Path],
    limit: str | None,
    store_dir: Path | None = None,
    observer: RunObserver | None = None,
    netconsole_dir: Path | None = None,
    nodes: ExecutionNodes | None = None,
) -> CollectOutcome:
    """Fetch new kdump kernel logs and every host's schedule into the store (default ``<state>/crashes``),
    and bring the netconsole receiver's files there from ``netconsole_dir`` (``fleetfix listen --dir``)."""
    store = (store_dir or paths.crash_store()).absolute()
    extravars = {"fleetfix_collect_store": str(store)}
    request = RunRequest(
        "collect.yml", tuple(inventories), limit, extravars, nodes=nodes, fetch_var="fleetfix_collect_store"
    )
    outcome = run_playbook(request, observer, "collect")
    hosts = tuple(host_collected(outcome.hosts[name], store) for name in sorted(outcome.hosts))
    copied = sync_netconsole(netconsole_dir, store) if netconsole_dir is not None else 0
    return CollectOutcome(store, hosts, copied)
