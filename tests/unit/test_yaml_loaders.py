"""YAML is read by libyaml's loader where PyYAML has it, else by the pure Python one: the same documents,
and for a bad document the same one-line error naming the file and line, whichever loader runs.

Each bad document is a real file of the project with one everyday mistake made in it (an unclosed flow
mapping, a tab for indentation, a misspelt alias, a colon inside a plain value); the expected messages are
the pure loader's words, which name the offending character or alias.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from fleetfix import serde
from fleetfix.advisories.schema import load_advisories
from fleetfix.ansible.nodes import load as load_nodes
from fleetfix.errors import InputError
from fleetfix.lab.scenario_load import load_scenario
from fleetfix.soak.profiles import load_profiles

ROOT = Path(__file__).resolve().parents[2]
ADVISORIES = ROOT / "tests" / "data" / "advisories"
SEED = ROOT / "fleetfix" / "lab" / "scenarios" / "seed.yaml"
LOADERS = [
    pytest.param(yaml.SafeLoader, id="pure"),
    pytest.param(
        getattr(yaml, "CSafeLoader", None),
        id="libyaml",
        marks=pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml"),
    ),
]


@pytest.fixture(params=LOADERS)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setattr(serde, "YAML_LOADER", request.param)
    return request.param


def _message(read: Callable[[], object]) -> str:
    with pytest.raises(InputError) as caught:
        read()
    return str(caught.value)


def _edited(source: Path, target: Path, old: str, new: str) -> int:
    """``source`` written to ``target`` with the first ``old`` replaced; returns the edited line's number."""
    text = source.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def test_the_fast_loader_is_used_where_present() -> None:
    assert serde.YAML_LOADER is getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def test_advisory_with_an_unclosed_flow_mapping(loader: object) -> None:
    path = ADVISORIES / "bad_yaml" / "entry.yaml"  # line 7 opens "{below: ...", line 8 goes on without "}"
    assert _message(lambda: load_advisories([path.parent])) == (
        f"{path}:8: invalid YAML: expected ',' or '}}', but got '<scalar>'"
    )


def test_advisory_indented_with_a_tab(loader: object, tmp_path: Path) -> None:
    line = _edited(
        ADVISORIES / "valid" / "fleet.yaml", tmp_path / "fleet.yaml", "  module: mpt3sas", "\tmodule: mpt3sas"
    )
    assert _message(lambda: load_advisories([tmp_path])) == (
        f"{tmp_path / 'fleet.yaml'}:{line}: invalid YAML: found character '\\t' that cannot start any token"
    )


def test_scenario_with_a_misspelt_alias(loader: object, tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    line = _edited(SEED, path, "modules: [*mpt3sas_bad]", "modules: [*mpt3sas_bda]")
    assert _message(lambda: load_scenario(str(path))) == (
        f"{path}:{line}: YAML syntax: found undefined alias 'mpt3sas_bda'"
    )


def test_profile_with_a_colon_in_a_plain_value(loader: object) -> None:
    text = "profiles:\n  nightly-backup:\n    description: reads: like the backup\n    rw: read\n"
    assert _message(lambda: load_profiles(text, "profiles.yaml")) == (
        "profiles.yaml:3: mapping values are not allowed here"
    )


def test_config_with_an_unclosed_list(
    loader: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.yml").write_text("execution_nodes:\n  nodes: [a\n")
    monkeypatch.setenv("FLEETFIX_CONFIG", str(tmp_path / "config.yml"))
    assert _message(lambda: load_nodes(None)) == f"{tmp_path / 'config.yml'}:3: not valid YAML"


def test_both_loaders_read_the_same_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    read = []
    for chosen in (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        monkeypatch.setattr(serde, "YAML_LOADER", chosen)
        read.append((load_advisories([ADVISORIES / "valid"]).advisories, load_scenario(str(SEED))))
    assert read[0] == read[1]
