"""Every command's options and every input type, fed hostile values: the CLI answers with a documented exit
status and at most one line on stderr, never a traceback, and its last-resort guard (exit 70) never fires.

Nothing here reaches a host: the first step of any Ansible run (making its run directory) is replaced by one
that stops the command with status 0 and a line saying so, which counts as "every check before the hosts
passed".
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetfix.ansible import runner
from fleetfix.cli import run
from fleetfix.errors import ExitStatus, FleetfixError
from tests.strategies import hostile_text
from tests.support import REPO

DOCUMENTED = {0, 1, 2, 3, 4, 5, 6, 130, 143}  # README "Exit codes"; 70 is the guard, which must not fire
DATA = REPO / "tests" / "data"
_SETTINGS = dict(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


_REAL_NEW_RUN_DIR = runner.new_run_dir


class ReachedHosts(FleetfixError):
    def __init__(self) -> None:
        super().__init__("every check passed; no host is contacted in this test", ExitStatus.OK)


@pytest.fixture(autouse=True)
def _no_hosts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def stop(kind: str) -> Path:
        raise ReachedHosts()

    monkeypatch.setattr(runner, "new_run_dir", stop)
    monkeypatch.setenv("FLEETFIX_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("FLEETFIX_CONFIG", str(tmp_path / "no-config.yml"))


def check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> int:
    capsys.readouterr()
    status = run(argv)
    err = capsys.readouterr().err
    shown = repr(argv)[:300]
    assert status in DOCUMENTED, f"{shown} -> {status}: {err[:500]}"
    lines = err.strip("\n").splitlines()
    assert len(lines) <= 1, f"{shown} -> {len(lines)} lines on stderr: {err[:1000]}"
    assert "Traceback" not in err
    return status


def mutated(sample: bytes) -> st.SearchStrategy[bytes]:
    """``sample`` with a few bytes changed, cut, or repeated: close to real input, broken in small ways."""

    def damage(seed: int, edits: int) -> bytes:
        rng = random.Random(seed)
        data = bytearray(sample)
        for _ in range(edits):
            where = rng.randrange(len(data) + 1)
            kind = rng.randrange(4)
            if kind == 0 and data:
                data[min(where, len(data) - 1)] = rng.randrange(256)
            elif kind == 1:
                del data[where : where + rng.randrange(1, 40)]
            elif kind == 2:
                data[where:where] = rng.choice(
                    [b"\x00", b"\xff\xfe", b"{", b"[", b"\n", b": ", b"-", b"9" * 500]
                )
            else:
                data[where:where] = data[where : where + rng.randrange(1, 200)]
        return bytes(data)

    return st.builds(damage, st.integers(0, 2**32), st.integers(1, 6))


def file_inputs(sample: Path) -> st.SearchStrategy[bytes]:
    return st.one_of(
        mutated(sample.read_bytes()),
        hostile_text().map(lambda text: text.encode("utf-8", "surrogateescape")),
        st.binary(max_size=300),
    )


def _write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    """A directory for one example's files, removed after it (hypothesis runs hundreds per test)."""
    with tempfile.TemporaryDirectory(prefix="fleetfix-hostile-") as directory:
        yield Path(directory)


# -- option values --------------------------------------------------------------------------------------

_value = st.one_of(
    hostile_text(4),
    st.sampled_from(["0", "-1", "1" + "0" * 5000, "1e400", "nan", "100%", "101%", "9999-12-31T23:59Z", ""]),
    st.integers().map(str),
)

