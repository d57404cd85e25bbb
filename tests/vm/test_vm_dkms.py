"""The driver change from a DKMS source tarball, signed with a machine owner key, on a real kernel.

The guest gets dkms, gcc and its running kernel's headers at test time (fetched by the host's apt against the
guest's own dpkg status: the base image every VM test boots carries no compiler). ``fleetfix remediate`` then
builds fxhba 1.0.2 from the lab's source tarball with the real dkms, which signs it with a key and
certificate this test made, installs it, reloads it and soaks it; before that, a mislabelled tarball that
dkms installs but the upgrade refuses is rolled back by taking it back out of dkms. The guest has no Secure
Boot and no lockdown: what is proved is that the build the kernel loads carries our signature (dkms used
our key, not its own) and that the role reads the real signer and Secure Boot state; the kernel refusing an
untrusted build is not (that needs the key enrolled in firmware the guest does not have).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from fleetfix.errors import ExitStatus
from fleetfix.lab.vm import buildtools, dkms_source, driver, image
from fleetfix.lab.vm.machine import Vm
from tests.support import collection_plugin
from tests.support.vm import LAB_ADVISORIES, Steps, boot_id, fleetfix, ok, running

pytestmark = pytest.mark.vm

MODULE = "fxhba"
TARGET = dkms_source.BUILD.version
SIGNER = "fleetfix lab module signing key"
GUEST_DEBS = "/root/dkms-debs"
GUEST_MOK = "/root/mok"
secure_boot = collection_plugin("module_utils.secure_boot")
_HEADERS = "test -f /lib/modules/$(uname -r)/build/Makefile && test -f /lib/modules/$(uname -r)/build/.config"


@pytest.fixture(scope="module")
def guest(built: image.ImageFiles, steps: Steps, state_dir: Path) -> Iterator[Vm]:
    with running(Vm("dkms"), steps, "boot to ssh") as vm:
        yield vm


def _send(vm: Vm, files: list[Path], directory: str) -> None:
    """Copy ``files`` into ``directory`` on the guest (a tar stream over the guest's ssh)."""
    archive = subprocess.run(
        ["tar", "-cf", "-", "-C", str(files[0].parent), *(f.name for f in files)],
        capture_output=True,
        check=True,
    ).stdout
    unpack = f"mkdir -p {directory} && tar -xf - -C {directory} --no-same-owner"
    done = subprocess.run(vm.ssh_argv([unpack]), input=archive, capture_output=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def _signing_key(directory: Path) -> tuple[Path, Path]:
    """A MOK key and certificate as the kernel's module-signing guide makes them: RSA, self-signed, for
    digital signatures only, the certificate in DER (what mokutil --import takes)."""
    key, cert = directory / "mok.key", directory / "mok.der"
    argv = [
        "openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "36500", "-sha256",
        "-subj", f"/CN={SIGNER}", "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", "keyUsage=digitalSignature", "-outform", "DER", "-keyout", str(key), "-out", str(cert),
    ]  # fmt: skip
    subprocess.run(argv, capture_output=True, check=True)
    return key, cert


def test_the_guest_gets_dkms_a_compiler_and_its_kernels_headers(
    guest: Vm, built: image.ImageFiles, steps: Steps, state_dir: Path
) -> None:
    assert guest.run("command -v dkms || command -v gcc").returncode != 0  # the base image has neither
    kernel = image.manifest(built)
    assert ok(guest, "uname -r") == kernel["kernel_release"]
    started = time.monotonic()
    status = ok(guest, "cat /var/lib/dpkg/status")
    work = state_dir / "buildtools"
    debs = buildtools.fetch(
        status, kernel["kernel_release"], kernel["kernel_version"], work, work / "apt.log"
    )
    size = sum(d.stat().st_size for d in debs)
    steps.record(f"fetch {len(debs)} .debs ({size / 2**20:.0f} MiB) on the host", started)
    started = time.monotonic()
    _send(guest, debs, GUEST_DEBS)
    steps.record("copy them to the guest", started)
    started = time.monotonic()
    # The guest's disk is a throwaway overlay: no fsync per file, and no documentation unpacked (the
    # headers and the compiler are tens of thousands of files, each a slow write under emulation).
    quick = " ".join(
        shlex.quote(f"-oDPkg::Options::={option}")
        for option in (
            "--force-unsafe-io",
            "--path-exclude=/usr/share/doc/*",
            "--path-exclude=/usr/share/man/*",
        )
    )
    ok(
        guest,
        f"apt-get install -y -q --no-install-recommends {quick} {GUEST_DEBS}/*.deb && rm -rf {GUEST_DEBS}",
        1500,
    )
    steps.record("install them in the guest", started)
    steps.say(
        "installed: " + ok(guest, "du -sh /usr/lib/gcc /usr/src /usr/lib/linux-kbuild-* | tr '\\n' ' '")
    )
    assert ok(guest, "dkms --version").startswith("dkms-3.")
    ok(guest, f"gcc --version && make --version && {_HEADERS}")


@pytest.fixture(scope="module")
def signing(guest: Vm, state_dir: Path) -> tuple[str, str]:
    """The test's MOK key and certificate, on the guest (host paths the role is given)."""
    key, cert = _signing_key(state_dir)
    _send(guest, [key, cert], GUEST_MOK)
    ok(guest, f"chmod 700 {GUEST_MOK} && chmod 600 {GUEST_MOK}/{key.name}")
    return f"{GUEST_MOK}/{key.name}", f"{GUEST_MOK}/{cert.name}"


def _inventory(vm: Vm, archive: Path, path: Path, **settings: object) -> Path:
    """The guest's inventory with fxhba built by dkms from ``archive``, reloaded, and ``settings``."""
    document = vm.inventory()
    fxhba = document["all"]["children"]["fxhba_hosts"]["vars"]
    fxhba["hba_driver_drivers"] = {MODULE: {"source": "dkms", "dkms_archive": str(archive)}}
    fxhba["hba_driver_activate"] = "reload"
    fxhba.update(settings)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _remediate(inventory: Path, target: str) -> tuple[int, dict]:
    """``fleetfix remediate`` to ``target`` at queue depth 1 (never races); its exit status and the host."""
    done = fleetfix(
        "remediate", "--module", MODULE, "--to", target, "--yes", "-i", str(inventory),
        "--advisories", str(LAB_ADVISORIES), "--profile", "qd1", "--soak-runtime", "10",
        "--baseline-runtime", "5", "--format", "json",
    )  # fmt: skip
    assert done.stdout.startswith("{"), done.stderr
    return done.returncode, json.loads(done.stdout)["hosts"][0]


def _step_seconds(host: dict) -> str:
    """The journal's time for each step of ``host``, as the run recorded it."""
    spans = (
        (s["step"], datetime.fromisoformat(s["ended_at"]) - datetime.fromisoformat(s["started_at"]))
        for s in host["steps"]
        if s["ended_at"]
    )
    return ", ".join(f"{step} {span.total_seconds():.0f}s" for step, span in spans)


def test_a_build_refused_once_installed_is_taken_back_out_of_dkms(
    guest: Vm, steps: Steps, state_dir: Path
) -> None:
    # The tarball and its dkms.conf say 1.0.4; the module inside says 1.0.5. dkms builds and installs it,
    # modinfo then finds 1.0.5, not the target: the upgrade stops with that build on disk, and the rollback
    # takes it back out of dkms (the previous build was never unloaded).
    mislabelled = driver.Build("1.0.5", locked_slots=True)
    archive = dkms_source.tarball(mislabelled, state_dir, labelled="1.0.4")
    inventory = _inventory(guest, archive, state_dir / "mislabelled.yml")
    before = boot_id(guest)
    started = time.monotonic()
    code, host = _remediate(inventory, "1.0.4")
    steps.record("fleetfix remediate (dkms build refused, rolled back)", started)
    steps.say(f"its steps: {_step_seconds(host)}")
    assert code == ExitStatus.HOSTS_FAILED, host
    assert host["status"] == "failed", host
    assert host["outcome"].startswith("rolled back to 1.0.0 after it failed at upgrade: "), host["outcome"]
    assert "modinfo finds fxhba 1.0.5" in host["outcome"], host["outcome"]
    rollback = next(s for s in host["steps"] if s["step"] == "rollback")
    assert rollback["state"] == "ok", rollback
    assert rollback["detail"]["package"] == "dkms remove fxhba/1.0.4"
    assert rollback["detail"]["steps"]["upgrade"]["installed_version"] == "1.0.0"
    # Out of dkms, the override gone, the packaged build found and loaded, on the same boot.
    assert ok(guest, f"dkms status -m {MODULE}") == ""
    assert guest.run(f"test -e /etc/depmod.d/fleetfix-{MODULE}.conf").returncode != 0
    assert ok(guest, f"modinfo -F version {MODULE}") == "1.0.0"
    assert ok(guest, f"cat /sys/module/{MODULE}/version") == "1.0.0" and boot_id(guest) == before


def test_remediate_builds_1_0_2_with_dkms_signs_it_with_our_key_and_loads_it(
    guest: Vm, signing: tuple[str, str], steps: Steps, state_dir: Path
) -> None:
    key, cert = signing
    assert ok(guest, f"cat /sys/module/{MODULE}/version") == "1.0.0"
    before = boot_id(guest)
    archive = dkms_source.tarball(dkms_source.BUILD, state_dir)
    settings = {
        "hba_driver_signing_key": key,
        "hba_driver_signing_cert": cert,
        "hba_driver_trusted_signers": [SIGNER],
    }
    inventory = _inventory(guest, archive, state_dir / "signed.yml", **settings)
    started = time.monotonic()
    code, host = _remediate(inventory, TARGET)
    steps.record("fleetfix remediate (dkms build and install, signed, reload, verify, soak)", started)
    steps.say(f"its steps: {_step_seconds(host)}")
    assert code == 0, host.get("outcome")
    assert host["status"] == "done", host
    details = {s["step"]: s["detail"] for s in host["steps"]}
    upgrade = details["upgrade"]
    assert upgrade["source"] == "dkms" and upgrade["installed_version"] == TARGET
    assert details["activate"]["method"] == "reload" and boot_id(guest) == before

    # dkms built, installed and recorded 1.0.2 for the running kernel; that build is the one loaded.
    release = ok(guest, "uname -r")
    status = ok(guest, f"dkms status -m {MODULE} -v {TARGET} -k {release}")
    assert status.startswith(f"{MODULE}/{TARGET}, {release}, x86_64: installed"), status
    path = ok(guest, f"modinfo -F filename {MODULE}")
    assert path == f"/lib/modules/{release}/updates/dkms/{MODULE}.ko"
    assert ok(guest, f"modinfo -F version {MODULE}") == TARGET
    assert ok(guest, f"cat /sys/module/{MODULE}/version") == TARGET
    assert ok(guest, f"cat /sys/module/{MODULE}/srcversion") == ok(guest, f"modinfo -F srcversion {MODULE}")

    # Signed by our certificate (dkms was told our key; it never made its own), and the role read it so.
    assert ok(guest, f"modinfo -F signer {MODULE}") == SIGNER
    assert ok(guest, f"tail -c 28 {path}") == "~Module signature appended~"
    assert guest.run("test -e /var/lib/dkms/mok.key").returncode != 0
    signature = next(s for s in upgrade["signatures"] if s["release"] == release)
    assert (signature["signer"], signature["signed"], signature["format"]) == (SIGNER, True, "PKCS#7")
    state = upgrade["secure_boot"]
    # A direct BIOS boot: no efivars, no mokutil, no lockdown; the kernel enforces nothing here.
    assert (state["lockdown"], state["enforced"]) == ("none", False), state
    assert signature["problem"] is None
    # What the role's verdict makes of this real signer where the kernel does enforce (pure logic only).
    assert secure_boot.signature_verdict("enabled", "integrity", signature["signer"], True, [SIGNER]) is None
    assert "not by a trusted signer" in secure_boot.signature_verdict(
        "enabled", "integrity", SIGNER, True, ["vendor"]
    )

    soak = host["soak"]
    assert soak["status"] == "passed" and soak["boot_id_after"] == before
