"""What the facts module costs on one lab host, against the ping module on the same host (root; the lab).

The audit's wall time on the lab is bound by the two cores its hosts share with the controller, so what the
module costs on each host counts as much as what the controller does. This bench leaves both modules'
AnsiballZ payloads on one host of a lab (``ANSIBLE_KEEP_REMOTE_FILES``), then on that host:

- runs each payload ``--repeat`` times, interleaved (ping, facts, lean, ping, ...), and prints the median
  wall time and CPU time (user + system of the module and of every process it waited for), their ratio to
  ping's (the floor of any module: AnsiballZ start-up, ansible.module_utils.basic, the JSON answer), and how
  many processes each run started (``subprocess.Popen`` counted inside the module's interpreter). ``lean``
  is the read as the audit runs it: the collection's action plugin's bootstrap with the request it sends
  (the module and its module_utils as JSON) on its standard input, no AnsiballZ;
- profiles one run of the facts module (cProfile) and prints the time of each surface it reads, the
  processes it ran among them, so that the next surface to make cheaper is the one at the top.

    sudo PYTHONPATH=$PWD .venv/bin/python bench/facts_module_cost.py [--lab NAME] [--repeat 10]

Without ``--lab`` it brings up 4 hosts of the ``large`` scenario as lab ``bench-facts`` and tears it down.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from fleetfix.ansible.runner import ansible_executable
from fleetfix.lab import Lab
from fleetfix.lab.inventory import ssh_options
from fleetfix.state import paths

REMOTE_TMP = "/tmp/.fleetfix-bench-facts"

# Runs on the lab host (its python3): times the payloads, counts the processes each starts, profiles one.
HOST_SIDE = r"""
import cProfile, glob, io, json, os, pstats, resource, runpy, statistics, subprocess, sys, time

repeat = int(sys.argv[1])
payloads = {"ping": glob.glob(sys.argv[2] + "/*/AnsiballZ_ping.py")[0],
            "facts": glob.glob(sys.argv[2] + "/*/AnsiballZ_fleetfix_facts.py")[0],
            "lean": sys.argv[2] + "/lean/bootstrap.py"}
COUNT = r'''
import os, runpy, subprocess, sys
started = [0]
original = subprocess.Popen.__init__
def counted(self, *args, **kwargs):
    started[0] += 1
    original(self, *args, **kwargs)
subprocess.Popen.__init__ = counted
payload = sys.argv[1]
sys.argv = [payload]  # a second argument would be an AnsiballZ debug command
if payload.endswith("/lean/bootstrap.py"):  # the action plugin's request on its standard input
    os.dup2(os.open(os.path.join(os.path.dirname(payload), "request.json"), os.O_RDONLY), 0)
out = os.dup(1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
try:
    runpy.run_path(payload, run_name="__main__")
except SystemExit:
    pass
sys.stdout.flush()  # what the run wrote goes where it was sent, not after the count
os.dup2(out, 1)
print(started[0])
'''

def run(path):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", COUNT, path], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, int(done.stdout.split()[-1])

samples = {kind: [] for kind in payloads}
for _ in range(repeat):
    for kind, path in payloads.items():
        samples[kind].append(run(path))
result = {kind: {"wall": statistics.median(s[0] for s in runs), "cpu": statistics.median(s[1] for s in runs),
                 "processes": max(s[2] for s in runs)} for kind, runs in samples.items()}

