"""OnCalendar parsing and elapses, checked against systemd.time(7) examples and systemd-analyze output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetfix.errors import InputError
from fleetfix.triage.calendar.analyze import parse_analyze_calendar
from fleetfix.triage.calendar.parse import parse_calendar
from tests.support import strip_provenance

ANALYZE_SAMPLES = Path(__file__).resolve().parents[1] / "data" / "systemd_analyze"

# systemd.time(7), "Calendar Events": expression -> normalized form.
MAN_PAGE_EXAMPLES = [
    ("Sat,Thu,Mon..Wed,Sat..Sun", "Mon..Thu,Sat,Sun *-*-* 00:00:00"),
    ("Sat,Thu,Mon-Wed,Sat-Sun", "Mon..Thu,Sat,Sun *-*-* 00:00:00"),
    ("Mon,Sun 12-*-* 2,1:23", "Mon,Sun 2012-*-* 01,02:23:00"),
    ("Wed *-1", "Wed *-*-01 00:00:00"),
    ("Wed..Wed,Wed *-1", "Wed *-*-01 00:00:00"),
    ("Wed, 17:48", "Wed *-*-* 17:48:00"),
    ("Wednesday,", "Wed *-*-* 00:00:00"),
    ("Wed..Sat,Tue 12-10-15 1:2:3", "Tue..Sat 2012-10-15 01:02:03"),
    ("*-*-7 0:0:0", "*-*-07 00:00:00"),
    ("10-15", "*-10-15 00:00:00"),
    ("monday *-12-* 17:00", "Mon *-12-* 17:00:00"),
    ("Mon,Fri *-*-3,1,2 *:30:45", "Mon,Fri *-*-01,02,03 *:30:45"),
    ("12,14,13,12:20,10,30", "*-*-* 12,13,14:10,20,30:00"),
    ("12..14:10,20,30", "*-*-* 12..14:10,20,30:00"),
    ("mon,fri *-1/2-1,3 *:30:45", "Mon,Fri *-01/2-01,03 *:30:45"),
    ("03-05 08:05:40", "*-03-05 08:05:40"),
    ("08:05:40", "*-*-* 08:05:40"),
    ("05:40", "*-*-* 05:40:00"),
    ("Sat,Sun 12-05 08:05:40", "Sat,Sun *-12-05 08:05:40"),
    ("Sat,Sun 08:05:40", "Sat,Sun *-*-* 08:05:40"),
    ("2003-03-05 05:40", "2003-03-05 05:40:00"),
    ("05:40:23.4200004/3.1700005", "*-*-* 05:40:23.420000/3.170001"),
    ("2003-02..04-05", "2003-02..04-05 00:00:00"),
    ("2003-03-05 05:40 UTC", "2003-03-05 05:40:00 UTC"),
    ("2003-03-05", "2003-03-05 00:00:00"),
    ("03-05", "*-03-05 00:00:00"),
    ("hourly", "*-*-* *:00:00"),
    ("daily", "*-*-* 00:00:00"),
    ("daily UTC", "*-*-* 00:00:00 UTC"),
    ("monthly", "*-*-01 00:00:00"),
    ("weekly", "Mon *-*-* 00:00:00"),
    ("weekly Pacific/Auckland", "Mon *-*-* 00:00:00 Pacific/Auckland"),
    ("yearly", "*-01-01 00:00:00"),
    ("annually", "*-01-01 00:00:00"),
    ("*:2/3", "*-*-* *:02/3:00"),
    ("minutely", "*-*-* *:*:00"),
    ("quarterly", "*-01,04,07,10-01 00:00:00"),
    ("semiannually", "*-01,07-01 00:00:00"),
    ("Mon *-05~07/1", "Mon *-05~07/1 00:00:00"),
    ("*-02~03", "*-02~03 00:00:00"),
    ("*:0/15", "*-*-* *:00/15:00"),
]


@pytest.mark.parametrize(("expression", "normalized"), MAN_PAGE_EXAMPLES)
def test_normalized_form_matches_systemd(expression: str, normalized: str) -> None:
    assert parse_calendar(expression).normalized() == normalized


def _next(expression: str, after: datetime, zone: ZoneInfo | None = None, count: int = 1) -> list[datetime]:
    spec = parse_calendar(expression)
    return list(islice(spec.elapses_after(after, zone or UTC), count))


def test_last_monday_of_each_month_as_systemd_analyze_lists_it() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    got = _next("Mon *-*~7/1", datetime(2022, 10, 4, 12, tzinfo=moscow), moscow, 5)
    assert [d.date().isoformat() for d in got] == [
        "2022-10-31",
        "2022-11-28",
        "2022-12-26",
        "2023-01-30",
        "2023-02-27",
    ]
    assert got[0].astimezone(UTC) == datetime(2022, 10, 30, 21, tzinfo=UTC)


def test_days_counted_from_the_end_of_may() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    now = datetime(2020, 7, 5, 9, 0, tzinfo=UTC)
    assert _next("*-05~07/1", now, shanghai)[0] == datetime(2021, 5, 25, tzinfo=shanghai)
    assert _next("Mon *-05~07/1", now, shanghai)[0] == datetime(2021, 5, 31, tzinfo=shanghai)
    assert _next("Sat,Mon..Wed", now, shanghai)[0].astimezone(UTC) == datetime(2020, 7, 5, 16, tzinfo=UTC)
    assert _next("*-02~03", datetime(2024, 1, 1, tzinfo=UTC))[0] == datetime(2024, 2, 27, tzinfo=UTC)


def test_day_29_skips_february() -> None:
    got = _next("*-*-29 04:00:00", datetime(2026, 1, 28, tzinfo=UTC), count=4)
    assert [d.strftime("%m-%d %H:%M") for d in got] == [
        "01-29 04:00",
        "03-29 04:00",
        "04-29 04:00",
        "05-29 04:00",
    ]


def test_repetitions_lists_and_weekday_ranges() -> None:
    after = datetime(2026, 5, 8, 23, 50, tzinfo=UTC)  # a Friday
    assert [d.strftime("%a %H:%M") for d in _next("*:0/15", after, count=3)] == [
        "Sat 00:00",
        "Sat 00:15",
        "Sat 00:30",
    ]
    assert [d.strftime("%a %d %H:%M") for d in _next("Mon..Fri *-*-* 02:30", after, count=2)] == [
        "Mon 11 02:30",
        "Tue 12 02:30",
    ]
    assert [d.strftime("%a %d") for d in _next("Sat,Sun", after, count=3)] == ["Sat 09", "Sun 10", "Sat 16"]
    assert [d.day for d in _next("*-*-01,15 00:00:00", after, count=3)] == [15, 1, 15]


def test_previous_elapse_is_the_start_of_the_run_holding_an_instant() -> None:
    spec = parse_calendar("*-*-* 01:00:00")
    crash = datetime(2026, 11, 25, 2, 40, tzinfo=UTC)
    assert spec.previous_elapse(crash) == datetime(2026, 11, 25, 1, tzinfo=UTC)
    assert spec.previous_elapse(datetime(2026, 11, 25, 1, tzinfo=UTC)) == datetime(
        2026, 11, 25, 1, tzinfo=UTC
    )
    assert spec.previous_elapse(datetime(2026, 11, 25, 0, 59, tzinfo=UTC)) == datetime(
        2026, 11, 24, 1, tzinfo=UTC
    )
    assert parse_calendar("2003-03-05").previous_elapse(crash) == datetime(2003, 3, 5, tzinfo=UTC)
    assert parse_calendar("2003-03-05").next_elapse(crash) is None
    assert parse_calendar("*-02-30").next_elapse(crash) is None


def test_daylight_saving_skips_the_missing_time_and_runs_a_repeated_one_once() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    spec = parse_calendar("*-*-* 02:30")
    spring = list(islice(spec.elapses_after(datetime(2026, 3, 27, tzinfo=UTC), berlin), 3))
    assert [d.strftime("%d") for d in spring] == ["27", "28", "30"]  # 29 March has no 02:30
    autumn = list(islice(spec.elapses_after(datetime(2026, 10, 24, 12, tzinfo=UTC), berlin), 2))
    assert autumn[0].astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first 02:30, CEST
    assert autumn[1].day == 26
    second_pass = datetime(2026, 10, 25, 1, 40, tzinfo=UTC)  # 02:40 CET, after the repeated hour began
    assert spec.previous_elapse(second_pass, berlin) == autumn[0]


def test_an_expression_zone_overrides_the_host_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    after = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert _next("daily UTC", after, tokyo)[0] == datetime(2026, 1, 2, tzinfo=UTC)
    assert _next("daily", after, tokyo)[0] == datetime(2026, 1, 2, tzinfo=tokyo)
    assert _next("weekly Pacific/Auckland", after, tokyo)[0] == datetime(
        2026, 1, 5, tzinfo=ZoneInfo("Pacific/Auckland")
    )


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "   ",
        "UTC",
        "Funday",
        "Fri..Mon",
        "*-*-* 25:00",
        "*-13-01",
        "*/15",
        "*:*/15",
        "1,,2:00",
        "*-*-7..5",
        "*:30..10",
        "*-*~30",
        "*-*~5..~1",
        "*~02-03",
        "5",
        "12:00 13:00",
        "*-*-* *:0/0",
        "@abc",
        "1969-01-01",
        "Mon Tue",
        "99999999999-01-01",
    ],
)
def test_invalid_expressions_are_input_errors(expression: str) -> None:
    with pytest.raises(InputError, match="invalid calendar expression"):
        parse_calendar(expression, "backup.timer")


ATOMS = ["*", "0", "1", "7", "12", "30", "59", "2024", "..", ",", "/", "-", "~", ":", " ", ".", "Mon", "fri",
         "UTC", "daily", "Europe/Berlin", "@", "1700000000", "5", "\t", "é", "٣"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(st.sampled_from(ATOMS), max_size=12).map("".join)))
def test_no_expression_raises_anything_but_input_error(text: str) -> None:
    try:
        spec = parse_calendar(text)
    except InputError:
        return
    after = datetime(2026, 6, 1, tzinfo=UTC)
    upcoming = spec.next_elapse(after, ZoneInfo("Europe/Berlin"))
    if upcoming is not None:
        assert upcoming > after
        assert spec.previous_elapse(upcoming, ZoneInfo("Europe/Berlin")) == upcoming


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["*", "1,15", "~01", "~07/1", "01..10/3"]),
    st.sampled_from(["*", "0/6", "1", "8..17", "23"]),
    st.sampled_from(["00", "0/15", "30,45"]),
    st.sampled_from(["", "Mon..Fri ", "Sat,Sun ", "Wed "]),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
)
def test_elapses_match_the_expression_and_leave_no_gap(days, hours, minutes, weekdays, start) -> None:
    separator = "~" if days.startswith("~") else "-"
    spec = parse_calendar(f"{weekdays}*-*{separator}{days.lstrip('~')} {hours}:{minutes}")
    after = start.replace(tzinfo=UTC)
    first, second = islice(spec.elapses_after(after), 2)
    assert after < first < second
    assert spec.previous_elapse(second - timedelta(microseconds=1)) == first
    assert spec.previous_elapse(first - timedelta(microseconds=1)) <= after


MOSCOW_OUTPUT = """\
  Original form: Mon *-*~7/1
