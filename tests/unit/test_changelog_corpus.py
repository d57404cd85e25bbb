"""Changelog import over the whole real corpus: recall and precision, a test per shape, YAML the CLI accepts.

The expectations were written by reading each changelog (tests/data/changelogs/expected.yaml and the shared
corpus's expected.yaml); `tests/changelog_scoring.py` explains the matching. Print the figures with
`pytest -s -q tests/unit/test_changelog_corpus.py -k recall`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetfix.cli import main as fleetfix_cli
from tests.changelog_scoring import Score, corpus, quoted, score

CASES = corpus()
SHAPES = sorted({case["shape"] for case in CASES.values()})


def test_recall_and_precision_over_the_whole_corpus() -> None:
    total = Score()
    for case in CASES.values():
        total.add(score(case)[0])
    print(
        f"\nchangelog corpus: {len(CASES)} files, {len(SHAPES)} shapes; "
        f"recall {total.found}/{total.expected} = {total.recall:.1%}, "
        f"precision {total.found}/{total.emitted} = {total.precision:.1%}"
    )
    for line in total.missed:
        print(f"  missed: {line}")
    for line in total.false_positives:
        print(f"  not a fault fix: {line}")
    assert total.recall >= 0.90
    assert total.precision >= 0.85


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_finds_its_fixes_in_the_right_version_and_nothing_it_must_not(shape: str) -> None:
    for name, case in CASES.items():
        if case["shape"] != shape:
            continue
        result, entries = score(case)
        assert not result.missed, result.missed
        for quote in case.get("not", []):
            emitted = [e.title for e in entries if quoted(e, quote)]
            assert not emitted, f"{name}: {quote!r} emitted as {emitted}"
        for fix in case["fixes"]:
            entry = next(e for e in entries if e.fixed_in == fix["fixed_in"] and quoted(e, fix["quote"]))
            assert set(fix.get("tags", [])) <= set(entry.faults), f"{name}: {fix['quote']!r}: {entry.faults}"
            assert entry.words, entry
            if "found_in" in fix:
                assert fix["found_in"] in entry.affected_builds, (name, entry.affected_builds)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_yaml_written_for_each_corpus_file_passes_advisories_list(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    runner = CliRunner()
    written = tmp_path / "advisories" / f"{Path(name).stem}.yaml"
    written.parent.mkdir()
    imported = runner.invoke(
        fleetfix_cli,
        ["advisories", "import-changelog", str(case["path"]), "--module", case["module"], "-o", str(written)],
    )
    assert imported.exit_code == 0, (imported.output, imported.exception)
    listed = runner.invoke(fleetfix_cli, ["advisories", "list", "--advisories", str(written.parent)])
    assert listed.exit_code == 0, (listed.output, listed.exception)
    module = case["module"].replace("-", "_")
    assert written.read_text().count(f"\n  module: {module}\n") == len(score(case)[1])