work = os.path.dirname(payloads["facts"])
subprocess.run([sys.executable, payloads["facts"], "explode"], cwd=work, capture_output=True, check=True)
debug = os.path.join(work, "debug_dir")
module = glob.glob(debug + "/ansible_collections/fleetfix/hba/plugins/modules/fleetfix_facts.py")[0]
sys.path.insert(0, debug)
sys.argv = [module, os.path.join(debug, "args")]
profile = cProfile.Profile()
out = os.dup(1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
start = time.perf_counter()
profile.enable()
try:
    runpy.run_path(module, run_name="__main__")
except SystemExit:
    pass
profile.disable()
total = time.perf_counter() - start
os.dup2(out, 1)
stats = pstats.Stats(profile, stream=io.StringIO()).stats
surfaces = {}
for (filename, _line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.items():
    surface = name.startswith("read_") or name in ("unit_states", "gather")
    if filename.endswith("fleetfix_facts.py") and surface:
        surfaces[name] = surfaces.get(name, 0.0) + cumulative
    if name == "run_command":
        surfaces["(processes: run_command)"] = surfaces.get("(processes: run_command)", 0.0) + cumulative
result["profile"] = {"total": total, "surfaces": surfaces}
print(json.dumps(result))
"""


def _leave_payloads(inventory: Path, host: str, collections: Path) -> None:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(paths.content_dir() / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_KEEP_REMOTE_FILES": "1",
        "ANSIBLE_REMOTE_TMP": REMOTE_TMP,
    }
    for module in ("ping", "fleetfix.hba.fleetfix_facts"):
        command = [ansible_executable("ansible"), host, "-i", str(inventory), "-m", module]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"bench: ansible -m {module} on {host} failed: {done.stdout[-400:]}{done.stderr[-400:]}")


def _leave_lean_request(ssh: list[str], collections: Path) -> None:
    """The action plugin's bootstrap and the request it would send (default options), in REMOTE_TMP/lean."""
    sys.path.insert(0, str(collections))
    action = importlib.import_module("ansible_collections.fleetfix.hba.plugins.action.fleetfix_facts")
    params = {"root": "/", "crash_dir": None, "max_crash_dumps": 20}
    request = {"params": params, "tools": action.TOOLS, "module": action.MODULE}
    files = {
        "bootstrap.py": action.BOOTSTRAP,
        "request.json": json.dumps(request | {"sources": action.shipped_sources()}),
    }
    for name, text in files.items():
        where = f"{REMOTE_TMP}/lean/{name}"
        done = subprocess.run(
            [*ssh, f"mkdir -p {REMOTE_TMP}/lean && cat > {where}"], input=text, text=True, check=False
        )
        if done.returncode != 0:
            sys.exit(f"bench: could not write {where} on the lab host")


def measure(lab: Lab, repeat: int, collections: Path) -> dict:
    host = lab.hosts()[0]
    ssh = ["ssh", *ssh_options(lab.key_file, lab.known_hosts), f"root@{host.ip}"]
    with tempfile.TemporaryDirectory() as tmp:
        inventory = lab.write_inventory(Path(tmp) / "inventory.yml")
        lab.ssh(host.name, f"rm -rf {REMOTE_TMP}")
        _leave_payloads(inventory, host.name, collections)
    _leave_lean_request(ssh, collections)
    command = [*ssh, f"python3 - {repeat} {REMOTE_TMP}; said=$?; rm -rf {REMOTE_TMP}; exit $said"]
    done = subprocess.run(command, input=HOST_SIDE, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"bench: the host side failed on {host.name}: {done.stderr[-600:]}")
    return {"host": host.name, **json.loads(done.stdout.splitlines()[-1])}


def report(result: dict, repeat: int) -> None:
    ping, facts = result["ping"], result["facts"]
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"on {result['host']}, median of {repeat} interleaved runs (load average {load}):")
    for kind in ("ping", "facts", "lean"):
        row = result[kind]
        print(
            f"  {kind:<6} wall {row['wall'] * 1000:6.0f} ms   CPU {row['cpu'] * 1000:6.0f} ms   "
            f"processes started {row['processes']}"
        )
    print(f"  facts / ping: wall {facts['wall'] / ping['wall']:.2f}, CPU {facts['cpu'] / ping['cpu']:.2f}")
    lean = result["lean"]
    print(f"  lean / ping: wall {lean['wall'] / ping['wall']:.2f}, CPU {lean['cpu'] / ping['cpu']:.2f}")
    profile = result["profile"]
    print(f"  one profiled facts run: {profile['total'] * 1000:.0f} ms (imports included), by surface:")
    for name, seconds in sorted(profile["surfaces"].items(), key=lambda item: -item[1]):
        print(f"    {seconds * 1000:7.1f} ms  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", help="an existing lab to use (default: bring up 4 hosts of `large`)")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--collections",
        type=Path,
        default=paths.collections_dir(),
        help="collections path whose fleetfix.hba is measured (default: this tree's)",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/facts_module_cost.py needs root: it runs on a lab host")
    lab = Lab(args.lab or "bench-facts")
    if not args.lab:
        lab.up("large", 4)
    try:
        report(measure(lab, args.repeat, args.collections), args.repeat)
    finally:
        if not args.lab:
            lab.down()


if __name__ == "__main__":
    main()
