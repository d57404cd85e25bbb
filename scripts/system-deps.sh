#!/usr/bin/env bash
# Installs the Debian packages the lab fleet and the tests use, when run as root and any is missing.
set -euo pipefail
# rpm (rpm, rpmbuild, rpmsign), dnf (with python3-dnf), createrepo-c and gnupg: the lab's EL hosts.
# nfs-ganesha with its VFS backend: the VM tests' NFS dump server, in user space (no nfsd needed).
packages=(openssh-server openssh-client fio iproute2 util-linux kmod procps psmisc dpkg apt-utils systemd gcc libc6-dev python3
          qemu-system-x86 qemu-utils ipxe-qemu seabios debootstrap e2fsprogs fdisk mount chromium
          rpm dnf python3-dnf createrepo-c gnupg nfs-ganesha nfs-ganesha-vfs)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: missing ${missing[*]}; run 'sudo make deps' (fleet tests will be skipped)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The tests start their own NFS server on 127.0.0.1 (tests/support/nfs_server.py); the package's service
# would hold port 2049 on every address.
if [ -d /run/systemd/system ]; then
    systemctl disable --now nfs-ganesha.service >/dev/null 2>&1 || true
fi
