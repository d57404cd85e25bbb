"""Drain and undrain hooks around a host's change: what a ``--pre-hook``/``--post-hook`` value means.

A hook is either a playbook (a path ending .yml or .yaml, run through ansible-runner against the host) or a
command (split like a shell would split it, with shlex, and run on the controller without any shell). The
pre-hook runs after the pre-check and the baseline, before anything is installed; the post-hook after a
passed soak, or after a rollback that put the previous build back. A command learns which host and run it
serves from its environment (FLEETFIX_HOST, FLEETFIX_RUN_ID, FLEETFIX_HOOK) and from ``{host}``, ``{run_id}``
and ``{hook}`` in its arguments, replaced word by word (never through a shell).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from fleetfix.errors import InputError

PLAYBOOK_SUFFIXES = (".yml", ".yaml")
PHASES = ("pre", "post")
_PLACEHOLDERS = ("{host}", "{run_id}", "{hook}")
OUTPUT_TAIL = 2000  # characters of a command's output the journal keeps


@dataclass(frozen=True, kw_only=True)
class Hook:
    phase: str  # "pre" or "post"
    spec: str  # as the operator gave it: stored with the run, so a resume runs the same hook
    playbook: str | None = None
    argv: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "playbook" if self.playbook else "command"

    @property
    def step(self) -> str:
        return f"{self.phase}_hook"


def parse_hook(phase: str, spec: str) -> Hook:
    """``--pre-hook``/``--post-hook`` value -> Hook; a bad value is one InputError naming the option."""
    option = f"--{phase}-hook"
    text = spec.strip()
    if not text:
        raise InputError(option, "is empty: give a command or a playbook path (.yml, .yaml)")
    if text.endswith(PLAYBOOK_SUFFIXES) and len(text.split()) == 1:
        return Hook(phase=phase, spec=spec, playbook=text)
    try:
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        raise InputError(option, f"cannot be split into a command line ({exc}): {text!r}") from None
    if not argv:
        raise InputError(option, "is empty: give a command or a playbook path (.yml, .yaml)")
    return Hook(phase=phase, spec=spec, argv=argv)


def command_line(hook: Hook, host: str, run_id: int) -> list[str]:
    """The argv to run for ``host``: placeholders replaced inside each word, the words never re-split."""
    values = {"{host}": host, "{run_id}": str(run_id), "{hook}": hook.phase}
    words = []
    for word in hook.argv:
        for placeholder in _PLACEHOLDERS:
            word = word.replace(placeholder, values[placeholder])
        words.append(word)
    return words


def environment(hook: Hook, host: str, run_id: int) -> dict[str, str]:
    return {"FLEETFIX_HOST": host, "FLEETFIX_RUN_ID": str(run_id), "FLEETFIX_HOOK": hook.phase}


def playbook_vars(hook: Hook, host: str, run_id: int) -> dict[str, Any]:
    return {"fleetfix_hook": hook.phase, "fleetfix_run_id": run_id, "fleetfix_hook_host": host}


def tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= OUTPUT_TAIL else "..." + text[-OUTPUT_TAIL:]


def hook_detail(hook: Hook, exit_code: int | None, seconds: float, output: str, why: str | None) -> dict:
    """A hook run as the journal keeps it; ``why`` is set when it did not even run to an exit."""
    detail: dict[str, Any] = {
        "kind": hook.kind,
        "hook": hook.spec,
        "exit_code": exit_code,
        "duration_s": round(seconds, 3),
        "output": tail(output),
    }
    if why is not None:
        detail["message"] = f"{hook.phase}-hook {why}"
    elif exit_code != 0:
        last = next((line for line in reversed(output.strip().splitlines()) if line.strip()), "")
        detail["message"] = f"{hook.phase}-hook exited {exit_code}" + (f": {last.strip()}" if last else "")
    return detail