Normalized form: Mon *-*~07/1 00:00:00
    Next elapse: Mon 2022-10-31 00:00:00 MSK
       (in UTC): Sun 2022-10-30 21:00:00 UTC
       From now: 4 weeks 1 day left
       Iter. #2: Mon 2022-11-28 00:00:00 MSK
       (in UTC): Sun 2022-11-27 21:00:00 UTC
       From now: 1 month 26 days left
       Iter. #3: Mon 2022-12-26 00:00:00 MSK
       (in UTC): Sun 2022-12-25 21:00:00 UTC
       From now: 2 months 24 days left
"""


def test_systemd_analyze_output_with_utc_lines() -> None:
    [block] = parse_analyze_calendar(MOSCOW_OUTPUT, "db01: systemd-analyze")
    assert block.original == "Mon *-*~7/1"
    assert block.normalized == "Mon *-*~07/1 00:00:00"
    assert [e.isoformat() for e in block.elapses] == [
        "2022-10-30T21:00:00+00:00",
        "2022-11-27T21:00:00+00:00",
        "2022-12-25T21:00:00+00:00",
    ]
    ours = _next(block.normalized, datetime(2022, 10, 4, tzinfo=UTC), ZoneInfo("Europe/Moscow"), 3)
    assert list(block.elapses) == ours


def test_systemd_analyze_output_in_utc_and_several_expressions() -> None:
    text = """\
  Original form: daily
