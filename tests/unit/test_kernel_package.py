"""Kernel package identity from the strings real Debian, Ubuntu and EL hosts print (tests/data/distro)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetfix.facts.kernel_package import ecosystem_of, identify

KERNELS = yaml.safe_load((Path(__file__).parents[1] / "data/distro/kernels.yaml").read_text())


@pytest.mark.parametrize("case", KERNELS, ids=[case["name"] for case in KERNELS])
def test_identity_of_real_kernels(case: dict[str, Any]) -> None:
    os = case["os"]
    package = identify(
        case["release"],
        case["version"],
        case.get("signature"),
        os["id"],
        os["version_id"],
        tuple(os["id_like"]),
    )
    assert package is not None
    expected = case["expected"]
    assert (package.ecosystem, package.package, package.version) == (
        expected["ecosystem"],
        expected["package"],
        str(expected["version"]),
    )
    assert package.upstream == (None if expected["upstream"] is None else str(expected["upstream"]))
    assert package.scheme == ("rpm" if package.package.startswith("kernel") else "dpkg")


def test_a_kernel_without_distribution_strings_has_no_package() -> None:
    # A self-built kernel on Debian: uname -v carries no "Debian <version>".
    assert (
        identify("6.6.30", "#1 SMP PREEMPT_DYNAMIC Tue May 14 10:00:00 UTC 2024", None, "debian", "12")
        is None
    )
    # No os-release at all, or an unknown family.
    assert identify("6.1.0-18-amd64", "#1 SMP Debian 6.1.76-1", None, None, None) is None
    assert identify("6.8.9-arch1-1", "#1 SMP PREEMPT_DYNAMIC", None, "arch", "rolling") is None
    # An EL host running ELRepo's mainline kernel (kernel-ml) or a self-built one: not the distribution's.
    assert identify("6.9.1-1.el9.elrepo.x86_64", "#1", None, "rocky", "9.4", ("rhel",)) is None
    assert identify("6.9.1", "#1", None, "rocky", "9.4", ("rhel",)) is None


def test_oracle_linux_unbreakable_kernel_is_its_own_package() -> None:
    uek = identify("5.15.0-204.147.6.2.el9uek.x86_64", "#2 SMP", None, "ol", "9.3", ("fedora",))
    assert uek is not None
    assert (uek.ecosystem, uek.package, uek.version) == (
        "Oracle Linux:9",
        "kernel-uek",
        "5.15.0-204.147.6.2.el9uek",
    )


def test_ecosystem_names() -> None:
    assert ecosystem_of("rhel", "9.4") == "Red Hat:9"
    assert ecosystem_of("debian", "12") == "Debian:12"
    assert ecosystem_of("ubuntu", "22.04") == "Ubuntu:22.04"
    assert ecosystem_of("debian", None) is None
