"""``fleetfix lab vm``: build, up, down, ssh, status, inventory; each calls one function."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import yaml

from fleetfix.files import write_atomic
from fleetfix.lab.vm import image
from fleetfix.lab.vm.machine import BOOT_TIMEOUT, Vm, require_root

name_option = click.option("--name", "vm_name", default="default", show_default=True, help="VM name.")


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.group()
def vm() -> None:
    """The real-kernel test fleet: a QEMU guest with Debian's kernel and the fxhba vendor driver."""


@vm.command()
@click.option("--force", is_flag=True, help="Rebuild even when an image for this recipe is cached.")
def build(force: bool) -> None:
    """Build the guest image (debootstrap, fxhba 1.0.0 and 1.0.1 packages), or reuse the cached one."""
    require_root()
    built = image.build(_say, force=force)
    click.echo(str(built.root))


@vm.command()
@name_option
@click.option(
    "--boot-timeout", type=click.FloatRange(min=10), default=BOOT_TIMEOUT, show_default=True, help="Seconds."
)
@click.option(
    "--boot-loader",
    is_flag=True,
    help="Boot through the disk's GRUB (what /boot holds) instead of the image's kernel and initrd.",
)
def up(vm_name: str, boot_timeout: float, boot_loader: bool) -> None:
    """Boot the guest from a fresh copy of the image and wait until ssh answers."""
    require_root()
    state = Vm(vm_name, boot_loader=boot_loader).up(_say, boot_timeout)
    click.echo(f"{vm_name}: pid {state['pid']}, ssh 127.0.0.1:{state['ssh_port']}, {state['kernel_release']}")


@vm.command()
@name_option
def down(vm_name: str) -> None:
    """Stop QEMU by its recorded PID and drop the guest's disk."""
    require_root()
    stopped = Vm(vm_name).down()
    _say(f"{vm_name}: {'stopped' if stopped else 'was not running'}")


@vm.command(context_settings={"ignore_unknown_options": True})
@name_option
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def ssh(vm_name: str, command: tuple[str, ...]) -> None:
    """Log in to the guest as root, or run COMMAND there."""
    require_root()
    argv = Vm(vm_name).ssh_argv(command)
    os.execvp(argv[0], argv)


@vm.command()
@name_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(vm_name: str, as_json: bool) -> None:
    """Whether the guest runs, its PID, ssh port, kernel and console log."""
    require_root()
    info = Vm(vm_name).status()
    if as_json:
        click.echo(json.dumps(info, indent=1))
        return
    if not info["running"]:
        click.echo(f"{vm_name}: not running")
        return
    click.echo(
        f"{vm_name}: running, pid {info['pid']}, ssh 127.0.0.1:{info['ssh_port']}, "
        f"{info['kernel_release']}, console {info['console']}"
    )


@vm.command()
@name_option
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the inventory here.")
def inventory(vm_name: str, output: Path | None) -> None:
    """Print or write the guest's Ansible inventory (YAML)."""
    require_root()
    text = yaml.safe_dump(Vm(vm_name).inventory(), sort_keys=False)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output, text)
