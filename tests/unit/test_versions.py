"""Driver version order: rpm's rpmvercmp on real HBA driver versions and rpm's own test table."""

from __future__ import annotations

import re
from itertools import permutations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetfix.errors import InputError
from fleetfix.versions import DriverVersion, compare, compare_kernels, kernel_version, parse_version

# rpm's tests/rpmvercmp.at (rpm-software-management/rpm), every active RPMVERCMP(a, b, expected) line,
# tilde and caret cases included; the "oddities" it keeps commented out are left out here too.
RPM_TABLE = [
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0", "1.0", 1),
    ("2.0.1", "2.0.1", 0), ("2.0", "2.0.1", -1), ("2.0.1", "2.0", 1),
    ("2.0.1a", "2.0.1a", 0), ("2.0.1a", "2.0.1", 1), ("2.0.1", "2.0.1a", -1),
    ("5.5p1", "5.5p1", 0), ("5.5p1", "5.5p2", -1), ("5.5p2", "5.5p1", 1),
    ("5.5p10", "5.5p10", 0), ("5.5p1", "5.5p10", -1), ("5.5p10", "5.5p1", 1),
    ("10xyz", "10.1xyz", -1), ("10.1xyz", "10xyz", 1),
    ("xyz10", "xyz10", 0), ("xyz10", "xyz10.1", -1), ("xyz10.1", "xyz10", 1),
    ("xyz.4", "xyz.4", 0), ("xyz.4", "8", -1), ("8", "xyz.4", 1), ("xyz.4", "2", -1), ("2", "xyz.4", 1),
    ("5.5p2", "5.6p1", -1), ("5.6p1", "5.5p2", 1),
    ("5.6p1", "6.5p1", -1), ("6.5p1", "5.6p1", 1),
    ("6.0.rc1", "6.0", 1), ("6.0", "6.0.rc1", -1),
    ("10b2", "10a1", 1), ("10a2", "10b2", -1),
    ("1.0aa", "1.0aa", 0), ("1.0a", "1.0aa", -1), ("1.0aa", "1.0a", 1),
    ("10.0001", "10.0001", 0), ("10.0001", "10.1", 0), ("10.1", "10.0001", 0),
    ("10.0001", "10.0039", -1), ("10.0039", "10.0001", 1),
    ("4.999.9", "5.0", -1), ("5.0", "4.999.9", 1),
    ("20101121", "20101121", 0), ("20101121", "20101122", -1), ("20101122", "20101121", 1),
    ("2_0", "2_0", 0), ("2.0", "2_0", 0), ("2_0", "2.0", 0),
    ("a", "a", 0), ("a+", "a+", 0), ("a+", "a_", 0), ("a_", "a+", 0),
    ("+a", "+a", 0), ("+a", "_a", 0), ("_a", "+a", 0),
    ("+_", "+_", 0), ("_+", "+_", 0), ("_+", "_+", 0), ("+", "_", 0), ("_", "+", 0),
    ("1.0~rc1", "1.0~rc1", 0), ("1.0~rc1", "1.0", -1), ("1.0", "1.0~rc1", 1),
    ("1.0~rc1", "1.0~rc2", -1), ("1.0~rc2", "1.0~rc1", 1),
    ("1.0~rc1~git123", "1.0~rc1~git123", 0), ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0~rc1", "1.0~rc1~git123", 1),
    ("1.0^", "1.0^", 0), ("1.0^", "1.0", 1), ("1.0", "1.0^", -1),
    ("1.0^git1", "1.0^git1", 0), ("1.0^git1", "1.0", 1), ("1.0", "1.0^git1", -1),
    ("1.0^git1", "1.0^git2", -1), ("1.0^git2", "1.0^git1", 1),
    ("1.0^git1", "1.01", -1), ("1.01", "1.0^git1", 1),
    ("1.0^20160101", "1.0^20160101", 0), ("1.0^20160101", "1.0.1", -1), ("1.0.1", "1.0^20160101", 1),
    ("1.0^20160101^git1", "1.0^20160101^git1", 0),
    ("1.0^20160102", "1.0^20160101^git1", 1), ("1.0^20160101^git1", "1.0^20160102", -1),
    ("1.0~rc1^git1", "1.0~rc1^git1", 0), ("1.0~rc1^git1", "1.0~rc1", 1), ("1.0~rc1", "1.0~rc1^git1", -1),
    ("1.0^git1~pre", "1.0^git1~pre", 0), ("1.0^git1", "1.0^git1~pre", 1), ("1.0^git1~pre", "1.0^git1", -1),
]  # fmt: skip


def sign(value: int) -> int:
    return (value > 0) - (value < 0)


