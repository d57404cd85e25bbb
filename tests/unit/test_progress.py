"""Resume logic over journal records: each host's status, and what a re-check from facts leaves to do."""

from __future__ import annotations

from datetime import UTC, datetime

from fleetfix.plan.build import RUN_ORDER, STEPS
from fleetfix.plan.run_state import (
    PreviousBuild,
    Recheck,
    StepRecord,
    install_left,
    left_on_disk,
    recheck,
    rollback_candidate,
    rollback_reason,
    run_progress,
)

T = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
HOSTS = ("db01", "db02", "db03", "db04", "db05", "db06")


def ok(host: str, *steps: str) -> list[StepRecord]:
    return [StepRecord(host=host, step=s, state="ok", detail={}, started_at=T, ended_at=T) for s in steps]


def started(host: str, step: str) -> StepRecord:
    return StepRecord(host=host, step=step, state="started", detail={}, started_at=T, ended_at=None)


def test_every_planned_host_lands_in_exactly_one_set() -> None:
    records = [
        *ok("db01", *STEPS),
        *ok("db02", "precheck"),
        StepRecord(
            host="db02",
            step="upgrade",
            state="failed",
            detail={"message": "dpkg: error"},
            started_at=T,
            ended_at=T,
        ),
        *ok("db03", "precheck", "upgrade"),
        started("db03", "activate"),
        *ok("db04", "precheck", "upgrade"),
        StepRecord(
            host="db05",
            step="precheck",
            state="skipped",
            detail={"reason": "module gone"},
            started_at=T,
            ended_at=T,
        ),
        StepRecord(
            host="elsewhere", step="precheck", state="ok", detail={}, started_at=T, ended_at=T
        ),  # not in this plan: ignored
    ]
    progress = run_progress(HOSTS, records)
    assert progress.done == ("db01",)
    assert progress.failed == ("db02",)
    assert progress.with_status("skipped") == ("db05",)
    assert progress.with_status("interrupted") == ("db03", "db04")
    assert progress.with_status("untouched") == ("db06",)
    assert progress.pending == ("db03", "db04", "db06")
    assert progress.mid_step == {"db03": "activate"}
    assert progress.host("db04").outcome == "stopped after upgrade: re-checked from facts on resume"
    assert progress.host("db03").outcome == "interrupted during activate: re-checked from facts on resume"
    assert progress.counts() == {"done": 1, "failed": 1, "skipped": 1, "interrupted": 2, "untouched": 1}


def test_soak_skipped_for_lack_of_disks_still_counts_as_done() -> None:
    records = [*ok("db01", "precheck", "upgrade", "activate", "verify")]
    records.append(
        StepRecord(
            host="db01", step="soak", state="skipped", detail={"reason": "no disk"}, started_at=T, ended_at=T
        )
    )
    assert run_progress(["db01"], records).done == ("db01",)


def test_latest_attempt_of_a_step_decides() -> None:
    # Killed mid-upgrade, then resumed: the repeated upgrade ended ok, and the host went on to finish.
    records = [*ok("db01", "precheck"), started("db01", "upgrade"), *ok("db01", *STEPS)]
    progress = run_progress(["db01"], records)
    assert progress.done == ("db01",) and progress.mid_step == {}


def test_verified_host_mid_soak_is_neither_done_nor_upgraded_again() -> None:
    records = [*ok("db01", "precheck", "upgrade", "activate", "verify"), started("db01", "soak")]
    host = run_progress(["db01"], records).host("db01")
    assert host.status == "interrupted"
    assert recheck(host, "mpt3sas", "43.00.00.00", "46.00.00.00", "46.00.00.00") == Recheck(
        ("verify", "soak", "post_hook")  # a hook step: nothing runs for it unless the run has a --post-hook
    )


