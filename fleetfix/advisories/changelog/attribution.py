"""Whom a changelog's advisory entries name and cite: the driver's vendor, and the public URLs to cite.

Entries must cite something public a person can check. Given references win; otherwise the changelog's
own address (when its source is a URL) and the URLs of its leading ``#`` header lines, such as the
``# SOURCE: https://...`` line of a copied changelog.
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
    "lpfc": "Broadcom",
    "qla2xxx": "Marvell",
    "qedf": "Marvell",
}


def vendor_of(module: str) -> str:
    """The vendor of a known HBA driver ``module``, else ``unknown``."""
    return _VENDORS.get(module, "unknown")


def citations(text: str, source: str, given: Sequence[str]) -> tuple[str, ...]:
    """``given`` if any; else ``source`` if it is a URL and the URLs of the text's leading ``#`` lines."""
    if given:
        return tuple(given)
    found = [source] if _URL.fullmatch(source) else []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        found += [url.rstrip(".,") for url in _URL.findall(line)]
    return tuple(dict.fromkeys(found))
