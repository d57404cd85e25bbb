"""The figures over every real report we keep: reports found, and key fields right, per file and in total.

Run with ``-s`` to see them (the README's triage section quotes them):

    PYTHONPATH=$PWD python -m pytest -q -s tests/unit/test_triage_corpus_figures.py
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fleetfix.triage.cascade import fold_cascades
from fleetfix.triage.oops.find_all import Oops, parse_oopses
from tests.support import strip_provenance

DATA = Path(__file__).resolve().parents[1] / "data" / "oopses"
KEY_FIELDS = {
    "kind": lambda o: o.kind,
    "rip": lambda o: o.rip,
    "rip_module": lambda o: o.rip_module,
    "implicated_module": lambda o: o.implicated_module,
    "taint": lambda o: list(o.taint),
}


def _folders(corpus_dir: Path | None) -> list[Path]:
    return [DATA] + ([corpus_dir / "oopses"] if corpus_dir is not None else [])


def _figures(folder: Path) -> list[tuple[str, int, int, int, int, list[str]]]:
    """Per file: (name, crashes expected, found, fields right, fields checked, the fields wrong)."""
    rows = []
    for name, wanted in yaml.safe_load((folder / "expected.yaml").read_text()).items():
        wanted = wanted if isinstance(wanted, list) else [wanted]
        year = wanted[0].get("reference_year")
        found: list[Oops] = list(
            fold_cascades(parse_oopses(strip_provenance((folder / name).read_text()), reference_year=year))
        )
        right = checked = 0
        wrong = []
        for index, want in enumerate(wanted):
            got = found[index] if index < len(found) else None
            for field, read in KEY_FIELDS.items():
                if field not in want:
                    continue
                checked += 1
                if got is not None and read(got) == want[field]:
                    right += 1
                else:
                    wrong.append(f"{field}[{index}]")
        rows.append((name, len(wanted), len(found), right, checked, wrong))
    return rows


def test_every_report_is_found_and_the_key_fields_are_right(request: pytest.FixtureRequest) -> None:
    try:
        corpus_dir = request.getfixturevalue("corpus_dir")
    except pytest.skip.Exception:
        corpus_dir = None
    rows = [row for folder in _folders(corpus_dir) for row in _figures(folder)]
    expected = sum(r[1] for r in rows)
    found = sum(min(r[1], r[2]) for r in rows)
    right, checked = sum(r[3] for r in rows), sum(r[4] for r in rows)
    print(f"\ntriage corpus: {len(rows)} files, {expected} crashes expected, {found} found")
    print(f"key fields ({', '.join(KEY_FIELDS)}): {right} of {checked} right ({100 * right / checked:.1f}%)")
    for name, want, got, ok, total, wrong in rows:
        if want != got or wrong:
            print(f"  {name}: {got} of {want} crashes, {ok}/{total} fields; wrong: {', '.join(wrong) or '-'}")
    assert all(r[1] == r[2] for r in rows), [r[0] for r in rows if r[1] != r[2]]
    assert right >= 0.95 * checked
