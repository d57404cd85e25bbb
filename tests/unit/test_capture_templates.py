"""The crash_capture role's templates, rendered by Ansible's own templating with hostile values.

Two lines of defence are tested apart: the files a shell sources (kdump-tools, the grub drop-ins) keep any
value inert by quoting alone; every other file holds values the grammars let through, one directive per
line. The grammars themselves refuse every shell metacharacter, and the role carries the same patterns.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetfix import grammar
from fleetfix.commands import capture
from fleetfix.errors import InputError
from tests.strategies import CANARY, hostile_text
from tests.support import REPO

ROLE = REPO / "roles" / "crash_capture"
TEMPLATES = ROLE / "templates"
_SOURCED = dict(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def render(template: str, variables: dict[str, Any]) -> str:
    """Render as the template action does: Ansible's Templar, trim_blocks, trailing newline kept."""
    templar = Templar(loader=DataLoader(), variables={"ansible_managed": "Ansible managed", **variables})
    text = trust_as_template((TEMPLATES / template).read_text())
    return templar.template(text, escape_backslashes=False, overrides={"trim_blocks": True})


def source(text: str, names: list[str], workdir: Path, env: dict[str, str] | None = None) -> list[str]:
    """Source ``text`` with sh in ``workdir`` and return the named variables' values."""
    (workdir / "sourced").write_text(text)
    printed = " ".join(f'"${{{name}-}}"' for name in names)
    done = subprocess.run(
        ["sh", "-c", f'. ./sourced && printf "%s\\0" {printed}'],
        cwd=workdir,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert not (workdir / CANARY).exists(), "a value was executed"
    return done.stdout.decode().split("\0")[:-1]


# -- quoting alone keeps sourced files inert ---------------------------------------------------------


@settings(**_SOURCED)
@given(path=hostile_text(), remote=hostile_text(), key=hostile_text(), kind=st.sampled_from(["ssh", "nfs"]))
def test_kdump_tools_sources_any_value_as_written(
    tmp_path: Path, path: str, remote: str, key: str, kind: str
):
    variables = {
        "crash_capture_kdump_path": path,
        "crash_capture_kdump_dump_level": 31,
        "crash_capture_kdump_target": kind,
        "crash_capture_kdump_ssh": remote,
        "crash_capture_kdump_ssh_key": key,
        "crash_capture_kdump_nfs": remote,
        "crash_capture_kdump_host_tag": "hostname",
    }
    names = ["KDUMP_COREDIR", "MAKEDUMP_ARGS", "USE_KDUMP", "SSH", "SSH_KEY", "NFS", "HOSTTAG"]
    values = dict(zip(names, source(render("kdump-tools.j2", variables), names, tmp_path), strict=True))
    assert values["KDUMP_COREDIR"] == path
    assert values["MAKEDUMP_ARGS"] == "-c -d 31"
    assert values["USE_KDUMP"] == "1"
    assert values["HOSTTAG"] == "hostname"  # dump directories named by the host name, not an address
    if kind == "ssh":
        assert (values["SSH"], values["SSH_KEY"], values["NFS"]) == (remote, key, "")
    else:
        assert (values["SSH"], values["NFS"]) == ("", remote)


@settings(**_SOURCED)
@given(value=hostile_text(), key=st.sampled_from(["crashkernel", "netconsole"]))
def test_grub_dropin_appends_any_value_as_one_word(tmp_path: Path, value: str, key: str):
    arguments = {"__crash_capture_arg_key": key, "__crash_capture_arg_value": value}
    text = render("grub-dropin.cfg.j2", arguments)
    before = {"GRUB_CMDLINE_LINUX": f"{key}=1 ro", "GRUB_CMDLINE_LINUX_DEFAULT": f"quiet {key}=128M splash"}
    linux, default = source(text, ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"], tmp_path, before)
    assert linux == " ro"
    assert default == f"quiet splash {key}={value}"


# -- the grammars -------------------------------------------------------------------------------------

_METACHARACTERS = set(" \t\n\r'\"$`\\;|&<>(){}*?!#~\x00\u202e\x1b")


@given(value=hostile_text(), kind=st.sampled_from(sorted(grammar.GRAMMARS)))
def test_no_grammar_lets_a_shell_metacharacter_through(value: str, kind: str):
    if grammar.problem(kind, value) is None:
        assert not _METACHARACTERS & set(value)
        assert "\n" not in value


def test_the_role_carries_the_same_grammars():
    role = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__crash_capture_grammar"]
    assert role == {kind: grammar.GRAMMARS[kind].pattern for kind in role}
    assert set(role) == set(grammar.GRAMMARS) - {"module", "nfs"}  # the role checks nfs as host:/path
    validate = (REPO / "roles" / "hba_driver" / "tasks" / "validate.yml").read_text()
    assert f"hba_driver_module is match('{grammar.GRAMMARS['module'].pattern}')" in validate


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("path", "/var/crash"),
        ("path", "/srv/dumps/host-01_a.b+c/"),
        ("ssh", "root@dump.example.com"),
        ("ssh", "kdump@[fd00::10]"),
        ("nfs", "nfs01:/exports/crash"),
        ("nfs", "192.0.2.7:/crash"),
        ("interface", "enp0s31f6"),
        ("interface", "bond0.100"),
        ("interface", "br-lan"),
        ("module", "mpt3sas"),
        ("module", "megaraid_sas"),
        ("crash_size", "512M,high"),
        ("crash_size", "1G-4G:256M,4G-:512M"),
        ("crash_size", "256M@16M"),
        ("address", "fd00::1"),
        ("address", "::ffff:192.0.2.1"),
        ("name", "cmdline0"),
    ],
)
def test_grammars_take_real_values(kind: str, value: str):
    assert grammar.problem(kind, value) is None


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("path", "/var/crash\n"),  # $ would have matched before the newline
        ("path", "/var/../etc"),
        ("path", "var/crash"),
        ("path", "/var/crash/$(reboot)"),
        ("ssh", "root@host;reboot"),
        ("ssh", "-oProxyCommand=x@host"),
        ("nfs", "server:/export dir"),
        ("interface", "eth0 "),
        ("interface", "averyveryverylongname"),
        ("module", "-r"),
        ("crash_size", "auto"),
        ("address", "999.1.1.1"),
        ("name", "../x"),
    ],
)
def test_grammars_refuse(kind: str, value: str):
    assert grammar.problem(kind, value) is not None


