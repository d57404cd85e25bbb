"""The sysctl values a lab host boots with: the scenario's defaults, then what the host's sysctl.d files
set, as systemd-sysctl applies them at boot. Only for the kernel settings the lab fakes per host (the
rest of /proc/sys/kernel is the machine's own and never written): ``PER_HOST`` maps each sysctl name to
its file under /proc.
"""

from __future__ import annotations

import sys
from pathlib import Path

PER_HOST = {
    "kernel.panic_on_oops": "sys/kernel/panic_on_oops",
    "kernel.hung_task_panic": "sys/kernel/hung_task_panic",
    "kernel.softlockup_panic": "sys/kernel/softlockup_panic",
}
# systemd-sysctl's directories, lowest precedence first: a file name in a later one hides the same name
# in an earlier one, and the files are then applied in the order of their names.
DIRECTORIES = ("/usr/lib/sysctl.d", "/run/sysctl.d", "/etc/sysctl.d")


def assignments(text: str) -> list[tuple[str, str]]:
    """(name, value) per ``name = value`` line; ``/`` separated names as dotted, ``-`` prefixes dropped."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        name, value = (part.strip() for part in line.split("=", 1))
        found.append((name.lstrip("-").replace("/", "."), value))
    return found


def at_boot(defaults: dict[str, str], root: Path = Path("/")) -> dict[str, str]:
    """The /proc files of ``PER_HOST`` -> their content at boot: ``defaults`` overridden by sysctl.d."""
    chosen: dict[str, Path] = {}
    for directory in DIRECTORIES:
        base = root / directory.lstrip("/")
        if base.is_dir():
            for path in base.glob("*.conf"):
                chosen[path.name] = path
    values = dict(defaults)
    for name in sorted(chosen):
        try:
            text = chosen[name].read_text(errors="replace")
        except OSError:  # a dangling link, as 99-sysctl.conf may be
            continue
        for key, value in assignments(text):
            if key in PER_HOST:
                values[PER_HOST[key]] = f"{value}\n"
    return values


def _path(name: str) -> Path:
    return Path("/proc") / "sys" / name.replace(".", "/")


def main(args: list[str]) -> int:
    """``sysctl [-q] [-n] [-w] NAME[=VALUE]...``: reads any setting; writes only the ones faked per host.

    A lab host runs on the machine's own kernel, whose other kernel settings are not per namespace: a write
    to one of those would change the machine. So this stand-in refuses it, where procps' sysctl (which also
    refuses /proc/sys here, a link into the real procfs) would have written it on a real host.
    """
    quiet = "-q" in args
    value_only = "-n" in args
    names = [a for a in args if not a.startswith("-")]
    if any(a in ("-a", "--all", "-p", "--load", "--system") for a in args) or not names:
        print(
            "sysctl: the lab host's sysctl reads and writes named settings only (-w NAME=VALUE)",
            file=sys.stderr,
        )
        return 1
    status = 0
    for word in names:
        name, _, value = word.partition("=")
        name = name.replace("/", ".")
        if "=" in word:
            if name not in PER_HOST:
                print(
                    f"sysctl: permission denied on key '{name}' (not per host in this lab)", file=sys.stderr
                )
                status = 255
                continue
            try:
                _path(name).write_text(value + "\n")
            except OSError as exc:
                print(f"sysctl: cannot set {name}: {exc.strerror}", file=sys.stderr)
                status = 255
                continue
            if not quiet:
                print(f"{name} = {value}")
        else:
            try:
                current = _path(name).read_text().strip()
            except OSError:
                print(f"sysctl: cannot stat {_path(name)}: No such file or directory", file=sys.stderr)
                status = 255
                continue
            print(current if value_only else f"{name} = {current}")
    return status
