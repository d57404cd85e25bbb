"""The lab's ssh dump target: the kdump stand-in reads the same configuration text the role writes (and real
hosts carry), a local target keeps the local dump, and the mixed fleet has a dump server with an account."""

from __future__ import annotations

from pathlib import Path

from fleetfix.lab import panic
from fleetfix.lab.scenario_load import load_scenario
from tests.support import REPO

DATA = REPO / "tests" / "data" / "dump_target"


def _root(tmp_path: Path, rel: str, text: str) -> Path:
    root = tmp_path / "root"
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)
    (root / "sys/kernel").mkdir(parents=True, exist_ok=True)
    (root / "sys/kernel/kexec_crash_loaded").write_text("1\n")
    return root


def test_kdump_tools_ssh_target(tmp_path: Path) -> None:
    text = (DATA / "kdump-tools.defaults").read_text() + "SSH='kdump@10.0.0.9'\nHOSTTAG=\"hostname\"\n"
    target = panic.remote_target(_root(tmp_path, "etc/default/kdump-tools", text))
    assert target == panic.RemoteTarget(
        False, "kdump@10.0.0.9", "/root/.ssh/kdump_id_rsa", "/var/crash", "hostname"
    )


def test_kdump_conf_ssh_target(tmp_path: Path) -> None:
    root = _root(tmp_path, "etc/kdump.conf", (DATA / "el-kdump.conf-ssh").read_text())
    target = panic.remote_target(root)
    assert target == panic.RemoteTarget(
        True, "root@192.168.0.22", "/root/.ssh/id_rsa_private", "/var/crash", "ip"
    )
    assert panic.save_dump(root, ["[  1.0] BUG: kernel NULL pointer dereference"]) is None  # not kept locally


def test_local_targets_stay_local(tmp_path: Path) -> None:
    root = _root(tmp_path, "etc/kdump.conf", (DATA / "el8-kdump.conf").read_text())
    assert panic.remote_target(root) is None
    assert panic.ship_dump(1, "none", "10.0.0.5", "rdb01", root, []) is None
    debian = _root(tmp_path / "d", "etc/default/kdump-tools", (DATA / "kdump-tools.defaults").read_text())
    assert panic.remote_target(debian) is None


def test_mixed_fleet_has_a_dump_server() -> None:
    group = next(g for g in load_scenario("mixed").groups if g.dump_server is not None)
    assert (group.host_names(), group.dump_server.user, group.modules) == (["dumps01"], "kdump", ())


def test_kdump_tools_ip_tag_is_the_last_address_listed() -> None:
    """kdump-config's rule, on a real swarm node's `ip -o -4 addr`: the last address (docker_gwbridge's),
    not the routed one; loopback's when it is the only one; the host name when there is none."""
    swarm = (DATA / "ip-addr-swarm-node.txt").read_text()
    assert panic.capture_boot_tag(swarm, "swarm0") == "172.18.0.1"
    only_lo = swarm.splitlines()[0] + "\n"
    assert panic.capture_boot_tag(only_lo, "swarm0") == "127.0.0.1"
    assert panic.capture_boot_tag("", "swarm0") == "swarm0"
