"""`fleetfix report` from the seed lab's own audit, triage, remediation run and baseline soak, opened in a
real headless Chromium (Debian's, driven by Playwright): no console error, no request leaves the file, and
the charts hold one mark per crash, job run and soak figure."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetfix.render.html_report import change_report, soak_figures
from fleetfix.triage.timeline import document_timelines
from tests.support.cli import fleetfix

SEED = Path(__file__).parents[1] / "data" / "lab_seed"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def load(name: str):  # type: ignore[no-untyped-def]
    return json.loads((SEED / name).read_text())


@pytest.fixture(scope="module")
def html() -> str:
    triage = load("triage.json")
    baseline = {record["host"]: record for record in load("soak_baseline.json")}
    return change_report(
        load("audit.json"),
        triage,
        document_timelines(triage, "triage.json"),
        load("run.json"),
        baseline,
        datetime(2026, 12, 5, 11, 0, tzinfo=UTC),
    )


def test_the_document_is_self_contained_and_escaped(html: str) -> None:
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<link" not in html
    assert "Task failed: Data could not be sent to remote host &quot;10.231.124.16&quot;" in html


def test_soak_figures_come_from_the_verdict() -> None:
    after = {h["host"]: h["soak"] for h in load("run.json")["hosts"] if h.get("soak")}
    iops, p99 = soak_figures(after["db01"])
    assert iops is not None and iops > 0 and p99 is not None and p99 > 0
    assert soak_figures(None) == (None, None)


@pytest.fixture(scope="module")
def page(html: str, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (scripts/system-deps.sh installs it)")
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(html)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        opened = browser.new_page(viewport={"width": 1100, "height": 900})
        problems: list[str] = []
        opened.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        opened.on("pageerror", lambda e: problems.append(str(e)))
        opened.on("request", lambda r: problems.append(r.url) if not r.url.startswith("file:") else None)
        opened.goto(path.as_uri())
        opened.wait_for_load_state("load")
        yield opened, problems
        browser.close()


def test_it_renders_in_chromium_without_errors_or_requests(page) -> None:  # type: ignore[no-untyped-def]
    opened, problems = page
    assert problems == []
    assert opened.title().startswith("fleetfix change report: mpt3sas to 46.00.00.00 (run 1)")
    assert opened.locator("#audit tbody tr").count() == 12


def test_the_timeline_has_a_dot_per_crash_and_a_band_per_job_run(page) -> None:  # type: ignore[no-untyped-def]
    opened, _ = page
    crashes = opened.locator("svg.timeline circle.crash")
    assert crashes.count() == 7
    per_host = {
        h: opened.locator(f'svg.timeline circle.crash[data-host="{h}"]').count() for h in ("db01", "db06")
    }
    assert per_host == {"db01": 2, "db06": 1}
    assert opened.locator("svg.timeline rect.window").count() == 1  # the backup's 01:00-02:00, every night
    band = opened.locator("svg.timeline rect.window").bounding_box()
    for i in range(crashes.count()):  # every dot drawn inside the band
        dot = crashes.nth(i).bounding_box()
        assert band["x"] <= dot["x"] + dot["width"] / 2 <= band["x"] + band["width"]


def test_each_host_has_its_steps_and_before_after_bars(page) -> None:  # type: ignore[no-untyped-def]
    opened, _ = page
    run = load("run.json")
    assert opened.locator("#steps tbody tr").count() == len(run["hosts"])
    soaked = [h["host"] for h in run["hosts"] if h.get("soak")]
    assert soaked
    for host in soaked:
        figure = opened.locator(f'#soak figure[data-host="{host}"]')
        assert figure.locator("rect.bar.before").count() == 2  # IOPS and p99 latency
        assert figure.locator("rect.bar.after").count() == 2
        assert figure.locator("rect.bar").first.bounding_box()["height"] > 0


def test_the_report_command_writes_the_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    state.mkdir()
    shutil.copy(SEED / "journal.sqlite", state / "journal.sqlite")
    monkeypatch.setenv("FLEETFIX_STATE_DIR", str(state))
    out = tmp_path / "change.html"
    done = fleetfix(
        "report", "-o", str(out), "--audit", str(SEED / "audit.json"), "--triage", str(SEED / "triage.json"),
        "--baseline", str(SEED / "soak_baseline.json"), "--run",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    written = out.read_text()
    assert (
        written.count('class="crash"') == 7
        and "<title>fleetfix change report: mpt3sas to 46.00.00.00 (run 1)" in written
    )
    assert written.count('class="bar after"') == 12  # db01-db06, IOPS and latency
    broken = tmp_path / "broken.json"
    broken.write_text('{"hosts": [\n  {"host": "db01"},\n')
    refused = fleetfix("report", "-o", str(tmp_path / "no.html"), "--audit", str(broken))
    assert refused.exit_code == 3 and f"{broken}:3: not JSON" in refused.output
    assert not (tmp_path / "no.html").exists()


def test_without_an_audit_the_report_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEETFIX_STATE_DIR", str(tmp_path / "state"))
    refused = fleetfix("report", "-o", str(tmp_path / "change.html"))
    assert refused.exit_code == 3
    assert "--audit: no audit report at" in refused.output and "run fleetfix audit" in refused.output
    assert not (tmp_path / "change.html").exists()


def test_a_sampled_group_gives_its_full_count_and_says_what_is_drawn() -> None:
    triage = load("triage.json")
    group = triage["groups"][0]
    listed = len(group["crashes"])
    group["count"] = 100_000  # as a group of 100,000 crashes lists a sample of them
    document = change_report(
        load("audit.json"), triage, document_timelines(triage, "t.json"), None, {}, datetime.now(UTC)
    )
    assert "100000 crashes on" in document
    assert f"The timeline draws {listed} of the 100000 crashes, spread evenly." in document
