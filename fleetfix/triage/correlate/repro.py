"""Which fio soak profiles imitate a scheduled job's I/O, judged from the words of its command."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Repro:
    """The fio soak profiles that best imitate the job's I/O, and why."""

    profiles: tuple[str, ...]
    pattern: str


# Command words -> access pattern. Whole words of the lower-cased command split at non-word characters,
# so "backup.sh" has the word "backup" and "start" does not have "tar". Named tools decide first; the
# bare word "backup" (a script name, or a target path) only when no tool is named.
_BOTH = ("backup-seqread", "thrash")
_RULES = (
    (frozenset({"rsync", "rsnapshot", "tar", "restic", "borg", "borgmatic", "duplicity", "bacula", "bareos",
                "amanda", "dsmc", "rdiff", "kopia", "aide", "clamscan"}),
     _BOTH, "file-tree backup or scan: sequential data and random metadata reads"),
    (frozenset({"dump", "xfsdump", "mysqldump", "pg_dump", "pg_dumpall", "pg_basebackup", "mongodump",
                "mariabackup", "xtrabackup", "vzdump", "dd", "scrub", "checkarray", "badblocks"}),
     ("backup-seqread",), "streaming read: large sequential reads"),
    (frozenset({"updatedb", "mlocate", "plocate", "find", "du", "tmpwatch", "tmpreaper"}),
     ("thrash",), "metadata walk: many small random reads"),
    (frozenset({"backup", "backups"}), _BOTH, "file-tree backup: sequential data and random metadata reads"),
)  # fmt: skip


def suggest_repro(command: str) -> Repro:
    """The soak profiles matching a job's access pattern, judged from the words of its command.

    - File-tree backups and scanners (rsync, tar, restic, borg, a script named backup) stream every file's
      data in large sequential reads (``backup-seqread``) and walk the directory tree in many small random
      metadata reads (``thrash``): both.
    - Streamers (dump tools, dd, RAID checks, scrubs): large sequential reads only (``backup-seqread``).
    - Metadata walkers (updatedb, find, du, tmpwatch): small random reads only (``thrash``).
    """
    words = set(re.split(r"[^a-z0-9_]+", command.lower()))
    for vocabulary, profiles, pattern in _RULES:
        matched = sorted(words & vocabulary)
        if matched:
            return Repro(profiles, f"{pattern}, by the word {matched[0]!r}")
    return Repro((), "no known storage access pattern")
