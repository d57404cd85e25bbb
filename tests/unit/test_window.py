"""Change windows: weekly wall-clock windows across midnight and DST, ISO intervals, zones, bad specs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleetfix.errors import InputError
from fleetfix.plan.window import WINDOW_VAR, FixedWindow, WeeklyWindow, parse_window, window_for_run

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def test_weekly_window_current_occurrence_and_remaining() -> None:
    window = parse_window("Sat 02:00-04:00 Europe/Paris")
    now = paris(2026, 11, 28, 3, 15)  # a Saturday
    current = window.current(now)
    assert current is not None
    assert (current.start, current.end) == (paris(2026, 11, 28, 2, 0), paris(2026, 11, 28, 4, 0))
    assert window.remaining(now) == timedelta(minutes=45)
    assert window.current(paris(2026, 11, 28, 4, 0)) is None  # the end is exclusive
    assert window.current(paris(2026, 11, 28, 1, 59)) is None
    assert window.remaining(paris(2026, 11, 28, 4, 0)) == timedelta(0)


def test_next_open_is_the_following_occurrence() -> None:
    window = parse_window("Sat 02:00-04:00", tz="Europe/Paris")
    assert window.next_open(paris(2026, 11, 28, 3, 0)).start == paris(2026, 12, 5, 2, 0)
    assert window.next_open(paris(2026, 11, 25, 12, 0)).start == paris(2026, 11, 28, 2, 0)


def test_window_crossing_midnight_belongs_to_the_day_it_opens() -> None:
    window = parse_window("Mon-Fri 22:00-02:00 Europe/Paris")
    friday_night = window.current(paris(2026, 11, 28, 1, 30))  # Saturday 01:30: Friday's window
    assert friday_night is not None
    assert friday_night.start == paris(2026, 11, 27, 22, 0)
    assert friday_night.end == paris(2026, 11, 28, 2, 0)
    assert window.current(paris(2026, 11, 28, 23, 0)) is None  # Saturday night: not a window day
    assert window.current(paris(2026, 11, 30, 0, 30)) is None  # Monday 00:30: Sunday opened none
    assert window.next_open(paris(2026, 11, 28, 1, 30)).start == paris(2026, 11, 30, 22, 0)


def test_day_lists_and_wrapping_ranges() -> None:
    assert parse_window("Fri-Mon 01:00-02:00 UTC").days == frozenset({4, 5, 6, 0})
    assert parse_window("sat,Sunday 01:00-02:00 UTC").days == frozenset({5, 6})
    assert parse_window("Mon-Wed,Fri 01:00-02:00 UTC").days == frozenset({0, 1, 2, 4})


def test_spring_forward_night_shortens_the_window() -> None:
    # Europe/Paris, 2026-03-29: 02:00 CET jumps to 03:00 CEST. 02:00 is skipped and reads as 03:00 CEST.
    window = parse_window("Sun 02:00-04:00 Europe/Paris")
    occurrence = window.current(datetime(2026, 3, 29, 1, 30, tzinfo=UTC))
    assert occurrence is not None
    assert occurrence.start == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    assert occurrence.end == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)  # 04:00 CEST
    assert occurrence.length == timedelta(hours=1)


def test_fall_back_night_lengthens_the_window() -> None:
    # Europe/Paris, 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:00 means its first occurrence.
    window = parse_window("Sun 02:00-04:00 Europe/Paris")
    occurrence = window.current(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # the second 02:30
    assert occurrence is not None
    assert occurrence.start == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # 02:00 CEST
    assert occurrence.end == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)  # 04:00 CET
    assert occurrence.length == timedelta(hours=3)
    assert window.remaining(datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == timedelta(minutes=90)


def test_window_crossing_midnight_into_a_dst_change() -> None:
    # America/New_York, 2026-03-08: 02:00 EST jumps to 03:00 EDT during Saturday night's window.
    window = parse_window("Sat 23:00-05:00 America/New_York")
    occurrence = window.current(datetime(2026, 3, 8, 6, 0, tzinfo=UTC))
    assert occurrence is not None
    assert occurrence.start == datetime(2026, 3, 7, 23, 0, tzinfo=NEW_YORK)
    assert occurrence.end == datetime(2026, 3, 8, 5, 0, tzinfo=NEW_YORK)
    assert occurrence.length == timedelta(hours=5)


def test_occurrence_emptied_by_dst_is_skipped() -> None:
    # 02:30 does not exist on 2026-03-29 in Paris (reads as 03:30 CEST), so 02:30-03:00 is empty that night.
    window = parse_window("Sun 02:30-03:00 Europe/Paris")
    assert window.current(datetime(2026, 3, 29, 1, 0, tzinfo=UTC)) is None
    assert window.next_open(datetime(2026, 3, 28, 12, 0, tzinfo=UTC)).start == paris(2026, 4, 5, 2, 30)


def test_end_of_day_written_as_24_00() -> None:
    window = parse_window("Sat 22:00-24:00 UTC")
    occurrence = window.current(datetime(2026, 11, 28, 23, 0, tzinfo=UTC))
    assert occurrence.end == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)


def test_iso_interval_with_offsets() -> None:
    window = parse_window("2026-11-28T02:00+01:00/2026-11-28T04:00+01:00")
    assert isinstance(window, FixedWindow)
    assert window.current(paris(2026, 11, 28, 2, 30)).end == paris(2026, 11, 28, 4, 0)
    assert window.remaining(paris(2026, 11, 28, 3, 30)) == timedelta(minutes=30)
    assert window.current(paris(2026, 11, 28, 4, 0)) is None
    assert window.next_open(paris(2026, 11, 28, 1, 0)).start == paris(2026, 11, 28, 2, 0)
    assert window.next_open(paris(2026, 11, 28, 3, 0)) is None  # one interval: nothing after it


def test_iso_start_and_duration_forms() -> None:
    by_duration = parse_window("2026-11-28T02:00+01:00/PT2H")
    by_end = parse_window("2026-11-28T02:00+01:00/2026-11-28T04:00+01:00")
    ending = parse_window("PT2H/2026-11-28T04:00+01:00")
    zoned = parse_window("2026-11-28T02:00/PT2H Europe/Paris")
    assert by_duration == by_end == ending == zoned
    assert parse_window("2026-11-28T02:00Z/PT1H30M").current(datetime(2026, 11, 28, 3, 29, tzinfo=UTC))
    assert parse_window("2026-11-28T02:00+01:00/04:30:00").end == paris(2026, 11, 28, 4, 30)


def test_iso_duration_is_elapsed_time_across_dst() -> None:
    # Two hours from 01:30 CEST on the fall-back night end at 02:30 CET, not at wall-clock 03:30.
    window = parse_window("2026-10-25T01:30/PT2H Europe/Paris")
    assert window.end - window.start == timedelta(hours=2)
    assert window.end == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "spec",
    [
        "Sat 02:00-04:00 Europe/Paris",
        "Mon,Wed-Fri 22:00-02:00 UTC",
        "2026-11-28T02:00+01:00/2026-11-28T04:00+01:00",
        "2026-11-28T02:00/PT2H Europe/Paris",
        "2026-11-28T02:00Z/PT2H",
    ],
)
def test_canonical_spec_parses_back_to_the_same_window(spec: str) -> None:
    window = parse_window(spec)
    assert parse_window(window.spec) == window


def test_utc_only_when_the_spec_says_so() -> None:
    assert parse_window("Sat 02:00-04:00 UTC") == parse_window("Sat 02:00-04:00 Z")
    assert parse_window("Sat 02:00-04:00", tz="UTC").zone == "UTC"
    with pytest.raises(InputError, match="a time zone is required"):
        parse_window("Sat 02:00-04:00")
    with pytest.raises(InputError, match="has no offset: a time zone is required"):
        parse_window("2026-11-28T02:00/PT2H")


@pytest.mark.parametrize(
    ("spec", "tz", "message"),
    [
        ("Sta 02:00-04:00", None, "--window: 'Sta 02:00-04:00': unknown day 'Sta'"),
        ("Sat 2:00-4:60 UTC", None, "bad time '4:60'"),
        ("Sat 25:00-04:00 UTC", None, "bad time '25:00'"),
        ("Sat 02:00 UTC", None, "bad time range '02:00'"),
        ("Sat 02:00-02:00 UTC", None, "a window must be shorter than 24 hours"),
        ("Mon- 02:00-04:00 UTC", None, "bad day list"),
        ("Sat 02:00-04:00 Europe/Pariss", None, "unknown time zone 'Europe/Pariss'"),
        ("Sat 02:00-04:00", "Mars/Olympus", "unknown time zone 'Mars/Olympus' (--tz"),
        ("Sat 02:00-04:00 UTC", "Europe/Paris", "zone 'UTC' conflicts with --tz 'Europe/Paris'"),
        ("Sat 02:00-04:00 Europe/Paris extra", None, "expected 'DAYS HH:MM-HH:MM ZONE'"),
        ("2026-11-28T04:00Z/2026-11-28T02:00Z", None, "the interval ends before it starts"),
        ("2026-11-28T02:00Z/P1M", None, "bad ISO 8601 duration 'P1M'"),
        ("2026-11-28T02:00Z/PT", None, "bad ISO 8601 duration 'PT'"),
        ("2026-13-28T02:00Z/PT2H", None, "bad ISO 8601 date-time '2026-13-28T02:00Z'"),
        ("2026-11-28T02:00Z/PT2H/PT1H", None, "an ISO 8601 interval is START/END"),
        ("   ", None, "empty window spec"),
    ],
)
def test_bad_specs_are_one_line_input_errors(spec: str, tz: str | None, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_window(spec, tz=tz)
    assert message in str(caught.value)
    assert str(caught.value).startswith("--window: ")
    assert "\n" not in str(caught.value)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="naive"):
        parse_window("Sat 02:00-04:00 UTC").current(datetime(2026, 11, 28, 3, 0))


def test_group_vars_window_shared_by_all_targeted_hosts() -> None:
    host_vars = {
        "db01": {WINDOW_VAR: "Sat 02:00-04:00 Europe/Paris"},
        "db02": {WINDOW_VAR: "sat 02:00-04:00 Europe/Paris", "other": 1},  # same window, other spelling
    }
    window = window_for_run(None, None, host_vars)
    assert window == WeeklyWindow(
        frozenset({5}),
        parse_window("Sat 02:00-04:00 UTC").start,
        parse_window("Sat 02:00-04:00 UTC").end,
        "Europe/Paris",
    )
    assert window_for_run(None, None, {"db01": {}, "db02": {}}) is None


def test_group_vars_take_tz_for_zoneless_specs() -> None:
    window = window_for_run(None, "Europe/Paris", {"db01": {WINDOW_VAR: "Sat 02:00-04:00"}})
    assert window.spec == "Sat 02:00-04:00 Europe/Paris"


def test_command_line_window_overrides_group_vars() -> None:
    host_vars = {"db01": {WINDOW_VAR: "Sat 02:00-04:00 UTC"}, "db02": {WINDOW_VAR: "Sun 02:00-04:00 UTC"}}
    assert window_for_run("Tue 01:00-02:00 UTC", None, host_vars).spec == "Tue 01:00-02:00 UTC"


def test_conflicting_group_var_windows_are_refused() -> None:
    host_vars = {
        "db01": {WINDOW_VAR: "Sat 02:00-04:00 UTC"},
        "db02": {WINDOW_VAR: "Sun 02:00-04:00 UTC"},
        "db03": {},
    }
    with pytest.raises(InputError) as caught:
        window_for_run(None, None, host_vars)
    text = str(caught.value)
    assert "disagree" in text and "db01: Sat 02:00-04:00 UTC" in text and "db03: none" in text


def test_bad_group_var_window_names_the_host_and_variable() -> None:
    with pytest.raises(InputError) as caught:
        window_for_run(None, None, {"db07": {WINDOW_VAR: "Sta 02:00-04:00 UTC"}})
    assert str(caught.value) == f"db07: {WINDOW_VAR}: 'Sta 02:00-04:00 UTC': unknown day 'Sta'"
    with pytest.raises(InputError, match=f"db07: {WINDOW_VAR}: expected a window spec"):
        window_for_run(None, None, {"db07": {WINDOW_VAR: 42}})


def test_an_interval_with_seconds_keeps_them_in_its_spec() -> None:
    window = parse_window("2026-11-28T02:00:30+00:00/2026-11-28T02:10:45+00:00")
    assert parse_window(window.spec) == window
    assert window.spec.startswith("2026-11-28T02:00:30")
