"""pstore readiness: the filesystem mounted, a backend registered, systemd-pstore enabled (real files)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import msgspec
import pytest

from fleetfix.facts.crash_capture import Pstore, PstoreReadiness
from tests.support import REPO, collection_plugin

ff = collection_plugin("modules.fleetfix_facts")
_mountinfo = collection_plugin("module_utils.mountinfo")
fstypes = _mountinfo.fstypes
parse_mountinfo = _mountinfo.parse_mountinfo
rules = collection_plugin("module_utils.capture_readiness")
TREE = REPO / "tests" / "data" / "pstore" / "efi"


class SystemctlRunner:
    """The two calls the facts module makes of AnsibleModule, answered by this machine's systemctl."""

    def get_bin_path(self, name: str) -> str | None:
        return shutil.which(name)

    def run_command(self, argv: list[str]) -> tuple[int, str, str]:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr


def _read_pstore(host: ff.Host) -> dict[str, object]:
    """The pstore facts of a captured tree, systemd asked as the module asks it."""
    states = ff.unit_states(SystemctlRunner(), host, ff.units_asked(host))
    return ff.read_pstore(host, states, parse_mountinfo(host.text("/proc/self/mountinfo")))


class ShowRunner:
    """A live host's systemctl, as far as ``systemctl show`` of several units goes: one block per unit, in
    the order asked, a blank line between blocks (systemctl(1), show)."""

    def __init__(self, out: str) -> None:
        self.out, self.calls = out, []

    def get_bin_path(self, name: str) -> str:
        return "/usr/bin/" + name

    def run_command(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(argv)
        return 0, self.out, ""


def test_one_systemctl_show_answers_for_every_unit() -> None:
    out = (
        "Id=kdump-tools.service\nActiveState=active\nUnitFileState=enabled\n\n"
        "Id=systemd-pstore.service\nActiveState=inactive\nUnitFileState=disabled\n"
    )
    runner, host = ShowRunner(out), ff.Host("/")
    states = ff.unit_states(runner, host, ["kdump-tools.service", "systemd-pstore.service"])
    assert states == {
        "kdump-tools.service": ("enabled", "active"),
        "systemd-pstore.service": ("disabled", "inactive"),
    }
    assert len(runner.calls) == 1 and host.errors == []
    shifted = ff.unit_states(
        ShowRunner("Id=kdump-tools.service\n"), host, ["kdump-tools.service", "x.service"]
    )
    assert shifted == {"kdump-tools.service": (None, None), "x.service": (None, None)}
    assert [e["surface"] for e in host.errors] == [
        "systemctl show kdump-tools.service",
        "systemctl show x.service",
    ]


def test_mount_types_of_real_mountinfo_lines() -> None:
    text = (TREE / "proc/self/mountinfo").read_text()
    selinux = (
        "332 329 0:31 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:253 master:8 - pstore none rw"
    )
    assert fstypes(parse_mountinfo(text))["/sys/fs/pstore"] == "pstore"
    assert fstypes(parse_mountinfo(selinux)) == {"/sys/fs/pstore": "pstore"}


@pytest.mark.skipif(shutil.which("systemctl") is None, reason="needs systemctl for --root is-enabled")
def test_an_efi_pstore_host_is_usable() -> None:
    facts = _read_pstore(ff.Host(str(TREE)))
    assert facts == {
        "mounted": True,
        "backend": "efi_pstore",
        "service_installed": True,
        "service_enabled": True,
        "records": ["dmesg-efi-170184583901001", "dmesg-efi-170184583902001"],
        "archived": [],
        "files": ff.read_pstore_files(ff.Host(str(TREE))),
        "crash_kexec_post_notifiers": None,
    }
    assert [f["relative"] for f in facts["files"]] == facts["records"]
    msgspec.convert(facts, Pstore)
    found = rules.pstore({"pstore": facts})
    assert found == {
        "usable": True,
        "backend": "efi_pstore",
        "detail": "pstore through efi_pstore, archived by systemd-pstore",
    }


def test_what_is_missing_is_said() -> None:
    facts = {"mounted": True, "backend": None, "service_installed": True, "service_enabled": False}
    found = msgspec.convert(rules.pstore({"pstore": facts}), PstoreReadiness)
    assert not found.usable
    assert found.detail == "no pstore backend registered (efi_pstore, ramoops); systemd-pstore not enabled"


def test_a_host_without_a_backend(tmp_path: Path) -> None:
    backend = tmp_path / "sys/module/pstore/parameters/backend"
    backend.parent.mkdir(parents=True)
    backend.write_text("(null)\n")  # what this machine's kernel shows without a backend
    facts = _read_pstore(ff.Host(str(tmp_path)))
    assert (facts["mounted"], facts["backend"], facts["service_installed"]) == (False, None, False)
    assert rules.pstore({"pstore": facts})["detail"].startswith("pstore filesystem not mounted")


def test_kdump_loaded_without_post_notifiers_leaves_pstore_empty() -> None:
    facts = {"mounted": True, "backend": "efi_pstore", "service_installed": True, "service_enabled": True}
    capture = {"kexec_crash_loaded": True, "pstore": facts | {"crash_kexec_post_notifiers": False}}
    found = rules.pstore(capture)
    assert not found["usable"]
    assert found["detail"] == "kdump takes a panic before pstore sees it (crash_kexec_post_notifiers is off)"
    assert rules.pstore(capture | {"pstore": facts | {"crash_kexec_post_notifiers": True}})["usable"]


def test_pstore_files_live_and_archived_with_their_times(tmp_path: Path) -> None:
    from fleetfix.commands.collect import keep_pstore_times

    records = REPO / "tests" / "data" / "pstore" / "efi-ath11k" / "1674425470" / "001"
    live = tmp_path / "sys/fs/pstore"
    live.mkdir(parents=True)
    shutil.copy(REPO / "tests/data/pstore/ramoops-rpi/dmesg-ramoops-0", live)
    archive = tmp_path / "var/lib/systemd/pstore/1674425470/001"
    shutil.copytree(records, archive)
    (archive / "dmesg.txt").write_text("Panic#1 Part1\n")
    (tmp_path / "var/lib/systemd/pstore/1674425470/001/deeper").mkdir()  # below two levels: not listed
    (tmp_path / "var/lib/systemd/pstore/1674425470/001/deeper/x").write_text("")
    os.utime(live / "dmesg-ramoops-0", (1791255300, 1791255300))
    files = ff.read_pstore_files(ff.Host(str(tmp_path)))
    assert files[-1] == {
        "origin": "live",
        "path": "/sys/fs/pstore/dmesg-ramoops-0",
        "relative": "dmesg-ramoops-0",
        "mtime": 1791255300,
        "size": (live / "dmesg-ramoops-0").stat().st_size,
    }
    archived = [f["relative"] for f in files if f["origin"] == "archive"]
    assert len(archived) == 12 and "1674425470/001/dmesg.txt" in archived
    msgspec.convert({"files": files}, Pstore)

    store = tmp_path / "store"
    copy = store / "h1" / "pstore" / "live-1791255300" / "dmesg-ramoops-0"
    copy.parent.mkdir(parents=True)
    copy.write_text("fetched")
    facts = {"crash_capture": {"pstore": {"files": files}}}
    assert keep_pstore_times(facts, "h1", store) == 1
    assert copy.stat().st_mtime == 1791255300
