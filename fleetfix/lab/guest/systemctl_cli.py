"""``systemctl`` for a lab host: the verbs Ansible's systemd/service modules and package scripts use.

Only what every call needs is imported at the top (see ``units``): the audit runs ``systemctl show`` on
every host, and a stand-in that costs more than the real tool would weigh on the lab's measurements.
"""

from __future__ import annotations

import sys

from .units import Units, unit_name

_IGNORED_FLAGS = {"--no-pager", "--no-block", "--system", "--force", "--full", "-l", "--plain", "--no-legend"}
_IGNORED_FLAGS |= {"--all", "-a", "--no-ask-password", "--no-reload", "--runtime", "--global"}
_QUIET = {"-q", "--quiet"}
_OK_STATES = {"enabled", "enabled-runtime", "static", "alias", "indirect", "generated"}


def _show(units: Units, unit: str, wanted: set[str]) -> list[str]:
    sections = units.sections(unit)
    path = units.path(unit)
    load = "masked" if units.masked(unit) else ("loaded" if path else "not-found")
    active = units.active_state(unit) if path else "inactive"
    sub = {"active": "exited" if unit.endswith(".service") else "waiting", "failed": "failed"}.get(
        active, "dead"
    )
    service = sections.get("Service", {})
    props = {
        "Type": service.get("Type", ["simple"])[-1],
        "Id": unit,
        "Names": unit,
        "Description": sections.get("Unit", {}).get("Description", [unit])[-1],
        "LoadState": load,
        "ActiveState": active,
        "SubState": sub,
        "FragmentPath": "" if path is None or load == "masked" else units.host_path(path),
        "UnitFileState": "" if path is None else units.enablement(unit),
        "UnitFilePreset": "enabled",
        "MainPID": "0",
        "Result": "exit-code" if active == "failed" else "success",
        "CanStart": "yes" if load == "loaded" else "no",
        "CanStop": "yes" if load == "loaded" else "no",
        "RemainAfterExit": "yes" if service.get("RemainAfterExit", ["no"])[-1] in ("yes", "true") else "no",
    }
    for key in ("ExecStart", "ExecStop"):
        for command in service.get(key, []):
            argv0 = command.lstrip("-@+!:").split()[0] if command.strip() else ""
            props[key] = f"{{ path={argv0} ; argv[]={command.lstrip('-@+!:')} ; ignore_errors=no ; }}"
    if unit.endswith(".timer"):
        props["OnCalendar"] = " ".join(sections.get("Timer", {}).get("OnCalendar", []))
    return [f"{k}={v}" for k, v in props.items() if not wanted or k in wanted]


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...], legend: bool) -> None:
    if legend:
        print("  ".join(header))
    for row in rows:
        print("  ".join(row))
    if legend:
        print(f"\n{len(rows)} unit files listed.")