def test_recheck_from_facts() -> None:
    fresh = run_progress(["db01"], []).host("db01")
    assert recheck(fresh, "mpt3sas", "43.00.00.00", "46.00.00.00", "43.00.00.00").steps == RUN_ORDER[1:]
    # Someone upgraded it by hand before the run reached it: nothing to install, still verified and soaked.
    assert recheck(fresh, "mpt3sas", "43.00.00.00", "46.00.00.00", "46.0.0.0") == Recheck(
        ("verify", "soak", "post_hook"), skip=("upgrade", "activate")
    )

    # The baseline on the old build is measured once: a host stopped after it goes on to the upgrade.
    measured = run_progress(["db01"], ok("db01", "precheck", "baseline")).host("db01")
    assert recheck(measured, "mpt3sas", "43.00.00.00", "46.00.00.00", "43.00.00.00").steps == (
        "pre_hook",
        "upgrade",
        "activate",
        "verify",
        "soak",
        "post_hook",
    )
    upgraded = run_progress(["db01"], ok("db01", "precheck", "upgrade")).host("db01")
    assert recheck(upgraded, "mpt3sas", "43.00.00.00", "46.00.00.00", "43.00.00.00").steps == (
        "activate",
        "verify",
        "soak",
        "post_hook",
    )
    # A reload cut short leaves no module loaded: activate again, never upgrade again.
    reloading = run_progress(["db01"], [*ok("db01", "precheck", "upgrade"), started("db01", "activate")])
    assert recheck(reloading.host("db01"), "mpt3sas", "43.00.00.00", "46.00.00.00", None).steps == (
        "activate",
        "verify",
        "soak",
        "post_hook",
    )
    # Rebooted into the new driver before the controller saw the activation end.
    assert recheck(reloading.host("db01"), "mpt3sas", "43.00.00.00", "46.00.00.00", "46.00.00.00") == Recheck(
        ("verify", "soak", "post_hook"), skip=("activate",)
    )


def test_recheck_leaves_a_host_that_changed_under_the_run_alone() -> None:
    fresh = run_progress(["db01"], []).host("db01")
    decision = recheck(fresh, "mpt3sas", "43.00.00.00", "46.00.00.00", "44.00.00.00")
    assert decision.steps == ()
    assert (
        decision.problem
        == "mpt3sas is now 44.00.00.00, neither the planned 43.00.00.00 nor 46.00.00.00: left alone"
    )


def record(host: str, step: str, state: str, **detail: object) -> StepRecord:
    return StepRecord(host=host, step=step, state=state, detail=detail, started_at=T, ended_at=T)


PRECHECK_34 = record(
    "db01",
    "precheck",
    "ok",
    loaded_version="34.100.00.00",
    loaded_srcversion="6E4C8C0A9F6E2B51D3A7C41",
    previous={"source": "package", "name": "mpt3sas-driver", "version": "34.100.00.00-1"},
)
SOAK_PANIC = record("db01", "soak", "failed", message="host rebooted during the soak (boot id a -> b)")


def test_a_failed_soak_is_rolled_back_to_the_build_the_first_precheck_saw() -> None:
    # A resume pre-checked again on the new build: the first pre-check's package is the one to restore.
    again = record("db01", "precheck", "ok", loaded_version="46.00.00.00", previous={"source": "package",
                   "name": "mpt3sas-driver", "version": "46.00.00.00-3"})  # fmt: skip
    records = [
        PRECHECK_34,
        *ok("db01", "baseline", "upgrade", "activate"),
        again,
        *ok("db01", "verify"),
        SOAK_PANIC,
    ]
    host = run_progress(["db01"], records).host("db01")
    assert rollback_candidate(host) == PreviousBuild(
        package="mpt3sas-driver",
        package_version="34.100.00.00-1",
        version="34.100.00.00",
        srcversion="6E4C8C0A9F6E2B51D3A7C41",
        reason="the new build failed its soak",
    )
    rolled = run_progress(["db01"], [*records, record("db01", "rollback", "ok", version="34.100.00.00")])
    assert rolled.host("db01").status == "failed"  # it still counts against the budget
    assert rolled.host("db01").outcome == (
        "rolled back to 34.100.00.00 after it failed at soak: host rebooted during the soak (boot id a -> b)"
    )
    assert rollback_candidate(rolled.host("db01")) is None  # once


