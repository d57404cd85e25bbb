"""netconsole's configfs side: loading the module makes /sys/kernel/config/netconsole; a target given as
the ``netconsole=`` parameter appears there as ``cmdline0``, enabled."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

_PARAM = re.compile(
    r"^(?P<ext>\+)?(?P<lport>\d*)@(?P<lip>[\d.]*)/(?P<dev>[\w.-]*),(?P<rport>\d*)@(?P<rip>[\d.]+)/(?P<mac>[0-9a-fA-F:]*)$"
)


def parse(value: str) -> dict[str, str] | None:
    match = _PARAM.match(value.strip())
    if match is None:
        return None
    return {
        "enabled": "1",
        "extended": "1" if match["ext"] else "0",
        "dev_name": match["dev"] or "eth0",
        "local_port": match["lport"] or "6665",
        "local_ip": match["lip"],
        "remote_port": match["rport"] or "6666",
        "remote_ip": match["rip"],
        "remote_mac": (match["mac"] or "ff:ff:ff:ff:ff:ff").lower(),
        "local_mac": "00:00:00:00:00:00",
        "release": "0",
    }


def on_load(root: Path, params: dict[str, str]) -> None:
    base = root / "sys/kernel/config/netconsole"
    base.mkdir(parents=True, exist_ok=True)
    for index, value in enumerate(p for p in params.get("netconsole", "").split(";") if p):
        fields = parse(value)
        if fields is not None:
            target = base / f"cmdline{index}"
            target.mkdir(exist_ok=True)
            for key, content in fields.items():
                (target / key).write_text(f"{content}\n")


def on_unload(root: Path) -> None:
    shutil.rmtree(root / "sys/kernel/config/netconsole", ignore_errors=True)
