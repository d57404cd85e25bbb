"""The known-bad database: schema checks with file:line errors, the three kinds of match, lowest fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.advisories.schema import load_advisories, load_file
from fleetfix.errors import InputError
from fleetfix.versions import DriverVersion
from tests.support import REPO

DATA = REPO / "tests" / "data" / "advisories"
SHIPPED = REPO / "advisories"
REQUIRED_MODULES = {"mpt3sas", "megaraid_sas", "qla2xxx", "lpfc", "smartpqi", "hpsa", "mpi3mr", "aacraid"}


@pytest.fixture(scope="module")
def valid_db() -> AdvisoryDB:
    return load_advisories([DATA / "valid"])


def test_shipped_database_passes_the_schema_and_covers_every_driver() -> None:
    db = load_advisories([SHIPPED])
    modules = {advisory.module for advisory in db.advisories}
    assert modules >= REQUIRED_MODULES
    for module in REQUIRED_MODULES:
        assert len(db.for_module(module)) >= 3, module
    for advisory in db.advisories:
        assert Path(advisory.source).stem == advisory.module, advisory.id
        assert advisory.references, advisory.id


def test_shipped_smartpqi_entries_are_the_changelog_fixes(corpus_dir: Path) -> None:
    expected = yaml.safe_load((corpus_dir / "changelogs" / "expected.yaml").read_text())
    changelog = expected["smartpqi_oot_README_changelog.txt"]
    fixed_versions = {DriverVersion(fix["fixed_in"]) for fix in changelog["fixes"]}
    smartpqi = load_advisories([SHIPPED]).for_module("smartpqi")
    assert {advisory.fixed_in for advisory in smartpqi} <= fixed_versions
    known_bad = {DriverVersion(example["bad_before"]) for example in changelog["known_bad_examples"]}
    assert known_bad <= {advisory.fixed_in for advisory in smartpqi}


def test_shipped_mpt3sas_race_flags_a_build_below_its_fix() -> None:
    db = load_advisories([SHIPPED])
    hits = {m.advisory.id: m for m in db.match("mpt3sas", "34.100.00.00")}
    race = hits["mpt3sas-fw-event-reset-race"]
    assert "race" in race.advisory.fault
    assert race.why == "version 34.100.00.00 < fixed 35.100.00.00"
    assert "mpt3sas-fw-event-reset-race" not in {m.advisory.id for m in db.match("mpt3sas", "35.100.00.00")}


def test_loads_yaml_and_yml_and_ignores_other_files(valid_db: AdvisoryDB) -> None:
    assert sorted(a.id for a in valid_db.advisories) == [
        "test-driver-range",
        "test-kernel-range",
        "test-open-range",
        "test-srcversion",
    ]


def test_parsed_fields(valid_db: AdvisoryDB) -> None:
    (advisory,) = [a for a in valid_db.for_module("mpt3sas") if a.id == "test-driver-range"]
    assert advisory.fixed_in == DriverVersion("43.100.00.00")
    assert advisory.fault == ("race", "use_after_free")
    assert advisory.trigger.rw == ("randread",)
    assert advisory.trigger.min_iodepth == 32
    assert advisory.line == 2
    (open_range,) = valid_db.for_module("lpfc")
    assert open_range.inferred == ("trigger",)
    assert open_range.trigger.description == "link flap"


@pytest.mark.parametrize(
    ("version", "why"),
    [
        ("42.100.00.00", "version 42.100.00.00 in affected range [40.100.00.00, 43.100.00.00)"),
        ("34.100.00.00", "version 34.100.00.00 < fixed 35.100.00.00"),
    ],
)
def test_driver_range_match(valid_db: AdvisoryDB, version: str, why: str) -> None:
    (match,) = valid_db.match("mpt3sas", version)
    assert match.advisory.id == "test-driver-range"
    assert match.why == why


@pytest.mark.parametrize("version", ["43.100.00.00", "39.100.00.00", "35.100.00.00"])
def test_versions_outside_every_range_are_clean(valid_db: AdvisoryDB, version: str) -> None:
    assert valid_db.match("mpt3sas", version) == []


def test_open_range_has_no_fix(valid_db: AdvisoryDB) -> None:
    (match,) = valid_db.match("lpfc", "14.4.0.2")
    assert match.why == "version 14.4.0.2 >= introduced 14.4.0.1, no fixed release known"
    assert valid_db.match("lpfc", "14.2.0.10") == []


def test_exact_build_matches(valid_db: AdvisoryDB) -> None:
    (by_build,) = valid_db.match("mpt3sas", "39.100.00.00", srcversion="B6F5C4F7A8D2C0A4B7E6F0C")
    assert by_build.why == "srcversion B6F5C4F7A8D2C0A4B7E6F0C is a known-bad build"
    (by_version,) = valid_db.match("mpt3sas", "44.00.01.00")
    assert by_version.why == "version 44.00.01.00 is a listed affected version"


def test_both_reasons_are_given(valid_db: AdvisoryDB) -> None:
    (match,) = valid_db.match("mpt3sas", "44.00.00.00", srcversion="b6f5c4f7a8d2c0a4b7e6f0c")
    assert match.why == (
        "version 44.00.00.00 is a listed affected version; "
        "srcversion b6f5c4f7a8d2c0a4b7e6f0c is a known-bad build"
    )


def test_kernel_range_decides_for_an_in_tree_build(valid_db: AdvisoryDB) -> None:
    (match,) = valid_db.match("megaraid_sas", "07.717.02.00-rc1", kernel="6.1.0-18-amd64")
    assert match.why == "kernel 6.1.0-18-amd64 in affected range [5.16.0, 6.1.123)"
    # A stable kernel carrying the backport clears an in-tree build whatever version string it reports.
    assert valid_db.match("megaraid_sas", "07.717.02.00-rc1", kernel="6.1.130") == []
    assert valid_db.match("megaraid_sas", "07.717.02.00-rc1", kernel="5.15.0-91-generic") == []


def test_driver_range_decides_for_an_out_of_tree_build(valid_db: AdvisoryDB) -> None:
    (match,) = valid_db.match("megaraid_sas", "07.717.02.00-rc1")
    assert match.why == "version 07.717.02.00-rc1 < fixed 07.719.03.00-rc1"
    assert valid_db.match("megaraid_sas", "07.719.03.00-rh1") == []


def test_modules_without_advisories_and_unknown_versions(valid_db: AdvisoryDB) -> None:
    assert valid_db.match("ahci", "3.0", kernel="6.1.0-18-amd64") == []
    assert valid_db.match("mpt3sas", None) == []
    assert valid_db.match("mpt3sas", "") == []


def test_cached_answers_are_fresh_lists(valid_db: AdvisoryDB) -> None:
    first = valid_db.match("mpt3sas", "42.100.00.00")
    first.clear()
    assert len(valid_db.match("mpt3sas", "42.100.00.00")) == 1


def test_lowest_fix(valid_db: AdvisoryDB) -> None:
    assert valid_db.lowest_fix("mpt3sas") is None  # listed bad builds 44.x are newer than every fix
    assert valid_db.lowest_fix("megaraid_sas") == DriverVersion("07.719.03.00-rc1")
    assert valid_db.lowest_fix("lpfc") is None  # open range: nothing fixes it yet
    assert valid_db.lowest_fix("ahci") is None


def write_entries(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def entry(ident: str, affected: str, fixed_in: str | None = None) -> str:
    lines = [
        f"- id: {ident}",
        "  module: mpt3sas",
        "  vendor: Broadcom",
        "  title: t",
        "  affected:",
        *(f"    {line}" for line in affected.strip().splitlines()),
        "  fault: [race]",
        "  trigger: t",
        "  severity: high",
        "  references: [https://example.org/x]",
    ]
    if fixed_in:
        lines.append(f'  fixed_in: "{fixed_in}"')
    return "\n".join(lines) + "\n"


def test_lowest_fix_is_above_every_range_when_ranges_differ(tmp_path: Path) -> None:
    # A fix on two branches, then a regression fixed later: 2.3 would leave hosts on 2.6 exposed or
    # downgrade them; only 3.0 leaves every known-bad range behind.
    text = entry(
        "branches", 'driver:\n  - {introduced: "1.0", fixed: "1.5"}\n  - {introduced: "2.0", fixed: "2.3"}'
    )
    text += entry("regression", 'driver:\n  - {introduced: "2.5", fixed: "3.0"}', fixed_in="3.0")
    db = load_advisories([write_entries(tmp_path, "a.yaml", text).parent])
    assert db.lowest_fix("mpt3sas") == DriverVersion("3.0")


def test_lowest_fix_none_when_a_listed_bad_build_is_newer(tmp_path: Path) -> None:
    text = entry("old", 'driver:\n  - {below: "2.0"}', fixed_in="2.0")
    text += entry("listed", 'driver:\n  - {versions: ["2.4"]}')
    db = load_advisories([write_entries(tmp_path, "a.yaml", text).parent])
    assert db.lowest_fix("mpt3sas") is None


def test_kernel_only_advisories_offer_no_driver_fix(tmp_path: Path) -> None:
    text = entry("kernel-only", 'kernel:\n  - {introduced: "5.16.0", fixed: "5.19.9"}')
    db = load_advisories([write_entries(tmp_path, "a.yaml", text).parent])
    assert db.lowest_fix("mpt3sas") is None


def error_for(directory: Path) -> str:
    with pytest.raises(InputError) as caught:
        load_advisories([directory])
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_unknown_field_names_file_line_and_field() -> None:
    message = error_for(DATA / "unknown_field")
    assert message.startswith(f"{DATA / 'unknown_field' / 'entry.yaml'}:10: severty: unknown field")


def test_bad_yaml_names_file_and_line() -> None:
    message = error_for(DATA / "bad_yaml")
    assert message.startswith(f"{DATA / 'bad_yaml' / 'entry.yaml'}:8: invalid YAML: ")


def test_duplicate_id_across_files_names_both() -> None:
    message = error_for(DATA / "duplicate_id")
    second, first = DATA / "duplicate_id" / "second.yaml", DATA / "duplicate_id" / "first.yaml"
    assert message == f"{second}:2: id: duplicate advisory id 'same-id', first defined at {first}:1"


def test_bad_version_names_file_line_and_field() -> None:
    message = error_for(DATA / "bad_version")
    assert message == (
        f"{DATA / 'bad_version' / 'entry.yaml'}:8: affected.driver[0].fixed: "
        "version '10.02.09 beta' contains whitespace"
    )


def test_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert error_for(missing) == f"{missing}: advisories directory does not exist"


def test_directory_that_is_a_file(tmp_path: Path) -> None:
    not_dir = write_entries(tmp_path, "plain.yaml", "[]\n")
    assert error_for(not_dir) == f"{not_dir}: advisories path is not a directory"


RANGE = 'driver:\n  - {below: "2.0"}'
VALID = entry("a", RANGE)  # lines: 5 affected, 8 fault, 9 trigger, 10 severity, 11 references


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("", None, "no advisories: expected a list of advisory entries"),
        ("id: x\n", 1, "expected a list of advisory entries"),
        ("- just text\n", 1, "entry 1: expected an advisory mapping"),
        ("- id: x\n  module: mpt3sas\n", 1, "affected: required field missing"),
        ("- id: a\n  id: b\n", 2, "id: field given twice"),
        (VALID.replace("mpt3sas", "MPT3SAS"), 2, "module: 'MPT3SAS' is not a kernel module name"),
        (
            VALID.replace("high", "urgent"),
            10,
            "severity: 'urgent' is not one of: critical, high, low, medium",
        ),
        (VALID.replace("[race]", "[race, oops-ish]"), 8, "fault: 'oops-ish' is not one of"),
        (VALID.replace("[race]", "[race, race]"), 8, "fault: duplicate entries"),
        (VALID.replace("example.org/x", "").replace("https://", "ftp://"), 11, "references: 'ftp://' is not"),
        (VALID.replace("trigger: t", "trigger: {rw: [randread]}"), 9, "trigger.description: required field"),
        (VALID.replace("trigger: t", "trigger: {description: d, rw: [seq]}"), 9, "trigger.rw: 'seq' is not"),
        (
            VALID.replace("trigger: t", "trigger: {description: d, min_iodepth: x}"),
            9,
            "trigger.min_iodepth: ",
        ),
        (entry("a", "{}"), 6, "affected: give at least one of driver, srcversions, kernel"),
        (entry("a", "srcversions: [not-hex]"), 6, "affected.srcversions: 'not-hex' is not a srcversion"),
        (entry("a", 'driver:\n  - {fixed: "2.0"}'), 7, "affected.driver[0]: expected {introduced, fixed}"),
        (
            entry("a", 'driver:\n  - {introduced: "2", fixed: "1"}'),
            7,
            "affected.driver[0].fixed: 1 is not newer",
        ),
        (
            entry("a", RANGE, fixed_in="1.5"),
            12,
            "fixed_in: 1.5 is itself inside the affected driver versions",
        ),
    ],
)
def test_schema_errors(tmp_path: Path, text: str, line: int | None, expected: str) -> None:
    path = write_entries(tmp_path, "entry.yaml", text)
    with pytest.raises(InputError) as caught:
        load_file(path)
    where = str(path) if line is None else f"{path}:{line}"
    assert str(caught.value).startswith(f"{where}: {expected}")


def test_documented_example_loads(tmp_path: Path) -> None:
    doc = (REPO / "docs" / "advisories.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    (advisory,) = load_file(write_entries(tmp_path, "example.yaml", example))
    db = AdvisoryDB([advisory])
    assert db.match("mpt3sas", "34.100.00.00")[0].why == "version 34.100.00.00 < fixed 35.100.00.00"
    assert db.match("mpt3sas", "36.100.00.00", kernel="5.10.100")[0].why.startswith("kernel 5.10.100 in")
