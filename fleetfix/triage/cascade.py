"""One crash per cascade: the reports one fault leaves in a kernel log, folded into their primary report.

A race that frees a request twice may first trip a ``refcount_t: underflow`` WARNING, then a WARNING in
``blk_mq_free_request``, and only then oops in the driver; a dying kernel then adds reports of its own (their
``Tainted:`` field carries ``D``), and the panic line may stand apart from the oops when the summary ended
it. Counting each of those as a crash makes one fault look like three, and puts a trace-less WARNING first.

Sample input (the reports of one log, in order, as ``oops.iter_oopses`` yields them)::

    [ 812.301] refcount_t: underflow; use-after-free.           warning, no module named
    [ 812.302] WARNING: ... at block/blk-mq.c:... blk_mq_free_request+0x...         warning
    [ 812.305] BUG: kernel NULL pointer dereference ... RIP: fxhba_complete_slot+0x.. [fxhba]
    [ 812.420] Kernel panic - not syncing: Fatal exception in interrupt      (a report of its own)

    >>> [crash] = fold_cascades(reports)
    >>> crash.kind, crash.implicated_module, [r.role for r in crash.related]
    ('null_pointer_dereference', 'fxhba', ['precursor', 'precursor', 'consequence'])

The rules: the primary is the first fatal report (oops, BUG, GPF, page fault, panic) of a cascade, else its
first report. Precursors are the WARNINGs just before it: each within ``WINDOW`` of the next report, in the
same boot. Consequences follow it: a report whose taint carries ``D`` (the kernel already died once this
boot) or that follows "Fixing recursive fault", and a panic with no RIP of its own within ``WINDOW``. When the
primary names no module, the first precursor, then consequence, naming one supplies it. Reports without
``[seconds]`` stamps or wall-clock prefixes are near when at most ``LINE_WINDOW`` lines apart.

Streaming: at most one open cascade and the WARNINGs that may precede the next are held, so memory does not
grow with the log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

from fleetfix.triage.oops.model import Oops, Related

FATAL = frozenset(
    {
        "oops",
        "null_pointer_dereference",
        "page_fault",
        "general_protection_fault",
        "invalid_opcode_bug",
        "bug",
        "panic",
    }
)
PRECURSOR_KINDS = frozenset({"warning"})
WINDOW = 10.0  # seconds between one report of a cascade and the next
LINE_WINDOW = 400  # lines between reports with no time at all


def fold_cascades(reports: Iterable[Oops]) -> Iterator[Oops]:
    """The crashes of one host's log: each cascade's primary, with its other reports in ``related``."""
    held: list[Oops] = []  # WARNINGs, in order, each near the next: precursors of a fatal report to come
    cascade: _Cascade | None = None
    for report in reports:
        if cascade is not None and cascade.takes(report):
            cascade.consequences.append(report)
            continue
        if cascade is not None:
            yield cascade.fold()
            cascade = None
        if held and not _near(held[-1], report):
            yield from (_Cascade(w, []).fold() for w in held)
            held = []
        if report.kind in FATAL:
            cascade, held = _Cascade(report, held), []
        elif report.kind in PRECURSOR_KINDS and "D" not in report.taint:
            held.append(report)
        else:
            yield from (_Cascade(w, []).fold() for w in held)
            cascade, held = _Cascade(report, []), []
    if cascade is not None:
        yield cascade.fold()
    yield from (_Cascade(w, []).fold() for w in held)


class _Cascade:
    def __init__(self, primary: Oops, precursors: list[Oops]) -> None:
        self.primary = primary
        self.precursors = precursors
        self.consequences: list[Oops] = []

    @property
    def last(self) -> Oops:
        return self.consequences[-1] if self.consequences else self.primary

    def takes(self, report: Oops) -> bool:
        """Whether ``report`` is a consequence of this cascade."""
        if not _same_boot(self.last, report):
            return False
        if "D" in report.taint and (self.primary.kind in FATAL or "D" in self.primary.taint):
            return True
        if report.first_line.startswith("Fixing recursive fault"):
            return True
        return report.kind == "panic" and report.rip is None and _near(self.last, report)

    def fold(self) -> Oops:
        if not self.precursors and not self.consequences:
            return self.primary
        related = tuple(
            [_related("precursor", r) for r in self.precursors]
            + [_related("consequence", r) for r in self.consequences]
        )
        module = self.primary.implicated_module or next(
            (r.implicated_module for r in related if r.implicated_module), None
        )
        panic = self.primary.panic_message or next(
            (message for r in self.consequences if (message := _panic_message(r))), None
        )
        return dataclasses.replace(
            self.primary, related=related, implicated_module=module, panic_message=panic
        )


def _panic_message(report: Oops) -> str | None:
    """What a report's panic line says, whether the panic joined it or opened it."""
    if report.panic_message is not None:
        return report.panic_message
    head, found, message = report.first_line.partition("Kernel panic - not syncing:")
    return message.strip() if found and not head.strip() else None


def _related(role: str, report: Oops) -> Related:
    return Related(
        role,
        report.kind,
        report.first_line,
        report.line,
        report.timestamp,
        report.rip,
        report.implicated_module,
    )


def _same_boot(earlier: Oops, later: Oops) -> bool:
    """Uptime stamps only grow within a boot; a smaller one means the host rebooted in between."""
    if earlier.timestamp is not None and later.timestamp is not None:
        return later.timestamp >= earlier.timestamp
    return True


def _near(earlier: Oops, later: Oops) -> bool:
    if earlier.timestamp is not None and later.timestamp is not None:
        return 0 <= later.timestamp - earlier.timestamp <= WINDOW
    if earlier.wallclock is not None and later.wallclock is not None:
        try:
            gap = (later.wallclock - earlier.wallclock).total_seconds()
        except TypeError:  # one aware, one naive
            return False
        return -1.0 <= gap <= WINDOW + 1.0  # prefixes often carry whole seconds only
    return 0 <= later.line - earlier.line <= LINE_WINDOW
