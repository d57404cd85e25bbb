"""Drain and undrain hooks (fleetfix/plan/hooks.py, commands/remediate_hooks.py): what a hook value means,
how a command hook runs (argv, no shell, environment), what the journal keeps, and how a run with hooks
resumes (plan/run_state.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.advisories.schema import load_file
from fleetfix.commands.remediate_hooks import check_hook, run_hook
from fleetfix.errors import InputError
from fleetfix.plan.build import build_plan
from fleetfix.plan.hooks import command_line, hook_detail, parse_hook
from fleetfix.plan.run_state import StepRecord, _host, recheck
from fleetfix.plan.steps import Step
from fleetfix.state.journal import Journal
from tests.support.plans import ADVISORIES, QUICK, host


def test_playbook_or_command():
    playbook = parse_hook("post", "hooks/undrain.yaml")
    assert (playbook.kind, playbook.playbook, playbook.step) == (
        "playbook",
        "hooks/undrain.yaml",
        "post_hook",
    )
    command = parse_hook("pre", "lb-ctl drain --pool 'web pool' {host}")
    assert (command.kind, command.argv) == ("command", ("lb-ctl", "drain", "--pool", "web pool", "{host}"))
    # a command whose argument names a playbook is still a command
    assert parse_hook("pre", "ansible-playbook drain.yml").kind == "command"


def test_placeholders_are_replaced_inside_words_never_re_split():
    hook = parse_hook("pre", "notify --host={host} --run {run_id} --what {hook}")
    assert command_line(hook, "db01; rm -rf /", 7) == [
        "notify", "--host=db01; rm -rf /", "--run", "7", "--what", "pre",
    ]  # fmt: skip


@pytest.mark.parametrize("spec", ["", "  ", "drain 'open"])
def test_bad_values(spec):
    with pytest.raises(InputError, match=r"^--pre-hook: "):
        parse_hook("pre", spec)


def test_detail_names_the_exit_and_the_last_line():
    hook = parse_hook("pre", "drain")
    ok = hook_detail(hook, 0, 1.23456, "drained\n", None)
    assert ok == {
        "kind": "command",
        "hook": "drain",
        "exit_code": 0,
        "duration_s": 1.235,
        "output": "drained",
    }
    failed = hook_detail(hook, 3, 0.5, "checking\nstill 12 sessions\n\n", None)
    assert failed["message"] == "pre-hook exited 3: still 12 sessions"
    timed_out = hook_detail(hook, None, 1800.0, "x" * 5000, "timed out after 1800s")
    assert timed_out["message"] == "pre-hook timed out after 1800s" and len(timed_out["output"]) == 2003


def test_a_command_hook_runs_without_a_shell_with_its_environment(tmp_path: Path):
    script = tmp_path / "drain"
    script.write_text(
        "#!/bin/sh\n"
        'echo "$FLEETFIX_HOOK $FLEETFIX_HOST $FLEETFIX_RUN_ID [$1]"\n'
        '[ "$1" = db02 ] && exit 4\n'
        "exit 0\n"
    )
    script.chmod(0o755)
    hook = check_hook(parse_hook("pre", f"{script} {{host}}"))
    with Journal(tmp_path / "journal.sqlite") as journal:
        run = journal.start_run("remediate", _plan(tmp_path), None)
        failed = run_hook(hook, ["db01", "db02"], run, (), None, journal)
        records = {r.host: r for r in journal.steps(run)}
    assert failed == ["db02"]
    assert records["db01"].state == "ok" and records["db01"].detail["output"] == "pre db01 1 [db01]"
    assert records["db02"].detail["message"] == "pre-hook exited 4: pre db02 1 [db02]"
    assert records["db02"].detail["exit_code"] == 4 and records["db02"].detail["duration_s"] >= 0


def _plan(tmp_path: Path):
    advisories = tmp_path / "advisories.yaml"
    advisories.write_text(ADVISORIES)
    db = AdvisoryDB(load_file(advisories))
    return build_plan([host(db, "db01"), host(db, "db02")], "mpt3sas", db, times=QUICK)


T = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def records(*steps: tuple[str, str]) -> tuple[StepRecord, ...]:
    return tuple(
        StepRecord(host="db01", step=Step(s), state=state, detail={}, started_at=T, ended_at=T)
        for s, state in steps
    )


OK_TO_SOAK = (("precheck", "ok"), ("baseline", "ok"), ("pre_hook", "ok"), ("upgrade", "ok"),
              ("activate", "ok"), ("verify", "ok"), ("soak", "ok"))  # fmt: skip


def test_a_drained_host_is_not_done_until_its_post_hook_ran():
    waiting = _host("db01", records(*OK_TO_SOAK))
    assert waiting.status == "interrupted"
    assert recheck(waiting, "mpt3sas", "43.00.00.00", "46.00.00.00", "46.00.00.00").steps == ("post_hook",)
    assert _host("db01", records(*OK_TO_SOAK, ("post_hook", "ok"))).status == "done"
    assert _host("db01", records(*OK_TO_SOAK, ("post_hook", "skipped"))).status == "done"
    assert _host("db01", records(*OK_TO_SOAK, ("post_hook", "failed"))).status == "failed"
    # a run without hooks records none: done after the soak, as before
    plain = [s for s in OK_TO_SOAK if s[0] != "pre_hook"]
    assert _host("db01", records(*plain)).status == "done"


def test_a_host_stopped_after_its_pre_hook_is_not_drained_again():
    drained = _host("db01", records(("precheck", "ok"), ("baseline", "ok"), ("pre_hook", "ok")))
    steps = recheck(drained, "mpt3sas", "43.00.00.00", "46.00.00.00", "43.00.00.00").steps
    assert steps == ("upgrade", "activate", "verify", "soak", "post_hook")
    before = _host("db01", records(("precheck", "ok"), ("baseline", "ok")))
    assert recheck(before, "mpt3sas", "43.00.00.00", "46.00.00.00", "43.00.00.00").steps[0] == "pre_hook"
    refused = _host("db01", records(("precheck", "ok"), ("baseline", "ok"), ("pre_hook", "failed")))
    assert refused.status == "failed" and refused.outcome == "failed at pre_hook"
