"""Code that runs inside lab hosts, on the host's own /usr/bin/python3 with the standard library only.

The lab copies this package into every host as /usr/lib/fleetfix-lab/fleetfix_guest and the small entry
scripts in ``bin/`` stand in for the tools that have no kernel or boot loader behind them.
"""
