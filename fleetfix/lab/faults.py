"""Recognising a fault's workload among a host's processes: fio options from its command line or job file."""

from __future__ import annotations

import configparser
from dataclasses import dataclass

from fleetfix.lab.scenario import Workload


@dataclass(frozen=True)
class FioJob:
    rw: str
    iodepth: int
    filenames: tuple[str, ...]


def _option_pairs(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    files = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            options[key] = value
        elif arg.startswith("--") and index + 1 < len(argv) and not argv[index + 1].startswith("-"):
            options[arg[2:]] = argv[index + 1]
            index += 1
        elif not arg.startswith("-"):
            files.append(arg)
        index += 1
    return options, files


def _job(options: dict[str, str]) -> FioJob:
    rw = options.get("rw", options.get("readwrite", "read")).split(":", 1)[0]
    depth = options.get("iodepth", "1")
    names = options.get("filename", "")
    return FioJob(rw, int(depth) if depth.isdigit() else 1, tuple(n for n in names.split(":") if n))


def jobs(argv: list[str], read_file: callable) -> list[FioJob]:
    """fio jobs described by ``argv`` (argv[0] is fio); ``read_file(path)`` reads a job file's text."""
    options, files = _option_pairs(argv[1:])
    found = [_job(options)] if any(k in options for k in ("rw", "readwrite", "filename", "name")) else []
    for path in files:
        parser = configparser.ConfigParser(allow_no_value=True, strict=False, interpolation=None)
        try:
            parser.read_string(read_file(path))
        except (OSError, configparser.Error):
            continue
        defaults = dict(parser["global"]) if parser.has_section("global") else {}
        for section in parser.sections():
            if section != "global":
                found.append(
                    _job({k: v or "" for k, v in {**defaults, **dict(parser[section])}.items()} | options)
                )
    return found


def matches(job: FioJob, workload: Workload, disks: set[str]) -> bool:
    on_disk = any(name.rsplit("/", 1)[-1] in disks for name in job.filenames)
    return job.rw == workload.rw and job.iodepth >= workload.min_iodepth and on_disk
