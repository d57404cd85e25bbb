#!/usr/bin/python3
"""Resolve how netconsole reaches the log host from this host: device, source address, next hop's MAC."""

import ipaddress
import os
import time

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: fleetfix_netconsole_route
short_description: Resolve the netconsole route to a log host
description:
  - Reads the route to O(remote_ip) (C(ip route get)), the device's addresses and the next hop's link-layer
    address (C(ip neigh)). The next hop is the log host itself when it is on-link, else the route's gateway.
    A ping of the next hop (or, without ping, one UDP datagram to its discard port) fills the neighbour
    table first.
  - Never changes anything and never fails on a network answer; the role asserts on the returned facts so
    the failure message names what is wrong.
options:
  remote_ip: {description: Log host address (IPv4 or IPv6)., type: str, required: true}
  interface: {description: Local interface to send from; default is the route's device., type: str}
  source_ip: {description: Source address; default is the route's preferred source., type: str}
"""

RETURN = r"""
interface_found: {description: The requested interface exists (true when none was requested)., type: bool}
interfaces: {description: Network interfaces of the host., type: list}
route_error: {description: Why C(ip route get) found no route, or null., type: str}
dev: {description: Device netconsole sends from., type: str}
source_ip: {description: Source address netconsole uses., type: str}
source_ip_found: {description: The source address is configured on the device., type: bool}
next_hop: {description: Log host (on-link) or gateway address., type: str}
on_link: {description: The log host is on the device's subnet., type: bool}
remote_mac: {description: Link-layer address of the next hop, lower case, or null., type: str}
neighbour_state: {description: Neighbour table state of the next hop (e.g. REACHABLE, FAILED)., type: str}
"""

UNRESOLVED = ("FAILED", "INCOMPLETE", "NONE")


def words_after(words, key):
    return words[words.index(key) + 1] if key in words[:-1] else None


def route_to(module, ip, remote_ip, interface):
    args = [ip, "route", "get", remote_ip] + (["oif", interface] if interface else [])
    rc, out, err = module.run_command(args)
    if rc != 0:
        return None, (err or out).strip() or "no route"
    words = out.split()
    return {key: words_after(words, key) for key in ("dev", "src", "via")}, None


def device_addresses(module, ip, dev):
    rc, out, _ = module.run_command([ip, "-o", "addr", "show", "dev", dev])
    found = []
    for line in out.splitlines() if rc == 0 else ():
        words = line.split()
        for family in ("inet", "inet6"):
            value = words_after(words, family)
            if value:
                found.append(str(ipaddress.ip_interface(value).ip))
    return found


def neighbour(module, ip, next_hop, dev):
    rc, out, _ = module.run_command([ip, "neigh", "show", "to", next_hop, "dev", dev])
    words = out.split() if rc == 0 else []
    mac = words_after(words, "lladdr")
    state = words[-1] if words and words[-1].isupper() else ("NONE" if not words else None)
    return (mac.lower() if mac else None), state


def probe(module, next_hop, dev):
    """Make the kernel resolve the next hop: a ping where ping exists, else one UDP datagram."""
    ping = module.get_bin_path("ping")
    if ping:
        family = ["-6"] if ipaddress.ip_address(next_hop).version == 6 else []
        module.run_command([ping, *family, "-c", "1", "-W", "1", "-I", dev, next_hop])
        return
    import socket

    family = socket.AF_INET6 if ipaddress.ip_address(next_hop).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
            sock.sendto(b"", (next_hop, 9))
        except OSError:
            pass


def main():
    module = AnsibleModule(
        argument_spec={
            "remote_ip": {"type": "str", "required": True},
            "interface": {"type": "str"},
            "source_ip": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    ip = module.get_bin_path("ip", required=True)
    interfaces = sorted(os.listdir("/sys/class/net")) if os.path.isdir("/sys/class/net") else []
    result = {"changed": False, "interfaces": interfaces, "interface_found": True, "route_error": None}
    result.update(dev=None, source_ip=None, source_ip_found=False, next_hop=None, on_link=False)
    result.update(remote_mac=None, neighbour_state=None)
    if params["interface"] and params["interface"] not in interfaces:
        result["interface_found"] = False
        module.exit_json(**result)
    route, error = route_to(module, ip, params["remote_ip"], params["interface"])
    if route is None or not route["dev"]:
        result["route_error"] = error or "no device in the route"
        module.exit_json(**result)
    dev = route["dev"]
    source = params["source_ip"] or route["src"]
    next_hop = route["via"] or params["remote_ip"]
    result.update(dev=dev, source_ip=source, next_hop=next_hop, on_link=route["via"] is None)
    result["source_ip_found"] = bool(source) and source in device_addresses(module, ip, dev)
    mac, state = neighbour(module, ip, next_hop, dev)
    if mac is None or state in UNRESOLVED:
        probe(module, next_hop, dev)
        for _ in range(15):
            mac, state = neighbour(module, ip, next_hop, dev)
            if mac and state not in UNRESOLVED:
                break
            time.sleep(0.2)
    result.update(remote_mac=mac if state not in UNRESOLVED else None, neighbour_state=state)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
