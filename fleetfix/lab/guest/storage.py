"""The host's multipath maps and md arrays as multipath-tools and /proc/mdstat print them.

The scenario's ``storage`` field is written to ``storage.json`` in the host's /usr layer; ``multipath -ll``
and ``multipathd show paths`` (installed only on hosts that have maps, as multipath-tools would be) and the
host's own /proc/mdstat are rendered from it in the layouts of multipath-tools 0.8/0.9 and Linux 6.x.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

STORAGE_FILE = Path("/usr/lib/fleetfix-lab/storage.json")
_BLOCKS = 1047552  # a 1 GiB member less its superblock, as mdadm's v1.2 metadata leaves it

# dm state, checker state, SCSI device state of a path, per scenario path state
_PATH_WORDS = {
    "active": ("active", "ready", "running"),
    "failed": ("failed", "faulty", "running"),
    "offline": ("failed", "faulty", "offline"),
}


def load(path: Path = STORAGE_FILE) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {"multipath": [], "md": []}


def _dev_t(dev: str) -> str:
    """sd major:minor as the kernel numbers them (16 minors a disk, 16 disks a major)."""
    letters = dev[2:]
    index = 0
    for letter in letters:
        index = index * 26 + (ord(letter) - ord("a") + 1)
    index -= 1
    majors = (8, 65, 66, 67, 68, 69, 70, 71, 128, 129, 130, 131, 132, 133, 134, 135)
    return f"{majors[index // 16 % len(majors)]}:{index % 16 * 16}"


def multipath_ll(storage: dict) -> str:
    lines = []
    for number, mpath in enumerate(storage["multipath"]):
        lines.append(f"{mpath['name']} ({mpath['wwid']}) dm-{number + 2} LIO-ORG,fleetfix-lab")
        lines.append("size=1.0G features='1 queue_if_no_path' hwhandler='1 alua' wp=rw")
        lines.append("`-+- policy='service-time 0' prio=50 status=active")
        paths = mpath["paths"]
        for index, path in enumerate(paths):
            branch = "`-" if index == len(paths) - 1 else "|-"
            words = " ".join(_PATH_WORDS[path["state"]])
            lines.append(f"  {branch} {path['hcil']} {path['dev']} {_dev_t(path['dev'])} {words}")
    return "".join(line + "\n" for line in lines)


def multipathd_show_paths(storage: dict) -> str:
    rows = [["hcil", "dev", "dev_t", "pri", "dm_st", "chk_st", "dev_st", "next_check"]]
    for mpath in storage["multipath"]:
        for path in mpath["paths"]:
            dm, checker, device = _PATH_WORDS[path["state"]]
            rows.append(
                [path["hcil"], path["dev"], _dev_t(path["dev"]), "50", dm, checker, device, "XX........ 4/20"]
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "".join(
        " ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + " " + row[-1] + "\n"
        for row in rows
    )


def mdstat(storage: dict) -> str:
    """/proc/mdstat; the last member is the one a degraded array lost and a recovering one rebuilds onto."""
    levels = sorted({array["level"] for array in storage["md"]})
    lines = ["Personalities : " + " ".join(f"[{level}]" for level in levels) + " "]
    for array in storage["md"]:
        members = array["members"]
        count = len(members)
        state = array["state"]
        words = []
        for slot, member in reversed(list(enumerate(members))):
            last = slot == count - 1
            if last and state == "degraded":
                words.append(f"{member}[{slot}](F)")
            elif last and state == "recovery":
                words.append(f"{member}[{count}]")
            else:
                words.append(f"{member}[{slot}]")
        working = count - 1 if state in ("degraded", "recovery") else count
        slots = "U" * working + "_" * (count - working)
        lines.append(f"{array['name']} : active {array['level']} {' '.join(words)}")
        lines.append(f"      {_BLOCKS * max(count - 1, 1)} blocks super 1.2 [{count}/{working}] [{slots}]")
        if state in ("recovery", "resync"):
            progress = f"{state} = 12.6% (132224/{_BLOCKS}) finish=0.8min speed=20343K/sec"
            lines.append(f"      [==>..................]  {progress}")
        lines.append("      ")
    lines.append("unused devices: <none>")
    return "".join(line + "\n" for line in lines)


def multipath_main(args: list[str]) -> int:
    storage = load()
    if args[:1] in (["-ll"], ["-l"]):
        sys.stdout.write(multipath_ll(storage))
        return 0
    print("multipath: the lab's multipath prints the topology only (-l, -ll)", file=sys.stderr)
    return 1


def multipathd_main(args: list[str]) -> int:
    storage = load()
    command = [word for word in args if word != "-k"]
    if command[:2] == ["show", "paths"]:
        sys.stdout.write(multipathd_show_paths(storage))
        return 0
    if command[:2] in (["show", "topology"], ["show", "maps"]) and command[2:3] in ([], ["topology"]):
        sys.stdout.write(multipath_ll(storage))
        return 0
    print(f"multipathd: the lab's multipathd does not answer {' '.join(args)!r}", file=sys.stderr)
    return 1
