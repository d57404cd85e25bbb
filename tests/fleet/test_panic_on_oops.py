"""kernel.panic_on_oops on a lab host (tests/data/scenarios/panic_on_oops.yaml), through the installed
command: `capture status` says an oops would leave no dump, `capture enable` sets it now and in sysctl.d,
and the machine's own kernel settings, which the lab hosts share, are never written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fleet.test_capture import enable, status

pytestmark = pytest.mark.fleet

SCENARIO = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "panic_on_oops.yaml"
MACHINE = ("panic_on_oops", "hung_task_panic", "softlockup_panic", "panic")
DROPIN = "/etc/sysctl.d/90-fleetfix-crash-capture.conf"


def machine_settings() -> dict[str, str]:
    return {name: Path("/proc/sys/kernel", name).read_text() for name in MACHINE}


def panic_check(host: dict) -> dict:
    return next(c for c in host["checks"] if c["name"] == "kdump.panic_on_oops")


def test_an_oops_that_leaves_no_dump_is_found_and_fixed(make_lab, tmp_path: Path) -> None:
    before = machine_settings()
    lab = make_lab(str(SCENARIO))

    rc, hosts = status(lab, tmp_path)
    host = hosts["oops01"]
    assert rc == 1 and not host["kdump_ready"] and host["netconsole_ready"]
    assert panic_check(host) == {
        "name": "kdump.panic_on_oops",
        "ok": False,
        "detail": "kernel.panic_on_oops is 0: an oops in process context kills only that task and the kernel "
        "runs on, so kdump takes no dump (fleetfix capture enable sets it to 1)",
    }

    rc, enabled = enable(lab, tmp_path)
    assert rc == 0, enabled
    assert "panic on oops" in enabled["oops01"]["changed"]
    assert lab.ssh("oops01", "cat /proc/sys/kernel/panic_on_oops").stdout == "1\n"
    dropin = lab.ssh("oops01", f"grep -v '^#' {DROPIN}").stdout
    assert dropin == "kernel.panic_on_oops = 1\n"  # the optional hung-task and soft-lockup panics stay off

    rc, hosts = status(lab, tmp_path)
    assert rc == 0 and hosts["oops01"]["ready"]
    assert panic_check(hosts["oops01"])["detail"] == (
        f"an oops panics the kernel (kernel.panic_on_oops=1, kept by {DROPIN})"
    )
    rc, again = enable(lab, tmp_path)
    assert rc == 0 and "panic on oops" not in again["oops01"]["changed"]  # nothing left to change
    assert machine_settings() == before
