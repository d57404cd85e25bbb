#!/usr/bin/python3
"""Read this host's storage redundancy: failed multipath paths and degraded or rebuilding md arrays."""

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetfix.hba.plugins.module_utils.storage_health import storage_problems

DOCUMENTATION = r"""
module: fleetfix_storage_health
short_description: Report failed multipath paths and degraded md arrays
description:
  - Reads C(/proc/mdstat) and the multipath topology (C(multipath -ll), or C(multipathd show paths) where
    C(multipath -ll) fails) and returns one reason per path that cannot carry I/O and per md array that is
    degraded, inactive or rebuilding (recovery, resync, reshape). A scrub (check, repair) is no reason.
  - A host without the md driver or without multipath-tools has nothing of that kind to lose and reports
    no problem. Never changes anything and never fails on what it reads; the role asserts on C(problems).
options: {}
"""

RETURN = r"""
problems: {description: One line per fault found; empty when the storage is whole., type: list, elements: str}
multipath_source:
  description: The command the paths were read from, or null without multipath-tools.
  type: str
multipath_maps: {description: Multipath maps seen., type: int}
multipath_paths: {description: Paths seen., type: int}
md_arrays: {description: md arrays seen in /proc/mdstat., type: int}
"""

MDSTAT = "/proc/mdstat"


def read_mdstat():
    try:
        with open(MDSTAT, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def read_multipath(module):
    """(source, multipath -ll text, multipathd show paths text); Nones where the tools are absent."""
    multipath = module.get_bin_path("multipath")
    if multipath:
        rc, out, _ = module.run_command([multipath, "-ll"])
        if rc == 0:
            return "multipath -ll", out, None
    daemon = module.get_bin_path("multipathd")
    if daemon:
        rc, out, _ = module.run_command([daemon, "show", "paths"])
        if rc == 0:
            return "multipathd show paths", None, out
    return None, None, None


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    source, topology, daemon_paths = read_multipath(module)
    mdstat = read_mdstat() if os.path.exists(MDSTAT) else None
    result = storage_problems(mdstat=mdstat, multipath_ll=topology, multipathd_paths=daemon_paths)
    module.exit_json(changed=False, multipath_source=source, **result)


if __name__ == "__main__":
    main()
