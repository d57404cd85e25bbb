"""Changelog import, piece by piece: headings found, entries cut, versions ordered, reverts, names, errors.

Samples are lines of the real changelogs in tests/data/changelogs (the corpus tests run the whole files).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetfix.advisories.changelog.convert import import_changelog, module_name, render_advisory_yaml
from fleetfix.advisories.changelog.entries import cut_entries
from fleetfix.advisories.changelog.faults import classify
from fleetfix.advisories.changelog.headings import heading, is_dateline
from fleetfix.advisories.changelog.release_order import ReleaseOrder
from fleetfix.errors import InputError

REFS = ["https://example.org/notes"]


@pytest.mark.parametrize(
    ("line", "version"),
    [
        ("Version 2.1.36-026 (August 2025)", "2.1.36-026"),
        ("Version 3.4.18-105  - April 2017", "3.4.18-105"),
        ("Version 3.1.0-7", "3.1.0-7"),
        ("* 10.02.08.00.a7-k\t\t\tBH\t\t\t08/22/2022", "10.02.08.00.a7-k"),
        (
            "* 10.02.07.00.a13.d1-k                             BH                      03/03/2022",
            "10.02.07.00.a13.d1-k",
        ),
        ("  Rev  8.01.07b9\tJanuary 4, 2006\t\tAV", "8.01.07b9"),
        ("Current Version : 2.20.4.6 (scsi module), 2.20.2.6 (cmm module)", "2.20.4.6"),
        ("2 Current Version : 00.00.04.17.1-rc1", "00.00.04.17.1-rc1"),
        ("\t* Changed version number to 8.0.28", "8.0.28"),
        (
            " 1.20.00.07    3/23/2005       Erich Chen     bug fix with arcmsr_scsi_host_template_init",
            "1.20.00.07",
        ),
        ("        4.90.08  - Data Corruption if First Scatter Gather Element is > 64K", "4.90.08"),
        ("* Thu Sep 22 2022 Zhuangxuan Fei <zhuangxuan.fei@citrix.com> - 10.02.06.02_k-1", "10.02.06.02_k-1"),
        ("linux (6.1.164-1) bookworm-security; urgency=high", "6.1.164-1"),
        ("2023-03-03 (Canadian Bacon Day) LTTng modules 2.13.9", "2.13.9"),
        ("\t* v2.2.17", "2.2.17"),
        ("## [1.6.0] - 2019-07-19", "1.6.0"),
    ],
)
def test_a_version_with_a_date_an_author_or_a_marker_opens_a_release(line: str, version: str) -> None:
    found = heading(line)
    assert found is not None
    assert found.version == version


@pytest.mark.parametrize(
    "line",
    [
        "Older Version\t: 2.20.4.5 (scsi module), 2.20.2.5 (cmm module)",
        "\t\t- Matt Domsch <Matt_Domsch@dell.com>, 12.15.2004",
        "\t* fix: jbd2 upper bound for v5.10.163",
        "\t* fix: block: remove bdevname (v6.0)",
        "    https://www.kernel.org/pub/linux/kernel/v6.x/ChangeLog-6.1.163",
        "  - dkms add -m hpsa -v 3.4.16.145",
        " *\t- Resync with latest released ISP23xx firmware -- 3.03.22.",
        "  - CP-40166: Upgrade qla2xxx driver to version 10.02.06.02_k",
        "  - Update to address a device discovery issue that was found in hpsa version 3.4.6-165.",
    ],
)
def test_a_version_inside_an_entry_opens_nothing(line: str) -> None:
    assert heading(line) is None


@pytest.mark.parametrize(
    "line",
    [
        "Release Date\t: Mon Mar 07 12:27:22 EST 2005 - Seokmann Ju <sju@lsil.com>",
        "Changes from 20050323 to 20050413",
        " -- Salvatore Bonaccorso <carnil@debian.org>  Mon, 09 Mar 2026 07:45:42 +0100",
        "2024-05-01  Akira Hayakawa  <ruby.wktk@gmail.com>",
    ],
)
def test_datelines_are_neither_headings_nor_entries(line: str) -> None:
    assert heading(line) is None
    assert is_dateline(line)


def test_entries_join_wrapped_lines_keep_sub_points_and_strip_ticket_prefixes() -> None:
    body = [
        (1, "  * FCD-2035: qla2xxx: Fix hang in task management"),
        (2, "    Changes: Add additional error check at various point"),
        (3, ""),
        (4, "  * FCD-1225,FCD-1150: qla2xxx: System crashes when driver is unloaded"),
        (5, "\t* Fixed Oops panic in 8.0.23 (reported on SourceForge).  The"),
        (6, "\t  driver was not handling LPFC_IO_POLL cases correctly"),
    ]
    texts = [e.text for e in cut_entries(body)]
    assert (
        texts[0]
        == "qla2xxx: Fix hang in task management Changes: Add additional error check at various point"
    )
    assert texts[1].startswith("qla2xxx: System crashes")


def test_a_point_that_introduces_a_list_hands_its_sub_points_over_as_entries() -> None:
    body = [
        (1, "  * New upstream stable update:"),
        (2, "    https://www.kernel.org/pub/linux/kernel/v6.x/ChangeLog-6.1.164"),
        (3, "    - scsi: qla2xxx: Validate sp before freeing associated memory"),
        (4, "      (CVE-2025-71236)"),
        (5, "    - scsi: qla2xxx: Fix bsg_done() causing double free"),
    ]
    texts = [e.text for e in cut_entries(body)]
    assert texts[-2:] == [
        "scsi: qla2xxx: Validate sp before freeing associated memory (CVE-2025-71236)",
        "scsi: qla2xxx: Fix bsg_done() causing double free",
    ]


def test_pre_release_builds_sort_before_their_release_and_a_lone_letter_after() -> None:
    order = ReleaseOrder(["10.02.07.00.a19-k", "10.02.07.00-k", "10.02.07.00.a13.d1-k", "10.02.07.00.a13-k"])
    ranked = sorted(
        ["10.02.07.00-k", "10.02.07.00.a13.d1-k", "10.02.07.00.a19-k", "10.02.07.00.a13-k"], key=order.key
    )
    assert ranked == ["10.02.07.00.a13-k", "10.02.07.00.a13.d1-k", "10.02.07.00.a19-k", "10.02.07.00-k"]
    plain = ReleaseOrder(["3.4.18-105", "3.4.18-105a", "8.01.07", "8.01.07b9"])
    assert plain.key("3.4.18-105") < plain.key("3.4.18-105a")
    assert plain.key("8.01.07b9") < plain.key("8.01.07")


def test_a_fix_reverted_by_a_later_build_is_dropped_and_one_brought_back_stays() -> None:
    text = (
        "* 1.0.3-k  BH  03/01/2022\n"
        "  * FCD-XXX: drv: Revert klockwork: Fix buffer overrun\n"
        "* 1.0.2-k  BH  02/01/2022\n"
        "  * FCD-XXX: drv: Fix crash in reset path\n"
        "* 1.0.1-k  BH  01/01/2022\n"
        "  * FCD-XXX: drv: klockwork: Fix buffer overrun\n"
        "    Changes: Replace structure name\n"
    )
    result = import_changelog(text, "notes.txt", "drv", references=REFS)
    assert [(e.fixed_in, e.faults) for e in result.entries] == [("1.0.2-k", ("panic",))]


def test_a_version_named_as_bad_is_kept_as_an_affected_build_and_introduced_bounds_the_range() -> None:
    text = (
        "Version 2.0 (May 2024)\n"
        " - Fixed a NULL pointer dereference introduced in 1.8.\n"
        " - Fixed a system hang found in 1.9.2 when the controller is reset.\n"
    )
    deref, hang = import_changelog(text, "n.txt", "lpfc", references=REFS).entries
    assert deref.to_advisory_dict()["affected"] == {"driver": [{"introduced": "1.8", "fixed": "2.0"}]}
    assert hang.affected_builds == ("1.9.2",)
    assert "affected" in hang.inferred


def test_the_classifier_records_the_words_it_matched_and_skips_features_and_workaround_notes() -> None:
    found = classify(
        "Added code to prevent waking up worker thread. Fixes panic seen with insmod/rmmod testing."
    )
    assert found is not None and found.faults == ("panic",) and found.words == ("panic",)
    assert (
        classify('Added hpsa_lockup_action driver parameter "0 = disable device, 1 = panic system"') is None
    )
    assert (
        classify("System crashes when driver is unloaded. Changes: Updated the release note with workaround.")
        is None
    )
    assert classify("Add .change_queue_depth support.") is None
    exceeded = classify("Fixed a firmware ASSERT when requests exceeded the exposed host queue depth.")
    assert exceeded is not None and exceeded.faults == ("queue_depth",)


def test_the_module_is_validated_as_a_kernel_module_name() -> None:
    assert module_name("dm-writeboost", "x") == "dm_writeboost"
    for bad in ("Bad Name", "qla2xxx;rm", "", "x" * 56, "../hpsa"):
        with pytest.raises(InputError) as raised:
            module_name(bad, "notes.txt")
        assert str(raised.value).startswith("notes.txt: --module: ")
        assert "\n" not in str(raised.value)


def test_without_a_url_to_cite_entries_carry_empty_references_and_a_warning() -> None:
    result = import_changelog("Version 1.0 (May 2024)\n - Fixed a panic.\n", "notes.txt", "hpsa")
    assert result.entries[0].references == ()
    assert result.warnings == [
        "notes.txt: no public URL to cite: the entries carry 'references: []' for the reviewer to fill"
    ]
    assert "references: []" in render_advisory_yaml(result.entries)


def test_the_provenance_header_supplies_the_references() -> None:
    header = "# SOURCE: https://github.com/Smart-Storage/smartpqi README.md\n\n"
    text = header + "Version 1.0 (May 2024)\n - Fixed a hang.\n"
    [entry] = import_changelog(text, "README.md", "smartpqi").entries
    assert entry.references == ("https://github.com/Smart-Storage/smartpqi",)


def test_a_heading_on_the_first_line_is_not_taken_for_a_provenance_header() -> None:
    text = (
        "### Release 9.0.0 ###\n- module: Fixed page alloc usage.\n- utility: Fixed memleaks in the daemon.\n"
    )
    [entry] = import_changelog(text, "CHANGELOG", "rapiddisk", references=REFS).entries
    assert (entry.fixed_in, entry.faults) == ("9.0.0", ("memory_leak",))


def test_text_with_no_changelog_shape_is_a_one_line_input_error() -> None:
    with pytest.raises(InputError) as raised:
        import_changelog("just some words\n", "notes.txt", "mpt3sas")
    assert str(raised.value).startswith("notes.txt:1: no changelog shape found")


def test_ids_are_unique_and_name_module_version_and_title() -> None:
    text = "Version 1.0 (May 2024)\n - Fixed a panic.\n - Fixed a panic.\n"
    ids = [e.id for e in import_changelog(text, "n.txt", "hpsa", references=REFS).entries]
    assert ids == ["hpsa-1.0-fixed-a-panic", "hpsa-1.0-fixed-a-panic-2"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "Version 1.2.14-[015-017] (June 2020)",
                    "* 10.02.08.00.a7-k  BH  08/22/2022",
                    "Current Version : 07.7",
                    "** 1.20.00.07    3/23/2005       Erich Chen     bug fix segmentation fault",
                    "        4.90.08  - Data Corruption",
                    " - Fixed a kernel panic introduced in 0.1.",
                    "   - Root Cause: race",
                    "  Reverting the following changes:",
                    "  * FCD-XXX: drv: Revert klockwork: Fix buffer overrun",
                    "scsi: mpt3sas: Update driver version to 5.x",
                    "scsi: mpt3sas: Fix a hang",
                    "# SOURCE: https://example.org/x",
                ]
            ),
            st.text(max_size=60),
        ),
        max_size=30,
    )
)
def test_no_input_makes_the_importer_raise_anything_but_input_error(lines: list[str]) -> None:
    try:
        result = import_changelog("\n".join(lines), "notes.txt", "mpt3sas")
    except InputError as error:
        assert str(error).startswith("notes.txt")
    else:
        render_advisory_yaml(result.entries)