# -- the CLI checks before any host is contacted --------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/var/crash/$(touch /tmp/x)",
        '/var/crash"',
        "ssh://root@dump/$(id)",
        "ssh://root@dump$(id)/var/crash",
        "ssh://root:secret@dump/var/crash",
        "ssh://root@dump:2222/var/crash",
        "nfs://server/export`id`",
        "nfs://server/export?x=1",
        "nfs://[fd00::1/export",
        "nfs://user@server/export",
    ],
)
def test_dump_targets_outside_the_grammar_are_refused(target: str):
    with pytest.raises(InputError, match="--dump-target"):
        capture.parse_options(dump_target=target)


def test_dump_targets_inside_the_grammar_become_role_variables():
    assert capture.parse_dump_target("ssh://root@[fd00::1]/srv/crash") == {
        "crash_capture_kdump_target": "ssh",
        "crash_capture_kdump_ssh": "root@[fd00::1]",
        "crash_capture_kdump_path": "/srv/crash",
    }
    nfs = capture.parse_dump_target("nfs://nfs01.example.com/exports/crash")
    assert nfs["crash_capture_kdump_nfs"] == "nfs01.example.com:/exports/crash"


@given(value=hostile_text())
def test_any_option_value_is_parsed_or_refused_with_the_option_named(value: str):
    for option, kwargs in (
        ("--interface", {"log_host": "192.0.2.1", "interface": value}),
        ("--crash-size", {"crash_size": value}),
        ("--dump-target", {"dump_target": value}),
        ("--log-port", {"log_host": "192.0.2.1", "log_port": value}),
    ):
        try:
            options = capture.parse_options(**kwargs)
        except InputError as error:
            assert str(error).startswith(option) and "\n" not in str(error).replace("\\n", "")
        else:
            for name, chosen in options.extravars(False).items():
                assert grammar.variable_problems({name: chosen}) == []


def test_inventory_values_are_checked_before_a_host_is_contacted():
    hostvars = {
        "web-1": {"crash_capture_kdump_path": "/var/crash"},
        "db-2": {"crash_capture_kdump_path": "/var/crash/$(reboot)"},
    }
    with pytest.raises(InputError, match=r"^hosts.yml: host db-2: crash_capture_kdump_path: "):
        capture.check_inventory_values(hostvars, "hosts.yml")
    capture.check_inventory_values({"a": {"crash_capture_netconsole_interface": ""}}, "hosts.yml")


# -- files that are not sourced take grammar-checked values, one directive per line -------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_hosts = st.lists(_label, min_size=1, max_size=3).map(".".join)
_paths = st.lists(st.from_regex(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,8}", fullmatch=True), min_size=1).map(
    lambda parts: "/" + "/".join(parts)
)
_users = st.from_regex(r"[a-z_][a-z0-9_-]{0,8}", fullmatch=True)
_ifnames = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}", fullmatch=True)


