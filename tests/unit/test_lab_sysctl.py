"""The lab's per-host kernel settings (fleetfix/lab/guest/sysctl.py): boot values from sysctl.d as
systemd-sysctl orders them, and a sysctl stand-in that writes only those settings, never the machine's.
Every path is redirected into the test's directory: nothing here can reach the real /proc/sys."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetfix.lab.guest import sysctl


@pytest.fixture()
def proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proc"
    (root / "sys/kernel").mkdir(parents=True)
    for name in ("panic_on_oops", "hung_task_panic", "panic"):
        (root / "sys/kernel" / name).write_text("0\n")
    monkeypatch.setattr(sysctl, "_path", lambda name: root / "sys" / name.replace(".", "/"))
    return root


def test_boot_values_follow_sysctl_d(tmp_path: Path) -> None:
    for directory, name, text in (
        ("usr/lib/sysctl.d", "50-default.conf", "kernel.panic_on_oops = 0\nkernel.softlockup_panic=1\n"),
        ("etc/sysctl.d", "90-fleetfix-crash-capture.conf", "# made\nkernel.panic_on_oops = 1\n"),
        ("etc/sysctl.d", "99-sysctl.conf", "kernel.panic = 10\n"),  # not per host: never applied
    ):
        (tmp_path / directory).mkdir(parents=True, exist_ok=True)
        (tmp_path / directory / name).write_text(text)
    defaults = {"sys/kernel/panic_on_oops": "0\n", "sys/kernel/hung_task_panic": "0\n"}
    assert sysctl.at_boot(defaults, tmp_path) == {
        "sys/kernel/panic_on_oops": "1\n",
        "sys/kernel/hung_task_panic": "0\n",
        "sys/kernel/softlockup_panic": "1\n",
    }


def test_writes_only_per_host_settings(proc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sysctl.main(["-q", "-w", "kernel.panic_on_oops=1"]) == 0
    assert (proc / "sys/kernel/panic_on_oops").read_text() == "1\n"
    assert sysctl.main(["-w", "kernel.panic=5"]) == 255
    assert (proc / "sys/kernel/panic").read_text() == "0\n"
    assert "permission denied on key 'kernel.panic'" in capsys.readouterr().err
    assert sysctl.main(["--system"]) == 1 and sysctl.main(["-a"]) == 1
    assert sysctl.main(["-n", "kernel/hung_task_panic"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0"
