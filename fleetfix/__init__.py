"""fleetfix: audit, capture, triage and remediate storage-driver incidents across a fleet."""

__version__ = "0.1.0"
