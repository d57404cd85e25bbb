"""The lab's systemctl stand-in keeps enablement as systemd does: a link in each [Install] unit's .wants/."""

from __future__ import annotations

import os
from pathlib import Path

from fleetfix.lab.guest.units import Units

DEVICE = "sys-subsystem-net-devices-br\\x2dlan.device"
UNIT = (
    f"[Unit]\nBindsTo={DEVICE}\nAfter={DEVICE}\n[Service]\nType=oneshot\nRemainAfterExit=yes\n"
    f"ExecStart=/sbin/modprobe netconsole\n[Install]\nWantedBy={DEVICE}\n"
)


def test_a_unit_a_device_wants_is_enabled_by_a_link_in_the_device_wants_directory(tmp_path: Path) -> None:
    system = tmp_path / "etc/systemd/system"
    system.mkdir(parents=True)
    (system / "fleetfix-netconsole.service").write_text(UNIT)
    units = Units(str(tmp_path))
    assert units.enablement("fleetfix-netconsole.service") == "disabled"
    units.enable("fleetfix-netconsole.service")
    link = system / f"{DEVICE}.wants" / "fleetfix-netconsole.service"
    assert os.readlink(link) == "/etc/systemd/system/fleetfix-netconsole.service"
    assert units.enablement("fleetfix-netconsole.service") == "enabled"
    assert units.enabled_at_boot() == ["fleetfix-netconsole.service"]  # the lab's boot starts it
    units.disable("fleetfix-netconsole.service")
    assert not link.is_symlink()
    assert units.enablement("fleetfix-netconsole.service") == "disabled"
