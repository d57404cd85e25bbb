"""The seed incident, told end to end on the namespace lab fleet with real fleetfix commands.

Each step prints the command before it runs and one line saying what to look at; the step's own checks
decide whether the story held. Exit 0 when every step did what it should, 1 with the failing step named
otherwise, 5 when this machine cannot run the lab (not root). The lab is torn down at the end unless
``--keep``. Everything it sends goes to the lab's own namespace hosts and to this machine's lab bridge.

    sudo .venv/bin/python scripts/demo.py [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

BIN = Path(sys.executable).parent
FLEETFIX = str(BIN / "fleetfix")
BACKUP = "/usr/local/sbin/nightly-backup"
FIXED_BUILD = "46.00.00.00"  # the build whose changelog names the race (the newest package fails to build)


class StepFailed(Exception):
    """A step whose result was not what the story needs; the message says what was seen."""


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            raise StepFailed(f"its output is not JSON ({exc})") from None


class Demo:
    def __init__(self, state: Path, lab: str, show: Callable[[str], None]) -> None:
        self.state = state
        self.lab = lab
        self.show = show
        self.lab_env = {**os.environ, "COLUMNS": "110"}
        self.env = {**self.lab_env, "FLEETFIX_STATE_DIR": str(state)}
        self.inventory = state / "inventory.yml"
        self.last_step: float | None = None

    def step(self, number: int, title: str, look_at: str) -> None:
        now = time.monotonic()
        if self.last_step is not None:
            self.show(f"   ({now - self.last_step:.0f} s)")
        self.last_step = now
        self.show(f"\n== {number}. {title}\n   look at: {look_at}")

    def run(self, *args: str, expect: Sequence[int] = (0,), quiet: bool = False, timeout: float = 300) -> Ran:
        """One real command; printed first, its output shown unless ``quiet``, its exit code checked."""
        argv = [FLEETFIX, *args] if not args[0].startswith("/") else list(args)
        shown = shlex.join(["fleetfix", *args] if argv[0] == FLEETFIX else [Path(argv[0]).name, *args[1:]])
        if not quiet:
            self.show(f"$ {shown}")
        env = self.lab_env if args[0] == "lab" else self.env  # the lab outlives this run's state directory
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        if not quiet:
            for text in (done.stdout, done.stderr):
                if text.strip():
                    self.show(text.rstrip())
        if done.returncode not in expect:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise StepFailed(f"`{shown}` exited {done.returncode}, expected {list(expect)}: {detail[0]}")
        return Ran(done.returncode, done.stdout, done.stderr)

    def audit_json(self) -> dict:
        document = self.run("audit", "-i", str(self.inventory), "--format", "json", expect=(1, 4), quiet=True)
        return document.json()  # type: ignore[return-value]


def _hosts_with(audit: dict, predicate: Callable[[dict], bool]) -> list[str]:
    return sorted(h["host"] for h in audit["hosts"] if predicate(h))


def _mpt3sas_findings(host: dict) -> list[str]:
    return [f["advisory"] for f in host.get("findings", []) if f.get("module") == "mpt3sas"]


def _wait_reachable(demo: Demo, host: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = demo.run("lab", "status", "--name", demo.lab, "--json", quiet=True).json()
        if any(h["name"] == host and h.get("state") == "up" for h in status["hosts"]):  # type: ignore[index]
            return
        time.sleep(1)
    raise StepFailed(f"{host} did not come back after its panic")


def story(demo: Demo) -> None:
    inventory = str(demo.inventory)
    demo.step(
        1, "The lab fleet", "twelve hosts, each a network namespace with its own sshd and kernel surfaces"
    )
    demo.run("lab", "up", "--scenario", "seed", "--name", demo.lab, timeout=600)
    demo.run("lab", "inventory", "--name", demo.lab, "--output", inventory, quiet=True)
    controller = demo.run("lab", "status", "--name", demo.lab, "--json", quiet=True).json()["controller_ip"]  # type: ignore[index]

    demo.step(2, "Audit", "who runs the known-bad mpt3sas build, who cannot capture a crash, who is down")
    demo.run("audit", "-i", inventory, expect=(4,))
    audit = demo.audit_json()
    at_risk = _hosts_with(audit, lambda h: bool(_mpt3sas_findings(h)))
    blind = _hosts_with(
        audit, lambda h: h.get("crash_capture") is not None and not h["crash_capture"]["ready"]
    )
    if not at_risk or not blind:
        raise StepFailed(f"expected hosts at risk and hosts without capture; got {at_risk} and {blind}")
    provoked = sorted(set(at_risk) & set(blind))[0]
    demo.show(f"   -> mpt3sas at risk: {', '.join(at_risk)}; no working crash capture: {', '.join(blind)}")

    demo.step(3, "Crash capture", f"kdump and netconsole to this log host ({controller}); the diff first")
    listener = subprocess.Popen(
        [FLEETFIX, "listen", "--bind", controller, "--port", "6666"],
        env=demo.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        limit = ",".join(blind)
        demo.show(f"$ fleetfix listen --bind {controller} --port 6666 &   (the log host's receiver)")
        demo.run(
            "capture",
            "enable",
            "-i",
            inventory,
            "-l",
            limit,
            "--log-host",
            controller,
            "--check",
            expect=(0, 1),
        )
        demo.run("capture", "enable", "-i", inventory, "-l", limit, "--log-host", controller, "--reboot")
        status = demo.run("capture", "status", "-i", inventory, "-l", limit, "--format", "json", quiet=True)
        not_ready = [h["host"] for h in status.json()["hosts"] if not h.get("ready")]  # type: ignore[index]
        if not_ready:
            raise StepFailed(f"capture still not ready on {', '.join(not_ready)}")

        demo.step(
            4, "The nightly backup fires", f"its deep random reads panic {provoked} (the bad build's race)"
        )
        demo.run(
            str(BIN / "ansible"), "-i", inventory, provoked, "-m", "ansible.builtin.command",
            "-a", f"env BACKUP_VERIFY_SECONDS=30 {BACKUP}",
            expect=(2, 4, 8),
            timeout=180,
        )  # fmt: skip
        _wait_reachable(demo, provoked)
    finally:
        listener.send_signal(signal.SIGINT)
        listener.wait(timeout=30)

    demo.step(
        5,
        "Collect and triage",
        "the module, the job the crashes line up with, the chance it is a coincidence",
    )
    demo.run("collect", "-i", inventory, expect=(4,))
    demo.run("triage", expect=(1,))
    document = demo.run("triage", "--format", "json", expect=(1,), quiet=True).json()
    group = next((g for g in document["groups"] if g.get("module") == "mpt3sas"), None)  # type: ignore[index]
    if group is None or provoked not in group["hosts"]:
        raise StepFailed(f"triage did not put {provoked}'s crash in an mpt3sas group")
    jobs = [c["job"] for c in group.get("correlations", [])]
    if BACKUP not in jobs:
        raise StepFailed(f"triage did not correlate the crashes with {BACKUP} (found {jobs})")

    reproducer = next(h for h in at_risk if h != provoked)
    demo.step(
        6,
        "Reproduce on demand",
        f"the read-only fio thrash on {reproducer}: the soak fails because it panics",
    )
    demo.run("soak", "-i", inventory, "-l", reproducer, "--module", "mpt3sas", "--runtime", "20", expect=(1,))
    _wait_reachable(demo, reproducer)

    demo.step(
        7, "Remediate in a window", f"{FIXED_BUILD} in batches of three, killed after the first, then resumed"
    )
    start = datetime.now(UTC) - timedelta(minutes=1)
    window = f"{start:%Y-%m-%dT%H:%MZ}/PT1H"
    args = ["remediate", "-i", inventory, "--module", "mpt3sas", "--to", FIXED_BUILD, "--window", window]
    args += ["--batch", "3"]
    args += ["--soak-runtime", "10", "--yes"]
    demo.show(f"$ {shlex.join(['fleetfix', *args])} &   (killed with SIGKILL once the first batch is done)")
    remediation = subprocess.Popen(
        [FLEETFIX, *args], env=demo.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _kill_after_first_batch(demo, remediation)
    finally:
        if remediation.poll() is None:
            remediation.kill()
        remediation.wait(timeout=30)
    demo.run("runs")
    demo.run("remediate", "-i", inventory, "--resume", "--yes", expect=(0, 4), timeout=900)

    demo.step(8, "Audit again", "no host carries the bad mpt3sas build any more (db07 is still down)")
    demo.run("audit", "-i", inventory, expect=(1, 4))
    still = _hosts_with(demo.audit_json(), lambda h: bool(_mpt3sas_findings(h)))
    if still:
        raise StepFailed(f"mpt3sas still at risk on {', '.join(still)}")

    demo.step(
        9, "The change record", "every host's steps and soak figures, as Markdown for the change ticket"
    )
    demo.run("runs", "show", "1", "--format", "markdown")


def _kill_after_first_batch(demo: Demo, remediation: subprocess.Popen) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if remediation.poll() is not None:
            said = remediation.stderr.read().decode(errors="replace").strip() if remediation.stderr else ""
            last = said.splitlines()[-1] if said else ""
            raise StepFailed(
                f"the remediation ended (exit {remediation.returncode}) before it was killed: {last}"
            )
        shown = demo.run("runs", "show", "1", "--format", "json", expect=(0, 3), quiet=True)
        if shown.code == 0:
            hosts = shown.json()["hosts"]  # type: ignore[index]
            if sum(1 for h in hosts if h.get("status") == "done") >= 3:
                remediation.kill()
                return
        time.sleep(2)
    raise StepFailed("the first batch did not finish in 10 minutes")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="Leave the lab up at the end.")
    parser.add_argument("--name", default="demo", help="The lab's name (default: demo).")
    options = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("demo: the lab fleet needs root (network namespaces); run 'sudo make demo'", file=sys.stderr)
        return 5
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fleetfix-demo-") as state:
        demo = Demo(Path(state), options.name, lambda text: print(text, flush=True))
        try:
            story(demo)
        except (StepFailed, subprocess.TimeoutExpired) as exc:
            print(f"\ndemo: failed: {exc}", file=sys.stderr)
            status = 1
        else:
            print(f"\ndemo: every step did what it should ({time.monotonic() - started:.0f} s)")
            status = 0
        finally:
            if options.keep:
                print(
                    f"demo: the lab is still up; '{FLEETFIX} lab down --name {options.name}' removes it",
                    file=sys.stderr,
                )
            else:
                down = subprocess.run(
                    [FLEETFIX, "lab", "down", "--name", demo.lab],
                    env=demo.lab_env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if down.returncode != 0:
                    print(f"demo: tearing the lab down failed: {down.stderr.strip()}", file=sys.stderr)
                    status = status or 1
    return status


if __name__ == "__main__":
    sys.exit(main())