@settings(max_examples=40)
@given(path=_paths, user=_users, host=_hosts, key=_paths, kind=st.sampled_from(["local", "ssh", "nfs"]))
def test_kdump_conf_has_one_directive_per_line(path: str, user: str, host: str, key: str, kind: str):
    variables = {
        "crash_capture_kdump_target": kind,
        "crash_capture_kdump_path": path,
        "crash_capture_kdump_ssh": f"{user}@{host}",
        "crash_capture_kdump_ssh_key": key,
        "crash_capture_kdump_nfs": f"{host}:{path}",
        "crash_capture_kdump_dump_level": 31,
    }
    assert not grammar.variable_problems(variables)
    lines = [line for line in render("kdump.conf.j2", variables).splitlines() if not line.startswith("#")]
    directives = dict(line.split(" ", 1) for line in lines)
    assert directives["path"] == path
    if kind == "ssh":
        assert (directives["ssh"], directives["sshkey"]) == (f"{user}@{host}", key)
    if kind == "nfs":
        assert directives["nfs"] == f"{host}:{path}"
    assert len(lines) == {"local": 2, "ssh": 4, "nfs": 3}[kind]


@settings(max_examples=40)
@given(dev=_ifnames)
def test_netconsole_unit_and_options_stay_one_line_each(dev: str):
    tasks = yaml.safe_load((ROLE / "tasks" / "netconsole_persistent.yml").read_text())
    spec_task = next(t for t in tasks if "set_fact" in str(t))
    route = {"dev": dev, "source_ip": "192.0.2.10", "remote_mac": "52:54:00:12:34:56"}
    variables: dict[str, Any] = {
        "__crash_capture_route": route,
        "__crash_capture_netconsole_result": {"extended_supported": True},
        "crash_capture_netconsole_extended": True,
        "crash_capture_netconsole_local_port": 6665,
        "crash_capture_netconsole_log_port": 6666,
        "crash_capture_netconsole_log_host": "192.0.2.1",
        "__crash_capture_modprobe_file": "/etc/modprobe.d/netconsole.conf",
    }
    templar = Templar(loader=DataLoader(), variables=variables)
    role_vars = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    device_unit = "__crash_capture_netconsole_device_unit"
    expressions = {**spec_task["ansible.builtin.set_fact"], device_unit: role_vars[device_unit]}
    for name, expression in expressions.items():
        variables[name] = templar.template(trust_as_template(expression)).strip()
    options = render("netconsole-modprobe.conf.j2", variables).splitlines()[-1].split(" ")
    spec = f"netconsole=+6665@192.0.2.10/{dev},6666@192.0.2.1/52:54:00:12:34:56"
    assert options == ["options", "netconsole", spec]
    unit = render("netconsole.service.j2", variables).splitlines()
    unit = [line for line in unit if not line.startswith("#")]
    binds = [line for line in unit if line.startswith(("BindsTo=", "After=", "WantedBy="))]
    assert [line.split("=", 1)[0] for line in binds] == ["BindsTo", "After", "WantedBy"]
    # systemd-escape --path's name for the interface's device, one word, the same in all three
    device = "sys-subsystem-net-devices-" + dev.replace("-", "\\x2d") + ".device"
    assert {line.split("=", 1)[1] for line in binds} == {device}
    assert len(unit) == 13


