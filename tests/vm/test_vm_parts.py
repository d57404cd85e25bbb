"""The VM lab's parts that need no QEMU: the archive to build from, the guest command line, the advisory."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetfix.advisories.schema import load_advisories
from fleetfix.errors import EnvironmentProblem
from fleetfix.lab.vm import driver, image, mirror, qemu
from fleetfix.lab.vm.commands import vm
from fleetfix.lab.vm.layout import ImageFiles, VmFiles

REPO = Path(__file__).resolve().parents[2]


def _apt(tmp_path: Path, sources_list: str = "", parts: dict[str, str] | None = None) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(sources_list)
    for name, text in (parts or {}).items():
        (tmp_path / "sources.list.d" / name).write_text(text)
    return tmp_path


def test_mirror_from_deb822_skips_security_and_foreign_archives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLEETFIX_VM_MIRROR", raising=False)
    apt = _apt(
        tmp_path,
        parts={
            "a-node.sources": (
                "Types: deb\nURIs: https://nodes.example/node_20.x\nSuites: nodistro\nComponents: main\n"
            ),
            "debian.sources": (
                "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n"
                "Components: main\n\n"
                "Types: deb\nURIs: http://archive.example/debian\nSuites: bookworm bookworm-updates\n"
                "Components: main\n"
            ),
        },
    )
    assert mirror.debian_mirror(apt) == "http://archive.example/debian"


def test_mirror_from_one_line_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEETFIX_VM_MIRROR", raising=False)
    apt = _apt(tmp_path, "# old\ndeb [arch=amd64] http://archive.example/debian trixie main contrib\n")
    assert mirror.debian_mirror(apt) == "http://archive.example/debian"


def test_mirror_missing_is_an_environment_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEETFIX_VM_MIRROR", raising=False)
    with pytest.raises(EnvironmentProblem, match="FLEETFIX_VM_MIRROR"):
        mirror.debian_mirror(_apt(tmp_path))
    monkeypatch.setenv("FLEETFIX_VM_MIRROR", "http://mine.example/debian")
    assert mirror.debian_mirror(tmp_path) == "http://mine.example/debian"


def test_guest_command_line_reaches_only_the_host(tmp_path: Path) -> None:
    argv = qemu.argv("t", ImageFiles(tmp_path / "img"), VmFiles(tmp_path / "vm"), 2222)
    assert argv[argv.index("-append") + 1].split() == [
        "root=/dev/vda1",
        "rw",
        "console=ttyS0",
        "crashkernel=256M",
    ]
    netdev = argv[argv.index("-netdev") + 1]
    assert "hostfwd=tcp:127.0.0.1:2222-:22" in netdev
    assert argv[argv.index("-cpu") + 1] == "max" and argv[argv.index("-m") + 1] == "2048"
    assert argv[argv.index("-pidfile") + 1] == str(tmp_path / "vm/qemu.pid")


def test_a_boot_through_grub_hands_qemu_no_kernel(tmp_path: Path) -> None:
    argv = qemu.argv("t", ImageFiles(tmp_path / "img"), VmFiles(tmp_path / "vm"), 2222, boot_loader=True)
    assert not {"-kernel", "-initrd", "-append"} & set(argv)
    assert f"file={tmp_path / 'vm/disk.qcow2'},if=virtio,format=qcow2,cache=unsafe" in argv
    with pytest.raises(ValueError, match="takes its kernel arguments from grub"):
        qemu.argv("t", ImageFiles(tmp_path), VmFiles(tmp_path), 2222, ("quiet",), boot_loader=True)


def test_cache_key_follows_the_driver_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "fxhba"
    shutil.copytree(driver.SOURCE_DIR, source)
    monkeypatch.setattr(driver, "SOURCE_DIR", source)
    before = image.cache_key()
    assert image.cache_key() == before
    (source / "fxhba.c").write_text((source / "fxhba.c").read_text() + "/* changed */\n")
    assert image.cache_key() != before


def test_lab_advisory_flags_1_0_0_and_not_1_0_1() -> None:
    db = load_advisories([REPO / "advisories", REPO / "fleetfix/lab/vm/advisories"])
    assert [m.advisory.id for m in db.match("fxhba", "1.0.0")] == ["fxhba-slot-claim-race"]
    assert db.match("fxhba", "1.0.1") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="the vm commands need root")
def test_commands_on_a_vm_that_is_not_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETFIX_STATE_DIR", str(tmp_path))
    shown = CliRunner().invoke(vm, ["status", "--name", "absent"])
    assert (shown.exit_code, shown.output) == (0, "absent: not running\n")
    asked = CliRunner().invoke(vm, ["inventory", "--name", "absent"])
    assert isinstance(asked.exception, EnvironmentProblem)
    assert "vm absent is not running" in str(asked.exception)
    stopped = CliRunner().invoke(vm, ["down", "--name", "absent"])
    assert stopped.exit_code == 0 and "was not running" in stopped.output
