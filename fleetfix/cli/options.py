"""Command-line options shared by several commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from fleetfix.ansible.nodes import ExecutionNodes

inventory_option = click.option(
    "-i",
    "--inventory",
    "inventories",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Inventory file or directory; repeat to merge. Default: localhost over the local connection.",
)
limit_option = click.option("-l", "--limit", help="Ansible host pattern limiting the run.")
advisories_option = click.option(
    "--advisories",
    "advisory_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Directory of your own advisory YAML files, added to the shipped database; repeatable.",
)


def _execution_nodes(_c: click.Context, _p: click.Parameter, text: str | None) -> ExecutionNodes | None:
    from fleetfix.ansible.nodes import load  # on use: yaml and the config file are not needed to start

    return load(text)


execution_nodes_option = click.option(
    "--execution-nodes",
    "nodes",
    metavar="NODE,...",
    callback=_execution_nodes,
    help="Cut the run into slices, one per node, each run by `ansible-runner worker` over ssh. "
    "Default: execution_nodes in the config file ($FLEETFIX_CONFIG, ~/.config/fleetfix/config.yml).",
)