def test_a_change_from_a_dkms_source_is_rolled_back_by_taking_its_build_out_of_dkms() -> None:
    precheck = record("db01", "precheck", "ok", loaded_version="1.0.0", loaded_srcversion="A1B2C3",
                      previous={"source": "dkms", "name": None, "version": None,
                                "dkms": {"name": "fxhba", "version": "1.0.2"}})  # fmt: skip
    failed = [precheck, *ok("db01", "baseline", "upgrade", "activate"), record("db01", "verify", "failed")]
    previous = rollback_candidate(run_progress(["db01"], failed).host("db01"))
    assert previous == PreviousBuild(
        dkms_name="fxhba",
        dkms_version="1.0.2",
        version="1.0.0",
        srcversion="A1B2C3",
        reason="the new build failed its verify",
    )
    assert isinstance(previous, PreviousBuild)
    assert previous.restore == {"dkms_name": "fxhba", "dkms_version": "1.0.2"}
    assert previous.how == "dkms remove fxhba/1.0.2"
    # A compile that failed inside the upgrade left nothing installed: the role took it out itself.
    build_failed = [precheck, *ok("db01", "baseline"), record("db01", "upgrade", "failed", message="make")]
    assert rollback_candidate(run_progress(["db01"], build_failed).host("db01")) is None


def test_a_package_rollback_reinstalls_the_recorded_version() -> None:
    host = run_progress(["db01"], [PRECHECK_34, *ok("db01", "baseline", "upgrade", "activate"), SOAK_PANIC])
    previous = rollback_candidate(host.host("db01"))
    assert isinstance(previous, PreviousBuild)
    assert previous.restore == {"name": "mpt3sas-driver", "version": "34.100.00.00-1"}
    assert previous.how == "mpt3sas-driver 34.100.00.00-1"


def test_no_rollback_before_the_new_build_is_in_place_or_without_a_package() -> None:
    upgrade_failed = [
        PRECHECK_34,
        *ok("db01", "baseline"),
        record("db01", "upgrade", "failed", message="dpkg"),
    ]
    assert rollback_candidate(run_progress(["db01"], upgrade_failed).host("db01")) is None
    from_dkms = record("db01", "precheck", "ok", loaded_version="34.100.00.00",
                       previous={"source": "dkms", "name": None, "version": None})  # fmt: skip
    host = run_progress(
        ["db01"], [from_dkms, *ok("db01", "baseline", "upgrade", "activate", "verify"), SOAK_PANIC]
    )
    why = rollback_candidate(host.host("db01"))
    assert why == "no previous package recorded to reinstall (the build came from dkms)"
    failed = run_progress(
        ["db01"], [*host.host("db01").records, record("db01", "rollback", "failed", message=why)]
    )
    assert failed.host("db01").outcome == (
        "failed at soak: host rebooted during the soak (boot id a -> b); rollback failed: " + why
    )


# An upgrade refused after the install, as the role records it: the new build on disk, the old one loaded.
REFUSED = record(
    "db01",
    "upgrade",
    "failed",
    message="/lib/modules/6.1.0-18-amd64/updates/mpt3sas.ko: kernel lockdown is integrity and the build is "
    "not signed: the kernel would refuse to load it; the running build stays loaded",
    on_disk={"version": "46.00.00.00", "srcversion": "1B9E3F2A7C5D8E0F4A6B2C9"},
    loaded={"version": "34.100.00.00", "srcversion": "6E4C8C0A9F6E2B51D3A7C41"},
)
ON_DISK = "46.00.00.00 (srcversion 1B9E3F2A7C5D8E0F4A6B2C9)"


def test_which_failed_steps_put_the_previous_build_back() -> None:
    assert rollback_reason(SOAK_PANIC) == "the new build failed its soak"
    assert rollback_reason(record("db01", "verify", "failed")) == "the new build failed its verify"
    assert rollback_reason(REFUSED) == (
        f"the refused build {ON_DISK} was installed on disk: the next boot would load it"
    )
    # Nothing installed, or nothing changed on disk: nothing to put back.
    assert rollback_reason(record("db01", "upgrade", "failed", message="installing failed: dpkg")) is None
    same = {"version": "34.100.00.00", "srcversion": "6E4C8C0A9F6E2B51D3A7C41"}
    assert rollback_reason(record("db01", "upgrade", "failed", on_disk=same, loaded=same)) is None
    unknown_build = {"version": "34.100.00.00", "srcversion": None}  # modinfo without a srcversion
    assert rollback_reason(record("db01", "upgrade", "failed", on_disk=unknown_build, loaded=same)) is None
    for step in ("precheck", "baseline", "activate", "pre_hook", "rollback"):
        assert rollback_reason(record("db01", step, "failed", on_disk=REFUSED.detail["on_disk"])) is None
    assert rollback_reason(record("db01", "soak", "ok")) is None


