"""The host's own tools, found and run as ``AnsibleModule`` finds and runs them, without Ansible.

``fleetfix_facts``' ``gather`` asks its runner for two things only: ``get_bin_path(name)`` and
``run_command(argv)``. As a module it is given the ``AnsibleModule``; run by the collection's action plugin
(``plugins/action/fleetfix_facts.py``) it is given ``HostTools``, so that the read does not import
``ansible.module_utils.basic``, the bulk of every module's cost on a host.
Standard library only, Python 3.8+ (it runs on the managed hosts).
"""

from __future__ import annotations

import os
import subprocess

# AnsibleModule.get_bin_path looks in these as well as in PATH (ansible.module_utils.common.process).
SBIN_DIRS = ("/sbin", "/usr/sbin", "/usr/local/sbin")


class HostTools:
    """``get_bin_path`` and ``run_command`` with AnsibleModule's answers: a path or None; (rc, out, err)
    as text, undecodable bytes kept as surrogates. One difference: a found tool that cannot start (say,
    ENOEXEC) is its errno and message, one surface's error, where AnsibleModule fails the whole read."""

    def get_bin_path(self, name):
        directories = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
        directories += [d for d in SBIN_DIRS if d not in directories]
        for directory in directories:
            path = os.path.join(directory, name)
            if os.path.exists(path) and not os.path.isdir(path) and os.access(path, os.X_OK):
                return path
        return None

    def run_command(self, args):
        try:
            done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, check=False)
        except OSError as exc:
            return exc.errno or 2, "", str(exc)
        return done.returncode, _text(done.stdout), _text(done.stderr)


def _text(data):
    return data.decode("utf-8", "surrogateescape")
