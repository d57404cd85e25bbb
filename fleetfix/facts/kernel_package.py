"""Which distribution package a running kernel comes from, read from the strings the kernel prints.

A distribution kernel's release (``uname -r``) names an ABI, not the fixes it carries: Debian's
``6.1.0-18-amd64`` is package ``linux`` 6.1.76-1, built from upstream stable 6.1.76; Ubuntu's
``5.15.0-79-generic`` is ``linux`` 5.15.0-79.86, rebased on 5.15.111; EL's ``5.14.0-427.16.1.el9_4`` is the
``kernel`` package of that version-release, on a base no number states. The package identity comes from:

- Debian and derivatives: ``uname -v`` (``/proc/sys/kernel/version``)::

      #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)

- Ubuntu: ``/proc/version_signature``, else ``uname -v`` with the release (no upstream base then)::

      Ubuntu 5.15.0-79.86-generic 5.15.111
      #86-Ubuntu SMP Mon Jul 10 16:19:54 UTC 2023

- EL (RHEL, Rocky, AlmaLinux, CentOS, Oracle Linux): the release itself, ``.el<N>`` in it, the machine
  (``.x86_64``) removed; the flavour names the package (``kernel``, ``kernel-rt``, ``kernel-64k``,
  ``kernel-uek``).

Anything else is a kernel with no known package: its release is its upstream version.
"""

from __future__ import annotations

import re

from msgspec import Struct

# os-release ID -> the distribution's name in ecosystem keys (as OSV spells them where it has them).
DISTRIBUTION_NAMES = {
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "rhel": "Red Hat",
    "rocky": "Rocky Linux",
    "almalinux": "AlmaLinux",
    "centos": "CentOS",
    "ol": "Oracle Linux",
}
# Distributions whose releases are named by their full VERSION_ID (Ubuntu's 22.04); the others by its major.
_FULL_VERSION_IDS = frozenset({"ubuntu"})
# Ubuntu flavours built from the main ``linux`` source package; any other flavour has its own (linux-aws...).
_UBUNTU_MAIN_FLAVOURS = frozenset({"generic", "lowlatency", "generic-64k", "generic-lpae", "lowlatency-64k"})

_DEBIAN_UNAME_V = re.compile(r"\bDebian (?P<version>(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*)")
_UBUNTU_SIGNATURE = re.compile(
    r"Ubuntu (?P<version>[0-9][A-Za-z0-9.+~-]*?)-(?P<flavour>[a-z][a-z0-9-]*)"
    r" (?P<upstream>[0-9]+\.[0-9]+(?:\.[0-9]+)?)"
)
_UBUNTU_UNAME_V = re.compile(r"#(?P<upload>[0-9]+(?:~[A-Za-z0-9.+]+)?)-Ubuntu\b")
_UBUNTU_RELEASE = re.compile(r"(?P<abi>[0-9]+\.[0-9]+\.[0-9]+-[0-9]+)-(?P<flavour>[a-z][a-z0-9-]*)")
_UPSTREAM_OF_DEBIAN = re.compile(r"(?:[0-9]+:)?(?P<upstream>[0-9]+\.[0-9]+(?:\.[0-9]+)?)")
_EL_REALTIME = re.compile(r"\.rt[0-9]")
_EL_RELEASE = re.compile(
    r"(?P<version>[0-9][A-Za-z0-9._]*)-(?P<release>[0-9][A-Za-z0-9._]*\.el(?P<major>[0-9]+)(?:_[0-9]+)*(?P<uek>uek)?)"
    r"(?:\.(?:x86_64|aarch64|ppc64le|s390x|i686))?(?:\+(?P<variant>[A-Za-z0-9_]+))?"
)