Normalized form: *-*-* 00:00:00
    Next elapse: Thu 2026-11-26 00:00:00 UTC
       From now: 5h 41min left
       Iter. #2: Fri 2026-11-27 00:00:00 UTC
       From now: 1 day 5h left

  Original form: 2003-03-05
Normalized form: 2003-03-05 00:00:00
    Next elapse: never
"""
    daily, past = parse_analyze_calendar(text, "out")
    assert daily.elapses == (datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC))
    assert past.normalized == "2003-03-05 00:00:00"
    assert past.elapses == ()


def test_systemd_analyze_local_times_need_the_host_zone() -> None:
    text = """\
  Original form: *-*-* 03:00:00
Normalized form: *-*-* 03:00:00
    Next elapse: Sat 2026-08-29 03:00:00 CST
       (in UTC): Fri 2026-08-28 19:00:00 UTC
       From now: 12h left
       Iter. #2: Sun 2026-08-30 03:00:00 CST
"""
    with pytest.raises(InputError, match=r"out:6: .*give the host's time zone"):
        parse_analyze_calendar(text, "out")
    [block] = parse_analyze_calendar(text, "out", ZoneInfo("Asia/Shanghai"))
    assert block.elapses == (datetime(2026, 8, 28, 19, tzinfo=UTC), datetime(2026, 8, 29, 19, tzinfo=UTC))


@pytest.mark.parametrize("name", sorted(yaml.safe_load((ANALYZE_SAMPLES / "expected.yaml").read_text())))
def test_real_systemd_analyze_outputs(name: str) -> None:
    wanted = yaml.safe_load((ANALYZE_SAMPLES / "expected.yaml").read_text())[name]
    blocks = parse_analyze_calendar(strip_provenance((ANALYZE_SAMPLES / name).read_text()), name)
    got = [
        {"original": b.original, "normalized": b.normalized, "elapses": [e.isoformat() for e in b.elapses]}
        for b in blocks
    ]
    assert got == wanted


def test_every_systemd_analyze_sample_has_expectations() -> None:
    files = {p.name for p in ANALYZE_SAMPLES.glob("*.txt")}
    assert files == set(yaml.safe_load((ANALYZE_SAMPLES / "expected.yaml").read_text()))


def test_our_elapses_agree_with_systemd_252_across_a_skipped_hour() -> None:
    text = strip_provenance((ANALYZE_SAMPLES / "debian252_new_york_dst.txt").read_text())
    base = datetime.fromtimestamp(1772924400, UTC)  # --base-time=@1772924400
    new_york = ZoneInfo("America/New_York")
    for block in parse_analyze_calendar(text, "out"):
        ours = islice(parse_calendar(block.original).elapses_after(base, new_york), len(block.elapses))
        assert [e.astimezone(UTC) for e in ours] == list(block.elapses)
        assert parse_calendar(block.original).normalized() == block.normalized


def test_text_that_is_not_systemd_analyze_output() -> None:
    with pytest.raises(InputError, match="not systemd-analyze calendar output"):
        parse_analyze_calendar("Failed to parse calendar specification 'x': Invalid argument\n", "out")
    with pytest.raises(InputError, match="out:1"):
        parse_analyze_calendar("    Next elapse: Thu 2026-11-26 00:00:00 UTC\n", "out")


ANALYZE_LINES = [
    "  Original form: daily",
    "Normalized form: *-*-* 00:00:00",
    "Normalized form: Mon *-*-* 01:00:00 UTC",
    "   Iteration #2: Sun 2025-03-30 00:00:00 GMT",
    "    Next elapse: never",
    "    Next elapse: Thu 2026-11-26 00:00:00 UTC",
    "       Iter. #2: Fri 2026-11-27 00:00:00 CET",
    "       (in UTC): Thu 2026-11-26 23:00:00 UTC",
    "       (in UTC): garbage",
    "       From now: 5h left",
    "    Next elapse: Mon 2026-02-30 00:00:00 UTC",
    "",
]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(st.sampled_from(ANALYZE_LINES), max_size=10).map("\n".join)))
def test_no_text_makes_the_systemd_analyze_reader_raise_anything_but_input_error(text: str) -> None:
    try:
        blocks = parse_analyze_calendar(text, "out")
    except InputError:
        return
    assert all(e.tzinfo is UTC for block in blocks for e in block.elapses)
