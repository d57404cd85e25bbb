"""Storage redundancy before a driver change: failed multipath paths and degraded md arrays.

A driver change reloads the HBA driver or reboots the host: every path through that HBA goes away for a
while. A host already running on its last path, or on an array missing a member or still rebuilding, loses
its disks (or its data's last copy) when that happens, so such a host must be refused before anything
changes. These parsers read what the host prints; ``storage_problems`` turns it into one reason per fault.
Standard library only, Python 3.8+ (it runs on the managed hosts).

``multipath -ll`` (multipath-tools 0.4.9 and later; the bracketed 0.4.7 layout is read too)::

    mpatha (3600140557c66dd047214999a651eb037) dm-2 LIO-ORG,data-chunk2
    size=1022M features='1 queue_if_no_path' hwhandler='1 alua' wp=rw
    |-+- policy='service-time 0' prio=0 status=active
    | `- 5:0:0:0 sdd 8:48 failed faulty running
    `-+- policy='service-time 0' prio=50 status=enabled
      `- 6:0:0:0 sde 8:64 active ready running

``multipathd show paths`` (columns found by their header)::

    hcil    dev dev_t pri dm_st  chk_st dev_st  next_check
    4:0:0:0 sda 8:0   1   undef  ready  running orphan
    3:0:0:1 sdb 8:16  1   active ready  running XXXXXXX... 14/20

``/proc/mdstat``::

    md1 : active raid1 sdb3[2](F) sda3[0]
          1948488512 blocks super 1.0 [2/1] [U_]
          [=>...................]  recovery =  8.1% (251596/3068288) finish=6.7min speed=6963K/sec
"""

from __future__ import annotations

import re

# A path line: tree drawing, then host:channel:id:lun (or #:#:#:# for a path whose device is gone).
_PATH_LINE = re.compile(r"^[\s|`\\_+-]*(?P<hcil>(?:\d+|#):(?:\d+|#):(?:\d+|#):(?:\d+|#))\s+(?P<rest>.*)$")
_GROUP_LINE = re.compile(r"^[\s|`\\_+-]*(?:policy=|round-robin|queue-length|service-time|\[prio)")
_MAP_HEADER = re.compile(r"^(?:(?:create|reload|switchpg|rename|reject|unchanged): )?(?P<name>\S+)(?:\s|$)")
_LOG_LINE = re.compile(r"^(?:\S+ \d+ \d\d:\d\d:\d\d|\d+\.\d+) \| ")
_BRACKETS = re.compile(r"\[([^\]]*)\]")

# Checker states of a path that cannot carry I/O (multipath-tools' checker names, lower case as printed).
_CHECKER_DOWN = {"faulty", "shaky", "failed", "timeout", "removed", "delayed"}

_MD_HEADER = re.compile(r"^(?P<name>md\S*) : (?P<state>\S+)(?P<rest>.*)$")
_MD_MEMBER = re.compile(r"^(?P<dev>[^\s\[]+)\[(?P<slot>\d+)\](?P<flags>(?:\([A-Z]\))*)$")
_MD_SLOTS = re.compile(r"\[(?P<total>\d+)/(?P<working>\d+)\] \[(?P<map>[U_]+)\]")
_MD_SYNC = re.compile(r"\b(?P<action>recovery|resync|reshape|check|repair)\s*=\s*(?P<done>[\d.]+%)")
_MD_SYNC_PENDING = re.compile(r"\b(?P<action>resync|recovery)\s*=\s*(?P<state>DELAYED|PENDING)")
_MD_LEVELS = re.compile(r"^(?:raid\d+|linear|multipath|faulty)$")
_MD_REDUNDANT = re.compile(r"^raid(?:1|4|5|6|10)$")


def _path_states(rest):
    """dev, dm state, checker state, online state of a path line's remainder."""
    words = rest.split()
    dev = words[0] if words else ""
    bracketed = _BRACKETS.findall(rest)
    if bracketed:  # 0.4.7: "sdb 8:16 [active][ready]" (dm state first; some builds print the checker first)
        states = [b.strip().lower() for b in bracketed]
        dm = next((s for s in states if s in ("active", "failed")), "")
        checker = next((s for s in states if s not in ("active", "failed")), "")
        return dev, dm, checker, ""
    # 0.4.9+: "sdb 8:16 active ready running" (dm state, checker state, online state)
    states = [w.lower() for w in words[2:5]] if len(words) >= 5 else [w.lower() for w in words[2:]]
    states += [""] * (3 - len(states))
    return dev, states[0], states[1], states[2]


def parse_multipath_topology(text):
    """The maps of ``multipath -ll`` (or ``-l``, or ``multipathd show topology``) with their paths.

    Returns a list of ``{"name", "paths": [{"hcil", "dev", "dm_state", "checker_state", "online_state"}]}``.
    Log and warning lines that multipath prints before the topology are skipped.
    """
    maps = []
    current = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip() or _LOG_LINE.match(line):
            continue
        path = _PATH_LINE.match(line)
        if path and current is not None:
            dev, dm, checker, online = _path_states(path.group("rest"))
            current["paths"].append(
                {
                    "hcil": path.group("hcil"),
                    "dev": dev,
                    "dm_state": dm,
                    "checker_state": checker,
                    "online_state": online,
                }
            )
            continue
        if _GROUP_LINE.match(line) or line.startswith(("size=", "[size=")) or line[0] in " |`\\":
            continue
        header = _MAP_HEADER.match(line)
        if header:
            current = {"name": header.group("name"), "paths": []}
            maps.append(current)
    return maps


