#!/usr/bin/env bash
# The demo: the seed incident end to end on the lab fleet (root), else the audit of this machine.
set -uo pipefail
if [ "$(id -u)" -eq 0 ]; then
    exec .venv/bin/python scripts/demo.py "$@"
fi
echo "demo: the lab fleet needs root; auditing this machine instead ('sudo make demo' tells the whole story)" >&2
.venv/bin/fleetfix audit
status=$?
echo "audit exit status: $status (0 clean, 1 findings, 4 unreachable hosts; see README)" >&2
exit 0
