"""The serial console: console= read from real command lines and grub.cfg, and what readiness reports."""

from __future__ import annotations

from typing import Any

import msgspec

from fleetfix.facts.crash_capture import SerialConsoleReadiness
from tests.support import REPO, collection_plugin

ff = collection_plugin("modules.fleetfix_facts")
rules = collection_plugin("module_utils.capture_readiness")
DATA = REPO / "tests" / "data" / "serial_console"
UBUNTU = (DATA / "ubuntu-cmdline.txt").read_text().strip()
EL7_GRUB = (DATA / "el7-grub-linux16.txt").read_text()


def report(consoles: Any, active: Any, next_boot: Any) -> dict[str, Any]:
    capture = {"serial_console": {"consoles": consoles, "active": active, "next_boot": next_boot}}
    return rules.serial_console(capture)


def test_consoles_of_a_real_command_line() -> None:
    assert ff.parse_consoles(UBUNTU) == [
        {"port": "tty0", "options": None},
        {"port": "ttyS0", "options": "115200n8"},
    ]


def test_next_boot_from_a_real_el7_grub_line() -> None:
    args = ff.grub_default_args(EL7_GRUB)
    assert args is not None and args.startswith("root=/dev/mapper/rootvg-lvroot ro console=tty0")
    assert [c["port"] for c in ff.parse_consoles(args)] == ["tty0", "ttyS0"]


def test_bls_entry_options() -> None:
    entry = "title Rocky Linux\nlinux /vmlinuz-5.14.0\noptions root=/dev/vda1 ro console=ttyS1,9600\n"
    assert ff.bls_options(entry) == "root=/dev/vda1 ro console=ttyS1,9600"


def test_present_when_on_the_command_line_and_active() -> None:
    consoles = ff.parse_consoles(UBUNTU)
    assert report(consoles, ["tty0", "ttyS0"], consoles) == {
        "present": True,
        "next_boot": True,
        "port": "ttyS0,115200n8",
        "detail": "serial console on ttyS0,115200n8",
    }


def test_on_the_command_line_but_not_active() -> None:
    found = report(ff.parse_consoles(UBUNTU), ["tty0"], None)
    assert (found["present"], found["next_boot"]) == (False, None)
    assert (
        found["detail"] == "console=ttyS0,115200n8 is on the command line but ttyS0 is not an active console"
    )


def test_only_from_the_next_boot() -> None:
    found = report([], ["tty0"], ff.parse_consoles("ro console=tty0 console=ttyS1,57600n8"))
    assert found == {
        "present": False,
        "next_boot": True,
        "port": "ttyS1,57600n8",
        "detail": "no serial console on the kernel command line; ttyS1,57600n8 from the next boot",
    }


def test_virtual_consoles_are_not_serial() -> None:
    found = report(ff.parse_consoles("console=tty0 console=tty1"), ["tty0", "tty1"], [])
    assert (found["present"], found["next_boot"], found["port"]) == (False, False, None)


def test_readiness_carries_it_without_deciding_ready() -> None:
    capture = {"serial_console": {"consoles": [], "active": None, "next_boot": None}}
    readiness = rules.capture_readiness(capture)
    assert readiness["serial_console"]["present"] is False
    assert all(not c["name"].startswith("serial") for c in readiness["checks"])
    typed = msgspec.convert(readiness["serial_console"], SerialConsoleReadiness)
    assert typed.detail == "no serial console on the kernel command line"