def parse_multipathd_paths(text):
    """The rows of ``multipathd show paths`` (any format), as dicts keyed by the header's column names.

    Columns are cut at the header's word starts, which is how multipathd aligns them; a value that holds a
    space (vend/prod/rev) stays whole because the cut is by position.
    """
    lines = [line.rstrip() for line in text.splitlines() if line.strip() and not _LOG_LINE.match(line)]
    header_at = next((i for i, line in enumerate(lines) if "dev" in line.split()), None)
    if header_at is None:
        return []
    header = lines[header_at]
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    rows = []
    for line in lines[header_at + 1 :]:
        row = {}
        for index, name in enumerate(names):
            start = starts[index]
            end = starts[index + 1] if index + 1 < len(names) else len(line)
            row[name] = line[start:end].strip()
        rows.append(row)
    return rows


def path_fault(dm_state, checker_state, online_state):
    """Why a path cannot carry I/O, or None. ``undef`` (not known to the kernel map) is not a fault."""
    if dm_state == "failed":
        return "failed in the kernel's map"
    if checker_state in _CHECKER_DOWN:
        return "path checker says " + checker_state
    if online_state == "offline":
        return "SCSI device offline"
    return None


def multipath_faults(maps=None, daemon_rows=None):
    """One line per failed path, from ``multipath -ll`` maps or ``multipathd show paths`` rows."""
    faults = []
    for mpath in maps or []:
        for path in mpath["paths"]:
            why = path_fault(path["dm_state"], path["checker_state"], path["online_state"])
            if why:
                dev = path["dev"] if path["dev"] not in ("", "-") else "a removed device"
                faults.append("multipath {}: path {} ({}) {}".format(mpath["name"], dev, path["hcil"], why))
    for row in daemon_rows or []:
        if row.get("multipath", "").strip("[]") == "orphan" or row.get("next_check") == "orphan":
            continue  # a path in no map carries no map's I/O
        why = path_fault(
            row.get("dm_st", "").lower(), row.get("chk_st", "").lower(), row.get("dev_st", "").lower()
        )
        if why:
            where = row.get("multipath") or row.get("uuid") or "a map"
            faults.append(
                "multipath {}: path {} ({}) {}".format(where, row.get("dev", "?"), row.get("hcil", "?"), why)
            )
    return faults


def parse_mdstat(text):
    """The arrays of /proc/mdstat.

    Returns a list of ``{"name", "state", "level", "members": [{"dev", "slot", "faulty", "spare"}],
    "slots": "UU_" or None, "raid_disks", "working_disks", "sync": {"action", "done"} or None}``.
    """
    arrays = []
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        header = _MD_HEADER.match(line)
        if header:
            words = header.group("rest").split()
            level = ""
            if words and words[0] in ("(read-only)", "(auto-read-only)"):
                words = words[1:]
            if words and _MD_LEVELS.match(words[0]):
                level = words.pop(0)
            members = []
            for word in words:
                member = _MD_MEMBER.match(word)
                if member:
                    flags = member.group("flags")
                    members.append(
                        {
                            "dev": member.group("dev"),
                            "slot": int(member.group("slot")),
                            "faulty": "(F)" in flags,
                            "spare": "(S)" in flags,
                        }
                    )
            current = {
                "name": header.group("name"),
                "state": header.group("state"),
                "level": level,
                "members": members,
                "slots": None,
                "raid_disks": None,
                "working_disks": None,
                "sync": None,
            }
            arrays.append(current)
            continue
        if current is None:
            continue
        slots = _MD_SLOTS.search(line)
        if slots:
            current["slots"] = slots.group("map")
            current["raid_disks"] = int(slots.group("total"))
            current["working_disks"] = int(slots.group("working"))
        sync = _MD_SYNC.search(line)
        if sync:
            current["sync"] = {"action": sync.group("action"), "done": sync.group("done")}
        pending = _MD_SYNC_PENDING.search(line)
        if pending and current["sync"] is None:
            current["sync"] = {"action": pending.group("action"), "done": pending.group("state").lower()}
    return arrays


def md_faults(arrays):
    """One line per array that has lost redundancy or is rebuilding it. A scrub (check, repair) is not."""
    faults = []
    for array in arrays:
        name = array["name"]
        if array["state"] == "inactive":
            faults.append(f"md array {name} is inactive")
            continue
        failed = [m["dev"] for m in array["members"] if m["faulty"]]
        missing = array["slots"].count("_") if array["slots"] else 0
        if missing:
            detail = "{} of {} members missing [{}]".format(missing, array["raid_disks"], array["slots"])
            if failed:
                detail += ", failed: " + ", ".join(failed)
            faults.append("md array {} ({}) is degraded: {}".format(name, array["level"] or "raid", detail))
        elif failed and _MD_REDUNDANT.match(array["level"] or ""):
            faults.append("md array {} has a failed member: {}".format(name, ", ".join(failed)))
        sync = array["sync"]
        if sync and sync["action"] in ("recovery", "resync", "reshape"):
            faults.append("md array {} is in {} ({})".format(name, sync["action"], sync["done"]))
    return faults


def storage_problems(mdstat=None, multipath_ll=None, multipathd_paths=None):
    """Every reason this host's storage redundancy is already reduced; empty when there is none.

    Each argument is the text read from the host, or None where the host has no such thing (no md driver
    loaded, multipath-tools not installed): such a host has nothing to lose and passes.
    """
    maps = parse_multipath_topology(multipath_ll) if multipath_ll else []
    rows = parse_multipathd_paths(multipathd_paths) if multipathd_paths and not maps else []
    arrays = parse_mdstat(mdstat) if mdstat else []
    return {
        "problems": multipath_faults(maps, rows) + md_faults(arrays),
        "multipath_maps": len(maps),
        "multipath_paths": sum(len(m["paths"]) for m in maps) or len(rows),
        "md_arrays": len(arrays),
    }
