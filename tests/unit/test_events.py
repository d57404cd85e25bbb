"""Per-host results folded from the job events of a real ansible-runner run (tests/data/artifacts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetfix.ansible.artifacts import iter_events, results_from_artifacts, write_event
from fleetfix.ansible.events import EventFold
from fleetfix.errors import InputError

RUNNER = Path(__file__).parents[1] / "data" / "artifacts" / "runner"
LOOPED = Path(__file__).parents[1] / "data" / "artifacts" / "looped"


def test_runner_artifacts_give_each_host_its_outcome() -> None:
    results = results_from_artifacts(RUNNER)
    assert {name: r.status for name, r in results.items()} == {
        "localhost": "ok",
        "failing": "failed",
        "gone": "unreachable",
    }
    assert results["failing"].message == "deliberate failure on failing"
    assert "Connection refused" in results["gone"].message
    assert results["localhost"].facts["probe"] == {"value": 1}
    assert [t.task for t in results["localhost"].tasks] == ["ping", "fail on one host", "set a fact"]


def test_a_failed_item_counts_as_its_task_says() -> None:
    # `ignoring`: an item of an ignore_errors loop failed (its item event has no ignore_errors), then the
    # host's own check failed it. `failing`: an item of a plain loop failed, and that failed the host.
    results = results_from_artifacts(LOOPED)
    assert results["ignoring"].status == "failed"
    assert results["ignoring"].message == "1 build(s) failed on ignoring"
    assert results["failing"].status == "failed"
    assert results["failing"].message == "non-zero return code"  # the item's, not "One or more items failed"
    looped = [t for t in results["ignoring"].tasks if t.task.startswith("build for each kernel")]
    assert [t.status for t in looped] == ["ok", "failed", "ok"]  # the items as they went, then the task


def test_expected_host_without_events_is_reported_not_dropped() -> None:
    fold = EventFold()
    for event in iter_events(RUNNER):
        fold.add(event)
    results = fold.results(expected_hosts=["localhost", "never-ran"])
    assert results["never-ran"].status == "failed"
    assert "never ran" in results["never-ran"].message


def test_awx_job_events_export_reads_like_runner_artifacts(tmp_path: Path) -> None:
    # AWX's /api/v2/jobs/N/job_events/ page: host in host_name, event_data without it for some events.
    events = []
    for event in iter_events(RUNNER):
        data = dict(event.get("event_data") or {})
        host = data.pop("host", None)
        events.append(
            {
                "counter": event["counter"],
                "event": event["event"],
                "event_data": data,
                "host_name": host or "",
            }
        )
    export = tmp_path / "job_events.json"
    export.write_text(json.dumps({"count": len(events), "results": events}))
    results = results_from_artifacts(export)
    assert results["gone"].status == "unreachable"
    assert results["localhost"].facts["probe"] == {"value": 1}


def test_broken_event_export_names_file_and_line(tmp_path: Path) -> None:
    export = tmp_path / "events.jsonl"
    export.write_text('{"event": "runner_on_ok"}\n{"event": \n')
    with pytest.raises(InputError, match=r"events.jsonl:2: invalid JSON line"):
        results_from_artifacts(export)


def test_directory_without_events_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no job_events directory"):
        results_from_artifacts(tmp_path)


def test_events_are_read_in_counter_order_whatever_the_file_names(tmp_path: Path) -> None:
    """Runner names files <counter>-<uuid>.json and they are streamed in that order; other names are
    read whole and sorted by the counter inside."""
    expected = [e["counter"] for e in iter_events(RUNNER)]
    assert expected == sorted(expected) and len(expected) == 18  # 10-... sorts after 1-..., not before 2-...
    renamed = tmp_path / "job_events"
    renamed.mkdir()
    for path in (RUNNER / "job_events").glob("*.json"):
        (renamed / path.name.split("-", 1)[1]).write_bytes(path.read_bytes())  # uuid.json only
    assert [e["counter"] for e in iter_events(tmp_path)] == expected
    assert results_from_artifacts(tmp_path).keys() == results_from_artifacts(RUNNER).keys()


def test_a_broken_event_file_names_its_line_and_column(tmp_path: Path) -> None:
    events = tmp_path / "job_events"
    events.mkdir()
    (events / "1-a.json").write_text('{"counter": 1,\n "event": runner_on_ok}')
    with pytest.raises(InputError, match=r"1-a\.json:2: invalid JSON: Expecting value \(column 11\)$"):
        results_from_artifacts(tmp_path)


def test_events_written_during_a_run_read_back_as_the_runner_wrote_them(tmp_path: Path) -> None:
    # A local run writes each event itself (msgspec) where ansible-runner would have: same names, same
    # content, so --from-artifacts judges the run exactly as the events the runner wrote.
    events_dir = tmp_path / "artifacts" / "ansible" / "job_events"
    events_dir.mkdir(parents=True)
    originals = list(iter_events(RUNNER))
    for event in originals:
        write_event(events_dir, event)
    names = sorted(path.name for path in events_dir.iterdir())
    assert names == sorted(path.name for path in (RUNNER / "job_events").glob("*.json"))
    assert all(oct(path.stat().st_mode & 0o777) == "0o600" for path in events_dir.iterdir())
    assert list(iter_events(tmp_path)) == originals
    assert results_from_artifacts(tmp_path) == results_from_artifacts(RUNNER)
