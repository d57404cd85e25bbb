#!/usr/bin/python3
"""Mark the kernel log's end now; later, return what the kernel logged since that mark."""

import json
import os
import re
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetfix.hba.plugins.module_utils.crash_dumps import is_dmesg_file

DOCUMENTATION = r"""
module: fleetfix_kernel_log
short_description: Kernel log lines since a position, and the boot id
description:
  - Without O(since), returns the current end of the kernel log as RV(position), with the boot id and the
    time. With O(since) (a position returned earlier), returns in RV(lines) what the kernel logged after it.
  - Reads C(/dev/kmsg) (sequence numbers), else the C(dmesg) command (timestamps), else C(journalctl -k)
    (cursors). When none can be read, RV(available) is false with the RV(reason); the caller must not
    take that as a clean log.
  - When the boot id changed since O(since), the log of that boot is gone from the ring buffer; the lines
    then come from the previous boot's journal (C(journalctl -k -b -1) since the mark's time, when the
    journal is persistent) and from crash dump C(dmesg) files written under O(crash_dir) since then.
  - Never changes anything.
options:
  since: {description: A RV(position) from an earlier call., type: dict}
  crash_dir: {description: Where kdump writes dumps., type: path, default: /var/crash}
  max_lines: {description: Most lines returned (the last ones are kept)., type: int, default: 10000}
"""

RETURN = r"""
boot_id: {description: The current boot id., type: str}
position: {description: The log's end now; pass it back as O(since)., type: dict}
available: {description: The log since O(since) could be read (always true without O(since))., type: bool}
source: {description: Where the lines come from (kmsg, dmesg, journal, crash dump), or null., type: str}
reason: {description: Why the log is unavailable, or null., type: str}
rebooted: {description: The boot id differs from the one of O(since)., type: bool}
lines: {description: Kernel log lines since O(since), formatted as dmesg prints them., type: list}
truncated: {description: Lines dropped from the front to keep O(max_lines)., type: int}
files: {description: Crash dump files the lines were read from., type: list}
"""

BOOT_ID = "/proc/sys/kernel/random/boot_id"
_STAMP = re.compile(r"^\[\s*(\d+\.\d+)\]")


def read_kmsg():
    """(seq, line) records of /dev/kmsg, or None when it cannot be read."""
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    records = []
    try:
        while True:
            try:
                chunk = os.read(fd, 8192)
            except BlockingIOError:
                break
            except BrokenPipeError:  # records overwritten while reading: go on with the next one
                continue
            if not chunk:
                break
            header, _, text = chunk.decode("utf-8", "replace").partition(";")
            fields = header.split(",")
            if len(fields) < 3 or not fields[1].isdigit() or not fields[2].isdigit():
                continue
            usec = int(fields[2])
            message = text.split("\n", 1)[0]
            records.append((int(fields[1]), f"[{usec // 1000000:5d}.{usec % 1000000:06d}] {message}"))
    except OSError:
        return None
    finally:
        os.close(fd)
    return records


