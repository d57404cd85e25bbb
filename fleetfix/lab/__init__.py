"""The namespace test fleet: simulated hosts with their own kernel surfaces, real sshd, Ansible and apt."""

from fleetfix.lab.lab import HostInfo, Lab

__all__ = ["HostInfo", "Lab"]
