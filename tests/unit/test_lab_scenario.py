"""Lab scenario files: the shipped ones load, broken ones fail with one line naming file, field and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fleetfix.errors import ExitStatus, InputError
from fleetfix.lab.lab import Lab
from fleetfix.lab.network import link_address, prefix_for
from fleetfix.lab.repo import driver_modinfo, driver_package
from fleetfix.lab.scenario_load import load_scenario

GOOD_GROUP = """\
name: t
groups:
  - name: web
    count: 2
    kernel: 6.1.0-18-amd64
    modules:
      - {name: mpt3sas, version: "34.100.00.00", srcversion: ABC, disks: [{name: sdb, size: 1G}]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_for(tmp_path: Path, text: str) -> InputError:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_scenario(str(path))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert caught.value.status == ExitStatus.BAD_INPUT
    return caught.value


def test_seed_tells_the_incident() -> None:
    seed = load_scenario("seed")
    hosts = {h.name: h for h in seed.hosts()}
    assert 10 <= len(hosts) <= 14
    assert [h for h in hosts.values() if h.group.state == "down"]
    bad = [f for f in seed.faults if f.module == "mpt3sas"]
    assert bad and bad[0].workload.rw == "randread"
    affected = [h for h in hosts.values() for m in h.group.modules if bad[0].matches(m.version, m.srcversion)]
    assert len(affected) >= 3
    assert any(not h.group.crash_capture.kdump.installed for h in affected)
    assert any(not h.group.crash_capture.netconsole for h in affected)
    assert {m.name for h in hosts.values() for m in h.group.modules} >= {
        "megaraid_sas",
        "qla2xxx",
        "smartpqi",
    }
    assert any(p.broken for p in seed.packages)
    assert any(c.schedule == "0 1 * * *" for h in affected for c in h.group.cron)


def test_large_has_a_hundred_targets_then_three_execution_nodes() -> None:
    hosts = load_scenario("large").hosts()
    assert len(hosts) == 103 and [h.name for h in hosts[100:]] == ["runner01", "runner02", "runner03"]


def test_a_module_installed_from_a_package_of_the_scenario(tmp_path: Path) -> None:
    text = GOOD_GROUP.replace("srcversion: ABC", "srcversion: ABC, package: '34.100.00.00-1'")
    text += (
        "packages: [{name: mpt3sas-driver, version: '34.100.00.00-1', module: mpt3sas,"
        " module_version: '34.100.00.00', srcversion: ABC}]\n"
    )
    scenario = load_scenario(str(write(tmp_path, text)))
    module = scenario.groups[0].modules[0]
    assert module.package == "34.100.00.00-1"
    assert scenario.preinstalled(module) == scenario.packages[0]


def test_good_minimal_file(tmp_path: Path) -> None:
    scenario = load_scenario(str(write(tmp_path, GOOD_GROUP)))
    assert [h.name for h in scenario.hosts()] == ["web01", "web02"]
    assert scenario.groups[0].modules[0].disks[0].size_bytes == 1 << 30
    assert scenario.groups[0].modules[0].taint == "OE"


@pytest.mark.parametrize(
    ("text", "field", "line", "words"),
    [
        (GOOD_GROUP.replace("count: 2", "count: two"), "groups[0].count", 4, "integer"),
        (GOOD_GROUP.replace("count: 2", "cuont: 2"), "groups[0].cuont", 4, "unknown field"),
        (GOOD_GROUP.replace("    kernel: 6.1.0-18-amd64\n", ""), "groups[0].kernel", 3, "required"),
        (GOOD_GROUP.replace("size: 1G", "size: lots"), "groups[0].modules[0].disks[0].size", 7, "size"),
        (GOOD_GROUP.replace("name: sdb", "name: disk1"), "groups[0].modules[0].disks[0].name", 7, "disk"),
        (GOOD_GROUP + "    state: sleeping\n", "groups[0].state", 8, "up or down"),
        (
            GOOD_GROUP + "    cron: [{name: b, schedule: '0 25 * * *', command: x}]\n",
            "groups[0].cron[0].schedule",
            8,
            "cron",
        ),
        (GOOD_GROUP + "faults: [{module: mpt3sas, workload: {rw: randread}}]\n", "faults[0]", 8, "version"),
        (
            GOOD_GROUP + "faults: [{module: m, version: '1', workload: {rw: sideways}}]\n",
            "faults[0].workload.rw",
            8,
            "fio",
        ),
        (
            GOOD_GROUP.replace("srcversion: ABC", "srcversion: ABC, taint: OQ"),
            "groups[0].modules[0].taint",
            7,
            "taint",
        ),
        (GOOD_GROUP + "  - name: web\n    kernel: x\n", "groups[1]", 8, "twice"),
        (
            GOOD_GROUP + "    crash_capture: {kdump: {enabled: true, active: true}}\n",
            "groups[0].crash_capture.kdump",
            8,
            "crashkernel",
        ),
        (
            GOOD_GROUP.replace("srcversion: ABC", "srcversion: ABC, package: '34.100.00.00-1'")
            + "packages: [{name: mpt3sas-driver, version: '34.100.00.00-1', module: mpt3sas,"
            " module_version: '34.100.00.00', srcversion: DEF}]\n",
            "groups[0]",
            3,
            "no package of the scenario at that version ships mpt3sas 34.100.00.00 (ABC)",
        ),
        (
            GOOD_GROUP + "packages: [{name: mpt3sas-driver, version: '1-1', module: mpt3sas,"
            " module_version: '1', srcversion: DEF, signer: vendor key}]\n",
            "packages[0].signer",
            8,
            "an unsigned build (taint E) names no signer",
        ),
        (
            GOOD_GROUP + "packages: [{name: mpt3sas-driver, version: '1-1', module: mpt3sas,"
            " module_version: '1', srcversion: DEF, leaves_module: true}]\n",
            "packages[0].leaves_module",
            8,
            "only a broken build (broken: true) can fail after its module",
        ),
        (
            GOOD_GROUP.replace("count: 2", "count: 2\n    pattern: 'Web_{n}'"),
            "groups[0].pattern",
            5,
            "host name",
        ),
    ],
)
def test_bad_field_is_named(tmp_path: Path, text: str, field: str, line: int, words: str) -> None:
    error = error_for(tmp_path, text)
    assert error.field == field
    assert error.line == line
    assert words in str(error)


def test_a_package_names_the_key_that_signed_its_build(tmp_path: Path) -> None:
    text = GOOD_GROUP + (
        "packages:\n"
        "  - {name: mpt3sas-driver, version: '1-1', module: mpt3sas, module_version: '1', srcversion: D,"
        " taint: O, signer: vendor key}\n"
        "  - {name: mpt3sas-driver, version: '1-2', module: mpt3sas, module_version: '1', srcversion: E,"
        " taint: O}\n"
    )
    vendor, default = load_scenario(str(write(tmp_path, text))).packages
    assert (vendor.signer, default.signer) == ("vendor key", "Debian Secure Boot CA")
    assert ("signer", "vendor key") in driver_modinfo("mpt3sas", "1", "D", vendor.taint, vendor.signer)


def test_a_broken_build_that_leaves_its_module_fails_its_postinst_after_putting_it_in_place(
    tmp_path: Path,
) -> None:
    text = GOOD_GROUP + (
        "packages:\n"
        "  - {name: mpt3sas-driver, version: '1-1', module: mpt3sas, module_version: '1', srcversion: D,"
        " broken: true}\n"
        "  - {name: mpt3sas-driver, version: '1-2', module: mpt3sas, module_version: '1', srcversion: E,"
        " broken: true, leaves_module: true}\n"
    )
    before, after = (
        driver_package(p).scripts["postinst"] for p in load_scenario(str(write(tmp_path, text))).packages
    )
    assert "/lib/modules/" not in before and "exit 1" in before
    put, fails = after.index("install -D -m 0644 /usr/src/mpt3sas-1/mpt3sas.ko"), after.index("exit 1")
    assert put < after.index("depmod") < fails
    assert "update-initramfs: failed for /boot/initrd.img-$release with 1." in after


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    error = error_for(tmp_path, "name: t\ngroups: [\n")
    assert error.line is not None


def test_unknown_scenario_name_lists_the_shipped_ones() -> None:
    with pytest.raises(InputError, match="seed"):
        load_scenario("no-such-scenario")


def test_large_grows_past_its_size_in_the_same_proportions() -> None:
    hosts = Lab("t")._select(load_scenario("large"), 1000)
    names = [host.name for host in hosts]
    assert len(names) == len(set(names)) == 1000
    groups = [host.group.name for host in hosts]
    assert (groups.count("db"), groups.count("app"), groups.count("store")) == (400, 300, 200)
    assert names[:2] == ["db001", "db002"] and "app300" in names


@pytest.mark.parametrize(("addresses", "prefix"), [(12, 24), (254, 24), (255, 23), (310, 23), (1010, 22)])
def test_a_lab_subnet_holds_its_hosts(addresses: int, prefix: int) -> None:
    assert prefix_for(addresses) == prefix


def test_each_lab_address_has_its_own_locally_administered_unicast_mac() -> None:
    assert link_address("10.231.121.155") == "02:fc:0a:e7:79:9b"
    macs = {link_address(f"10.231.{third}.{fourth}") for third in range(4) for fourth in range(1, 255)}
    assert len(macs) == 4 * 254
    first_byte = int(link_address("10.231.0.1")[:2], 16)
    assert first_byte & 0b10 and not first_byte & 0b01  # locally administered, not multicast