def run(module, argv):
    path = module.get_bin_path(argv[0])
    if path is None:
        return None, f"{argv[0]} not found"
    env = dict(os.environ, LC_ALL="C")
    result = subprocess.run([path, *argv[1:]], capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines()
        return None, said[-1] if said else f"exit status {result.returncode}"
    return result.stdout, None


def read_dmesg(module):
    out, error = run(module, ["dmesg"])
    if out is None:
        return None, error
    return [line for line in out.splitlines() if line.strip()], None


def stamp(line):
    match = _STAMP.match(line)
    return float(match.group(1)) if match else None


def dmesg_position(lines):
    """Last timestamp, and how many lines carry it (several lines can share one stamp)."""
    stamps = [s for s in (stamp(line) for line in lines) if s is not None]
    last = stamps[-1] if stamps else None
    return {"time_stamp": last, "same_stamp": stamps.count(last) if stamps else 0, "count": len(lines)}


def dmesg_since(lines, position):
    last = position.get("time_stamp")
    if last is None:  # no timestamps on this kernel: count lines
        return lines[position.get("count", 0) :]
    skip = position.get("same_stamp", 0)
    out = []
    for line in lines:
        value = stamp(line)
        if value is None:
            if out:
                out.append(line)
        elif value > last:
            out.append(line)
        elif value == last:
            if skip > 0:
                skip -= 1
            else:
                out.append(line)
    return out


def journal_cursor(module):
    out, error = run(module, ["journalctl", "-k", "-b", "-n", "1", "-o", "json", "-q", "--no-pager"])
    if out is None:
        return None, error
    entries = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if not entries:
        return None, "the journal holds no kernel messages for this boot"
    return entries[-1].get("__CURSOR"), None


def journal_lines(module, args):
    out, error = run(module, ["journalctl", "-k", "-q", "--no-pager", "-o", "short-monotonic", *args])
    if out is None:
        return None, error
    return [line for line in out.splitlines() if line.strip() and not line.startswith("-- ")], None


def mark(module):
    """The log's end now, from the first source that can be read."""
    records = read_kmsg()
    if records is not None:
        return {"source": "kmsg", "seq": records[-1][0] if records else -1}, None
    lines, dmesg_error = read_dmesg(module)
    if lines is not None:
        return dict(dmesg_position(lines), source="dmesg"), None
    cursor, journal_error = journal_cursor(module)
    if cursor is not None:
        return {"source": "journal", "cursor": cursor}, None
    reason = f"no readable kernel log: /dev/kmsg cannot be opened; dmesg: {dmesg_error}; "
    reason += f"journalctl -k: {journal_error}"
    return {"source": None}, reason


def same_boot_lines(module, since):
    source = since.get("source")
    if source == "kmsg":
        records = read_kmsg()
        if records is not None:
            return [line for seq, line in records if seq > since.get("seq", -1)], None
        return None, "/dev/kmsg could be read before the soak and cannot now"
    if source == "dmesg":
        lines, error = read_dmesg(module)
        return (dmesg_since(lines, since), None) if lines is not None else (None, f"dmesg: {error}")
    if source == "journal":
        return journal_lines(module, ["-b", "--after-cursor", since.get("cursor", "")])
    return None, "the kernel log was not readable before the soak"


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def dump_dmesg_files(crash_dir):
    """The kernel log file of every dump directory under ``crash_dir``, in name order."""
    found = []
    for dump in _listdir(crash_dir):
        directory = os.path.join(crash_dir, dump)
        found.extend(os.path.join(directory, name) for name in _listdir(directory) if is_dmesg_file(name))
    return found


def previous_boot_lines(module, since, crash_dir):
    """After a reboot: the previous boot's journal since the mark, and crash dumps written since then."""
    started = float(since.get("time", 0))
    lines, sources, files = [], [], []
    journal, _ = journal_lines(module, ["-b", "-1", "--since", f"@{int(started)}"])
    if journal:
        lines.extend(journal)
        sources.append("journal (previous boot)")
    for path in dump_dmesg_files(crash_dir):
        try:
            if os.path.getmtime(path) + 1 < started:
                continue
            with open(path, errors="replace") as handle:
                lines.extend(line.rstrip("\n") for line in handle if line.strip())
        except OSError:
            continue
        files.append(path)
    if files:
        sources.append("crash dump")
    if not sources:
        reason = (
            "the host rebooted and the kernel log of the boot that ran the soak is gone: no persistent "
            f"journal and no crash dump under {crash_dir} written since"
        )
        return None, reason, files
    return lines, ", ".join(sources), files


def main():
    module = AnsibleModule(
        argument_spec={
            "since": {"type": "dict"},
            "crash_dir": {"type": "path", "default": "/var/crash"},
            "max_lines": {"type": "int", "default": 10000},
        },
        supports_check_mode=True,
    )
    since = module.params["since"]
    try:
        with open(BOOT_ID) as handle:
            boot_id = handle.read().strip()
    except OSError as error:
        module.fail_json(msg=f"cannot read {BOOT_ID}: {error}")
    position, reason = mark(module)
    position.update(boot_id=boot_id, time=time.time())
    result = {"changed": False, "boot_id": boot_id, "position": position, "source": position["source"]}
    result.update(available=position["source"] is not None, reason=reason, rebooted=False)
    result.update(lines=[], truncated=0, files=[])
    if since:
        rebooted = since.get("boot_id") != boot_id
        if rebooted:
            lines, source_or_reason, files = previous_boot_lines(module, since, module.params["crash_dir"])
            source = source_or_reason if lines is not None else None
            reason = None if lines is not None else source_or_reason
            result["files"] = files
        else:
            lines, reason = same_boot_lines(module, since)
            source = since.get("source") if lines is not None else None
        lines = lines or []
        keep = max(0, module.params["max_lines"])
        result.update(rebooted=rebooted, available=source is not None, source=source, reason=reason)
        result.update(lines=lines[-keep:] if keep else [], truncated=max(0, len(lines) - keep))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
