"""What a parsed kernel report is: ``Oops``, its call-trace ``Frame``s, its ``LinkedModule``s, and the
``Related`` reports a cascade folds into it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Frame:
    """One call-trace frame. ``offset`` is ``0x1ce/0x200`` (offset/length) or ``None`` in ``crash`` bt."""

    function: str
    offset: str | None
    module: str | None
    reliable: bool


@dataclass(frozen=True, slots=True)
class LinkedModule:
    """An entry of ``Modules linked in:``: ``mpt3sas(OE)`` is name ``mpt3sas``, markers ``OE``."""

    name: str
    markers: str


@dataclass(frozen=True, slots=True)
class Related:
    """A report folded into another's cascade: a ``precursor`` (a WARNING just before it) or a
    ``consequence`` (a report after it on a dying kernel, or its panic line)."""

    role: str
    kind: str
    first_line: str
    line: int
    timestamp: float | None
    rip: str | None
    implicated_module: str | None


@dataclass(frozen=True, slots=True)
class Oops:
    """One report. ``line`` is the 1-based input line where it starts; ``timestamp`` that line's stamp."""

    kind: str
    first_line: str
    line: int
    timestamp: float | None
    wallclock: datetime | None
    warning_site: str | None
    oops_code: str | None
    panic_message: str | None
    kernel: str | None
    cpu: int | None
    pid: int | None
    comm: str | None
    kdump_loaded: bool
    hardware: str | None
    workqueue: str | None
    rip: str | None
    rip_offset: str | None
    rip_module: str | None
    call_trace: tuple[Frame, ...]
    taint: tuple[str, ...]
    taint_raw: str | None
    modules_linked_in: tuple[LinkedModule, ...]
    last_unloaded: str | None
    implicated_module: str | None
    related: tuple[Related, ...] = ()  # set by ``cascade.fold_cascades`` on a cascade's primary report
