"""The fleetfix_facts module: its parsers on real captured text, and whole runs through Ansible.

The runs go through ansible-runner exactly as the audit does: once against this machine, once per captured
tree under tests/data/facts/trees through the module's ``root`` option.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import ansible_runner
import pytest

from fleetfix.facts.host import HostFacts
from tests.support import COLLECTIONS, REPO, collection_plugin, strip_provenance

DATA = REPO / "tests" / "data" / "facts"
DEBIAN = DATA / "trees" / "debian12"
EL9 = DATA / "trees" / "el9"
TARGET_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or "python3"

ff = collection_plugin("modules.fleetfix_facts")
_mountinfo = collection_plugin("module_utils.mountinfo")
parse_mountinfo = _mountinfo.parse_mountinfo
root_mount = _mountinfo.root_mount


def _tree_text(tree: Path, path: str) -> str:
    return (tree / path).read_text()


# --- /proc/modules and taint ---------------------------------------------------------------------------


def test_proc_modules_of_a_real_fc_hba_host() -> None:
    text = strip_provenance((DATA / "proc_modules" / "bugzilla-210195.txt").read_text())
    modules = {m["name"]: m for m in ff.parse_proc_modules(text)}
    assert len(modules) == len(text.strip().splitlines())
    assert modules["lpfc"] == {
        "name": "lpfc",
        "size": 921600,
        "refcount": 32,
        "used_by": [],
        "permanent": False,
        "state": "Live",
        "taint": [],
    }
    assert modules["megaraid_sas"]["size"] == 159744 and modules["megaraid_sas"]["refcount"] == 4
    assert modules["nvme_core"]["used_by"] == ["nvme_fc", "nvme_fabrics"]
    assert modules["ipmi_msghandler"]["used_by"] == ["ipmi_ssif", "ipmi_si", "ipmi_devintf"]
    assert not any(m["taint"] for m in modules.values())


def test_proc_modules_taint_markers_and_hidden_addresses() -> None:
    text = strip_provenance((DATA / "proc_modules" / "taint-markers.txt").read_text())
    modules = {m["name"]: m for m in ff.parse_proc_modules(text)}
    assert modules["usb_storage"]["taint"] == ["F"]
    assert modules["diamorphine"]["taint"] == ["O", "E"]
    assert modules["hello"]["taint"] == ["O"]
    assert modules["uvcvideo"]["state"] == "Live" and modules["uvcvideo"]["used_by"] == []
    assert modules["mc"]["used_by"] == ["uvcvideo", "videobuf2_v4l2", "videodev", "videobuf2_common"]


def test_proc_modules_shapes_from_kernel_module_procfs() -> None:
    # kernel/module/procfs.c: "- -" without CONFIG_MODULE_UNLOAD, "[permanent]," for init without exit,
    # and module_flags() adding "+" while loading.
    text = (
        "nounload 16384 - - Live 0xffffffffc0001000\n"
        "stuck 20480 1 other,[permanent], Live 0xffffffffc0002000\n"
        "lpfc 1048576 0 - Loading 0xffffffffc0003000 (OE+)\n"
    )
    nounload, stuck, loading = ff.parse_proc_modules(text)
    assert nounload["refcount"] is None and nounload["used_by"] == []
    assert stuck["used_by"] == ["other"] and stuck["permanent"] is True
    assert loading["state"] == "Loading" and loading["taint"] == ["O", "E"]


@pytest.mark.parametrize(
    ("value", "letters"),
    [
        (0, []),
        (12288, ["O", "E"]),  # the corpus mpt3sas oops: "Tainted: G           OE"
        (1, ["P"]),
        (512 | 4096, ["W", "O"]),
        (1 << 19, ["J"]),
        (1 << 25 | 1 << 13, ["E"]),
    ],
)
def test_decode_taint_follows_tainted_kernels_table(value: int, letters: list[str]) -> None:
    assert ff.decode_taint(value) == letters


# --- command line and netconsole ----------------------------------------------------------------------


def test_kernel_args_keep_quoted_values_whole() -> None:
    line = (
        'ro quiet netconsole="@/,@10.0.0.2/;@/eth1,6892@10.0.0.3/" crashkernel=512M,high crashkernel=72M,low'
    )
    assert ff.kernel_arg_values(line, "netconsole") == ["@/,@10.0.0.2/;@/eth1,6892@10.0.0.3/"]
    assert ff.kernel_arg_values(line, "crashkernel") == ["512M,high", "72M,low"]
    assert ("ro", None) in ff.split_kernel_args(line)


def test_netconsole_examples_from_the_kernel_documentation() -> None:
    (full,) = ff.parse_netconsole_param("4444@10.0.0.1/eth1,9353@10.0.0.2/12:34:56:78:9a:bc", "cmdline")
    assert full == {
        "name": "cmdline",
        "enabled": None,
        "extended": False,
        "release": False,
        "dev_name": "eth1",
        "local_ip": "10.0.0.1",
        "local_port": 4444,
        "remote_ip": "10.0.0.2",
        "remote_port": 9353,
        "remote_mac": "12:34:56:78:9a:bc",
    }
    first, second = ff.parse_netconsole_param("@/,@10.0.0.2/;@/eth1,6892@10.0.0.3/", "modprobe")
    assert (first["local_port"], first["remote_port"], first["dev_name"]) == (6665, 6666, None)
    assert first["remote_mac"] == "ff:ff:ff:ff:ff:ff"
    assert (second["dev_name"], second["remote_ip"], second["remote_port"]) == ("eth1", "10.0.0.3", 6892)
    (ipv6,) = ff.parse_netconsole_param("@/,@fd00:1:2:3::1/", "cmdline")
    assert ipv6["remote_ip"] == "fd00:1:2:3::1"
    (extended,) = ff.parse_netconsole_param("+r4444@10.0.0.1/eth1,9353@10.0.0.2/", "cmdline")
    assert extended["extended"] and extended["release"]


@pytest.mark.parametrize("bad", ["10.0.0.2", "@/eth0", "x@/,@10.0.0.2/", "@/,@/"])
def test_netconsole_rejects_what_the_kernel_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="netconsole"):
        ff.parse_netconsole_param(bad, "cmdline")


def test_modprobe_options_and_module_lists() -> None:
    text = _tree_text(DEBIAN, "etc/modprobe.d/netconsole.conf") + "options bonding \\\n  max_bonds=2\n"
    assert ff.parse_modprobe_options(text, "netconsole") == [
        "netconsole=+6665@10.0.0.5/eth0,6666@10.0.0.1/aa:bb:cc:dd:ee:ff"
    ]
    assert ff.parse_modprobe_options(text, "bonding") == ["max_bonds=2"]
    assert ff.parse_module_list("# comment\n; also\nnetconsole\nloop max_loop=64\n") == [
        ["netconsole", ""],
        ["loop", "max_loop=64"],
    ]


# --- kdump configuration ------------------------------------------------------------------------------


def test_kdump_tools_stock_defaults_dump_locally() -> None:
    text = _tree_text(DEBIAN, "etc/default/kdump-tools")
    assert ff.parse_kdump_tools(text, "/etc/default/kdump-tools") == {
        "path": "/etc/default/kdump-tools",
        "kind": "local",
        "target": "/var/crash",
        "directory": "/var/crash",
        "enabled": True,
        "flavour": "kdump-tools",
        "ssh_key": None,
        "host_tag": "ip",
    }


@pytest.mark.parametrize(
    ("extra", "kind", "target", "enabled"),
    [
        ('SSH="kdump@10.0.0.9"\n', "ssh", "kdump@10.0.0.9", True),
        ('NFS="nfs01:/srv/crash"  # central\n', "nfs", "nfs01:/srv/crash", True),
        ('FTP="ftp01:/incoming"\n', "ftp", "ftp01:/incoming", True),
        ("USE_KDUMP=0\n", "local", "/var/crash", False),
        ('KDUMP_COREDIR="/srv/crash"\n', "local", "/srv/crash", True),
    ],
)
def test_kdump_tools_remote_targets(extra: str, kind: str, target: str, enabled: bool) -> None:
    config = ff.parse_kdump_tools(_tree_text(DEBIAN, "etc/default/kdump-tools") + extra, "kdump-tools")
    assert (config["kind"], config["target"], config["enabled"]) == (kind, target, enabled)


def test_kdump_conf_ssh_target_with_path() -> None:
    config = ff.parse_kdump_conf(_tree_text(EL9, "etc/kdump.conf"), "/etc/kdump.conf")
    assert config == {
        "path": "/etc/kdump.conf",
        "kind": "ssh",
        "target": "kdump@10.0.0.9",
        "directory": "/var/crash/fleet",
        "enabled": None,
        "flavour": "kdump.conf",
        "ssh_key": "/root/.ssh/kdump_id_rsa",
        "host_tag": "ip",
    }


@pytest.mark.parametrize(
    ("directive", "kind", "target", "directory"),
    [
        ("", "local", "/var/crash", "/var/crash"),
        ("raw /dev/vg/lv_kdump\n", "raw", "/dev/vg/lv_kdump", "/var/crash"),
        ("ext4 LABEL=/boot\n", "local", "LABEL=/boot", "/var/crash"),
        ("nfs my.server.com:/export/tmp\n", "nfs", "my.server.com:/export/tmp", "/var/crash"),
    ],
)  # fmt: skip
def test_kdump_conf_targets_of_the_shipped_template(
    directive: str, kind: str, target: str, directory: str
) -> None:
    lines = _tree_text(EL9, "etc/kdump.conf").splitlines()
    template = [ln for ln in lines if not ln.startswith(("ssh ", "sshkey ", "path "))] + ["path /var/crash"]
    config = ff.parse_kdump_conf(directive + "\n".join(template), "/etc/kdump.conf")
    assert (config["kind"], config["target"], config["directory"]) == (kind, target, directory)


# --- cron and systemd timers --------------------------------------------------------------------------


def test_debian_system_crontab() -> None:
    jobs = ff.parse_crontab(_tree_text(DEBIAN, "etc/crontab"), "/etc/crontab", True)
    assert [(j["schedule"], j["user"]) for j in jobs] == [
        ("17 * * * *", "root"),
        ("25 6 * * *", "root"),
        ("47 6 * * 7", "root"),
        ("52 6 1 * *", "root"),
    ]
    assert jobs[0]["command"] == "cd / && run-parts --report /etc/cron.hourly"


def test_cron_d_skips_environment_and_keeps_specials() -> None:
    jobs = ff.parse_crontab(_tree_text(DEBIAN, "etc/cron.d/pg-backup"), "/etc/cron.d/pg-backup", True)
    assert [(j["schedule"], j["user"], j["command"]) for j in jobs] == [
        ("15 1 * * *", "postgres", "/usr/local/bin/pg-basebackup.sh --compress"),
        ("@weekly", "postgres", "/usr/local/bin/pg-prune-wal.sh"),
    ]


def test_user_crontab_has_no_user_field_and_bad_lines_are_skipped() -> None:
    text = _tree_text(DEBIAN, "var/spool/cron/crontabs/postgres") + "@sometimes /bin/true\n5 * * *\n"
    (job,) = ff.parse_crontab(text, "/var/spool/cron/crontabs/postgres", False)
    assert job["user"] is None and job["schedule"] == "*/10 * * * *"
    assert job["command"] == "/usr/local/bin/pg-check-replication.sh >/dev/null 2>&1"


def test_timer_drop_in_resets_on_calendar() -> None:
    text = _tree_text(DEBIAN, "lib/systemd/system/fstrim.timer")
    assert ff.parse_timer_unit(text)["on_calendar"] == ["weekly"]
    dropin = _tree_text(DEBIAN, "etc/systemd/system/fstrim.timer.d/override.conf")
    assert ff.parse_timer_unit(text + "\n" + dropin) == {
        "unit": None,
        "on_calendar": ["Sun *-*-* 04:30:00"],
        "monotonic": [],
    }


def test_timer_with_unit_and_monotonic_triggers() -> None:
    assert ff.parse_timer_unit(_tree_text(DEBIAN, "etc/systemd/system/pg-vacuum.timer")) == {
        "unit": "pg-maintenance.service",
        "on_calendar": ["Mon..Fri *-*-* 02:00:00", "Sat,Sun *-*-* 05:00:00"],
        "monotonic": [],
    }
    # systemd-tmpfiles-clean.timer as systemd ships it
    tmpfiles = "[Timer]\nOnBootSec=15min\nOnUnitActiveSec=1d\n"
    assert ff.parse_timer_unit(tmpfiles)["monotonic"] == ["OnBootSec=15min", "OnUnitActiveSec=1d"]


def test_service_command_and_user() -> None:
    assert ff.parse_service_unit(_tree_text(DEBIAN, "lib/systemd/system/apt-daily.service")) == {
        "command": "/usr/lib/apt/apt.systemd.daily update",
        "user": "root",
    }
    assert ff.parse_service_unit(_tree_text(DEBIAN, "etc/systemd/system/pg-maintenance.service")) == {
        "command": "/usr/bin/vacuumdb --all --analyze --jobs=4",
        "user": "postgres",
    }
    assert (
        ff.parse_service_unit("[Service]\nExecStart=-/bin/a\nExecStart=\nExecStart=+/bin/b\n")["command"]
        == "/bin/b"
    )


@pytest.mark.parametrize(
    ("exec_start", "loads"),
    [
        ("/sbin/modprobe netconsole", True),
        ("-/usr/sbin/modprobe -q netconsole netconsole=6665@10.0.0.5/eth0,6666@10.0.0.1/", True),
        ("/sbin/modprobe -r netconsole", False),
        ("/sbin/modprobe netconsole_extra", False),
        ("/bin/sh -c 'modprobe netconsole'", False),
    ],
)
def test_units_that_load_netconsole_at_start(exec_start: str, loads: bool) -> None:
    assert (
        ff.modprobes_at_start(f"[Unit]\nDescription=x\n[Service]\nExecStart={exec_start}\n", "netconsole")
        is loads
    )


def test_netconsole_loaded_by_an_enabled_unit(tmp_path: Path) -> None:
    """The crash_capture role's unit: it loads netconsole once udev has named the interface. The interface's
    device unit wants it, so it is enabled by a link in the device's .wants/ directory."""
    units = tmp_path / "etc/systemd/system"
    device_wants = units / "sys-subsystem-net-devices-ens2.device.wants"
    device_wants.mkdir(parents=True)
    (units / "fleetfix-netconsole.service").write_text(
        "[Unit]\nBindsTo=sys-subsystem-net-devices-ens2.device\n[Service]\nType=oneshot\n"
        "ExecStart=/sbin/modprobe netconsole\n[Install]\nWantedBy=sys-subsystem-net-devices-ens2.device\n"
    )
    (tmp_path / "etc/modprobe.d").mkdir()
    (tmp_path / "etc/modprobe.d/netconsole.conf").write_text(
        "options netconsole netconsole=6665@10.0.2.15/ens2,6666@10.0.2.2/52:55:0a:00:02:02\n"
    )
    host = ff.Host(str(tmp_path))
    persistent = ff.read_netconsole(host, [], "")["persistent"]
    assert persistent["load_at_boot"] is None  # written, not enabled
    os.symlink(
        "/etc/systemd/system/fleetfix-netconsole.service",
        device_wants / "fleetfix-netconsole.service",
    )
    persistent = ff.read_netconsole(host, [], "")["persistent"]
    assert persistent["load_at_boot"] == "/etc/systemd/system/fleetfix-netconsole.service"
    assert [t["dev_name"] for t in persistent["targets"]] == ["ens2"]