def walk_rpmvercmp(a: str, b: str) -> int:
    """rpm's segment walk, step by step, as an independent oracle for the sort-key implementation."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not (a[i].isascii() and a[i].isalnum()) and a[i] not in "~^":
            i += 1
        while j < len(b) and not (b[j].isascii() and b[j].isalnum()) and b[j] not in "~^":
            j += 1
        one, two = a[i : i + 1], b[j : j + 1]
        if "~" in (one, two):
            if one != "~":
                return 1
            if two != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if "^" in (one, two):
            if not one:
                return -1
            if not two:
                return 1
            if one != "^":
                return 1
            if two != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (one and two):
            break
        pattern = r"[0-9]*" if one.isdigit() else r"[A-Za-z]*"
        seg_a = re.compile(pattern).match(a, i).group()
        seg_b = re.compile(pattern).match(b, j).group()
        i, j = i + len(seg_a), j + len(seg_b)
        if not seg_b:
            return 1 if one.isdigit() else -1
        if one.isdigit():
            seg_a, seg_b = seg_a.lstrip("0"), seg_b.lstrip("0")
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


@pytest.mark.parametrize(("a", "b", "expected"), RPM_TABLE)
def test_agrees_with_rpm_test_suite(a: str, b: str, expected: int) -> None:
    assert sign(compare(a, b)) == expected


@pytest.mark.parametrize(("a", "b", "expected"), RPM_TABLE)
def test_oracle_agrees_with_rpm_test_suite(a: str, b: str, expected: int) -> None:
    assert walk_rpmvercmp(a, b) == expected


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("14.2.0.9", "14.2.0.10"),  # lpfc: numeric, not lexical
        ("07.713.01.00-rc1", "07.719.03.00-rh1"),  # megaraid_sas
        ("07.719.03.00-rc1", "07.719.03.00-rh1"),  # same base: rc < rh as letters
        ("3.4.18-105a", "3.4.20-200-RH4"),  # hpsa
        ("3.4.20-200", "3.4.20-200-RH4"),  # a vendor suffix sorts after the upstream version
        ("2.1.22-040", "2.1.24-046"),  # smartpqi
        ("1.2.14-017", "2.1.8-040"),
        ("35.100.00.00", "43.100.00.00"),  # mpt3sas
        ("8.4.1.0.0", "8.5.0.0.0"),  # mpi3mr
        ("1.2.1[50877]-custom", "1.2.1[50983]-custom"),  # aacraid
        ("10.02.08.500-k", "10.02.09.100-k"),  # qla2xxx
    ],
)
def test_real_driver_versions_order(older: str, newer: str) -> None:
    assert compare(older, newer) < 0
    assert compare(newer, older) > 0
    assert DriverVersion(older) < DriverVersion(newer)


def test_leading_zeros_and_separators_do_not_count() -> None:
    assert compare("2.1.24-046", "2.1.24-46") == 0
    assert compare("43.100.00.00", "43.100.0.0") == 0
    assert DriverVersion("43.100.00.00") == DriverVersion("43.100.0.0")
    assert hash(DriverVersion("43.100.00.00")) == hash(DriverVersion("43.100.0.0"))


def test_driver_version_sorts_and_keeps_its_text() -> None:
    texts = ["8.5.0.0.0", "07.719.03.00-rh1", "1.2.1[50983]-custom", "10.02.09.100-k", "2.1.24-046"]
    ordered = sorted(DriverVersion(t) for t in texts)
    assert [str(v) for v in ordered] == [
        "1.2.1[50983]-custom",
        "2.1.24-046",
        "07.719.03.00-rh1",
        "8.5.0.0.0",
        "10.02.09.100-k",
    ]
    assert len({DriverVersion("14.2.0.10"), DriverVersion("14.2.0.10"), DriverVersion("14.2.0.9")}) == 2


@pytest.mark.parametrize("text", ["", "   ", "10.02.09 beta", "1.0\t", "--"])
def test_parse_version_rejects_unusable_text(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_version(text, source="advisories/x.yaml", line=7, field="fixed_in")
    assert str(caught.value).startswith("advisories/x.yaml:7: fixed_in: ")


def test_parse_version_accepts_real_strings() -> None:
    assert str(parse_version("1.2.1[50983]-custom")) == "1.2.1[50983]-custom"


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("5.14.0-70.13.1.el9_0.x86_64", "5.14.0-162.6.1.el9_1.x86_64"),
        ("4.18.0-305.el8.x86_64", "4.18.0-305.3.1.el8.x86_64"),
        ("6.1.0-18-amd64", "6.1.0-21-amd64"),
        ("5.15.0-91-generic", "6.1.0-18-amd64"),
        ("5.14.0", "5.14.0-70.13.1.el9_0.x86_64"),
        ("4.18.0-305.el8.x86_64", "5.14.0-70.13.1.el9_0.x86_64"),
    ],
)
def test_kernel_releases_order(older: str, newer: str) -> None:
    assert compare_kernels(older, newer) < 0
    assert compare_kernels(newer, older) > 0


def test_kernel_machine_suffix_is_ignored() -> None:
    assert compare_kernels("5.14.0-70.13.1.el9_0.x86_64", "5.14.0-70.13.1.el9_0.aarch64") == 0
    assert str(kernel_version("6.1.0-18-amd64")) == "6.1.0-18"
    assert str(kernel_version("5.14.0-70.13.1.rt21.83.el9_0.x86_64+debug")) == "5.14.0-70.13.1.rt21.83.el9_0"


VERSIONISH = st.text(alphabet="0123456789abzAZ.-_~^+", max_size=12)


@given(VERSIONISH, VERSIONISH)
def test_matches_the_segment_walk(a: str, b: str) -> None:
    assert sign(compare(a, b)) == walk_rpmvercmp(a, b)


@given(VERSIONISH, VERSIONISH)
def test_antisymmetric(a: str, b: str) -> None:
    assert sign(compare(a, b)) == -sign(compare(b, a))


@given(VERSIONISH, VERSIONISH, VERSIONISH)
def test_transitive(x: str, y: str, z: str) -> None:
    for a, b, c in permutations((x, y, z)):
        if compare(a, b) <= 0 and compare(b, c) <= 0:
            assert compare(a, c) <= 0


@given(st.sampled_from(RPM_TABLE), st.booleans())
def test_rpm_table_holds_either_way_round(case: tuple[str, str, int], swap: bool) -> None:
    a, b, expected = case
    if swap:
        a, b, expected = b, a, -expected
    assert sign(compare(a, b)) == expected
