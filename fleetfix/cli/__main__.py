"""``python -m fleetfix.cli``: the same as the ``fleetfix`` command."""

from fleetfix.cli import entry

entry()