# --- disks, identity, dumps ---------------------------------------------------------------------------


def test_root_mount_from_mountinfo() -> None:
    assert root_mount(parse_mountinfo(_tree_text(DEBIAN, "proc/self/mountinfo"))) == ("8:2", "/dev/sda2")


def _image(size: int, *marks: tuple[int, bytes]) -> bytes:
    data = bytearray(size)
    for offset, magic in marks:
        data[offset : offset + len(magic)] = magic
    return bytes(data)


def _ext_superblock(compat: int, incompat: int) -> bytes:
    data = bytearray(_image(4096, (1080, b"\x53\xef")))
    struct.pack_into("<II", data, 1024 + 0x5C, compat, incompat)
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_image(4096), (None, None)),
        (_image(4096, (510, b"\x55\xaa")), ("dos", None)),
        (_image(4096, (510, b"\x55\xaa"), (512, b"EFI PART")), ("gpt", None)),
        (_image(8192, (510, b"\x55\xaa"), (4096, b"EFI PART")), ("gpt", None)),
        (_image(4096, (0, b"XFSB")), (None, "xfs")),
        (_ext_superblock(0x3C, 0x2C2), (None, "ext4")),
        (_ext_superblock(0x3C, 0x2), (None, "ext3")),
        (_ext_superblock(0, 0x2), (None, "ext2")),
        (_image(4096, (512, b"LABELONE"), (536, b"LVM2 001")), (None, "LVM2_member")),
        (_image(4096, (0, b"LUKS\xba\xbe")), (None, "crypto_LUKS")),
        (_image(8192, (4096, b"\xfc\x4e\x2b\xa9")), (None, "linux_raid_member")),
        (_image(4096, (4086, b"SWAPSPACE2")), (None, "swap")),
        (_image(0x10048, (65526, b"SWAPSPACE2")), (None, "swap")),
        (_image(0x10048, (0x10040, b"_BHRfS_M")), (None, "btrfs")),
        (_image(4096, (1080, b"\x53\xef"))[:1100], (None, None)),  # short read: ext features unseen
    ],
)
def test_disk_signatures(data: bytes, expected: tuple[str | None, str | None]) -> None:
    assert ff.detect_signature(data) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ID=debian\nVERSION_ID=\"12\"\n",
         {"id": "debian", "version_id": "12", "id_like": [], "family": "debian"}),
        ('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n',
         {"id": "ubuntu", "version_id": "22.04", "id_like": ["debian"], "family": "debian"}),
        ('ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n',
         {"id": "rocky", "version_id": "9.3", "id_like": ["rhel", "centos", "fedora"], "family": "redhat"}),
        ('ID="sles"\nVERSION_ID="15.5"\n',
         {"id": "sles", "version_id": "15.5", "id_like": [], "family": "suse"}),
        ("ID=arch\n", {"id": "arch", "version_id": None, "id_like": [], "family": "arch"}),
        ("", {"id": None, "version_id": None, "id_like": [], "family": None}),
    ],
)  # fmt: skip
def test_os_release_family(text: str, expected: dict[str, Any]) -> None:
    assert ff.parse_os_release(text) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("202611250112", datetime(2026, 11, 25, 1, 12)),
        ("10.0.0.5-202611250112", datetime(2026, 11, 25, 1, 12)),
        ("127.0.0.1-2026-11-25-01:12:03", datetime(2026, 11, 25, 1, 12, 3)),
        ("db01.example.com-2026-02-28-23:59:59", datetime(2026, 2, 28, 23, 59, 59)),
        ("202613450000", None),
        ("kexec_cmd", None),
    ],
)
def test_dump_directory_times(name: str, expected: datetime | None) -> None:
    assert ff.crash_dir_time(name) == expected


