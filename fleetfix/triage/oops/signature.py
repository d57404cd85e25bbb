"""The key that groups the same fault across hosts, logs and builds."""

from __future__ import annotations

import re

from fleetfix.triage.oops.model import Oops
from fleetfix.triage.oops.patterns import EXCEPTION_FRAMES

_SIGNATURE_NOISE = frozenset(
    {
        "machine_kexec",
        "__crash_kexec",
        "crash_kexec",
        "oops_end",
        "panic",
        "die",
        "__die",
        "__die_body",
        "no_context",
        "__bad_area_nosemaphore",
        "bad_area_nosemaphore",
        "__do_page_fault",
        "page_fault_oops",
        "kernelmode_fixup_or_oops",
        "do_trap",
        "do_error_trap",
        "handle_bug",
        "report_bug",
        "__warn",
        "warn_slowpath_common",
        "warn_slowpath_fmt",
        "warn_slowpath_null",
        "dump_stack",
        "dump_stack_lvl",
        "show_stack",
        "crash_nmi_callback",
        "nmi_handle",
        "default_do_nmi",
        "do_nmi",
        "exc_nmi",
        "end_repeat_nmi",
        *EXCEPTION_FRAMES,
    }
)
_CLONE_SUFFIX = re.compile(r"(?:\.(?:isra|constprop|part|cold|clone|lto_priv|llvm)(?:\.\d+)*)+$")


def signature(oops: Oops, frames: int = 3) -> str:
    """Grouping key: implicated module, RIP function and the first ``frames`` meaningful call-trace functions.

    Unreliable (``?``) frames, the crash/exception machinery and compiler clone suffixes (``.isra.48``) are
    left out, so the same fault reported by dmesg and by ``crash`` bt, or by two builds, groups together.
    """
    rip = _CLONE_SUFFIX.sub("", oops.rip) if oops.rip else "-"
    top: list[str] = []
    for frame in oops.call_trace:
        name = _CLONE_SUFFIX.sub("", frame.function)
        if frame.reliable and name not in _SIGNATURE_NOISE and name != rip and name not in top:
            top.append(name)
        if len(top) == frames:
            break
    return "|".join([oops.implicated_module or "-", rip, *top])