class KernelPackage(Struct, frozen=True, kw_only=True, gc=False):
    """The package a running kernel was installed from, and the upstream release it was built on if known."""

    ecosystem: str  # "Debian:12", "Ubuntu:22.04", "Rocky Linux:9": the distribution and its release
    package: str  # source package: linux, linux-hwe-5.15, linux-aws-5.15, kernel
    version: str  # in the distribution's own numbering (dpkg or rpm rules, per ``scheme``)
    scheme: str  # "dpkg" or "rpm": how versions of this package compare
    upstream: str | None = None  # the upstream stable release it is built on, when the version says

    def describe(self) -> str:
        return f"{self.ecosystem} {self.package} {self.version}"


def ecosystem_of(os_id: str | None, version_id: str | None) -> str | None:
    """``Debian:12``, ``Ubuntu:22.04``, ``AlmaLinux:9``; an unlisted distribution keeps its os-release ID."""
    if not os_id or not version_id:
        return None
    named_by_major = os_id in DISTRIBUTION_NAMES and os_id not in _FULL_VERSION_IDS
    release = version_id.split(".")[0] if named_by_major else version_id
    return f"{DISTRIBUTION_NAMES.get(os_id, os_id)}:{release}"


def identify(
    release: str | None,
    version: str | None,
    signature: str | None,
    os_id: str | None,
    version_id: str | None,
    id_like: tuple[str, ...] = (),
) -> KernelPackage | None:
    """The kernel's package identity, or None for a kernel no distribution data can speak about."""
    ecosystem = ecosystem_of(os_id, version_id)
    if ecosystem is None or not release:
        return None
    family = {os_id or "", *id_like}
    if os_id == "ubuntu":
        return _ubuntu(ecosystem, release, version or "", signature or "")
    if "debian" in family:
        return _debian(ecosystem, version or "")
    if family & {"rhel", "centos", "fedora"}:
        return _el(ecosystem, release)
    return None


def _debian(ecosystem: str, uname_v: str) -> KernelPackage | None:
    match = _DEBIAN_UNAME_V.search(uname_v)
    if match is None:
        return None  # a locally built kernel: not the distribution's package
    version = match["version"]
    upstream = _UPSTREAM_OF_DEBIAN.match(version)
    return KernelPackage(
        ecosystem=ecosystem,
        package="linux",
        version=version,
        scheme="dpkg",
        upstream=upstream["upstream"] if upstream else None,
    )


def _ubuntu(ecosystem: str, release: str, uname_v: str, signature: str) -> KernelPackage | None:
    match = _UBUNTU_SIGNATURE.search(signature)
    if match is not None:
        version, flavour, upstream = match["version"], match["flavour"], match["upstream"]
    else:
        built = _UBUNTU_RELEASE.fullmatch(release)
        upload = _UBUNTU_UNAME_V.search(uname_v)
        if built is None or upload is None:
            return None
        version, flavour, upstream = f"{built['abi']}.{upload['upload']}", built["flavour"], None
    package = "linux" if flavour in _UBUNTU_MAIN_FLAVOURS else f"linux-{flavour}"
    if "~" in version:  # a kernel of a later release backported to this one: linux-hwe-5.15, linux-aws-5.15
        series = ".".join(version.split(".")[:2])
        package = f"linux-hwe-{series}" if package == "linux" else f"{package}-{series}"
    return KernelPackage(
        ecosystem=ecosystem, package=package, version=version, scheme="dpkg", upstream=upstream
    )


def _el(ecosystem: str, release: str) -> KernelPackage | None:
    match = _EL_RELEASE.fullmatch(release)
    if match is None:
        return None
    # Each kernel flavour is its own package: kernel-rt ("284.11.1.rt14.296.el9_2", or "+rt" from 9.3 on),
    # kernel-64k and kernel-debug ("+64k", "+debug"), Oracle's kernel-uek ("el9uek").
    if match["uek"]:
        package = "kernel-uek"
    elif match["variant"]:
        package = f"kernel-{match['variant']}"
    elif _EL_REALTIME.search(match["release"]):
        package = "kernel-rt"
    else:
        package = "kernel"
    return KernelPackage(
        ecosystem=ecosystem, package=package, version=f"{match['version']}-{match['release']}", scheme="rpm"
    )
