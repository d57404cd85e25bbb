"""Every role variable fleetfix's Python passes is one the role declares, and required means required.

The variables are found where fleetfix builds them (every string in fleetfix/commands/*.py that names a
role variable) and in the extra vars the commands' builders return; each must be an option of that role's
``meta/argument_specs.yml``, which is what an AWX survey or a plain ansible-playbook user reads.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

import ansible_runner
import pytest
import yaml

from fleetfix.commands.capture import CaptureOptions, parse_dump_target
from fleetfix.commands.soak import SoakTarget, soak_extravars
from tests.support import COLLECTIONS, REPO

ROLES = ("crash_capture", "hba_driver", "fio_soak")
ROLE_VARIABLE = re.compile(rf"^({'|'.join(ROLES)})_[a-z0-9_]+$")
# Facts the roles set on each host and fleetfix reads back: results, not arguments.
RESULT_FACTS = {f"{role}_result" for role in ROLES}


def options(role: str) -> dict[str, dict]:
    specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return specs["argument_specs"]["main"]["options"]


def role_of(variable: str) -> str:
    return next(role for role in ROLES if variable.startswith(f"{role}_"))


def named_in_commands() -> dict[str, set[str]]:
    """Role variable names written in fleetfix/commands/*.py, each with the files naming it."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / "fleetfix" / "commands").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and ROLE_VARIABLE.match(text):
                found.setdefault(text, set()).add(path.name)
    return found


def test_commands_pass_role_variables_at_all() -> None:
    named = named_in_commands()
    assert {role_of(v) for v in named} == set(ROLES)
    assert {"hba_driver_module", "fio_soak_fio_args", "crash_capture_netconsole_log_host"} <= set(named)


@pytest.mark.parametrize("variable", sorted(set(named_in_commands()) - RESULT_FACTS))
def test_every_variable_fleetfix_passes_is_declared(variable: str) -> None:
    role = role_of(variable)
    assert variable in options(role), f"{variable} ({named_in_commands()[variable]}) not in {role}'s specs"


def test_the_extra_vars_the_commands_build_are_declared() -> None:
    built = CaptureOptions("10.0.0.9", 6666, "eth0", "512M").extravars(reboot=True)
    for target in ("/srv/crash", "ssh://kdump@10.0.0.9/dumps", "nfs://nas/export/crash"):
        built |= parse_dump_target(target)
    target = SoakTarget("db01", ("/dev/sdb",), ("--name=thrash", "--readonly"))
    built |= soak_extravars({"db01": target}, "mpt3sas", False, Path("/srv/soak"))
    assert len(built) >= 13
    for variable in built:
        assert variable in options(role_of(variable)), variable


def test_required_arguments_have_no_default() -> None:
    for role in ROLES:
        defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text()) or {}
        for name, spec in options(role).items():
            if spec.get("required"):
                assert "default" not in spec and name not in defaults, f"{role}: {name}"


def test_a_role_run_without_its_required_arguments_stops(tmp_path: Path) -> None:
    play = [
        {
            "name": "Run the role without its required arguments",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {"name": "Remediate", "ansible.builtin.include_role": {"name": "fleetfix.hba.hba_driver"}}
            ],
        }
    ]
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    runner = ansible_runner.run(
        private_data_dir=str(tmp_path),
        playbook="play.yml",
        inventory=f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}",
        envvars={
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        },
        suppress_env_files=True,
        quiet=True,
    )
    (failed,) = [e["event_data"] for e in runner.events if e["event"] == "runner_on_failed"]
    assert failed["task"].startswith("Validating arguments against arg spec 'main'")
    assert "missing required arguments: hba_driver_module, hba_driver_target_version" in failed["res"]["msg"]
