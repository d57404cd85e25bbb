"""The Debian archive to build from: the one this machine's own apt configuration uses."""

from __future__ import annotations

import os
import re
from pathlib import Path

from fleetfix.errors import EnvironmentProblem

_APT = Path("/etc/apt")
_DEBIAN_SUITES = {
    "bullseye",
    "bookworm",
    "trixie",
    "forky",
    "sid",
    "oldstable",
    "stable",
    "testing",
    "unstable",
}
_ONE_LINE = re.compile(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$")


def _one_line_entries(text: str) -> list[tuple[str, str, str]]:
    found = []
    for line in text.splitlines():
        match = _ONE_LINE.match(line.strip())
        if match:
            found.append((match.group(1), match.group(2), match.group(3)))
    return found


def _deb822_entries(text: str) -> list[tuple[str, str, str]]:
    found = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                found.append((uri, suite, fields.get("components", "")))
    return found


def debian_mirror(apt_dir: Path = _APT) -> str:
    """$FLEETFIX_VM_MIRROR, else the first archive apt uses for a main (not security) Debian suite."""
    explicit = os.environ.get("FLEETFIX_VM_MIRROR")
    if explicit:
        return explicit
    entries: list[tuple[str, str, str]] = []
    sources = apt_dir / "sources.list"
    if sources.is_file():
        entries += _one_line_entries(sources.read_text(errors="replace"))
    parts = apt_dir / "sources.list.d"
    for path in sorted(parts.glob("*.list")) if parts.is_dir() else []:
        entries += _one_line_entries(path.read_text(errors="replace"))
    for path in sorted(parts.glob("*.sources")) if parts.is_dir() else []:
        entries += _deb822_entries(path.read_text(errors="replace"))
    for uri, suite, components in entries:
        debian = suite.split("-", 1)[0] in _DEBIAN_SUITES and not suite.endswith("-security")
        if uri.startswith("http") and debian and "main" in components.split():
            return uri
    raise EnvironmentProblem(
        "no Debian archive found in this machine's apt sources: set FLEETFIX_VM_MIRROR to one"
    )