def test_a_refused_build_left_on_disk_is_named_even_when_modinfo_finds_nothing() -> None:
    assert left_on_disk(REFUSED) == ON_DISK
    gone = record("db01", "upgrade", "failed", on_disk={"version": None, "srcversion": None},
                  loaded=REFUSED.detail["loaded"])  # fmt: skip
    assert left_on_disk(gone) == "no build"
    rebuilt = {"version": "34.100.00.00", "srcversion": "FFFF"}  # same version, another build
    assert left_on_disk(record("db01", "upgrade", "failed", on_disk=rebuilt, loaded=REFUSED.detail["loaded"]))


def test_an_upgrade_refused_after_its_install_is_rolled_back_and_says_so() -> None:
    records = [PRECHECK_34, *ok("db01", "baseline"), REFUSED]
    host = run_progress(["db01"], records).host("db01")
    previous = rollback_candidate(host)
    assert isinstance(previous, PreviousBuild)
    assert (previous.package, previous.package_version, previous.version) == (
        "mpt3sas-driver",
        "34.100.00.00-1",
        "34.100.00.00",
    )
    assert previous.reason.startswith("the refused build 46.00.00.00")
    # --no-rollback, or before the batch's rollback ran: the run says what the next boot does.
    assert host.outcome == (
        f"failed at upgrade: {REFUSED.detail['message']}; the refused build stays installed on disk: "
        f"the next boot loads it: {ON_DISK}"
    )
    rolled = run_progress(["db01"], [*records, record("db01", "rollback", "ok", version="34.100.00.00")])
    assert rolled.host("db01").status == "failed"  # it counts against the budget
    assert rolled.host("db01").outcome == (
        f"rolled back to 34.100.00.00 after it failed at upgrade: {REFUSED.detail['message']}"
    )
    not_put_back = run_progress(
        ["db01"], [*records, record("db01", "rollback", "failed", message="apt said no")]
    ).host("db01")
    assert not_put_back.outcome.endswith(
        f"; rollback failed: apt said no; the refused build stays installed on disk: the next boot loads it: "
        f"{ON_DISK}"
    )


def test_no_rollback_to_a_package_whose_build_on_disk_was_not_the_loaded_one() -> None:
    # An earlier --no-rollback left the refused package installed: reinstalling it would put nothing back.
    mismatch = (
        "mpt3sas-driver 46.00.00.00-1 is installed, but its build on disk is 46.00.00.00 (srcversion "
        "1B9E3F2A7C5D8E0F4A6B2C9), not the loaded 34.100.00.00 (srcversion 6E4C8C0A9F6E2B51D3A7C41)"
    )
    precheck = record("db01", "precheck", "ok", loaded_version="34.100.00.00",
                      previous={"source": "package", "name": "mpt3sas-driver", "version": None,
                                "mismatch": mismatch})  # fmt: skip
    host = run_progress(["db01"], [precheck, *ok("db01", "baseline"), REFUSED]).host("db01")
    assert rollback_candidate(host) == f"no previous package recorded to reinstall: {mismatch}"


# An install whose post-installation script failed, as the role records it: dpkg left the new package
# half-configured, the module file on disk is still the loaded build (the package's own file went to
# /usr/src only), nothing was unloaded.
LOADED_34 = {"version": "34.100.00.00", "srcversion": "6E4C8C0A9F6E2B51D3A7C41"}
HALF_CONFIGURED = record(
    "db01",
    "upgrade",
    "failed",
    message="installing mpt3sas-driver=46.00.00.00-2 failed: mpt3sas: module build failed for kernel "
    "6.1.0-18-amd64: exit status 2; dpkg: error processing package mpt3sas-driver (--configure):",
    package={
        "name": "mpt3sas-driver",
        "before": ["installed 34.100.00.00-1"],
        "after": ["half-configured 46.00.00.00-2"],
    },
    on_disk=LOADED_34,
    loaded=LOADED_34,
)
LEFT = "mpt3sas-driver half-configured 46.00.00.00-2"


