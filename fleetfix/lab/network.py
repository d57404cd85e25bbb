"""The lab's network: one bridge, a veth per host into its named netns, and nothing that leaves the machine.

All links are made in one ``ip -batch`` run. The lab subnet gets a blackhole route (behind the bridge's own
route), so with the bridge gone its addresses still go nowhere; hosts get no default route at all.

Every link has a MAC address made from its IPv4 address, and the controller and each host know each other's
by a permanent neighbour entry. The kernel keeps one ARP table for all network namespaces and, by default,
refuses new entries past ``gc_thresh3`` (1,024): a thousand hosts each resolving the controller, and the
controller resolving them, would pass it ("No route to host" on a host's first connection). Permanent entries
are exempt from that count (kernel 4.19 on), and no machine-wide sysctl needs raising.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess

from fleetfix.errors import EnvironmentProblem

SUPERNET = ipaddress.ip_network("10.231.0.0/16")
_BLACKHOLE_METRIC = 4000


def _ip(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], input=stdin, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise EnvironmentProblem(f"ip {' '.join(args[:3])}: {result.stderr.strip()}")
    return result


def prefix_for(addresses: int) -> int:
    """The longest prefix, /24 at most, whose subnet holds ``addresses`` host addresses."""
    prefix = 24
    while 2 ** (32 - prefix) - 2 < addresses:
        prefix -= 1
    return prefix


def pick_subnet(lab_id: str, taken: set[str], addresses: int = 254) -> ipaddress.IPv4Network:
    """A free subnet inside SUPERNET for ``addresses`` host addresses (a /24 up to 254, larger beyond): the
    one the lab id hashes to, or the next free one."""
    routes = json.loads(_ip("-j", "route", "show", "table", "all").stdout or "[]")
    used = {ipaddress.ip_network(r["dst"], strict=False) for r in routes if r.get("dst", "").count(".") == 3}
    used |= {ipaddress.ip_network(t) for t in taken}
    prefix = prefix_for(addresses)
    subnets = list(SUPERNET.subnets(new_prefix=prefix))
    start = int(lab_id, 16) % len(subnets)
    for offset in range(len(subnets)):
        candidate = subnets[(start + offset) % len(subnets)]
        if not any(candidate.overlaps(u) for u in used):
            return candidate
    raise EnvironmentProblem(f"fleetfix lab: no free /{prefix} left in {SUPERNET}")


def link_address(address: str | ipaddress.IPv4Address) -> str:
    """The lab's MAC address for an IPv4 address: locally administered, unicast, the address's four bytes."""
    return "02:fc:" + ":".join(f"{byte:02x}" for byte in ipaddress.IPv4Address(address).packed)


def create(bridge: str, subnet: ipaddress.IPv4Network, hosts: list[tuple[str, str, str]]) -> None:
    """Bridge with the controller address, and for each (netns, veth, address) a host link as eth0, each
    side's neighbour entry for the other permanent."""
    gateway = next(subnet.hosts())
    lines = [
        f"link add {bridge} address {link_address(gateway)} type bridge",
        f"addr add {gateway}/{subnet.prefixlen} dev {bridge}",
        f"link set {bridge} up",
        f"route add blackhole {subnet} metric {_BLACKHOLE_METRIC}",
    ]
    for netns, _veth, _address in hosts:
        lines.append(f"netns add {netns}")
    for netns, veth, address in hosts:
        lines += [
            f"link add {veth} type veth peer name eth0 address {link_address(address)} netns {netns}",
            f"link set {veth} master {bridge} up",
            f"neigh replace {address} lladdr {link_address(address)} dev {bridge} nud permanent",
        ]
    _ip("-batch", "-", stdin="\n".join(lines) + "\n")
    for netns, _veth, address in hosts:
        inner = [
            "link set lo up",
            f"addr add {address}/{subnet.prefixlen} dev eth0",
            "link set eth0 up",
            f"neigh replace {gateway} lladdr {link_address(gateway)} dev eth0 nud permanent",
        ]
        _ip("-n", netns, "-batch", "-", stdin="\n".join(inner) + "\n")


def destroy(bridge: str, subnet: str | None, netns_names: list[str], veths: list[str]) -> None:
    """Remove whatever of the lab's network exists; missing pieces are fine (a half-made or crashed lab)."""
    existing_ns = set(_ip("netns", "list", check=False).stdout.split())
    lines = [f"netns delete {n}" for n in netns_names if n in existing_ns]
    links = {entry["ifname"] for entry in json.loads(_ip("-j", "link", "show", check=False).stdout or "[]")}
    lines += [f"link delete {v}" for v in veths if v in links]
    if bridge in links:
        lines.append(f"link delete {bridge}")
    if subnet:
        routes = _ip("route", "show", "table", "main", "type", "blackhole", check=False).stdout
        if subnet in routes:
            lines.append(f"route delete blackhole {subnet} metric {_BLACKHOLE_METRIC}")
    if lines:
        _ip("-force", "-batch", "-", stdin="\n".join(lines) + "\n", check=False)
