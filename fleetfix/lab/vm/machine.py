"""``Vm``: boot the built image under QEMU, reach it over ssh, describe it to Ansible, stop it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleetfix.errors import EnvironmentProblem
from fleetfix.lab import inventory
from fleetfix.lab.vm import driver, hostcmd, image, qemu, rootfs
from fleetfix.lab.vm.layout import ImageFiles, VmFiles

BOOT_TIMEOUT = 600.0  # boot to ssh takes 30-120 s under TCG; a loaded machine can triple that
_CONSOLE_TAIL = 8


def require_root() -> None:
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "fleetfix lab vm needs root (debootstrap, chroot and mounts to build the image): run it with sudo"
        )


def _ssh_options(key: Path, known_hosts: Path) -> list[str]:
    """The lab's ssh options, plus keep-alives: a session to a guest that panicked ends in seconds, not at
    TCP's pace."""
    keepalive = ["-o", "LogLevel=ERROR", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
    return [*inventory.ssh_options(key, known_hosts), *keepalive]


def _remediation_source() -> dict[str, Any]:
    """The hba_driver role's settings for fxhba: packages from the guest's repository, one package version
    per module version."""
    return {
        "source": "package",
        "package_name": driver.PACKAGE,
        "package_versions": {b.version: b.package_version for b in driver.BUILDS},
    }


class Vm:
    def __init__(
        self, name: str = "default", extra_kernel_args: Sequence[str] = (), boot_loader: bool = False
    ) -> None:
        """``extra_kernel_args`` join the guest's kernel command line on ``up`` (a ramoops region, say), for
        a direct boot; ``boot_loader`` boots the disk's GRUB instead, which loads what the guest's /boot holds
        at each boot (a rebuilt initramfs included)."""
        self.name = name
        self.files = VmFiles.named(name)
        self.extra_kernel_args = tuple(extra_kernel_args)
        self.boot_loader = boot_loader

    def _state(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.files.state.read_text())
        except (OSError, ValueError):
            return None

    def _running_state(self) -> dict[str, Any]:
        state = self._state()
        if state is None or not qemu.alive(state["pid"], self.name):
            raise EnvironmentProblem(f"vm {self.name} is not running: fleetfix lab vm up --name {self.name}")
        return state

    def running(self) -> bool:
        state = self._state()
        return state is not None and qemu.alive(state["pid"], self.name)

    def up(self, progress: image.Progress, boot_timeout: float = BOOT_TIMEOUT) -> dict[str, Any]:
        """Build (or take the cached) image, boot it, wait for ssh. Returns the VM's state."""
        hostcmd.require_tools(qemu.TOOLS)
        if self.running():
            raise EnvironmentProblem(f"vm {self.name} is running: fleetfix lab vm down --name {self.name}")
        built = image.build(progress)
        shutil.rmtree(self.files.root, ignore_errors=True)
        self.files.root.mkdir(parents=True)
        port = qemu.free_port()
        host_key = built.host_key_pub.read_text().split()
        self.files.known_hosts.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        qemu.make_overlay(built, self.files)
        started = time.monotonic()
        command = qemu.argv(self.name, built, self.files, port, self.extra_kernel_args, self.boot_loader)
        pid = qemu.start(command, self.files)
        state = {
            "name": self.name,
            "pid": pid,
            "ssh_port": port,
            "image": str(built.root),
            "kernel_release": image.manifest(built)["kernel_release"],
            "boot": "grub" if self.boot_loader else "direct",
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.files.state.write_text(json.dumps(state, indent=1) + "\n")
        progress(f"QEMU pid {pid}, ssh on 127.0.0.1:{port}, console {self.files.console}")
        self.wait_for_ssh(boot_timeout)
        state["boot_seconds"] = round(time.monotonic() - started, 1)
        self.files.state.write_text(json.dumps(state, indent=1) + "\n")
        progress(f"ssh answered {state['boot_seconds']} s after QEMU started")
        return state

    def down(self) -> bool:
        """Stop QEMU by its recorded PID and drop the VM's disk. False when nothing was running."""
        state = self._state()
        if state is None:
            return False
        was_running = qemu.alive(state["pid"], self.name)
        qemu.stop(state["pid"], self.name)
        self.files.overlay.unlink(missing_ok=True)
        self.files.state.unlink(missing_ok=True)
        self.files.pid.unlink(missing_ok=True)
        return was_running

    def image(self) -> ImageFiles:
        return ImageFiles(Path(self._running_state()["image"]))

    def ssh_argv(self, command: Sequence[str] = (), connect_timeout: int = 10) -> list[str]:
        state = self._running_state()
        options = _ssh_options(self.image().client_key, self.files.known_hosts)
        options += ["-o", f"ConnectTimeout={connect_timeout}", "-p", str(state["ssh_port"])]
        return ["ssh", *options, "root@127.0.0.1", *command]

    def run(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a shell command in the guest; the result whatever its exit status (255: ssh itself failed)."""
        try:
            return subprocess.run(
                self.ssh_argv([command]), capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(command, 255, "", f"no answer in {timeout:.0f} s")

    def wait_for_ssh(self, timeout: float = BOOT_TIMEOUT) -> float:
        """Seconds until the guest answers ssh; QEMU dying or the timeout raises with the console's end."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            state = self._state()
            if state is None or not qemu.alive(state["pid"], self.name):
                raise EnvironmentProblem(f"vm {self.name}: QEMU exited while booting: {self.console_tail()}")
            if self.run("true", timeout=30).returncode == 0:
                return time.monotonic() - started
            time.sleep(2)
        raise EnvironmentProblem(f"vm {self.name}: no ssh after {timeout:.0f} s: {self.console_tail()}")

    def console_tail(self, lines: int = _CONSOLE_TAIL) -> str:
        try:
            text = self.files.console.read_text(errors="replace")
        except OSError:
            return "(no console log)"
        return " | ".join(line.strip() for line in text.splitlines()[-lines:])

    def reset(self) -> None:
        """Press the guest's reset button (a guest hung after a panic comes back through a normal boot)."""
        self._running_state()
        qemu.monitor(self.files, "system_reset")

    def status(self) -> dict[str, Any]:
        state = self._state() or {"name": self.name}
        return {**state, "running": self.running(), "console": str(self.files.console)}

    def inventory(self) -> dict[str, Any]:
        """YAML-ready Ansible inventory: the guest in group ``fxhba_hosts``, root over the forwarded port."""
        state = self._running_state()
        options = _ssh_options(self.image().client_key, self.files.known_hosts)[2:]
        return {
            "all": {
                "vars": {
                    "ansible_user": "root",
                    "ansible_ssh_private_key_file": str(self.image().client_key),
                    "ansible_ssh_common_args": " ".join(options),
                    "ansible_python_interpreter": "/usr/bin/python3",
                    "fleetfix_lab": f"vm-{self.name}",
                    "fleetfix_lab_controller_ip": rootfs.HOST_FROM_GUEST,
                },
                "children": {
                    "fxhba_hosts": {
                        "hosts": {
                            rootfs.HOSTNAME: {"ansible_host": "127.0.0.1", "ansible_port": state["ssh_port"]}
                        },
                        # How fleetfix remediate finds each fxhba build: the guest's own apt repository.
                        "vars": {"hba_driver_drivers": {driver.MODULE: _remediation_source()}},
                    }
                },
            }
        }