def test_systemctl_words() -> None:
    assert [ff.systemctl_enabled(s) for s in ("enabled", "masked", "static", "weird", None)] == [
        True,
        False,
        False,
        None,
        None,
    ]
    assert [ff.systemctl_active(s) for s in ("active", "failed", "inactive", None)] == [
        True,
        False,
        False,
        None,
    ]


# --- whole runs through Ansible -----------------------------------------------------------------------


def run_facts(tmp_path: Path, module_args: str = "", check: bool = False) -> dict[str, Any]:
    """One ``ansible localhost -m fleetfix.hba.fleetfix_facts`` through ansible-runner, as the audit runs
    it (the collection's action plugin, pipelining on); its result."""
    return run_facts_said(tmp_path, module_args, check)[0]


def run_facts_said(
    tmp_path: Path,
    module_args: str = "",
    check: bool = False,
    transport: str = "lean",
    pipelining: bool = True,
) -> tuple[dict[str, Any], str]:
    """``run_facts`` at -vvv: the result, and what Ansible said of how it ran the task. ``transport``: the
    action plugin reads without AnsiballZ (lean) or runs the module; ``pipelining`` off makes it fall back."""
    flags = ["-vvv"] + ["--check"] * check + ["-e", f"fleetfix_facts_transport={transport}"]
    cmdline = " ".join(flags)
    (tmp_path / "runner").mkdir(parents=True)
    runner = ansible_runner.run(
        private_data_dir=str(tmp_path / "runner"),
        host_pattern="localhost",
        inventory=f"localhost ansible_connection=local ansible_python_interpreter={TARGET_PYTHON}",
        module="fleetfix.hba.fleetfix_facts",
        module_args=module_args,
        cmdline=cmdline,
        envvars={
            "TZ": "UTC",
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_PIPELINING": str(pipelining),  # as fleetfix's ansible.cfg sets it
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        },
        suppress_env_files=True,
        quiet=True,
    )
    said = runner.stdout.read()
    assert runner.status == "successful", said
    (result,) = [e["event_data"]["res"] for e in runner.events if e["event"] == "runner_on_ok"]
    return result, said


