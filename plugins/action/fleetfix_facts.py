"""The controller side of ``fleetfix_facts``: the read runs on the host's Python without AnsiballZ.

Every new-style module, ping included, has its host compile ``ansible.module_utils.basic`` and what that
imports, about 11,000 lines, on every run (AnsiballZ ships no bytecode): 110 of the 136 ms ping costs a lab
host. ``fleetfix_facts`` needs none of it: ``gather`` reads files and runs the host's own tools through
``HostTools``. So this plugin sends the module and the collection's module_utils it imports (standard
library only) as JSON on the standard input of one ``python -c`` command, as pipelining sends AnsiballZ:
one round trip, nothing written on the host. The answer is the module's, ``ansible_facts.fleetfix``.

The module itself runs (``_execute_module``) wherever this could not be done as Ansible would do it: the
connection or the become method cannot feed a program its input (``pipelining`` off, ``su``), the task is
async, or the host's ``fleetfix_facts_transport`` is ``module``.
"""

from __future__ import annotations

import json
import os
import re
import shlex

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.executor.interpreter_discovery import discover_interpreter
from ansible.plugins.action import ActionBase

PACKAGE = "ansible_collections.fleetfix.hba.plugins"
MODULE = f"{PACKAGE}.modules.fleetfix_facts"
MODULE_NAME = "fleetfix.hba.fleetfix_facts"
TOOLS = f"{PACKAGE}.module_utils.host_tools"
_PLUGINS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# `from <PACKAGE>.module_utils[.name] import a, b` or `import (a, b)`: what the shipped code imports
_IMPORT = re.compile(
    r"^from\s+" + re.escape(PACKAGE) + r"\.module_utils(?:\.(\w+))?\s+import\s+(\([^)]*\)|[^\n]+)",
    re.MULTILINE,
)
ARGUMENT_SPEC = {
    "crash_dir": {"type": "str"},  # expanded on the host, as the module's type path does
    "max_crash_dumps": {"type": "int", "default": 20},
    "root": {"type": "str", "default": "/"},
}
TRANSPORTS = ("lean", "module")

# Runs on the host: serves the shipped sources from memory to the import system, reads, answers JSON.
BOOTSTRAP = """\
import json, os, sys
from importlib.machinery import ModuleSpec
request = json.loads(sys.stdin.buffer.read())
sources = request["sources"]
class Shipped:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name in sources:
            return ModuleSpec(name, Shipped, is_package=sources[name] is None)
    @staticmethod
    def create_module(spec):
        return None
    @staticmethod
    def exec_module(module):
        source = sources[module.__name__]
        if source is not None:
            exec(compile(source, "<fleetfix>/" + module.__name__, "exec"), module.__dict__)
sys.meta_path.insert(0, Shipped)
HostTools = __import__(request["tools"], fromlist=["HostTools"]).HostTools
gather = __import__(request["module"], fromlist=["gather"]).gather
params = request["params"]
where = lambda value: value if value is None else os.path.expanduser(os.path.expandvars(value))
facts = gather(HostTools(), where(params["root"]), where(params["crash_dir"]), params["max_crash_dumps"])
sys.stdout.write(json.dumps({"changed": False, "ansible_facts": {"fleetfix": facts}}))
"""


def command_line(interpreter: str, environment: str = "") -> str:
    """The shell command that runs the bootstrap: the interpreter one quoted path, as ansible-core quotes a
    pipelined module's (so no inventory value becomes shell syntax), after Ansible's environment prefix for
    the task's ``environment``."""
    if not interpreter.strip():
        raise AnsibleActionFail("ansible_python_interpreter is empty")
    command = f"{shlex.quote(interpreter)} -c {shlex.quote(BOOTSTRAP)}"
    return f"{environment} {command}" if environment else command


def _file_of(name: str) -> str:
    return os.path.join(_PLUGINS_DIR, *name[len(PACKAGE) + 1 :].split(".")) + ".py"


def imported_module_utils(source: str) -> list[str]:
    """The collection's module_utils a source imports, by short name: ``from <PACKAGE>.module_utils.x import
    a`` names x; ``from <PACKAGE>.module_utils import x [as y], z`` names x and z."""
    found = []
    for submodule, names in _IMPORT.findall(source):
        if submodule:
            found.append(submodule)
        else:
            listed = re.sub(r"#[^\n]*", "", names).strip("() \n")
            found += [item.split()[0] for item in listed.split(",") if item.strip()]
    return found


def shipped_sources() -> dict[str, str | None]:
    """The module, ``host_tools`` and every module_util they import (transitively), by module name; each
    package on the way as None."""
    sources: dict[str, str | None] = {}
    pending = [MODULE, TOOLS]
    while pending:
        name = pending.pop()
        if name in sources:
            continue
        with open(_file_of(name), encoding="utf-8") as source:
            sources[name] = source.read()
        pending.extend(f"{PACKAGE}.module_utils.{util}" for util in imported_module_utils(sources[name]))
    for name in list(sources):
        parts = name.split(".")
        for depth in range(1, len(parts)):
            sources.setdefault(".".join(parts[:depth]), None)
    return sources


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True  # it only reads
    _supports_async = True  # by the module

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        transport = self._templar.template(task_vars.get("fleetfix_facts_transport", "lean"))
        if transport not in TRANSPORTS:
            raise AnsibleActionFail(f"fleetfix_facts_transport must be lean or module, not {transport!r}")
        if transport == "module" or self._task.async_val or not self._is_pipelining_enabled("new"):
            result.update(self._execute_module(module_name=MODULE_NAME, task_vars=task_vars))
            return result
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        interpreter, discovered = self._interpreter(task_vars)
        request = json.dumps({"params": args, "tools": TOOLS, "module": MODULE, "sources": shipped_sources()})
        command = command_line(interpreter, self._compute_environment_string())
        said = self._low_level_execute_command(command, in_data=request.encode("utf-8"))
        answer = self._answer(said, interpreter)
        if discovered is not None:
            answer.setdefault("ansible_facts", {})["discovered_interpreter_python"] = discovered
        result.update(answer)
        return result

    def _interpreter(self, task_vars):
        """(interpreter, newly discovered or None), picked as Ansible picks a module's:
        ``ansible_python_interpreter``, else ``interpreter_python``, discovered on the host when auto."""
        if "ansible_python_interpreter" in task_vars:
            return self._templar.template(task_vars["ansible_python_interpreter"]), None
        setting = C.config.get_config_value("INTERPRETER_PYTHON", variables=task_vars)
        if setting and not setting.startswith("auto"):
            return setting, None
        known = task_vars.get("ansible_facts", {}).get("discovered_interpreter_python")
        if known:
            return known, None
        found = discover_interpreter(
            action=self, interpreter_name="python", discovery_mode=setting or "auto", task_vars=task_vars
        )
        return found, found

    @staticmethod
    def _answer(said, interpreter):
        """The read's result, or a failed result naming what the host said."""
        stdout, stderr, rc = said.get("stdout", ""), said.get("stderr", ""), said.get("rc")
        if rc == 0:
            try:
                answer = json.loads(stdout)
            except ValueError:
                answer = None
            if isinstance(answer, dict):
                return answer
        last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "")
        return {
            "failed": True,
            "msg": f"fleetfix_facts: {interpreter} exited {rc}: {last or 'no JSON answer'}",
            "rc": rc,
            "module_stdout": stdout[-2000:],
            "module_stderr": stderr[-2000:],
        }
