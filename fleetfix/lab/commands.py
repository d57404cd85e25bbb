"""``fleetfix lab``: up, down, status, inventory. Each command parses options and calls one ``Lab`` method."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import yaml

from fleetfix.errors import FleetfixError
from fleetfix.lab.lab import Lab, require_root

name_option = click.option("--name", "lab_name", default="default", show_default=True, help="Lab name.")


def _run(action):  # type: ignore[no-untyped-def]
    try:
        return action()
    except FleetfixError as exc:
        click.echo(f"fleetfix lab: {exc}", err=True)
        sys.exit(int(exc.status))


@click.group()
def lab() -> None:
    """The namespace test fleet: simulated hosts with real sshd, Ansible and packages."""


@lab.command()
@click.option(
    "--scenario",
    default="seed",
    show_default=True,
    help="Scenario file, or a shipped one: seed, large, mixed.",
)
@click.option(
    "--hosts",
    type=click.IntRange(min=1),
    help="The first N hosts of the scenario; beyond its size its groups grow in proportion.",
)
@name_option
def up(scenario: str, hosts: int | None, lab_name: str) -> None:
    """Bring the lab up (a stale lab of the same name is cleaned first)."""
    _run(require_root)
    started = _run(lambda: Lab(lab_name).up(scenario, hosts))
    for host in started:
        click.echo(f"{host.name:<16} {host.ip:<15} {host.state:<8} {','.join(host.groups)}")


@lab.command()
@name_option
def down(lab_name: str) -> None:
    """Stop every host and remove all the lab made."""
    _run(require_root)
    _run(Lab(lab_name).down)


@lab.command()
@name_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(lab_name: str, as_json: bool) -> None:
    """Hosts, addresses and states."""
    _run(require_root)
    info = _run(Lab(lab_name).status)
    if as_json:
        click.echo(json.dumps(info, indent=1))
        return
    click.echo(f"lab {info['name']}: {'running' if info['running'] else 'not running'}")
    for host in info["hosts"]:
        click.echo(
            f"{host['name']:<16} {host['ip']:<15} {host['state']:<8} "
            f"boots={host['boots']} panics={host['panics']}"
        )


@lab.command()
@name_option
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the inventory here.")
def inventory(lab_name: str, output: Path | None) -> None:
    """Print or write the lab's Ansible inventory (YAML)."""
    _run(require_root)
    current = Lab(lab_name)
    if output:
        _run(lambda: current.write_inventory(output))
        return
    click.echo(yaml.safe_dump(_run(current.inventory), sort_keys=False), nl=False)
