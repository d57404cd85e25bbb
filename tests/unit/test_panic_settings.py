"""kernel.panic_on_oops: what sysctl.d sets at boot (plugins/module_utils/panic_settings.py) on real
sysctl files (tests/data/sysctl/SOURCES.md), and the readiness check that says an oops leaves no dump."""

from __future__ import annotations

from pathlib import Path

from tests.support import collection_plugin

ps = collection_plugin("module_utils.panic_settings")
DATA = Path(__file__).resolve().parents[1] / "data" / "sysctl"


def text(name: str) -> str:
    return (DATA / name).read_text()


def test_systemd_sysctl_order():
    listing = {
        "/usr/lib/sysctl.d": ["50-default.conf", "50-pid-max.conf", "README"],
        "/run/sysctl.d": [],
        "/etc/sysctl.d": ["99-sysctl.conf", "50-default.conf", "k8s.conf"],
        "/etc/sysctl.conf": True,
    }
    assert ps.sysctl_files(listing) == [
        "/etc/sysctl.d/50-default.conf",  # /etc hides /usr/lib's file of the same name
        "/usr/lib/sysctl.d/50-pid-max.conf",
        "/etc/sysctl.d/99-sysctl.conf",
        "/etc/sysctl.d/k8s.conf",
        "/etc/sysctl.conf",
    ]


def test_real_files():
    assert ps.configured([("/etc/sysctl.d/k8s.conf", text("k8s.conf"))]) == {
        "kernel.panic_on_oops": {"value": 1, "text": "1", "source": "/etc/sysctl.d/k8s.conf"}
    }
    oracle = ps.assignments(text("oracle-sysctl.conf"))
    assert ("kernel.sem", "250 32000 100 128") in oracle and len(oracle) == 14
    # sysctl.d has no trailing comments: this file asks for 1 and boot cannot set it
    commented = ps.configured([("/etc/sysctl.conf", text("trailing-comment.conf"))])
    assert commented["kernel.panic_on_oops"]["value"] is None
    assert commented["kernel.panic_on_oops"]["text"] == "1                # Panic on oops (kernel error)"


def test_later_files_win_and_slash_names_and_ignore_prefix():
    files = [
        ("/usr/lib/sysctl.d/50-default.conf", "kernel/panic_on_oops = 1\n"),
        ("/etc/sysctl.d/60-site.conf", "; site\n-kernel.panic_on_oops=0\nkernel.hung_task_panic = 1\n"),
    ]
    found = ps.configured(files)
    assert found["kernel.panic_on_oops"] == {"value": 0, "text": "0", "source": "/etc/sysctl.d/60-site.conf"}
    assert found["kernel.hung_task_panic"]["value"] == 1


def check(live, configured=None, cmdline=""):
    return ps.panic_on_oops_check({"panic_on_oops": live, "configured": configured or {}}, cmdline)


def test_the_check_says_why_an_oops_leaves_no_dump():
    off = check(0)
    assert not off["ok"] and off["detail"].startswith(
        "kernel.panic_on_oops is 0: an oops in process context kills only that task and the kernel runs on, "
        "so kdump takes no dump"
    )
    assert check(None)["detail"] == "kernel.panic_on_oops cannot be read"
    kept = ps.configured([("/etc/sysctl.d/k8s.conf", text("k8s.conf"))])
    assert check(1, kept) == {
        "name": "kdump.panic_on_oops",
        "ok": True,
        "detail": "an oops panics the kernel (kernel.panic_on_oops=1, kept by /etc/sysctl.d/k8s.conf)",
    }
    assert check(1)["ok"] and "the kernel's default" in check(1)["detail"]
    reset = ps.configured([("/etc/sysctl.d/90-x.conf", "kernel.panic_on_oops = 0\n")])
    assert check(1, reset)["detail"] == (
        "kernel.panic_on_oops is 1 now, but /etc/sysctl.d/90-x.conf sets it to '0' at the next boot"
    )
    assert check(1, reset, "ro quiet oops=panic")["ok"]
    broken = ps.configured([("/etc/sysctl.conf", text("trailing-comment.conf"))])
    assert not check(1, broken)["ok"]
