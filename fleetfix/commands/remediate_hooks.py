"""Run a drain or undrain hook for a batch's hosts and journal each host's run of it.

A command hook runs once per host on the controller, its argv as ``plan.hooks`` built it (no shell) and the
host and run in its environment; a playbook hook runs once over the hosts through ansible-runner, each
host's result its own. Either way every host gets one journal step (``pre_hook``/``post_hook``) with the
exit code, the duration and the tail of the output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from fleetfix.ansible.runner import RunObserver, RunRequest, run_playbook
from fleetfix.errors import FleetfixError, InputError
from fleetfix.plan.hooks import Hook, command_line, environment, hook_detail, playbook_vars
from fleetfix.state.journal import Journal

COMMAND_TIMEOUT = 1800  # seconds a command hook may take for one host before it counts as failed


def check_hook(hook: Hook) -> Hook:
    """Refuse, before any host is touched, a playbook that is not a file or a command that is not found.

    A playbook path is made absolute here, so a resume from another directory runs the same file.
    """
    option = f"--{hook.phase}-hook"
    if hook.playbook is not None:
        path = Path(hook.playbook).expanduser()
        if not path.is_file():
            raise InputError(option, f"{hook.playbook}: no such playbook file")
        return Hook(phase=hook.phase, spec=str(path.resolve()), playbook=str(path.resolve()))
    program = hook.argv[0]
    if os.sep in program:
        if not (os.path.isfile(program) and os.access(program, os.X_OK)):
            raise InputError(option, f"{program}: not an executable file")
    elif shutil.which(program) is None:
        raise InputError(option, f"{program}: command not found in PATH")
    return hook


def _run_command(hook: Hook, host: str, run_id: int) -> dict:
    argv = command_line(hook, host, run_id)
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv,
            env={**os.environ, **environment(hook, host, run_id)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or "") if isinstance(exc.stdout, str) else ""
        return hook_detail(
            hook, None, time.monotonic() - started, output, f"timed out after {COMMAND_TIMEOUT}s"
        )
    except OSError as exc:
        return hook_detail(
            hook, None, time.monotonic() - started, "", f"could not start: {exc.strerror or exc}"
        )
    output = done.stdout + done.stderr
    return hook_detail(hook, done.returncode, time.monotonic() - started, output, None)


def _run_playbook(
    hook: Hook, hosts: Sequence[str], run_id: int, inventories: tuple[Path, ...], observer: RunObserver | None
) -> dict[str, dict]:
    started = time.monotonic()
    extravars = playbook_vars(hook, ",".join(hosts), run_id)
    request = RunRequest(str(hook.playbook), inventories, ",".join(hosts), extravars)
    try:
        played = run_playbook(request, observer, kind=f"remediate-{hook.step}")
    except FleetfixError as exc:  # the playbook itself is broken: every host's hook failed, with that reason
        seconds = time.monotonic() - started
        return {h: hook_detail(hook, None, seconds, "", f"playbook failed: {exc}") for h in hosts}
    seconds = time.monotonic() - started
    details = {}
    for host in hosts:
        result = played.hosts.get(host)
        if result is None:
            details[host] = hook_detail(hook, None, seconds, "", "playbook did not reach the host")
            continue
        exit_code = 0 if result.status == "ok" else (played.rc or 2)
        details[host] = hook_detail(hook, exit_code, seconds, result.message or "", None)
    return details


def run_hook(
    hook: Hook,
    hosts: Sequence[str],
    run_id: int,
    inventories: tuple[Path, ...],
    observer: RunObserver | None,
    journal: Journal,
) -> list[str]:
    """Run ``hook`` for each host, journaled; returns the hosts whose hook failed."""
    for host in hosts:
        journal.step_started(run_id, host, hook.step, {"kind": hook.kind, "hook": hook.spec})
    if hook.playbook is not None:
        details = _run_playbook(hook, hosts, run_id, inventories, observer)
    else:
        details = {host: _run_command(hook, host, run_id) for host in hosts}
    failed = []
    for host in hosts:
        detail = details[host]
        ok = detail["exit_code"] == 0
        journal.step_ended(run_id, host, hook.step, "ok" if ok else "failed", detail)
        if not ok:
            failed.append(host)
    return failed
