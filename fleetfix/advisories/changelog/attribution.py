"""Whom a changelog's advisory entries name and cite: the driver's vendor, and the public URLs to cite.

Given references win; otherwise the changelog's own address (when its source is a URL) and the URLs of
its leading ``#`` provenance lines (``# SOURCE: https://...``). With none, entries carry ``references: []``
for the reviewer to fill, and the import says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_URL = re.compile(r"https?://[^\s)>\]\"']+")
_VENDORS = {
    "smartpqi": "Microchip",
    "hpsa": "Microchip",
    "aacraid": "Microchip",
    "mpt3sas": "Broadcom",
    "mpt2sas": "Broadcom",
    "megaraid_sas": "Broadcom",
    "megaraid_mbox": "Broadcom",
    "megaraid_mm": "Broadcom",
    "lpfc": "Broadcom",
    "qla2xxx": "Marvell",
    "qedf": "Marvell",
    "arcmsr": "Areca",
    "ips": "IBM",
}


def vendor_of(module: str) -> str:
    """The vendor of a known HBA driver ``module``, else ``unknown``."""
    return _VENDORS.get(module, "unknown")


def citations(source: str, header_urls: Sequence[str], given: Sequence[str]) -> tuple[str, ...]:
    """``given`` if any; else ``source`` if it is a URL, and the URLs of the text's header lines."""
    if given:
        return tuple(given)
    found = [source] if _URL.fullmatch(source) else []
    return tuple(dict.fromkeys([*found, *header_urls]))