_OPTION_COMMANDS: dict[str, Callable[[str], list[str]]] = {
    "capture --log-host": lambda v: ["capture", "enable", "--log-host", v],
    "capture --log-port": lambda v: ["capture", "enable", "--log-host", "192.0.2.1", "--log-port", v],
    "capture --interface": lambda v: ["capture", "enable", "--log-host", "192.0.2.1", "--interface", v],
    "capture --crash-size": lambda v: ["capture", "enable", "--crash-size", v],
    "capture --dump-target": lambda v: ["capture", "enable", "--dump-target", v],
    "remediate --module": lambda v: ["remediate", "--check", "-m", v],
    "remediate --to": lambda v: ["remediate", "--check", "-m", "mpt3sas", "--to", v],
    "remediate --window": lambda v: ["remediate", "--check", "-m", "mpt3sas", "--window", v],
    "remediate --window far": lambda v: [
        "remediate",
        "--check",
        "-m",
        "mpt3sas",
        "--window",
        f"{v}/9999-12-31T23:59Z",
    ],
    "remediate --tz": lambda v: [
        "remediate",
        "--check",
        "-m",
        "mpt3sas",
        "--window",
        "Sat 02:00-04:00",
        "--tz",
        v,
    ],
    "remediate --batch": lambda v: ["remediate", "--check", "-m", "mpt3sas", "--batch", v],
    "remediate --max-failures": lambda v: ["remediate", "--check", "-m", "mpt3sas", "--max-failures", v],
    "remediate --soak-runtime": lambda v: ["remediate", "--check", "-m", "mpt3sas", "--soak-runtime", v],
    "remediate --iops-floor": lambda v: ["remediate", "--check", "-m", "mpt3sas", "--iops-floor", v],
    "remediate --resume": lambda v: ["remediate", "--resume", v],
    "soak --module": lambda v: ["soak", "--check", "-m", v],
    "soak --device": lambda v: ["soak", "--check", "-d", v],
    "soak --runtime": lambda v: ["soak", "--check", "-m", "mpt3sas", "--runtime", v],
    "soak --iops-floor": lambda v: ["soak", "--check", "-m", "mpt3sas", "--iops-floor", v],
    "soak --profile": lambda v: ["soak", "--check", "-m", "mpt3sas", "--profile", v],
    "runs show": lambda v: ["runs", "show", v],
    "triage --run-length": lambda v: [
        "triage",
        str(DATA / "oopses" / "13_hpsa_hung_task_syslog.log"),
        "--run-length",
        v,
    ],
    "triage --default-run-length": lambda v: [
        "triage",
        str(DATA / "oopses" / "13_hpsa_hung_task_syslog.log"),
        "--default-run-length",
        v,
    ],
    "audit --limit": lambda v: ["audit", "-l", v],
    "advisories list --module": lambda v: ["advisories", "list", "--module", v],
}


