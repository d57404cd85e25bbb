"""Distribution package version order: dpkg's rules on real Debian and Ubuntu versions, rpm's EVR on EL
kernels, and dpkg itself as an oracle where it is installed."""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from fleetfix.versions import DpkgVersion, RpmVersion, dpkg_compare, rpm_compare

# Real versions from Debian and Ubuntu archives and trackers (kernel, glibc, openssl, wpa, linux-latest).
DPKG_PAIRS = [
    ("6.1.76-1", "6.1.115-1", -1),  # bookworm kernels, the stable number compares as a number
    ("6.1.115-1", "6.1.115-1+deb12u1", -1),  # a security upload after the point release
    ("3.0.11-1~deb12u2", "3.0.11-1", -1),  # a backport sorts before the version it backports
    ("2.36-9+deb12u3", "2.36-9", 1),
    ("2:2.9.0-21+deb11u3", "2.10-1", 1),  # the epoch outranks everything
    ("6.1.27-1kali1", "6.1.27-1", 1),  # a derivative's suffix after the revision
    ("6.1.76-1~bpo11+1", "6.1.76-1", -1),  # bullseye-backports of bookworm's kernel
    ("5.15.0-139.149~20.04.1", "5.15.0-139.149", -1),  # Ubuntu HWE kernel vs the release's own
    ("5.15.0-79.86", "5.15.0-125.135", -1),  # Ubuntu ABI numbers compare as numbers
    ("5.15.0-79.86", "5.15.0-79.86", 0),
    ("4.9+80+deb9u6", "4.9+80", 1),  # linux-latest's meta-package version
    ("1.0", "1.0-0", 0),  # an absent revision is "0"
    ("1.0~rc1", "1.0", -1),
    ("1.0a", "1.0", 1),
    ("1.0+", "1.0a", 1),  # letters sort before other characters
    ("1:1.0", "2.0", 1),
]


@pytest.mark.parametrize(("a", "b", "expected"), DPKG_PAIRS)
def test_dpkg_order_of_real_versions(a: str, b: str, expected: int) -> None:
    assert dpkg_compare(a, b) == expected
    assert dpkg_compare(b, a) == -expected


@pytest.mark.parametrize("text", ["", "abc", "1.0 beta", "-1", "x:1.0"])
def test_dpkg_rejects_what_is_not_a_version(text: str) -> None:
    with pytest.raises(ValueError, match="not a Debian package version"):
        DpkgVersion(text)


def _random_versions(count: int) -> list[str]:
    rng = random.Random(20241205)
    parts = ["0", "1", "01", "10", "2", ".", "+", "~", "a", "b", "z", "deb12u", "~deb", "ubuntu", "~rc"]
    out = []
    for _ in range(count):
        upstream = rng.choice("0123456789") + "".join(rng.choice(parts) for _ in range(rng.randint(0, 5)))
        revision = "".join(rng.choice(parts) for _ in range(rng.randint(0, 4))).lstrip("~.+") or ""
        epoch = rng.choice(["", "", "", "1:"])
        out.append(f"{epoch}{upstream}" + (f"-{revision}" if revision else ""))
    return out


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
def test_dpkg_order_agrees_with_dpkg() -> None:
    versions = _random_versions(120)
    rng = random.Random(7)
    for _ in range(150):
        a, b = rng.choice(versions), rng.choice(versions)
        ours = dpkg_compare(a, b)
        op = {-1: "lt", 0: "eq", 1: "gt"}[ours]
        result = subprocess.run(["dpkg", "--compare-versions", a, op, b], check=False)
        assert result.returncode == 0, f"dpkg disagrees: {a} {op} {b}"


RPM_PAIRS = [
    ("5.14.0-427.16.1.el9_4", "5.14.0-503.11.1.el9_5", -1),  # RHEL 9.4 vs 9.5 kernels
    ("5.14.0-70.13.1.el9_0", "5.14.0-162.6.1.el9_1", -1),
    ("4.18.0-305.el8", "4.18.0-305.3.1.el8", -1),
    ("0:5.14.0-70.13.1.el9_0", "5.14.0-70.13.1.el9_0", 0),  # epoch 0 is the absent epoch
    ("1:1.0-1", "2.0-1", 1),
    ("5.14.0", "5.14.0-427.16.1.el9_4", 0),  # no release: any build of that version
    ("5.15.0-1", "5.14.0-999", 1),  # the version decides before the release
]


@pytest.mark.parametrize(("a", "b", "expected"), RPM_PAIRS)
def test_rpm_evr_order(a: str, b: str, expected: int) -> None:
    assert rpm_compare(a, b) == expected
    assert rpm_compare(b, a) == -expected
    assert (RpmVersion(a) < RpmVersion(b)) == (expected < 0)


@pytest.mark.parametrize("text", ["", "1.0 2", "a-b-c"])
def test_rpm_rejects_what_is_not_an_evr(text: str) -> None:
    with pytest.raises(ValueError, match="not an rpm version"):
        RpmVersion(text)
