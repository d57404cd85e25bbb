"""The lab's DKMS source tarball of fxhba: the layout dkms expects and the build it compiles to."""

from __future__ import annotations

import tarfile
from pathlib import Path

from packaging.version import Version

from fleetfix.lab.vm import dkms_source, driver


def test_the_tarball_holds_one_directory_named_for_the_module_and_version(tmp_path: Path) -> None:
    archive = dkms_source.tarball(dkms_source.BUILD, tmp_path)
    assert archive.name == "fxhba-1.0.2-dkms.tar.gz"
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        header = tar.extractfile("fxhba-1.0.2/fxhba_build.h").read().decode()  # type: ignore[union-attr]
        conf = tar.extractfile("fxhba-1.0.2/dkms.conf").read().decode()  # type: ignore[union-attr]
    assert sorted(members) == [
        "fxhba-1.0.2", "fxhba-1.0.2/Kbuild", "fxhba-1.0.2/dkms.conf", "fxhba-1.0.2/fxhba.c",
        "fxhba-1.0.2/fxhba_build.h",
    ]  # fmt: skip
    assert {(m.uid, m.gid) for m in members.values()} == {(0, 0)}
    assert header == '#define FXHBA_VERSION "1.0.2"\n#define FXHBA_LOCKED_SLOTS 1\n'
    assert conf == dkms_source.dkms_conf(dkms_source.BUILD)
    assert list(tmp_path.iterdir()) == [archive]  # the staging directory is gone


def test_dkms_conf_names_the_module_where_debian_dkms_installs_it() -> None:
    conf = dkms_source.dkms_conf(driver.Build("2.0.0", locked_slots=True))
    assert conf.splitlines() == [
        'PACKAGE_NAME="fxhba"',
        'PACKAGE_VERSION="2.0.0"',
        'BUILT_MODULE_NAME[0]="fxhba"',
        'DEST_MODULE_LOCATION[0]="/updates/dkms"',
        'AUTOINSTALL="yes"',
    ]


def test_the_dkms_build_is_newer_than_every_packaged_build_and_takes_the_lock() -> None:
    assert dkms_source.BUILD.locked_slots
    assert Version(dkms_source.BUILD.version) > max(Version(b.version) for b in driver.BUILDS)


def test_a_mislabelled_tarball_says_one_version_and_builds_another(tmp_path: Path) -> None:
    archive = dkms_source.tarball(driver.Build("1.0.5", locked_slots=True), tmp_path, labelled="1.0.4")
    assert archive.name == "fxhba-1.0.4-dkms.tar.gz"
    with tarfile.open(archive) as tar:
        header = tar.extractfile("fxhba-1.0.4/fxhba_build.h").read().decode()  # type: ignore[union-attr]
        conf = tar.extractfile("fxhba-1.0.4/dkms.conf").read().decode()  # type: ignore[union-attr]
    assert header.splitlines()[0] == '#define FXHBA_VERSION "1.0.5"'
    assert 'PACKAGE_VERSION="1.0.4"' in conf.splitlines()
