"""The fleetfix_facts action plugin: what it ships to a host, and how it reads the host's answer."""

from __future__ import annotations

import ast
import json
import shlex

import pytest
from ansible.errors import AnsibleActionFail

from tests.support import REPO, collection_plugin

action = collection_plugin("action.fleetfix_facts")
PLUGINS = REPO / "plugins"


def _top_level_imports(source: str) -> set[str]:
    """Modules a source imports when it is loaded (imports inside functions run only when called)."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        for inner in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) else ():
            if isinstance(inner, ast.Import):
                names |= {alias.name for alias in inner.names}
            elif isinstance(inner, ast.ImportFrom) and inner.module:
                names.add(inner.module)
    return names


def test_it_ships_the_module_and_every_module_util_it_imports_with_their_packages() -> None:
    sources = action.shipped_sources()
    utils = {name.rsplit(".", 1)[1] for name, text in sources.items() if ".module_utils." in name and text}
    wanted = {"host_tools"}
    for path in [PLUGINS / "modules/fleetfix_facts.py", *[PLUGINS / f"module_utils/{u}.py" for u in utils]]:
        for module in _top_level_imports(path.read_text()):
            if module.startswith(f"{action.PACKAGE}.module_utils."):
                wanted.add(module.rsplit(".", 1)[1])
            elif module == f"{action.PACKAGE}.module_utils":
                tree = ast.parse(path.read_text())
                wanted |= {
                    alias.name
                    for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module == module
                    for alias in node.names
                }
    assert utils == wanted
    assert sources[action.MODULE] == (PLUGINS / "modules/fleetfix_facts.py").read_text()
    for package in ("ansible_collections", "ansible_collections.fleetfix", f"{action.PACKAGE}.module_utils"):
        assert sources[package] is None


def test_it_reads_each_form_of_import_a_module_util_may_take() -> None:
    utils = f"{action.PACKAGE}.module_utils"
    source = (
        f"from {utils}.mountinfo import (\n    fstypes,  # the types\n    root_mount,\n)\n"
        f"from {utils} import dump_target as dt, netconsole  # two at once\n"
        f"from {utils} import (\n    secure_boot,\n    next_boot as nb,\n)\n"
        "from ansible.module_utils.basic import AnsibleModule\n"
    )
    assert action.imported_module_utils(source) == [
        "mountinfo",
        "dump_target",
        "netconsole",
        "secure_boot",
        "next_boot",
    ]


def test_nothing_it_ships_imports_ansible_when_loaded() -> None:
    """The host has no ansible.module_utils on this path: the module imports AnsibleModule in main() alone."""
    for name, source in action.shipped_sources().items():
        if source is not None:
            outside = {m for m in _top_level_imports(source) if m.split(".")[0] == "ansible"}
            assert not outside, f"{name} imports {outside} when loaded"


def test_the_bootstrap_is_valid_python_of_the_oldest_supported_hosts() -> None:
    ast.parse(action.BOOTSTRAP, feature_version=(3, 8))


def test_the_command_quotes_the_interpreter_as_one_path() -> None:
    bootstrap = shlex.quote(action.BOOTSTRAP)
    assert action.command_line("/usr/bin/python3") == f"/usr/bin/python3 -c {bootstrap}"
    hostile = action.command_line("/usr/bin/python3; touch /tmp/owned $(id)")
    assert shlex.split(hostile)[:2] == ["/usr/bin/python3; touch /tmp/owned $(id)", "-c"]
    assert action.command_line("python3", "LANG=C") == f"LANG=C python3 -c {bootstrap}"


@pytest.mark.parametrize("interpreter", ["", "   "])
def test_an_empty_interpreter_fails_the_task(interpreter: str) -> None:
    with pytest.raises(AnsibleActionFail, match="ansible_python_interpreter is empty"):
        action.command_line(interpreter)


def test_an_answer_that_is_json_is_the_result() -> None:
    answer = {"changed": False, "ansible_facts": {"fleetfix": {}}}
    said = {"rc": 0, "stdout": json.dumps(answer), "stderr": ""}
    assert action.ActionModule._answer(said, "/usr/bin/python3") == answer


def test_a_failed_read_names_the_interpreter_and_the_last_thing_it_said() -> None:
    said = {
        "rc": 1,
        "stdout": "",
        "stderr": 'Traceback (most recent call last):\n  File "<fleetfix>/x"\nMemoryError: out of memory\n\n',
    }
    result = action.ActionModule._answer(said, "/usr/bin/python3")
    assert result["failed"] is True
    assert result["msg"] == "fleetfix_facts: /usr/bin/python3 exited 1: MemoryError: out of memory"
    assert "Traceback" in result["module_stderr"]


def test_an_answer_that_is_not_json_fails_the_read() -> None:
    result = action.ActionModule._answer({"rc": 0, "stdout": "Welcome to host\n{", "stderr": ""}, "python3")
    assert result["failed"] is True and result["msg"] == "fleetfix_facts: python3 exited 0: no JSON answer"
    said = {"rc": 127, "stdout": "", "stderr": "sh: 1: python3: not found"}
    missing = action.ActionModule._answer(said, "python3")
    assert missing["msg"] == "fleetfix_facts: python3 exited 127: sh: 1: python3: not found"