def main(argv: list[str]) -> int:
    args = [a for a in argv if a not in _IGNORED_FLAGS and not a.startswith("--type=")]
    quiet = any(a in _QUIET for a in args)
    now = "--now" in args
    wanted: set[str] = set()
    words = []
    for arg in args:
        if arg.startswith(("--property=", "-p")) and arg not in ("-p",):
            wanted |= set(arg.split("=", 1)[-1].removeprefix("-p").split(","))
        elif arg not in _QUIET and arg != "--now" and not arg.startswith("--"):
            words.append(arg)
    if "--version" in args:
        print("systemd 252 (252.fleetfix-lab)\n+PAM +AUDIT +SELINUX +APPARMOR +IMA +SMACK +SECCOMP")
        return 0
    verb = words[0] if words else "list-units"
    names = [unit_name(w) for w in words[1:]]
    units = Units()
    if verb in ("reboot", "poweroff", "halt", "kexec"):
        from . import power

        return power.request("poweroff" if verb in ("poweroff", "halt") else "reboot")
    if verb in ("daemon-reload", "daemon-reexec", "reset-failed"):
        return 0
    if verb == "is-system-running":
        print("running")
        return 0
    if verb == "get-default":
        print("multi-user.target")
        return 0
    if verb in ("start", "stop", "restart", "reload", "try-restart", "reload-or-restart", "condrestart"):
        return _act(units, verb, names)
    if verb in ("enable", "disable", "mask", "unmask"):
        return _enable(units, verb, names, now, quiet)
    if verb == "is-enabled":
        states = [units.enablement(n) for n in names]
        for name, state in zip(names, states, strict=True):
            if state == "not-found":
                print(f"Failed to get unit file state for {name}: No such file or directory", file=sys.stderr)
            elif not quiet:
                print(state)
        return 0 if states and all(s in _OK_STATES for s in states) else 1
    if verb in ("is-active", "is-failed"):
        states = [units.active_state(n) for n in names]
        if not quiet:
            print("\n".join(states))
        goal = "active" if verb == "is-active" else "failed"
        return 0 if states and all(s == goal for s in states) else (3 if verb == "is-active" else 1)
    if verb == "show":
        blocks = ["\n".join(_show(units, n, wanted)) for n in names]
        print("\n\n".join(blocks))
        return 0
    if verb == "status":
        for name in names:
            print(f"● {name}\n     Loaded: {units.enablement(name)}\n     Active: {units.active_state(name)}")
        return 0 if names and all(units.active_state(n) == "active" for n in names) else 3
    if verb == "cat":
        for name in names:
            path = units.path(name)
            if path is None:
                print(f"No files found for {name}.", file=sys.stderr)
                return 1
            with open(path, encoding="utf-8", errors="replace") as text:
                print(f"# {units.host_path(path)}\n{text.read()}")
        return 0
    if verb == "list-unit-files":
        rows = [(u, units.enablement(u), "enabled") for u in _matching(units.all_units(), words[1:])]
        _table(rows, ("UNIT FILE", "STATE", "VENDOR PRESET"), "--no-legend" not in argv)
        return 0
    if verb == "list-units":
        rows = []
        for unit in _matching(units.all_units(), words[1:]):
            state = units.active_state(unit)
            if state != "inactive" or "--all" in argv or "-a" in argv:
                load = "masked" if units.masked(unit) else "loaded"
                rows.append((unit, load, state, "running" if state == "active" else "dead", unit))
        _table(rows, ("UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION"), "--no-legend" not in argv)
        return 0
    print(f"Unknown command verb {verb}.", file=sys.stderr)
    return 1


def _matching(all_units: list[str], patterns: list[str]) -> list[str]:
    import fnmatch

    return [u for u in all_units if not patterns or any(fnmatch.fnmatch(u, p) for p in patterns)]


def _act(units: Units, verb: str, names: list[str]) -> int:
    for name in names:
        if units.masked(name):
            print(f"Failed to {verb} {name}: Unit {name} is masked.", file=sys.stderr)
            return 1
        if units.path(name) is None:
            print(f"Failed to {verb} {name}: Unit {name} not found.", file=sys.stderr)
            return 5
        if verb == "stop":
            units.stop(name)
            continue
        if verb == "try-restart" and units.active_state(name) != "active":
            continue
        if verb != "start":
            units.stop(name)
        if not units.start(name):
            print(
                f"Job for {name} failed because the control process exited with error code.\n"
                f'See "systemctl status {name}" and "journalctl -xeu {name}" for details.',
                file=sys.stderr,
            )
            return 1
    return 0


def _enable(units: Units, verb: str, names: list[str], now: bool, quiet: bool) -> int:
    for name in names:
        if verb in ("enable", "disable") and units.path(name) is None:
            print(f"Failed to {verb} unit: Unit file {name} does not exist.", file=sys.stderr)
            return 1
        if verb == "mask":
            units.mask(name)
            continue
        if verb == "unmask":
            units.unmask(name)
            continue
        messages = units.enable(name) if verb == "enable" else units.disable(name)
        if not quiet:
            for message in messages:
                print(message, file=sys.stderr)
        if now:
            rc = _act(units, "start" if verb == "enable" else "stop", [name])
            if rc:
                return rc
    return 0