@pytest.mark.parametrize("option", sorted(_OPTION_COMMANDS))
def test_option_values(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    @settings(**_SETTINGS)
    @given(value=_value)
    def each(value: str) -> None:
        check(_OPTION_COMMANDS[option](value), capsys)

    each()


# -- input files ----------------------------------------------------------------------------------------


def test_advisory_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    @settings(**_SETTINGS)
    @given(data=file_inputs(DATA / "advisories" / "valid" / "fleet.yaml"))
    def each(data: bytes) -> None:
        with _scratch() as directory:
            _write(directory, "hostile.yaml", data)
            check(["advisories", "list", "--advisories", str(directory)], capsys)

    each()


def test_changelog(capsys: pytest.CaptureFixture[str]) -> None:
    @settings(**_SETTINGS)
    @given(data=file_inputs(DATA / "changelogs" / "megaraid_sas_ChangeLog_excerpt.txt"))
    def each(data: bytes) -> None:
        with _scratch() as directory:
            path = _write(directory, "ChangeLog", data)
            check(["advisories", "import-changelog", str(path), "--module", "megaraid_sas"], capsys)

    each()


def test_osv_record(capsys: pytest.CaptureFixture[str]) -> None:
    @settings(**_SETTINGS)
    @given(data=file_inputs(DATA / "osv" / "linux" / "CVE-2025-21772.json"))
    def each(data: bytes) -> None:
        with _scratch() as directory:
            path = _write(directory, "CVE-2025-21772.json", data)
            check(["advisories", "import-osv", str(path)], capsys)

    each()


def test_osv_zip(capsys: pytest.CaptureFixture[str]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in sorted((DATA / "osv").glob("[al]*/*.json")):  # no HBA record: at most one warning
            archive.write(record, record.name)

    @settings(**_SETTINGS)
    @given(data=st.one_of(mutated(buffer.getvalue()), st.binary(max_size=300)))
    def each(data: bytes) -> None:
        with _scratch() as directory:
            path = _write(directory, "all.zip", data)
            check(["advisories", "import-osv", str(path)], capsys)

    each()


def test_oops_log(capsys: pytest.CaptureFixture[str]) -> None:
    @settings(**_SETTINGS)
    @given(data=file_inputs(DATA / "oopses" / "11_qla2xxx_gpf_wrapped_taint.log"))
    def each(data: bytes) -> None:
        with _scratch() as directory:
            path = _write(directory, "db01.log", data)
            check(["triage", str(path), "--format", "json"], capsys)

    each()


def test_fio_json(capsys: pytest.CaptureFixture[str]) -> None:
    @settings(**_SETTINGS)
    @given(data=file_inputs(DATA / "fio" / "randread_numjobs2.json"))
    def each(data: bytes) -> None:
        with _scratch() as directory:
            path = _write(directory, "fio.json", data)
            status = check(["soak", "--evaluate", str(path), "--format", "json"], capsys)
            if status in (0, 1):
                out = capsys.readouterr().out
                assert "Infinity" not in out and "NaN" not in out

    each()


def test_config_file(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    sample = b"execution_nodes:\n  nodes: [node1, node2]\n  ssh_options: [-o, BatchMode=yes]\n"
    artifacts = DATA / "artifacts" / "runner"

    @settings(**_SETTINGS)
    @given(data=st.one_of(mutated(sample), st.binary(max_size=200)))
    def each(data: bytes) -> None:
        with _scratch() as directory:
            path = _write(directory, "config.yml", data)
            monkeypatch.setenv("FLEETFIX_CONFIG", str(path))
            check(["audit", "--from-artifacts", str(artifacts), "--format", "json"], capsys)

    each()


def test_artifacts(capsys: pytest.CaptureFixture[str]) -> None:
    events = sorted((DATA / "artifacts" / "runner" / "job_events").glob("*.json"))
    biggest = max(events, key=lambda p: p.stat().st_size)
    shapes = st.one_of(
        file_inputs(biggest),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=8,
        ).map(
            lambda res: json.dumps(
                {"event": "runner_on_ok", "event_data": {"host": "h1", "task": "t", "res": res}}
            ).encode()
        ),
    )

    @settings(**_SETTINGS)
    @given(data=shapes)
    def each(data: bytes) -> None:
        with _scratch() as directory:
            for event in events[:3]:
                _write(directory, f"job_events/{event.name}", event.read_bytes())
            _write(directory, "job_events/99-hostile.json", data)
            check(["audit", "--from-artifacts", str(directory), "--format", "json"], capsys)

    each()


def test_journal(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    @settings(**_SETTINGS)
    @given(data=st.one_of(st.binary(max_size=4096), hostile_text().map(str.encode)))
    def each(data: bytes) -> None:
        with _scratch() as state:
            _write(state, "journal.sqlite", data)
            monkeypatch.setenv("FLEETFIX_STATE_DIR", str(state))
            check(["runs"], capsys)
            check(["runs", "show", "1"], capsys)

    each()


def test_unwritable_state_directory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "new_run_dir", _REAL_NEW_RUN_DIR)
    monkeypatch.setenv("FLEETFIX_STATE_DIR", "/proc/fleetfix-state")
    assert check(["audit"], capsys) == ExitStatus.ENVIRONMENT
    assert check(["audit", "--from-artifacts", str(DATA / "artifacts" / "runner")], capsys) in (0, 1, 4, 5)


def test_runs_creates_no_journal(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert check(["runs"], capsys) == 0
    assert check(["runs", "show", "3"], capsys) == ExitStatus.BAD_INPUT
    assert not (tmp_path / "state").exists()


def test_reports_are_written_with_the_umask_not_0600(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "report.json"
    check(["audit", "--from-artifacts", str(DATA / "artifacts" / "runner"), "-o", str(output)], capsys)
    assert output.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def test_the_guard_turns_a_fault_into_status_70_one_line_and_a_log(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fleetfix.commands import audit

    def broken(*_: object) -> None:
        raise ZeroDivisionError("a fault\nover two lines")

    monkeypatch.setattr(audit, "load_db", broken)
    capsys.readouterr()
    assert run(["audit"]) == ExitStatus.INTERNAL
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "internal error: ZeroDivisionError" in line
    (log,) = (tmp_path / "state" / "debug").glob("*.log")
    assert "Traceback" in log.read_text() and str(log) in line


def test_inventory_files() -> None:
    """Broken inventories reach ansible-inventory for real (a few examples: each costs a second or two)."""
    from fleetfix.errors import InputError

    sample = DATA / "inventories" / "test-playbooks-more" / "inventory.ini"

    @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=file_inputs(sample))
    def each(data: bytes) -> None:
        with _scratch() as directory:
            path = _write(directory, "hosts.ini", data)
            try:
                listing = runner._inventory_list([str(path)], None, directory)
            except InputError as error:
                assert "\n" not in str(error)
            else:
                assert isinstance(listing, dict)

    each()


def test_datagrams(tmp_path: Path) -> None:
    """Any datagram, plain or shaped like an extended netconsole record, leaves one stamped line per line."""
    from fleetfix.listen.receiver import Listener

    extended = st.builds(
        lambda seq, offset, total, body: b"6,%d,1000,-,ncfrag=%d/%d;" % (seq, offset, total) + body,
        st.integers(0, 5),
        st.integers(0, 3000),
        st.integers(0, 3000),
        st.binary(max_size=200),
    )
    listener = Listener("127.0.0.1", 0, tmp_path, lambda event: None, max_pending=2)
    source = listener._source(("192.0.2.9", 6665))

    @settings(max_examples=200, deadline=None)
    @given(
        datagrams=st.lists(st.binary(max_size=300) | extended | hostile_text().map(str.encode), max_size=5)
    )
    def each(datagrams: list[bytes]) -> None:
        for data in datagrams:
            listener._datagram(source, data, 1.0)

    each()
    listener.close()
    for line in (tmp_path / source.log).read_text(encoding="utf-8").splitlines():
        assert line[:4].isdigit() and "+00:00 " in line, line
