"""Remote kdump targets: the facts module's reading of real kdump-tools and kdump.conf text, where each target
puts a host's dumps on the server and under which names, the ssh probe and its verdicts, NFS mounts.

Inputs are real (tests/data/dump_target/README.md names their sources); the expected answers come from the
tools' documentation: kdump.conf(5) for EL (``<path>/%HOST-%DATE/``, %HOST the address kdump sends from)
and kdump-tools' defaults file (``HOSTTAG``, 'ip' by default, prefixing a timestamped directory).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import REPO, collection_plugin

DATA = REPO / "tests" / "data" / "dump_target"
ff = collection_plugin("modules.fleetfix_facts")
_mountinfo = collection_plugin("module_utils.mountinfo")
parse_mountinfo = _mountinfo.parse_mountinfo
dt = collection_plugin("module_utils.dump_target")
readiness = collection_plugin("module_utils.capture_readiness")

DEBIAN = (DATA / "kdump-tools.defaults").read_text()
EL_STOCK = (DATA / "el8-kdump.conf").read_text()
EL_SSH = (DATA / "el-kdump.conf-ssh").read_text()


def _debian(extra: str) -> dict:
    return ff.parse_kdump_tools(DEBIAN + extra, "/etc/default/kdump-tools")


# --- reading the configuration --------------------------------------------------------------------------


def test_stock_kdump_tools_is_local_with_the_default_tag() -> None:
    config = _debian("")
    assert (config["kind"], config["target"], config["ssh_key"], config["host_tag"]) == (
        "local",
        "/var/crash",
        None,
        "ip",
    )
    assert dt.server_directory(config) is None


def test_kdump_tools_ssh_with_the_documented_variables() -> None:
    config = _debian('SSH="kdump@10.0.0.9"\nSSH_KEY="/root/.ssh/kdump_id_rsa"\nHOSTTAG="hostname"\n')
    assert (config["kind"], config["target"], config["ssh_key"], config["host_tag"]) == (
        "ssh",
        "kdump@10.0.0.9",
        "/root/.ssh/kdump_id_rsa",
        "hostname",
    )
    assert dt.server_directory(config) == "/var/crash"  # KDUMP_COREDIR, on the server


def test_kdump_tools_ssh_key_defaults_to_what_propagate_makes() -> None:
    assert _debian('SSH="kdump@dumps.example.com"\n')["ssh_key"] == "/root/.ssh/kdump_id_rsa"


def test_kdump_tools_nfs_writes_at_the_top_of_the_export() -> None:
    # kdump-tools mounts the export on KDUMP_COREDIR: the dump directories sit at the export's top
    config = _debian('NFS="nfs01:/srv/crash"\nKDUMP_COREDIR="/var/crash/remote"\n')
    assert (config["kind"], dt.server_directory(config)) == ("nfs", "/srv/crash")


def test_el_ssh_configured_from_the_stock_file() -> None:
    config = ff.parse_kdump_conf(EL_SSH, "/etc/kdump.conf")
    assert (config["kind"], config["target"], config["ssh_key"], config["directory"]) == (
        "ssh",
        "root@192.168.0.22",
        "/root/.ssh/id_rsa_private",
        "/var/crash",
    )
    assert dt.server_directory(config) == "/var/crash"


def test_el_stock_file_key_default() -> None:
    text = EL_STOCK.replace("#ssh user@my.server.com", "ssh user@my.server.com")
    assert ff.parse_kdump_conf(text, "/etc/kdump.conf")["ssh_key"] == "/root/.ssh/kdump_id_rsa"


@pytest.mark.parametrize(
    ("line", "server", "directory"),
    [
        ("#nfs my.server.com:/export/tmp", "my.server.com", "/export/tmp/var/crash"),
        ("#nfs [2001:db8::1:2:3:4]:/export/tmp", "2001:db8::1:2:3:4", "/export/tmp/var/crash"),
    ],
)
def test_el_nfs_writes_below_path_in_the_export(line: str, server: str, directory: str) -> None:
    config = ff.parse_kdump_conf(EL_STOCK.replace(line, line[1:]), "/etc/kdump.conf")
    assert config["kind"] == "nfs"
    assert dt.split_nfs(config["target"])[0] == server
    assert dt.server_directory(config) == directory


def test_ipv6_ssh_target_splits() -> None:
    text = EL_STOCK.replace("#ssh user@2001:db8::1:2:3:4", "ssh user@[2001:db8::1:2:3:4]")
    config = ff.parse_kdump_conf(text, "/etc/kdump.conf")
    assert dt.split_ssh(config["target"]) == ("user", "2001:db8::1:2:3:4")
    assert dt.split_ssh("user@host;reboot") is None and dt.split_ssh("-oProxyCommand=x") is None


# --- naming the host's dump directories on the server ---------------------------------------------------


def test_el_directories_are_named_by_the_sending_address() -> None:
    config = ff.parse_kdump_conf(EL_SSH, "/etc/kdump.conf")
    pattern = re.compile(dt.directory_pattern(config, dt.host_tags(config, ["192.168.0.10"], "db01")))
    assert pattern.match("192.168.0.10-2026-12-05-17:12:03")
    assert not pattern.match("192.168.0.100-2026-12-05-17:12:03")  # another host
    assert not pattern.match("192.168.0.10-202612051712")  # a kdump-tools name
    assert not pattern.match("db01-2026-12-05-17:12:03")


def test_kdump_tools_directories_by_address_or_host_name() -> None:
    by_ip = _debian('SSH="kdump@10.0.0.9"\n')
    pattern = re.compile(dt.directory_pattern(by_ip, dt.host_tags(by_ip, ["10.0.0.21"], "db01")))
    assert pattern.match("10.0.0.21-202612051712") and not pattern.match("202612051712")
    assert not pattern.match("10.0.0.2-202612051712")
    assert pattern.match("db01-202612051712")  # kdump-config's fallback when no address shows up
    by_name = _debian('SSH="kdump@10.0.0.9"\nHOSTTAG="hostname"\n')
    pattern = re.compile(dt.directory_pattern(by_name, dt.host_tags(by_name, ["10.0.0.21"], "db01")))
    assert pattern.match("db01-202612051712") and not pattern.match("10.0.0.21-202612051712")


SWARM = (DATA / "ip-addr-swarm-node.txt").read_text()
DCOS = (DATA / "ip-addr-dcos-boot.txt").read_text()


def test_ip_addr_lines_in_listing_order() -> None:
    assert dt.ipv4_addresses(SWARM) == [
        ("lo", "127.0.0.1"),
        ("eth0", "10.0.2.15"),
        ("eth1", "192.168.100.10"),
        ("eth2", "192.168.101.10"),
        ("docker0", "172.17.0.1"),
        ("docker_gwbridge", "172.18.0.1"),
    ]
    spartan = [address for interface, address in dt.ipv4_addresses(DCOS) if interface == "spartan"]
    assert spartan == ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
    assert dt.ipv4_addresses(DCOS)[-1] == ("vtep1024", "44.128.0.7")  # kdump-config's pick: the last


def test_ip_addr_other_lines_are_skipped() -> None:
    text = (
        "2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever\n"
        'Device "eth9" does not exist.\n'
        "3: eth1    inet 999.1.1.1/24 scope global eth1\n\n"
    )
    assert dt.ipv4_addresses(text) == []
    assert dt.ipv4_addresses("") == [] and dt.ipv4_addresses(None) == []


def test_every_address_but_loopback_may_name_a_dump() -> None:
    assert dt.host_addresses(dt.ipv4_addresses(SWARM)) == [
        "10.0.2.15",
        "192.168.100.10",
        "192.168.101.10",
        "172.17.0.1",
        "172.18.0.1",
    ]
    assert dt.host_addresses(dt.ipv4_addresses(DCOS)) == [
        "10.0.2.15",
        "192.168.0.151",
        "172.17.0.1",
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.3",
        "9.0.6.129",
        "44.128.0.7",
    ]
    # an anycast address on lo is loopback's; 127.0.1.1 anywhere too; an address listed twice counts once
    assert dt.host_addresses(
        [("lo", "10.9.9.9"), ("eth0", "127.0.1.1"), ("a", "10.0.0.1"), ("b", "10.0.0.1")]
    ) == ["10.0.0.1"]


def test_kdump_tools_ip_tags_every_address_and_the_host_name() -> None:
    by_ip = _debian('SSH="kdump@10.0.0.9"\n')
    addresses = dt.host_addresses(dt.ipv4_addresses(SWARM))
    tags = dt.host_tags(by_ip, addresses, "swarm0")
    assert tags == [*addresses, "swarm0"]
    pattern = re.compile(dt.directory_pattern(by_ip, tags))
    assert pattern.match("172.18.0.1-202612051712")  # what kdump-config names it when all are up
    assert pattern.match("192.168.100.10-202612051712")  # the capture boot brought up eth0 and eth1 only
    assert not pattern.match("127.0.0.1-202612051712") and not pattern.match("172.18.0.10-202612051712")
    by_name = _debian('SSH="kdump@10.0.0.9"\nHOSTTAG=hostname\n')
    assert dt.host_tags(by_name, addresses, "swarm0") == ["swarm0"]
    assert dt.host_tags(by_ip, [], "db01") == ["db01"]  # a captured tree: no addresses


def test_naming_note_for_ip_on_a_host_of_several_addresses() -> None:
    by_ip = _debian('NFS="nfs01:/srv/crash"\n')
    addresses = dt.host_addresses(dt.ipv4_addresses(SWARM))
    note = dt.naming_note(by_ip, addresses)
    assert note.startswith("dumps are named by whichever address comes last in the capture boot (10.0.2.15, ")
    assert note.endswith("; set HOSTTAG=hostname")
    assert dt.naming_note(by_ip, ["10.0.0.21"]) is None
    assert dt.naming_note(_debian('NFS="nfs01:/srv/crash"\nHOSTTAG="hostname"\n'), addresses) is None
    assert dt.naming_note(ff.parse_kdump_conf(EL_SSH, "/etc/kdump.conf"), addresses) is None


def test_the_note_is_beside_readiness_not_in_it() -> None:
    capture = {"dump_target": {"naming_note": "dumps are named by ...; set HOSTTAG=hostname"}}
    found = readiness.capture_readiness(capture)
    assert found["notes"] == ["dumps are named by ...; set HOSTTAG=hostname"]
    assert "dumps are named by ...; set HOSTTAG=hostname" not in found["missing"]
    assert readiness.capture_readiness({})["notes"] == []


def test_no_tag_no_pattern() -> None:
    assert dt.directory_pattern(_debian('SSH="kdump@10.0.0.9"\n'), []) is None


# --- the ssh probe --------------------------------------------------------------------------------------


def test_probe_is_an_argument_vector_with_batch_mode_and_strict_host_keys() -> None:
    key, target = "/root/.ssh/kdump_id_rsa", "kdump@10.0.0.9"
    argv = dt.ssh_probe_argv("/usr/bin/ssh", key, target, "/srv/crash", "/usr/bin/timeout")
    assert argv[:3] == ["/usr/bin/timeout", "15", "/usr/bin/ssh"]
    options = {argv[i + 1] for i, word in enumerate(argv) if word == "-o"}
    assert {"BatchMode=yes", "StrictHostKeyChecking=yes", "IdentitiesOnly=yes", "ConnectTimeout=5"} <= options
    assert argv[argv.index("--") + 1] == "kdump@10.0.0.9"  # never read as an option


def _run_probe(directory: str) -> int:
    probe = ["sh", "-c", dt.ssh_probe_command(directory)]
    return subprocess.run(probe, check=False, capture_output=True).returncode


def test_probe_command_writes_and_leaves_nothing(tmp_path: Path) -> None:
    spaced = tmp_path / "dump dir; touch CANARY"
    spaced.mkdir()
    assert _run_probe(str(spaced)) == 0
    assert list(spaced.iterdir()) == [] and not (tmp_path / "CANARY").exists()
    assert _run_probe(str(tmp_path / "absent")) == 3


def test_probe_command_unwritable() -> None:
    """A dump path the account may enter but not write (root writes through any mode: it probes as nobody)."""
    directory = Path(tempfile.mkdtemp(prefix="fleetfix-probe-", dir="/tmp"))
    directory.chmod(0o555)
    user = "nobody" if os.geteuid() == 0 else None
    try:
        probe = ["sh", "-c", dt.ssh_probe_command(str(directory))]
        assert subprocess.run(probe, check=False, capture_output=True, user=user).returncode == 4
        assert list(directory.iterdir()) == []
    finally:
        directory.rmdir()


@pytest.mark.parametrize(
    ("rc", "stderr", "ok", "detail"),
    [
        (0, "", True, "ssh kdump@10.0.0.9:/srv/crash reachable and writable"),
        (
            255,
            "kdump@10.0.0.9: Permission denied (publickey).\r\n",
            False,
            "ssh kdump@10.0.0.9 unreachable: kdump@10.0.0.9: Permission denied (publickey).",
        ),
        (
            255,
            "ssh: connect to host 10.0.0.9 port 22: Connection refused\n",
            False,
            "ssh kdump@10.0.0.9 unreachable: ssh: connect to host 10.0.0.9 port 22: Connection refused",
        ),
        (
            255,
            "No ED25519 host key is known for 10.0.0.9 and you have requested strict checking.\n"
            "Host key verification failed.\n",
            False,
            "ssh kdump@10.0.0.9 unreachable: Host key verification failed.",
        ),
        (124, "", False, "ssh kdump@10.0.0.9 unreachable: no answer within 15 s"),
        (
            4,
            "mktemp: failed to create file via template '.fleetfix-probe.XXXXXX': Permission denied\n",
            False,
            "ssh kdump@10.0.0.9: /srv/crash not writable: mktemp: failed to create file via template "
            "'.fleetfix-probe.XXXXXX': Permission denied",
        ),
        (
            3,
            "sh: 1: cd: can't cd to /srv/crash\n",
            False,
            "ssh kdump@10.0.0.9: /srv/crash missing or not accessible: sh: 1: cd: can't cd to /srv/crash",
        ),
    ],
)
def test_ssh_verdicts(rc: int, stderr: str, ok: bool, detail: str) -> None:
    verdict = dt.ssh_verdict("kdump@10.0.0.9", "/srv/crash", rc, stderr)
    assert (verdict["ok"], verdict["detail"]) == (ok, detail)


def test_readiness_names_the_failing_target() -> None:
    denied = "kdump@10.0.0.9: Permission denied (publickey).\n"
    remote = dict(dt.ssh_verdict("kdump@10.0.0.9", "/srv/crash", 255, denied), probed=True)
    capture = {"kdump_config": {"kind": "ssh", "target": "kdump@10.0.0.9"}, "dump_target": remote}
    check = next(c for c in readiness.capture_readiness(capture)["checks"] if c["name"] == "kdump.target")
    assert not check["ok"]
    assert check["detail"] == "ssh kdump@10.0.0.9 unreachable: kdump@10.0.0.9: Permission denied (publickey)."
    unprobed = dict(remote, probed=False, ok=None)
    capture["dump_target"] = unprobed  # a captured tree: the configuration alone is judged
    check = next(c for c in readiness.capture_readiness(capture)["checks"] if c["name"] == "kdump.target")
    assert check["ok"]


# --- NFS ------------------------------------------------------------------------------------------------

EXPORT = "/data/k8s/nfs_share/pvc-2108ee90-b185-43f7-a95c-21d9a4d84a67"


def test_mountinfo_finds_the_nfs4_export() -> None:
    mounts = parse_mountinfo((DATA / "mountinfo-nfs4").read_text())
    assert len(mounts) == 8
    mount = dt.nfs_mount(mounts, "20.20.20.43", EXPORT)
    assert (mount["mount_point"], mount["fstype"]) == ("/kaiwudb/certs", "nfs4")
    assert "rw" in mount["options"] and "vers=4.1" in mount["options"]
    assert dt.nfs_mount(mounts, "20.20.20.44", EXPORT) is None
    opt = next(m for m in mounts if m["mount_point"] == "/opt")
    assert opt["fstype"] == "ext4" and "ro" in opt["options"]


def test_nfs_verdicts() -> None:
    target = f"20.20.20.43:{EXPORT}"
    mount = dt.nfs_mount(parse_mountinfo((DATA / "mountinfo-nfs4").read_text()), "20.20.20.43", EXPORT)
    assert dt.nfs_verdict(target, mount, None, None)["ok"] is True
    refused = dt.nfs_verdict(target, mount, "Permission denied", None)
    assert (refused["ok"], refused["detail"]) == (
        False,
        f"nfs {target}: not writable on /kaiwudb/certs: Permission denied",
    )
    read_only = dict(mount, options=["ro", "relatime"])
    detail = dt.nfs_verdict(target, read_only, None, None)["detail"]
    assert detail.endswith("mounted read-only on /kaiwudb/certs")
    timed_out = "port 2049: Connection timed out"
    away = dt.nfs_verdict(target, None, None, timed_out)
    assert (away["ok"], away["detail"]) == (False, f"nfs {target} unreachable: {timed_out}")
    reachable = dt.nfs_verdict(target, None, None, None)
    assert reachable["ok"] is True and reachable["writable"] is None


# The mount probe: the export mounted as kdump-config mounts it, in a mount namespace of its own.


def test_nfs_probe_mounts_as_kdump_does_in_a_private_namespace() -> None:
    argv = dt.nfs_probe_argv("/usr/bin/unshare", "10.0.2.2:/srv/crash", "/", "/usr/bin/timeout")
    assert argv[:8] == [
        "/usr/bin/timeout", "15", "/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh",
    ]  # fmt: skip
    assert argv[-3:] == ["sh", "10.0.2.2:/srv/crash", "/"]  # arguments, never script text
    script = argv[9]
    # kdump-config 1.8: mount -t nfs -o nolock -o tcp -o soft -o timeo=... -o retrans=... "$NFS" $COREDIR
    assert "mount -t nfs -o nolock,tcp,soft," in script and '-- "$1" /mnt' in script


def _probe_script(tmp_path: Path, mount_rc: int) -> list[str]:
    """The probe's script with its mount point in tmp_path, and ``mount`` a stand-in exiting ``mount_rc``
    (this machine's kernel may have no NFS client): what the script does around the mount."""
    stubs = tmp_path / "bin"
    stubs.mkdir(parents=True)
    tmp_path.chmod(0o755)
    (stubs / "mount").write_text(
        f"#!/bin/sh\necho 'mount.nfs: access denied by server' >&2\nexit {mount_rc}\n"
    )
    (stubs / "mount").chmod(0o755)
    script = dt.nfs_probe_command().replace(dt.NFS_PROBE_MOUNT_POINT, str(tmp_path / "mnt"))
    (tmp_path / "mnt").mkdir()
    return ["env", f"PATH={stubs}:{os.environ['PATH']}", "sh", "-c", script, "sh"]


def test_nfs_probe_writes_in_the_dump_directory_or_its_nearest_parent(tmp_path: Path) -> None:
    probe = _probe_script(tmp_path, 0)
    hostile = tmp_path / "mnt" / "var; touch CANARY"
    hostile.mkdir()
    for inside in ("/", "var; touch CANARY", "/var; touch CANARY/not/yet", "/absent"):
        done = subprocess.run([*probe, "server:/x", inside], check=False, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert list(hostile.iterdir()) == [] and not list(tmp_path.glob("**/CANARY"))
    assert sorted(p.name for p in (tmp_path / "mnt").iterdir()) == ["var; touch CANARY"]


def test_nfs_probe_exit_statuses() -> None:
    """3: the mount failed (its message kept); 4: the dump directory is not writable (root writes through
    any mode on a local directory: the probe runs as nobody there)."""
    base = Path(tempfile.mkdtemp(prefix="fleetfix-nfs-probe-", dir="/tmp"))
    base.chmod(0o755)
    try:
        refused = subprocess.run(
            [*_probe_script(base / "a", 32), "server:/x", "/"], check=False, capture_output=True, text=True
        )
        assert (refused.returncode, refused.stderr.strip()) == (3, "mount.nfs: access denied by server")
        probe = _probe_script(base / "b", 0)
        (base / "b" / "mnt").chmod(0o555)
        user = "nobody" if os.geteuid() == 0 else None
        done = subprocess.run(
            [*probe, "server:/x", "/"], check=False, capture_output=True, text=True, user=user
        )
        assert done.returncode == 4 and "Permission denied" in done.stderr
    finally:
        subprocess.run(["rm", "-rf", "--", str(base)], check=True)


@pytest.mark.parametrize(
    ("rc", "stderr", "verdict"),
    [
        (0, "", (True, True, True, "nfs 10.0.2.2:/srv/crash mounted as kdump mounts it; / writable")),
        (
            3,
            "mount.nfs: access denied by server while mounting 10.0.2.2:/srv/crash\n",  # mount.nfs' own words
            (
                False,
                True,
                None,
                "nfs 10.0.2.2:/srv/crash: kdump's mount fails: "
                "mount.nfs: access denied by server while mounting 10.0.2.2:/srv/crash",
            ),
        ),
        (
            4,
            "mktemp: failed to create file via template '/mnt/.fleetfix-probe.XXXXXX': Permission denied\n",
            (
                False,
                True,
                False,
                "nfs 10.0.2.2:/srv/crash: / not writable: mktemp: failed to create file via template "
                "'/mnt/.fleetfix-probe.XXXXXX': Permission denied",
            ),
        ),
        (124, "", (False, True, None, "nfs 10.0.2.2:/srv/crash: the mount did not finish within 15 s")),
    ],
)
def test_nfs_mount_verdicts(rc: int, stderr: str, verdict: tuple) -> None:
    found = dt.nfs_mount_verdict("10.0.2.2:/srv/crash", "/", rc, stderr)
    assert (found["ok"], found["reachable"], found["writable"], found["detail"]) == verdict


def test_a_probe_that_cannot_run_falls_back_on_the_port() -> None:
    # unshare without the privilege for a mount namespace exits 1: the port answered, the write is untried
    assert (
        dt.nfs_mount_verdict(
            "10.0.2.2:/srv/crash", "/", 1, "unshare: unshare failed: Operation not permitted"
        )
        is None
    )
    untried = dt.nfs_verdict("10.0.2.2:/srv/crash", None, None, None, "the mount probe needs root")
    assert (untried["ok"], untried["writable"]) == (True, None)
    assert untried["detail"].endswith("so kdump's write is not tried (the mount probe needs root)")
    missing = dt.no_nfs_client("10.0.2.2:/srv/crash")
    assert missing["ok"] is False and "no mount.nfs here" in missing["detail"]


def test_mountinfo_octal_escapes() -> None:
    line = "31 22 0:50 / /mnt/crash\\040dumps rw - nfs server:/export rw,vers=3\n"
    assert parse_mountinfo(line)[0]["mount_point"] == "/mnt/crash dumps"