def test_this_machine(tmp_path: Path) -> None:
    result = run_facts(tmp_path, check=True)
    facts = result["ansible_facts"]["fleetfix"]
    assert result["changed"] is False
    assert "fleetfix" not in result  # the facts travel once: a registered result reads ansible_facts.fleetfix
    assert facts["module_support"] is os.path.exists("/proc/modules")
    assert facts["kernel"]["release"] == Path("/proc/sys/kernel/osrelease").read_text().strip()
    assert facts["kernel"]["machine"] == os.uname().machine
    assert facts["boot_id"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    crontab_jobs = [j for j in facts["scheduled_jobs"] if j["source"] == "/etc/crontab"]
    if Path("/etc/crontab").exists():
        assert crontab_jobs == ff.parse_crontab(Path("/etc/crontab").read_text(), "/etc/crontab", True)
    assert HostFacts.from_dict(facts, source="localhost").to_dict() == facts


def _without_systemctl(facts: dict[str, Any]) -> dict[str, Any]:
    """Facts minus what depends on this machine having systemctl (asked with --root for is-enabled)."""
    service = dict(facts["crash_capture"]["kdump_service"], enabled=None, enabled_state=None)
    readiness = facts["crash_capture"]["readiness"]
    checks = [c for c in readiness["checks"] if c["name"] != "kdump.service"]
    missing = [m for m in readiness["missing"] if not m.startswith(service["name"])]
    capture = dict(
        facts["crash_capture"],
        kdump_service=service,
        readiness=dict(readiness, checks=checks, missing=missing),
    )
    errors = [e for e in facts["errors"] if e["surface"] != "systemctl"]
    return dict(facts, crash_capture=capture, errors=errors)


def _read(result: dict[str, Any]) -> dict[str, Any]:
    """What a reader of the result sees (Ansible's own keys aside)."""
    return {key: result[key] for key in ("changed", "failed", "ansible_facts") if key in result}


@pytest.mark.parametrize("tree", [DEBIAN, EL9])
def test_the_action_plugin_reads_what_the_module_reads(tmp_path: Path, tree: Path) -> None:
    lean, lean_said = run_facts_said(tmp_path / "lean", f"root={tree} max_crash_dumps=1")
    module, module_said = run_facts_said(
        tmp_path / "module", f"root={tree} max_crash_dumps=1", transport="module"
    )
    assert _read(lean) == _read(module)
    # each went the way it was asked to: Ansible names the module file it packs into AnsiballZ
    assert "Using module file" in module_said and "Using module file" not in lean_said


def test_the_action_plugin_reads_this_machine_as_the_module_does(tmp_path: Path) -> None:
    lean = run_facts(tmp_path / "lean")["ansible_facts"]["fleetfix"]
    module = run_facts_said(tmp_path / "module", transport="module")[0]["ansible_facts"]["fleetfix"]
    assert lean["uptime_seconds"] >= module["uptime_seconds"] - 60  # read a moment apart
    assert dict(lean, uptime_seconds=None) == dict(module, uptime_seconds=None)


def test_without_pipelining_the_module_itself_runs(tmp_path: Path) -> None:
    result, said = run_facts_said(tmp_path, f"root={DEBIAN}", pipelining=False)
    assert "Using module file" in said  # the input could not be piped to a bootstrap: AnsiballZ it is
    assert result["ansible_facts"]["fleetfix"]["hostname"] == "db01"


@pytest.mark.parametrize(("tree", "stored"), [(DEBIAN, "db01.json"), (EL9, "app02.json")])
def test_stored_facts_are_the_module_output(tmp_path: Path, tree: Path, stored: str) -> None:
    facts = run_facts(tmp_path, f"root={tree}")["ansible_facts"]["fleetfix"]
    assert _without_systemctl(facts) == _without_systemctl(json.loads((DATA / stored).read_text()))


def test_captured_debian_host(tmp_path: Path) -> None:
    facts = run_facts(tmp_path, f"root={DEBIAN}")["ansible_facts"]["fleetfix"]
    assert facts["hostname"] == "db01" and facts["kernel"]["release"] == "6.1.0-18-amd64"
    assert facts["kernel"]["machine"] is None  # never os.uname() of the machine reading the tree
    assert facts["tainted"] == {"value": 12288, "letters": ["O", "E"]}
    assert facts["os"] == {"id": "debian", "version_id": "12", "id_like": [], "family": "debian"}
    assert facts["uptime_seconds"] == 8123.4

    modules = {m["name"]: m for m in facts["modules"]}
    assert (modules["mpt3sas"]["version"], modules["mpt3sas"]["srcversion"]) == (
        "43.100.00.00",
        "9A1B2C3D4E5F60718293A4B",
    )
    assert modules["mpt3sas"]["taint"] == ["O", "E"]
    assert modules["megaraid_sas"]["version"] == "07.719.03.00-rc1"
    assert modules["nvme"]["version"] is None and modules["nvme"]["srcversion"] is None
    assert [name for name, m in modules.items() if m["holds_boot_disk"]] == ["ahci"]

    disks = {d["name"]: d for d in facts["block_devices"]}
    assert sorted(disks) == ["nvme0n1", "sda", "sdb", "sdc"]  # dm-0 and loop0 are virtual
    assert disks["sda"] | {"size_bytes": None} == {
        "name": "sda",
        "driver": "ahci",
        "module": "ahci",
        "scsi_host": "host0",
        "proc_name": "ahci",
        "size_bytes": None,
        "rotational": True,
        "partitions": ["sda1", "sda2"],
        "holders": [],
        "partition_table": "dos",
        "fstype": None,
        "has_data": True,
        "boot_disk": True,
        "write_safety": {
            "safe": False,
            "overwritable": False,
            "reasons": ["it is the boot disk", "it holds partitions sda1, sda2"],
        },
    }
    # The write safety rule, judged once here: sdb is blank; sdc's xfs, nvme0n1's partition and dm-0 are data.
    assert {name: (d["write_safety"]["safe"], d["write_safety"]["reasons"]) for name, d in disks.items()} == {
        "sda": (False, ["it is the boot disk", "it holds partitions sda1, sda2"]),
        "sdb": (True, []),
        "sdc": (False, ["it holds a xfs filesystem"]),
        "nvme0n1": (False, ["it holds partitions nvme0n1p1", "it holds holders dm-0"]),
    }
    assert [(disks[n]["driver"], disks[n]["scsi_host"], disks[n]["fstype"]) for n in ("sdb", "sdc")] == [
        ("mpt3sas", "host1", None),
        ("mpt3sas", "host1", "xfs"),
    ]
    assert (disks["sdb"]["has_data"], disks["sdc"]["has_data"]) == (False, True)
    assert disks["nvme0n1"]["driver"] == "nvme" and disks["nvme0n1"]["scsi_host"] is None
    assert (disks["nvme0n1"]["partition_table"], disks["nvme0n1"]["holders"]) == ("gpt", ["dm-0"])
    assert disks["nvme0n1"]["size_bytes"] == 7501476528 * 512

    capture = facts["crash_capture"]
    assert capture["crashkernel"] == "384M-:128M"
    assert (capture["kexec_crash_size"], capture["kexec_crash_loaded"]) == (134217728, True)
    assert capture["kdump_config"]["kind"] == "local" and capture["kdump_config"]["target"] == "/var/crash"
    service = capture["kdump_service"]
    assert (service["name"], service["installed"], service["active"]) == ("kdump-tools", True, None)
    if shutil.which("systemctl"):
        assert service["enabled"] is True and facts["errors"] == []
    else:
        assert service["enabled"] is None and facts["errors"][0]["surface"] == "systemctl"
    netconsole = capture["netconsole"]
    assert netconsole["module_loaded"] is True
    (live,) = netconsole["targets"]
    assert (live["name"], live["enabled"], live["remote_ip"], live["remote_port"]) == (
        "fleetfix",
        True,
        "10.0.0.1",
        6666,
    )
    persistent = netconsole["persistent"]
    assert persistent["modprobe_file"] == "/etc/modprobe.d/netconsole.conf"
    assert persistent["load_at_boot"] == "/etc/modules-load.d/netconsole.conf"
    assert [t["name"] for t in persistent["targets"]] == ["modprobe", "cmdline"]
    assert all(
        {k: t[k] for k in ("remote_ip", "remote_port", "remote_mac")}
        == {"remote_ip": "10.0.0.1", "remote_port": 6666, "remote_mac": "aa:bb:cc:dd:ee:ff"}
        for t in persistent["targets"]
    )

    # Everything is in place but a captured tree cannot say whether kdump-tools is active: not ready.
    readiness = capture["readiness"]
    assert [readiness[k] for k in ("ready", "kdump_ready", "netconsole_ready")] == [False, False, True]
    oops = (
        "kernel.panic_on_oops is 0: an oops in process context kills only that task and the kernel runs on, "
        "so kdump takes no dump (fleetfix capture enable sets it to 1)"
    )
    assert capture["panic"] == {
        "panic_on_oops": 0,
        "hung_task_panic": 0,
        "softlockup_panic": 0,
        "configured": {},
    }
    if shutil.which("systemctl"):
        assert readiness["missing"] == ["kdump-tools: cannot tell whether active", oops]
    assert [c["name"] for c in readiness["checks"] if c["ok"]] == [
        "kdump.crash_memory",
        "kdump.loaded",
        "kdump.target",
        "netconsole.target",
        "netconsole.persistent",
    ]

    by_source = {}
    for job in facts["scheduled_jobs"]:
        by_source.setdefault(job["source"], []).append(job)
    assert "/etc/cron.d/.placeholder" not in by_source and "/etc/cron.d/pg-backup.dpkg-old" not in by_source
    assert [j["user"] for j in by_source["/var/spool/cron/crontabs/postgres"]] == ["postgres"]
    timers = {j["unit"]: j for j in facts["scheduled_jobs"] if j["kind"] == "timer"}
    assert sorted(timers) == ["fstrim.service", "pg-maintenance.service"]  # apt-daily.timer is masked
    assert timers["fstrim.service"]["on_calendar"] == ["Sun *-*-* 04:30:00"]
    assert timers["pg-maintenance.service"] | {"on_calendar": None} == {
        "kind": "timer",
        "source": "/etc/systemd/system/pg-vacuum.timer",
        "user": "postgres",
        "command": "/usr/bin/vacuumdb --all --analyze --jobs=4",
        "schedule": None,
        "unit": "pg-maintenance.service",
        "on_calendar": None,
        "monotonic": [],
        "enabled": True,
    }

    assert [(d["path"], d["time"], d["has_dmesg"]) for d in facts["crash_dumps"]] == [
        ("/var/crash/202611250112", "2026-11-25T01:12:00+00:00", True),
        ("/var/crash/202611180305", "2026-11-18T03:05:00+00:00", False),
    ]
    assert facts["crash_dumps"][0]["dmesg_file"] == "/var/crash/202611250112/dmesg.202611250112"
    parsed = HostFacts.from_dict(facts, source="db01")
    assert parsed.to_dict() == facts
    assert [m.name for m in parsed.storage_modules()] == ["mpt3sas", "megaraid_sas", "nvme", "ahci"]
    assert [d.name for d in parsed.disks_of("mpt3sas")] == ["sdb", "sdc"]


def test_captured_el9_host_without_module_support(tmp_path: Path) -> None:
    facts = run_facts(tmp_path, f"root={EL9} max_crash_dumps=1")["ansible_facts"]["fleetfix"]
    assert facts["module_support"] is False and facts["modules"] == []
    assert facts["os"]["family"] == "redhat" and facts["block_devices"] == []
    capture = facts["crash_capture"]
    assert capture["crashkernel"] == "1G-4G:192M,4G-64G:256M,64G-:512M"
    assert (capture["kexec_crash_size"], capture["kexec_crash_loaded"]) == (0, False)
    assert capture["kdump_config"]["kind"] == "ssh"
    assert capture["kdump_service"]["name"] == "kdump"
    if shutil.which("systemctl"):
        assert capture["kdump_service"]["enabled"] is False
    assert facts["crash_dumps_total"] == 2
    (newest,) = facts["crash_dumps"]
    assert newest["path"] == "/var/crash/127.0.0.1-2026-11-25-01:12:03"
    assert newest["dmesg_file"].endswith("/vmcore-dmesg.txt")
    (job,) = facts["scheduled_jobs"]
    assert (job["source"], job["user"]) == ("/var/spool/cron/root", "root")
    assert HostFacts.from_dict(facts, source="app02").to_dict() == facts


def test_unreadable_surface_becomes_an_error_not_a_failure(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(EL9, tree, symlinks=True)
    (tree / "proc" / "sys" / "kernel" / "tainted").write_text("not a number\n")
    (tree / "proc" / "cmdline").write_text("ro netconsole=garbage\n")
    facts = run_facts(tmp_path, f"root={tree}")["ansible_facts"]["fleetfix"]
    assert facts["tainted"] is None
    surfaces = [e["surface"] for e in facts["errors"]]
    assert "/proc/sys/kernel/tainted" in surfaces and "/proc/cmdline" in surfaces
    assert facts["crash_capture"]["netconsole"]["persistent"]["cmdline"] == "garbage"


def test_ubuntu_version_signature_and_id_like(tmp_path: Path) -> None:
    """Ubuntu 22.04's identity strings (tests/data/distro/kernels.yaml, ubuntu2204-old) in a captured tree."""
    root = tmp_path / "root"
    shutil.copytree(DEBIAN, root, symlinks=True)
    (root / "proc/version_signature").write_text("Ubuntu 5.15.0-79.86-generic 5.15.111\n")
    (root / "proc/sys/kernel/osrelease").write_text("5.15.0-79-generic\n")
    (root / "proc/sys/kernel/version").write_text("#86-Ubuntu SMP Mon Jul 10 16:19:54 UTC 2023\n")
    (root / "etc/os-release").unlink()
    (root / "etc/os-release").write_text('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n')
    facts = run_facts(tmp_path, f"root={root}")["ansible_facts"]["fleetfix"]
    assert facts["kernel"]["version_signature"] == "Ubuntu 5.15.0-79.86-generic 5.15.111"
    assert facts["os"]["id_like"] == ["debian"]
    package = HostFacts.from_dict(facts, "ubuntu").kernel_package
    assert package is not None
    assert (package.ecosystem, package.package, package.version, package.upstream) == (
        "Ubuntu:22.04",
        "linux",
        "5.15.0-79.86",
        "5.15.111",
    )


class _IpAnswers:
    """The two calls the dump-target tags make of the module: where ip is, and its answer."""

    def __init__(self, ip_output: str | None) -> None:
        self.ip_output = ip_output
        self.argv: list[str] = []

    def get_bin_path(self, name: str) -> str | None:
        return "/usr/sbin/ip" if name == "ip" and self.ip_output is not None else None

    def run_command(self, argv: list[str]) -> tuple[int, str, str]:
        self.argv = argv
        return 0, self.ip_output or "", ""


def test_dump_target_tags_are_the_addresses_ip_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """kdump-tools with HOSTTAG=ip: every address `ip -4 -o addr show up` lists but loopback (a real swarm
    node's answer), and the host name; EL, and a host without ip: the address it reaches the server from."""
    swarm = (DATA.parent / "dump_target" / "ip-addr-swarm-node.txt").read_text()
    monkeypatch.setattr(ff, "_source_address", lambda server: "192.168.100.10")
    monkeypatch.setattr(ff, "_hostname", lambda host: "swarm0")
    live = ff.Host("/")
    by_ip = ff.parse_kdump_tools('SSH="kdump@10.0.0.9"\n', "/etc/default/kdump-tools")
    module = _IpAnswers(swarm)
    addresses = ff._tag_addresses(module, live, by_ip, "10.0.0.9")
    assert module.argv == ["/usr/sbin/ip", "-4", "-o", "addr", "show", "up"]
    assert addresses == ["10.0.2.15", "192.168.100.10", "192.168.101.10", "172.17.0.1", "172.18.0.1"]
    assert ff._tag_addresses(_IpAnswers(None), live, by_ip, "10.0.0.9") == ["192.168.100.10"]
    el = ff.parse_kdump_conf("ssh kdump@10.0.0.9\n", "/etc/kdump.conf")
    assert ff._tag_addresses(_IpAnswers(swarm), live, el, "10.0.0.9") == ["192.168.100.10"]
    assert ff._tag_addresses(_IpAnswers(swarm), ff.Host(str(DEBIAN)), by_ip, "10.0.0.9") == []
