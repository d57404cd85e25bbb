"""The operating systems a lab host can run: what identifies each on disk and how it packages software.

A host's kernel surfaces are the lab's; above them every host shares the machine's programs (Debian's
sshd, python3, rpm, dnf), so a distribution here is its identity files, its package manager's database and
repository, its boot loader layout, its initramfs tool and its kdump packaging.
"""

from __future__ import annotations

from dataclasses import dataclass

DEBIAN = "debian"
EL = "el"

# Rocky Linux 9.5 as `cat /etc/os-release`, `cat /etc/redhat-release` and /proc/version print it on a
# public Rocky 9.5 install (source recorded in tests/data/lab/os/rocky-9.5.txt).
_ROCKY_9_OS_RELEASE = """\
NAME="Rocky Linux"
VERSION="9.5 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.5"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.5 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
VENDOR_NAME="RESF"
VENDOR_URL="https://resf.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.5"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.5"
"""


# Rocky Linux 10.0 `cat /etc/os-release` on a public install; its /proc/version build string is CentOS
# Stream 10's (the same EL 10 toolchain), both recorded in tests/data/lab/os/rocky-10.0.txt.
_ROCKY_10_OS_RELEASE = """\
NAME="Rocky Linux"
VERSION="10.0 (Red Quartz)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="10.0"
PLATFORM_ID="platform:el10"
PRETTY_NAME="Rocky Linux 10.0 (Red Quartz)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:10::baseos"
HOME_URL="https://rockylinux.org/"
VENDOR_NAME="RESF"
VENDOR_URL="https://resf.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2035-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-10"
ROCKY_SUPPORT_PRODUCT_VERSION="10.0"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="10.0"
"""


@dataclass(frozen=True)
class Distro:
    key: str  # as a scenario names it: debian12, el9
    family: str  # DEBIAN or EL
    os_release: str | None  # /etc/os-release of the host; None keeps the machine's own (Debian 12)
    redhat_release: str | None
    releasever: str  # dnf's $releasever
    kernel_version: str  # default `uname -v`
    kernel_build: str  # the compiler part of /proc/version
    kdump_packages: tuple[str, ...]  # what crash_capture installs for kdump (its vars/ per platform)

    @property
    def is_el(self) -> bool:
        return self.family == EL

    @property
    def kdump_installed(self) -> tuple[str, ...]:
        """Packages on a host with kdump installed: EL 10's kdump-utils needs kexec-tools beside it."""
        extra = ("kexec-tools",) if "kdump-utils" in self.kdump_packages else ()
        return (*extra, *self.kdump_packages)

    @property
    def kdump_service(self) -> str:
        return "kdump" if self.is_el else "kdump-tools"

    def initramfs(self, release: str) -> str:
        """Path of the kernel's initramfs under /boot, as update-initramfs or dracut names it."""
        return f"boot/initramfs-{release}.img" if self.is_el else f"boot/initrd.img-{release}"


DISTROS = {
    "debian12": Distro(
        key="debian12",
        family=DEBIAN,
        os_release=None,
        redhat_release=None,
        releasever="12",
        kernel_version="#1 SMP PREEMPT_DYNAMIC Debian",
        kernel_build=(
            "(debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, "
            "GNU ld (GNU Binutils for Debian) "
            "2.40)"
        ),
        kdump_packages=("kdump-tools",),
    ),
    "el9": Distro(
        key="el9",
        family=EL,
        os_release=_ROCKY_9_OS_RELEASE,
        redhat_release="Rocky Linux release 9.5 (Blue Onyx)\n",
        releasever="9",
        kernel_version="#1 SMP PREEMPT_DYNAMIC Thu Apr 3 12:12:16 UTC 2025",
        kernel_build=(
            "(mockbuild@iad1-prod-build001.bld.equ.rockylinux.org) "
            "(gcc (GCC) 11.5.0 20240719 (Red Hat 11.5.0-5), "
            "GNU ld version 2.35.2-54.el9)"
        ),
        kdump_packages=("kexec-tools",),
    ),
    "el10": Distro(
        key="el10",
        family=EL,
        os_release=_ROCKY_10_OS_RELEASE,
        redhat_release="Rocky Linux release 10.0 (Red Quartz)\n",
        releasever="10",
        kernel_version="#1 SMP PREEMPT_DYNAMIC Thu Mar 20 13:49:55 UTC 2025",
        kernel_build=(
            "(mockbuild@694f893baa82435fb52e73f7c6675ecf) "
            "(gcc (GCC) 14.2.1 20250110 (Red Hat 14.2.1-7), GNU ld version 2.41-52.el10)"
        ),
        kdump_packages=("kdump-utils", "makedumpfile"),
    ),
}
DEFAULT = "debian12"