def test_what_a_failed_install_left_in_the_package_database() -> None:
    assert install_left(HALF_CONFIGURED) == LEFT

    def failed(before: list[str], after: list[str]) -> StepRecord:
        package = {"name": "mpt3sas-driver", "before": before, "after": after}
        return record("db01", "upgrade", "failed", message="installing failed", package=package)

    # rpm after a scriptlet failed half-way: both versions in its database.
    both = ["installed 34.100.00.00-1", "installed 46.00.00.00-2"]
    assert install_left(failed(["installed 34.100.00.00-1"], both)) == (
        "mpt3sas-driver installed 34.100.00.00-1, installed 46.00.00.00-2"
    )
    # Unpacked only, or the new version installed though the package manager said the install failed.
    assert install_left(failed(["installed 34.100.00.00-1"], ["unpacked 46.00.00.00-2"]))
    assert install_left(failed(["installed 34.100.00.00-1"], ["installed 46.00.00.00-2"]))
    # Nothing changed: not found, a pre-install script that refused, a download that failed.
    assert install_left(failed(["installed 34.100.00.00-1"], ["installed 34.100.00.00-1"])) is None
    missing = ["package mpt3sas-driver is not installed"]
    assert install_left(failed(missing, missing)) is None
    # No reading after the failure (check mode, an older record), or not an upgrade that failed.
    assert install_left(failed(["installed 34.100.00.00-1"], [])) is None
    assert install_left(record("db01", "upgrade", "failed", message="installing failed")) is None
    package = HALF_CONFIGURED.detail["package"]
    assert install_left(record("db01", "upgrade", "ok", package=package)) is None
    assert install_left(record("db01", "verify", "failed", package=package)) is None


def test_an_install_that_failed_half_way_is_rolled_back_and_says_what_it_left() -> None:
    assert rollback_reason(HALF_CONFIGURED) == f"the failed install left {LEFT} in the package database"
    records = [PRECHECK_34, *ok("db01", "baseline"), HALF_CONFIGURED]
    host = run_progress(["db01"], records).host("db01")
    previous = rollback_candidate(host)
    assert previous == PreviousBuild(
        package="mpt3sas-driver",
        package_version="34.100.00.00-1",
        version="34.100.00.00",
        srcversion="6E4C8C0A9F6E2B51D3A7C41",
        reason=f"the failed install left {LEFT} in the package database",
    )
    # --no-rollback: the run says what the package database and the disk hold.
    assert host.outcome == (
        f"failed at upgrade: {HALF_CONFIGURED.detail['message']}; the failed install left {LEFT} in the "
        "package database, and modinfo finds 34.100.00.00 (srcversion 6E4C8C0A9F6E2B51D3A7C41) on disk"
    )
    rolled = run_progress(["db01"], [*records, record("db01", "rollback", "ok", version="34.100.00.00")])
    assert rolled.host("db01").status == "failed"  # it counts against the budget
    assert rolled.host("db01").outcome == (
        f"rolled back to 34.100.00.00 after it failed at upgrade: {HALF_CONFIGURED.detail['message']}"
    )
    not_put_back = run_progress(
        ["db01"], [*records, record("db01", "rollback", "failed", message="apt said no")]
    ).host("db01")
    assert not_put_back.outcome.endswith(
        f"; rollback failed: apt said no; the failed install left {LEFT} in the package database, and "
        "modinfo finds 34.100.00.00 (srcversion 6E4C8C0A9F6E2B51D3A7C41) on disk"
    )
    # A package that never installed (same lines before and after): the host is as it was, nothing to do.
    as_before = ["installed 34.100.00.00-1"]
    untouched = record(
        "db01",
        "upgrade",
        "failed",
        message="installing failed: E: Version '9' not found",
        package={"name": "mpt3sas-driver", "before": as_before, "after": as_before},
        on_disk=LOADED_34,
        loaded=LOADED_34,
    )
    assert rollback_reason(untouched) is None
    assert run_progress(["db01"], [PRECHECK_34, untouched]).host("db01").outcome == (
        "failed at upgrade: installing failed: E: Version '9' not found"
    )
