"""Where fleetfix finds its content (playbooks, roles, advisories) and keeps its state."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]


def content_dir() -> Path:
    """The directory holding playbooks/, collections/, advisories/ and ansible.cfg.

    An installed wheel carries them in ``fleetfix/_content``; a source checkout has them beside the package.
    """
    packaged = _PACKAGE / "_content"
    return packaged if packaged.is_dir() else _PACKAGE.parent


def playbook(name: str) -> Path:
    return content_dir() / "playbooks" / name


def collections_dir() -> Path:
    """A collections path (ANSIBLE_COLLECTIONS_PATH) holding the Ansible collection fleetfix.hba, the roles
    and modules every run uses. In a checkout its ansible_collections/fleetfix/hba links to the repository."""
    return content_dir() / "collections"


def collection_root() -> Path:
    """The collection fleetfix.hba itself: galaxy.yml, meta/, plugins/, roles/."""
    return (collections_dir() / "ansible_collections" / "fleetfix" / "hba").resolve()


def shipped_advisories() -> Path:
    return content_dir() / "advisories"


def xdg_dir(variable: str, home_default: str) -> Path:
    """``$variable/fleetfix``, or ``~/home_default/fleetfix`` when the XDG variable is unset."""
    return Path(os.environ.get(variable) or Path.home() / home_default) / "fleetfix"


def state_dir() -> Path:
    """Run reports, runner artifacts and the journal: $FLEETFIX_STATE_DIR, else the XDG state home."""
    explicit = os.environ.get("FLEETFIX_STATE_DIR")
    return Path(explicit) if explicit else xdg_dir("XDG_STATE_HOME", ".local/state")


def config_file() -> Path:
    """The configuration file (execution nodes): $FLEETFIX_CONFIG, else config.yml in the XDG config home."""
    explicit = os.environ.get("FLEETFIX_CONFIG")
    return Path(explicit) if explicit else xdg_dir("XDG_CONFIG_HOME", ".config") / "config.yml"


def netconsole_dir() -> Path:
    """Where `fleetfix listen` writes per-host logs and events.jsonl, and where triage reads them."""
    return state_dir() / "netconsole"


def crash_store() -> Path:
    """Where `fleetfix collect` keeps fetched crash dumps and each host's scheduled jobs."""
    return state_dir() / "crashes"
