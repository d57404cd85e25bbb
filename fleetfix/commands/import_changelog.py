"""`fleetfix advisories import-changelog`: read the file, convert it, write the YAML whole."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from fleetfix.advisories.changelog.convert import ImportResult, import_changelog, render_advisory_yaml
from fleetfix.errors import InputError
from fleetfix.files import write_atomic


def import_file(
    changelog: Path, module: str, vendor: str | None, references: Sequence[str], output: Path | None
) -> ImportResult:
    """Convert ``changelog`` and write the advisory YAML (stdout when ``output`` is None)."""
    try:
        text = changelog.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(str(changelog), exc.strerror or str(exc)) from None
    result = import_changelog(text, str(changelog), module, vendor, tuple(references))
    document = render_advisory_yaml(result.entries)
    if output is None:
        sys.stdout.write(document)
    else:
        write_atomic(output, document)
    return result
