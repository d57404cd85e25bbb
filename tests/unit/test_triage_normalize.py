"""Raw lines back into the kernel's own: the shapes of tests/data/oopses one at a time, and their edges."""

from __future__ import annotations

import json

from fleetfix.triage.lines import Line, split_prefix
from fleetfix.triage.normalize import LineNormalizer


def _bodies(raw: list[str], year: int | None = None) -> list[str]:
    normalizer = LineNormalizer(year)
    out = [line.body for number, text in enumerate(raw, 1) for line, _ in normalizer.feed(text, number)]
    return out + [line.body for line, _ in normalizer.flush()]


def test_the_module_docstring_sample() -> None:
    record = {"MESSAGE": "pc : mt7921_regd_notifier+0x180/0x290 [mt7921_common]", "_TRANSPORT": "kernel"}
    raw = [
        "> [   19.442078] Unable to handle kernel NULL pointer dereference at",
        "> virtual address 0000000000000014",
        "> [   19.465329]   ESR =3D 0x0000000096000004",
        "Jul  1 10:00:00 host kernel: [ 5.0] Call trace:#012 mt7921_regd_notifier+0x180/0x290"
        " [mt7921_common]",
        json.dumps(record),
    ]
    assert _bodies(raw) == [
        "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000014",
        "  ESR = 0x0000000096000004",
        "Call trace:",
        " mt7921_regd_notifier+0x180/0x290 [mt7921_common]",
        "pc : mt7921_regd_notifier+0x180/0x290 [mt7921_common]",
    ]


def test_journal_records_of_other_transports_are_dropped_and_kernel_ones_timed() -> None:
    kernel = {"MESSAGE": "BUG: x", "_TRANSPORT": "kernel", "__REALTIME_TIMESTAMP": "1700000000000000",
              "_SOURCE_MONOTONIC_TIMESTAMP": "812300000"}  # fmt: skip
    normalizer = LineNormalizer(None)
    lines = [line for n, r in enumerate([{"MESSAGE": "sshd", "_TRANSPORT": "syslog"}, kernel], 1)
             for line, _ in normalizer.feed(json.dumps(r), n)]  # fmt: skip
    [line] = lines + [line for line, _ in normalizer.flush()]
    assert (line.body, line.seconds, line.wallclock.isoformat()) == (
        "BUG: x",
        812.3,
        "2023-11-14T22:13:20+00:00",
    )


def test_a_console_cut_mid_word_joins_without_a_blank_a_mailer_wrap_with_one() -> None:
    long = "Jan  1 00:00:00 h kernel: Modules linked in: " + "x " * 60 + "drm_shmem_hel"
    assert _bodies([long, "per cpufreq_dt"])[0].endswith("drm_shmem_helper cpufreq_dt")
    short = "[ 1.0] CPU: 0 PID: 195 Comm: syz-executor Not tainted"
    assert _bodies([short, "6.1.0-rc7 #774"]) == [
        "CPU: 0 PID: 195 Comm: syz-executor Not tainted 6.1.0-rc7 #774"
    ]


def test_unprefixed_lines_join_only_a_prefixed_line_right_before_them() -> None:
    assert _bodies(["plain text", "more text"]) == ["plain text", "more text"]
    assert _bodies(["[ 1.0] a", "", "b"]) == ["a", "", "b"]
    assert _bodies(["[ 1.0] a", "...", "[ 1.1] b"]) == ["a", "...", "b"]


def test_quoted_printable_is_decoded_only_once_the_input_shows_it() -> None:
    assert _bodies(["idProduct=0904 x=20"]) == ["idProduct=0904 x=20"]
    assert _bodies(["a =3D b, soft=", "break"]) == ["a = b, softbreak"]


def test_prefixes_of_every_shape() -> None:
    cases = {
        "<4>1 2024-05-01T10:00:00.123+02:00 host kernel - - - [ 5.0] BUG: x": ("BUG: x", 5.0, True),
        "[Mon Jan  2 03:04:05 2023] BUG: y": ("BUG: y", None, True),
        "6,1234,5678901,-;BUG: z": ("BUG: z", 5.678901, False),
        "Dez 22 15:19:11 host kernel: refcount": ("refcount", None, False),
        "Sun Sep  1 19:30:19 2019 kern.warn kernel: [138620.015474] x": ("x", 138620.015474, True),
        "  [1272.943527] indented": ("indented", 1272.943527, False),
    }
    for raw, (body, seconds, dated) in cases.items():
        line: Line = split_prefix(raw, 2024)
        assert (line.body, line.seconds, line.wallclock is not None, line.prefixed) == (
            body,
            seconds,
            dated,
            True,
        )


def test_a_soft_break_is_never_lost() -> None:
    normalizer = LineNormalizer(None)
    out = [line.body for line, _ in normalizer.feed("x =3D 1, held=", 1)]
    out += [line.body for line, _ in normalizer.feed("far later", 9)]  # lines 2-8 were skipped
    out += [line.body for line, _ in normalizer.flush()]
    assert out == ["x = 1, held", "far later"]
    normalizer = LineNormalizer(None)
    out = [line.body for line, _ in normalizer.feed("a =3D b, last=", 1)]
    assert out + [line.body for line, _ in normalizer.flush()] == ["a = b, last"]
