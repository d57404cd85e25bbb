#!/usr/bin/python3
"""Make one netconsole configfs target send to the log host now, changing only what differs."""

import errno
import ipaddress
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetfix.hba.plugins.module_utils.netconsole import (
    CONFIGFS,
    TARGETS_DIR,
    read_file,
    read_target_attrs,
)

DOCUMENTATION = r"""
module: fleetfix_netconsole_target
short_description: Ensure an enabled netconsole target in configfs
description:
  - Loads the netconsole module when needed, creates C(/sys/kernel/config/netconsole/<name>), and when any
    attribute differs from the wanted one disables the target, writes the attributes and enables it again
    (the kernel refuses attribute changes on an enabled target).
  - Extended messages are asked for only where the kernel has the C(extended) attribute.
  - Supports check mode and diff.
options:
  name: {description: Target directory name., type: str, required: true}
  dev_name: {description: Interface to send from., type: str, required: true}
  local_ip: {description: Source address., type: str, required: true}
  local_port: {description: Source UDP port., type: int, default: 6665}
  remote_ip: {description: Log host address., type: str, required: true}
  remote_port: {description: Log host UDP port., type: int, default: 6666}
  remote_mac: {description: MAC of the next hop (log host on-link, else gateway)., type: str, required: true}
  extended: {description: Send extended messages when the kernel supports them., type: bool, default: true}
"""

RETURN = r"""
extended_supported: {description: The kernel offers the extended attribute., type: bool}
before: {description: Attributes before the change (empty when the target did not exist)., type: dict}
after: {description: Attributes after the change., type: dict}
"""

ORDER = ("dev_name", "local_ip", "remote_ip", "local_port", "remote_port", "remote_mac", "extended")


def canonical(attr, value):
    if value is None:
        return None
    value = str(value).strip()
    if attr in ("local_ip", "remote_ip"):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value
    if attr == "remote_mac":
        return value.lower()
    if attr in ("extended", "enabled"):
        return "1" if value in ("1", "true", "True", "Y", "y") else "0"
    return value


def read_target(path):
    """The attributes this module manages, canonical for comparison; empty when the target is absent."""
    if not os.path.isdir(path):
        return {}
    attrs = read_target_attrs(read_file, path)
    return {attr: canonical(attr, attrs[attr]) for attr in (*ORDER, "enabled") if attr in attrs}


def write_attr(module, path, attr, value):
    try:
        with open(os.path.join(path, attr), "w") as handle:
            handle.write(str(value))
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        hint = " (device down, or the address is not on it?)" if attr == "enabled" else ""
        if error.errno == errno.ENOENT:
            hint = " (this kernel's netconsole has no such attribute)"
        module.fail_json(msg=f"netconsole target {path}: writing {attr}={value} failed: {reason}{hint}")


def ensure_configfs(module):
    """The netconsole directory appears once the module is loaded and configfs is mounted."""
    if os.path.isdir(TARGETS_DIR):
        return False
    if not os.path.isdir("/sys/module/netconsole"):
        if module.check_mode:
            return True
        module.run_command([module.get_bin_path("modprobe", required=True), "netconsole"], check_rc=True)
    if not os.path.isdir(TARGETS_DIR) and os.path.isdir(CONFIGFS) and not os.listdir(CONFIGFS):
        module.run_command(["mount", "-t", "configfs", "configfs", CONFIGFS], check_rc=True)
    if not os.path.isdir(TARGETS_DIR):
        module.fail_json(msg=f"{TARGETS_DIR} is missing: this kernel's netconsole has no configfs support")
    return True


def render(attrs):
    return "".join(f"{key} = {attrs[key]}\n" for key in sorted(attrs))


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "dev_name": {"type": "str", "required": True},
            "local_ip": {"type": "str", "required": True},
            "local_port": {"type": "int", "default": 6665},
            "remote_ip": {"type": "str", "required": True},
            "remote_port": {"type": "int", "default": 6666},
            "remote_mac": {"type": "str", "required": True},
            "extended": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    if "/" in params["name"] or params["name"] in (".", ".."):
        module.fail_json(msg=f"invalid netconsole target name {params['name']!r}")
    loaded_now = ensure_configfs(module)
    path = os.path.join(TARGETS_DIR, params["name"])
    before = {} if loaded_now and module.check_mode else read_target(path)
    # A missing target shows the attributes a fresh one has, so a check-mode diff is exact.
    extended_supported = "extended" in before if before else True
    if before and not os.path.exists(os.path.join(path, "extended")):
        extended_supported = False
    wanted = {attr: canonical(attr, params[attr]) for attr in ORDER if attr != "extended"}
    if extended_supported:
        wanted["extended"] = canonical("extended", params["extended"])
    after = {**before, **wanted, "enabled": "1"}
    changed = after != before
    result = {"changed": changed, "extended_supported": extended_supported, "before": before, "after": after}
    if module._diff:
        result["diff"] = {
            "before_header": path,
            "after_header": path,
            "before": render(before),
            "after": render(after),
        }
    if not changed or module.check_mode:
        module.exit_json(**result)
    if not os.path.isdir(path):
        os.mkdir(path)
        before_write = read_target(path)
        if "extended" not in before_write and "extended" in wanted:
            wanted.pop("extended")
            result["extended_supported"] = False
    else:
        before_write = before
    if before_write.get("enabled") == "1":
        write_attr(module, path, "enabled", 0)
    for attr in ORDER:
        if attr in wanted and before_write.get(attr) != wanted[attr]:
            write_attr(module, path, attr, wanted[attr])
    write_attr(module, path, "enabled", 1)
    result["after"] = read_target(path)
    if module._diff:
        result["diff"]["after"] = render(result["after"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