def trusted(value: Any) -> Any:
    """Role files are templates to Ansible (it trusts what it loads from a role); yaml.safe_load's are not."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [trusted(v) for v in value]
    if isinstance(value, dict):
        return {k: trusted(v) for k, v in value.items()}
    return value


def ramoops_args(**given: Any) -> list[str]:
    """The role's ramoops kernel arguments for the given variables (the rest from the role's defaults)."""
    variables = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    variables |= yaml.safe_load((ROLE / "vars" / "main.yml").read_text()) | given
    variables = {k: trusted(v) for k, v in variables.items()}
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(trust_as_template("{{ __crash_capture_ramoops_args }}"))


def test_ramoops_arguments_in_hex_with_the_dollar_escaped_for_grub(tmp_path: Path) -> None:
    args = ramoops_args(
        crash_capture_ramoops_mem_address="0x7F000000", crash_capture_ramoops_mem_size="0x100000"
    )
    assert args == [
        "memmap=0x100000\\$0x7f000000",
        "ramoops.mem_address=0x7f000000",
        "ramoops.mem_size=0x100000",
        "ramoops.record_size=0x10000",
        "ramoops.console_size=0x10000",
        "crash_kexec_post_notifiers=1",
    ]
    decimal = ramoops_args(
        crash_capture_ramoops_mem_address="0x7f000000", crash_capture_ramoops_record_size=16384
    )
    assert "ramoops.record_size=0x4000" in decimal
    drop = [a.split("=", 1)[0] for a in args if not a.startswith("memmap=")]
    text = render("grub-dropin.cfg.j2", {"__crash_capture_arg_pairs": args, "__crash_capture_arg_drop": drop})
    before = {
        "GRUB_CMDLINE_LINUX": "ro ramoops.mem_size=0x4000",
        "GRUB_CMDLINE_LINUX_DEFAULT": "quiet memmap=64M$0x100000000",  # another reservation: kept
    }
    linux, default = source(text, ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"], tmp_path, before)
    assert linux == "ro"
    assert default == "quiet memmap=64M$0x100000000 " + " ".join(args)  # grub.cfg gets \$, GRUB reads $


def _capture_cmdline(proc_cmdline: str, workdir: Path) -> str:
    """The --command-line kdump-config (kdump-tools 1:1.8) gives kexec with the role's kdump-tools file: it
    sources the file, appends KDUMP_CMDLINE_APPEND and eval's the kexec command line it built."""
    (workdir / "cmdline").write_text(proc_cmdline)
    variables = {"crash_capture_kdump_path": "/var/crash", "crash_capture_kdump_dump_level": 31}
    variables["crash_capture_kdump_target"] = "local"
    rendered = render("kdump-tools.j2", variables).replace("/proc/cmdline", str(workdir / "cmdline"))
    (workdir / "sourced").write_text(rendered)
    script = (
        '. ./sourced && KDUMP_CMDLINE="$KDUMP_CMDLINE nr_cpus=1" && '
        'KEXEC_CMD="printf %s --command-line=\\"$KDUMP_CMDLINE\\"" && eval $KEXEC_CMD'
    )
    done = subprocess.run(["sh", "-c", script], cwd=workdir, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.removeprefix("--command-line=")


def test_capture_kernel_command_line_drops_the_ramoops_region(tmp_path: Path) -> None:
    real = (REPO / "tests/data/kdump_cmdline/virtme-ramoops.txt").read_text()
    assert _capture_cmdline(real, tmp_path) == "quiet nr_cpus=1"


@pytest.mark.parametrize(
    ("proc_cmdline", "expected"),
    [
        # what the role itself puts on a Debian host's command line (grub unescapes \\$ to $)
        (
            "BOOT_IMAGE=/boot/vmlinuz-6.1.0-50-amd64 root=UUID=6f1c ro crashkernel=256M "
            "memmap=0x100000$0x7ff00000 ramoops.mem_address=0x7ff00000 ramoops.mem_size=0x100000 "
            "ramoops.record_size=0x10000 ramoops.console_size=0x10000 crash_kexec_post_notifiers=1 "
            "console=tty0 console=ttyS0,115200n8\n",
            "BOOT_IMAGE=/boot/vmlinuz-6.1.0-50-amd64 root=UUID=6f1c ro console=tty0 console=ttyS0,115200n8 "
            "nr_cpus=1",
        ),
        # kdump-config's own drops, a bare flag, names that only start like a dropped one, shell characters
        (
            "hugepagesz=1G hugepages=4 abm=1 crash_kexec_post_notifiers memmapx=1 ramoops2=1 "
            'a=$HOME b=`id` c="q"',
            'memmapx=1 ramoops2=1 a=$HOME b=`id` c="q" nr_cpus=1',
        ),
    ],
)
def test_capture_kernel_command_line_is_the_running_one_less_the_memory_layout(
    tmp_path: Path, proc_cmdline: str, expected: str
) -> None:
    assert _capture_cmdline(proc_cmdline, tmp_path) == expected


# -- what the role installs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "client"),
    [("Debian", "nfs-common"), ("RedHat", "nfs-utils"), ("RedHat_10", "nfs-utils"), ("Fedora", "nfs-utils")],
)
def test_an_nfs_target_brings_the_nfs_client(platform: str, client: str) -> None:
    """kdump-tools' capture boot runs ``mount -t nfs`` and dracut's nfs module takes mount.nfs into the kdump
    initramfs: without the platform's NFS client the capture kernel cannot mount the export."""
    platform_vars = yaml.safe_load((ROLE / "vars" / f"{platform}.yml").read_text())
    wanted = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__crash_capture_kdump_packages"]
    for target, extra in (("nfs", [client]), ("ssh", []), ("local", [])):
        variables = {**platform_vars, "crash_capture_kdump_target": target}
        templar = Templar(loader=DataLoader(), variables=variables)
        assert (
            templar.template(trust_as_template(wanted)) == platform_vars["__crash_capture_packages"] + extra
        )


def test_the_capture_boot_pulls_in_the_network_service_an_ssh_or_nfs_target_needs() -> None:
    """kdump-tools' capture boot starts kdump-tools-dump.service alone; network-online.target starts no
    systemd-networkd there (the real kernel showed "mount.nfs: Network is unreachable" and no dump)."""
    text = render(
        "kdump-tools-dump-network.conf.j2", {"__crash_capture_network_found": ["systemd-networkd.service"]}
    )
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines == ["[Unit]", "Wants=systemd-networkd.service", "After=systemd-networkd.service"]
