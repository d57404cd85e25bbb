"""``Lab``: bring a namespace fleet up from a scenario, describe it, reach its hosts, tear it down."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from fleetfix.errors import EnvironmentProblem
from fleetfix.lab import discover, disks, guest_files, hostproc, inventory, network, provision, repo, rpmrepo
from fleetfix.lab.layout import Layout, labs_root
from fleetfix.lab.scenario import HostSpec, Scenario
from fleetfix.lab.scenario_load import load_scenario

_TOOLS = ("ip", "losetup", "ssh-keygen", "dpkg-deb", "/usr/sbin/sshd", "/usr/bin/python3", "ssh")
_EL_TOOLS = ("rpm", "rpmbuild", "createrepo_c", "dnf")
# hosts boot in parallel on the machine's few cores: 300 took 52 s on 2 cores, 1,000 outlast a fixed 120 s
_BOOT_TIMEOUT = 120.0
_BOOT_TIMEOUT_PER_HOST = 0.5
_FIRST_HOST = 10  # host addresses start at the 10th of the lab's subnet (a /24 up to 244 hosts)


@dataclass(frozen=True)
class HostInfo:
    name: str
    ip: str
    groups: tuple[str, ...]
    disks: tuple[str, ...]
    state: str  # up, down, booting, off, stopped


def require_root() -> None:
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "fleetfix lab needs root (network namespaces, mounts, loop devices): run it with sudo"
        )


def _require_tools(el: bool) -> None:
    missing = [t for t in _TOOLS if shutil.which(t) is None]
    if missing:
        raise EnvironmentProblem(
            f"fleetfix lab needs {', '.join(missing)} (apt-get install iproute2 util-linux openssh-server "
            "openssh-client dpkg python3)"
        )
    missing = [t for t in _EL_TOOLS if shutil.which(t) is None]
    if el and missing:
        raise EnvironmentProblem(
            f"EL hosts in the lab need {', '.join(missing)} (apt-get install rpm dnf createrepo-c)"
        )


def _alive(pid: int | None, start: int | None) -> bool:
    return bool(pid) and start is not None and hostproc.start_time(pid) == start


class Lab:
    def __init__(self, name: str = "default") -> None:
        self.layout = Layout(name)
        if self.layout.read_state() is None:
            # Started under another state directory: its supervisor knows which.
            for _pid, root in discover.supervisors(name):
                if Layout(name, root).read_state() is not None:
                    self.layout = Layout(name, root)
                    break

    @property
    def name(self) -> str:
        return self.layout.name

    @property
    def key_file(self) -> Path:
        return self.layout.key_file

    @property
    def known_hosts(self) -> Path:
        return self.layout.known_hosts

    # ---- bring-up -------------------------------------------------------------------------------------

    def up(self, scenario: Scenario | str = "seed", hosts: int | list[str] | None = None) -> list[HostInfo]:
        require_root()
        if self.layout.dir.exists() or self.layout.read_state():
            self.down()
        scenario_obj = load_scenario(scenario) if isinstance(scenario, str) else scenario
        chosen = self._select(scenario_obj, hosts)
        _require_tools(any(h.group.distro.is_el for h in chosen))
        layout = self.layout
        taken = {s["subnet"] for s in (Layout(p.name).read_state() for p in labs_root().glob("*")) if s}
        subnet = network.pick_subnet(layout.lab_id, taken, _FIRST_HOST + len(chosen))
        addresses = list(subnet.hosts())
        state: dict[str, Any] = {
            "name": self.name,
            "scenario": scenario_obj.source,
            "subnet": str(subnet),
            "bridge": layout.bridge,
            "gateway": str(addresses[0]),
            "faults": [asdict(f) for f in scenario_obj.faults],
            "drivers": inventory.driver_sources(scenario_obj.packages),
            "hosts": {},
        }
        for index, host in enumerate(chosen):
            state["hosts"][host.name] = {
                "index": index,
                "ip": str(addresses[_FIRST_HOST - 1 + index]),
                "netns": layout.netns(host.name),
                "veth": layout.veth(index),
                "groups": list(host.groups),
                "state": host.group.state,
                "kernel_version": host.group.kernel_version,
                "disks": [d.name for m in host.group.modules for d in m.disks],
                "disks_by_module": {m.name: [d.name for d in m.disks] for m in host.group.modules},
            }
        layout.write_state(state)  # first, so that a crash from here on can still be cleaned up
        try:
            self._build(scenario_obj, chosen, state)
            self._start_supervisor(state)
            self._wait_booted(state)
        except BaseException:
            self._dump_failure()
            self.down()
            raise
        return self.hosts()

    def _select(self, scenario: Scenario, hosts: int | list[str] | None) -> list[HostSpec]:
        every = scenario.hosts()
        if hosts is None:
            return every
        if isinstance(hosts, int):
            return every[:hosts] if hosts <= len(every) else _grown(scenario, hosts)
        by_name = {h.name: h for h in every}
        unknown = [h for h in hosts if h not in by_name]
        if unknown:
            raise EnvironmentProblem(f"scenario {scenario.name} has no host {', '.join(unknown)}")
        return [by_name[h] for h in hosts]

    def _build(self, scenario: Scenario, chosen: list[HostSpec], state: dict[str, Any]) -> None:
        layout = self.layout
        hosts = state["hosts"]
        network.create(
            layout.bridge,
            network.ipaddress.ip_network(state["subnet"]),
            [(h["netns"], h["veth"], h["ip"]) for h in hosts.values()],
        )
        gateway_mac = Path(f"/sys/class/net/{layout.bridge}/address").read_text().strip()
        preload = guest_files.build_preload(labs_root() / ".cache")
        built = repo.build(layout.repo_dir, scenario.packages)
        el_kernels = {k: v for k, v in scenario.el_kernels().items() if any(h.group.os == k for h in chosen)}
        if el_kernels:
            rpmrepo.build(layout.repo_dir, scenario.packages, el_kernels)
        preinstalled = provision.Preinstalled(
            kdump_tools=next(b for b in built if b.name == "kdump-tools"),
            rpm_dir=layout.repo_dir / rpmrepo.SUBDIR if el_kernels else None,
        )
        ssh_dir = layout.key_file.parent
        ssh_dir.mkdir(parents=True, exist_ok=True)
        _keygen(layout.key_file, f"fleetfix-lab-{self.name}")
        authorized = layout.key_file.with_suffix(".pub").read_text().strip()

        def one(host: HostSpec) -> str:
            info = hosts[host.name]
            host_dir = layout.host_dir(host.name)
            host_dir.mkdir(parents=True, exist_ok=True)
            host_key = host_dir / "ssh_host_ed25519_key"
            _keygen(host_key, f"root@{host.name}")
            controllers = []
            for number, module in enumerate(host.group.modules):
                attached = []
                for disk in module.disks:
                    device = disks.attach(host_dir / "disks" / disk.name, disk.size_bytes)
                    major, minor = disks.device_numbers(device)
                    attached.append(
                        {
                            "name": disk.name,
                            "size_bytes": disk.size_bytes,
                            "rotational": disk.rotational,
                            "major": major,
                            "minor": minor,
                        }
                    )
                controllers.append(
                    provision.Controller(
                        driver=module.name,
                        boot_disk=module.boot_disk,
                        pci=f"0000:{0x81 + number:02x}:00.0",
                        host_no=number,
                        disks=tuple(attached),
                    )
                )
            panic_on_oops = host.group.crash_capture.panic_on_oops_at_boot(host.group.distro.is_el)
            boot_spec = {
                "name": host.name,
                "state": host.group.state,
                "kernel_version": host.group.kernel_version,
                "authorized_key": authorized,
                "repo_dir": str(layout.repo_dir),
                # kernel settings faked per host, before the host's sysctl.d is applied over them
                "sysctl": {
                    "sys/kernel/panic_on_oops": f"{int(panic_on_oops)}\n",
                    "sys/kernel/hung_task_panic": "0\n",
                    "sys/kernel/softlockup_panic": "0\n",
                },
                "secure_boot": None
                if host.group.secure_boot is None
                else {"enabled": host.group.secure_boot.enabled, "lockdown": host.group.secure_boot.lockdown},
            }
            installed = [scenario.preinstalled(m) for m in host.group.modules if m.package is not None]
            provision.provision(
                host_dir,
                host,
                info["ip"],
                state["gateway"],
                gateway_mac,
                host_key,
                preload,
                preinstalled,
                controllers,
                boot_spec,
                [b for b in built for p in installed if p and (b.name, b.version) == (p.name, p.version)],
            )
            pub = host_key.with_suffix(".pub").read_text().split()
            return f"{info['ip']} {pub[0]} {pub[1]}\n"

        with ThreadPoolExecutor(max_workers=4) as pool:
            lines = list(pool.map(one, chosen))
        layout.known_hosts.write_text("".join(lines))

    def _start_supervisor(self, state: dict[str, Any]) -> None:
        log = open(self.layout.supervisor_log, "ab")  # noqa: SIM115 - handed to the daemon
        proc = subprocess.Popen(
            [sys.executable, "-m", "fleetfix.lab.supervisor", self.name],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        log.close()
        state["supervisor"] = {"pid": proc.pid, "start": hostproc.start_time(proc.pid)}
        self.layout.write_state(state)

    def _wait_booted(self, state: dict[str, Any]) -> None:
        deadline = time.monotonic() + max(_BOOT_TIMEOUT, _BOOT_TIMEOUT_PER_HOST * len(state["hosts"]))
        pending = dict(state["hosts"])
        while pending and time.monotonic() < deadline:
            status = self._status_file().get("hosts", {})
            for name in list(pending):
                host_state = status.get(name, {}).get("state")
                if host_state == "down" or (host_state == "up" and _port_open(pending[name]["ip"], 22)):
                    del pending[name]
            if pending:
                if not _alive(state["supervisor"]["pid"], state["supervisor"]["start"]):
                    raise EnvironmentProblem(
                        f"lab {self.name}: supervisor died; see {self.layout.supervisor_log}"
                    )
                time.sleep(0.1)
        if pending:
            raise EnvironmentProblem(
                f"lab {self.name}: hosts did not boot in time: {', '.join(sorted(pending))}"
            )

    def _dump_failure(self) -> None:
        for path in [self.layout.supervisor_log, *self.layout.dir.glob("hosts/*/console.log")]:
            if path.is_file() and path.stat().st_size:
                sys.stderr.write(f"--- {path}\n{path.read_text(errors='replace')[-2000:]}\n")

    # ---- tear-down ------------------------------------------------------------------------------------

    def down(self) -> None:
        """Stop every recorded process, remove the network, loop devices and files of this lab."""
        require_root()
        state = self.layout.read_state() or {}
        supervisor = state.get("supervisor", {})
        if _alive(supervisor.get("pid"), supervisor.get("start")):
            os.kill(supervisor["pid"], signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(supervisor["pid"], supervisor["start"]) and time.monotonic() < deadline:
                time.sleep(0.05)
        for host in self._status_file().get("hosts", {}).values():
            if _alive(host.get("pid"), host.get("start")):
                os.kill(host["pid"], signal.SIGKILL)
        if _alive(supervisor.get("pid"), supervisor.get("start")):
            os.kill(supervisor["pid"], signal.SIGKILL)
        for pid, _root in discover.supervisors(self.name):  # one no state file names
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        hosts = state.get("hosts", {})
        known = list(hosts) if hosts else None
        left = discover.namespaces(self.name, known)
        for netns in left:  # a host whose PIDs no file recorded: found by its namespace
            for pid in discover.pids_in(netns):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        network.destroy(
            state.get("bridge", self.layout.bridge),
            state.get("subnet"),
            sorted({*(h["netns"] for h in hosts.values()), *left}),
            [h["veth"] for h in hosts.values()],
        )
        disks.detach_under(self.layout.dir)
        shutil.rmtree(self.layout.dir, ignore_errors=True)

    # ---- description ----------------------------------------------------------------------------------

    def _status_file(self) -> dict[str, Any]:
        try:
            return json.loads(self.layout.status_file.read_text())
        except (OSError, ValueError):
            return {}

    def running(self) -> bool:
        supervisor = (self.layout.read_state() or {}).get("supervisor", {})
        return _alive(supervisor.get("pid"), supervisor.get("start"))

    def hosts(self) -> list[HostInfo]:
        state = self.layout.read_state() or {}
        status = self._status_file().get("hosts", {}) if self.running() else {}
        return [
            HostInfo(
                name,
                h["ip"],
                tuple(h["groups"]),
                tuple(h["disks"]),
                status.get(name, {}).get("state", "stopped"),
            )
            for name, h in sorted(state.get("hosts", {}).items(), key=lambda kv: kv[1]["index"])
        ]

    def host_pids(self) -> dict[str, int]:
        """Each running host's PID 1, as this machine numbers it."""
        hosts = self._status_file().get("hosts", {}) if self.running() else {}
        return {name: host["pid"] for name, host in hosts.items() if host.get("pid")}

    def host(self, name: str) -> HostInfo:
        for info in self.hosts():
            if info.name == name:
                return info
        raise KeyError(name)

    def status(self) -> dict[str, Any]:
        state = self.layout.read_state()
        if not state:
            # No state anywhere, yet its namespaces or supervisor may be up: say so; `lab down` ends them.
            left = discover.namespaces(self.name)
            alive = bool(discover.supervisors(self.name))
            return {
                "name": self.name,
                "running": alive or bool(left),
                "hosts": [
                    {
                        "name": ns.removeprefix(self.layout.netns("")),
                        "ip": "",
                        "groups": [],
                        "disks": [],
                        "state": "orphaned",
                    }
                    for ns in left
                ],
            }
        detail = self._status_file().get("hosts", {})
        return {
            "name": self.name,
            "running": self.running(),
            "scenario": state["scenario"],
            "subnet": state["subnet"],
            "bridge": state["bridge"],
            "controller_ip": state["gateway"],
            "hosts": [
                asdict(h) | {k: detail.get(h.name, {}).get(k) for k in ("boots", "panics", "last_panic")}
                for h in self.hosts()
            ],
        }

    @property
    def controller_ip(self) -> str:
        return (self.layout.read_state() or {})["gateway"]

    def inventory(self) -> dict[str, Any]:
        state = self.layout.read_state()
        if not state:
            raise EnvironmentProblem(f"lab {self.name} is not up (fleetfix lab up --name {self.name})")
        hosts, drivers = state["hosts"], state.get("drivers", {})
        return inventory.build(self.name, hosts, self.key_file, self.known_hosts, state["gateway"], drivers)

    def write_inventory(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.inventory(), sort_keys=False))
        return path

    def ssh(self, host: str, command: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "ssh",
                *inventory.ssh_options(self.key_file, self.known_hosts),
                "-o",
                "ConnectTimeout=5",
                f"root@{self.host(host).ip}",
                command,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )


def _keygen(path: Path, comment: str) -> None:
    if not path.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
            check=True,
            capture_output=True,
        )


def _port_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def _grown(scenario: Scenario, hosts: int) -> list[HostSpec]:
    """The first ``hosts`` of the scenario with every group's count multiplied until it has that many: a
    fleet larger than the scenario keeps its populations in the same proportions."""
    every = scenario.hosts()
    factor = -(-hosts // len(every))
    groups = tuple(replace(group, count=group.count * factor) for group in scenario.groups)
    grown = replace(scenario, groups=groups).hosts()
    names = [host.name for host in grown]
    if len(set(names)) != len(names):
        raise EnvironmentProblem(f"scenario {scenario.name}: its host names cannot grow to {hosts} hosts")
    return grown[:hosts]
