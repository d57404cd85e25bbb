"""Line by line through a report: where one starts, which lines belong to it, and where it ends."""

from __future__ import annotations

from fleetfix.triage.lines import Line
from fleetfix.triage.normalize import LineNormalizer
from fleetfix.triage.oops.draft import (
    Draft,
    brace_frames,
    read_fact,
    read_modules,
    read_taint,
    read_wrapped_identity,
    to_frame,
)
from fleetfix.triage.oops.model import Oops
from fleetfix.triage.oops.patterns import (
    AFTER_END,
    BT_FRAME,
    CRASH_BT,
    CUT_HERE,
    FRAME,
    HARD_LOCKUP,
    HUNG,
    IDLE_LIMIT,
    NULL_DEREF,
    OOPS_CODE,
    PAGE_FAULT,
    PANIC,
    RCU_STALL,
    STRUCTURE,
    SUMMARY_REGISTERS,
    TAINT_CONTINUATION,
    TRACE_ENDS,
    TRACE_MARKERS,
    WATCHDOG,
)


class Scanner:
    """Feeds each line to the open ``Draft``, or opens one; returns the reports a line finishes."""

    def __init__(self, reference_year: int | None) -> None:
        self.normalizer = LineNormalizer(reference_year)
        self.draft: Draft | None = None

    def finish(self) -> list[Oops]:
        """The reports still open at the end of the input."""
        done = [oops for line, number in self.normalizer.flush() for oops in self._feed(line, number)]
        return done + self._close()

    def holds_start(self) -> bool:
        """Whether the line held back for a wrap opens a report (the next line may continue it)."""
        held = self.normalizer.pending
        return held is not None and _start_of_report(held[0].body.strip(), None) is not None

    def flush(self) -> list[Oops]:
        """Read the line held back for a wrap now: the lines after it are not read (they hold no report)."""
        held = self.normalizer.pending
        self.normalizer.pending = None
        return self._feed(held[0], held[1]) if held is not None else []

    def feed(self, raw: str, line_no: int) -> list[Oops]:
        return [
            oops for line, number in self.normalizer.feed(raw, line_no) for oops in self._feed(line, number)
        ]

    def _close(self) -> list[Oops]:
        done, self.draft = self.draft, None
        return [done.freeze()] if done and done.first_line is not None else []

    def _feed(self, line: Line, line_no: int) -> list[Oops]:
        text = line.body.strip()
        draft = self.draft
        start = _start_of_report(text, draft)
        if start is not None:
            finished = self._close()
            kind, first, crash_bt = start
            self.draft = Draft(line, line_no, kind, first, crash_bt)
            if first is not None:  # a "[ cut here ]" line says nothing more
                self._read(self.draft, line, text)
            return finished
        if draft is None:
            return []
        if self._read(draft, line, text):
            draft.idle = 0
        else:
            draft.idle += 1
            if draft.idle > IDLE_LIMIT or draft.ended:
                return self._close()
        return []

    def _read(self, d: Draft, line: Line, text: str) -> bool:
        """Take what ``text`` says into ``d``; False when the line is not part of a report."""
        if d.taint_open:
            d.taint_open = False
            if read_wrapped_identity(d, text):
                return True
            if text and TAINT_CONTINUATION.fullmatch(line.body) and not STRUCTURE.match(text):
                read_taint(d, line.body)
                return True
        if d.modules_open:
            if line.body[:1].isspace() and text and not STRUCTURE.match(text) and not FRAME.match(text):
                read_modules(d, text)
                return True
            d.modules_open = False
        if d.ended:
            panic = PANIC.match(text)
            if panic and d.panic_message is None:
                d.panic_message = panic.group(1)
                return True
            return text.startswith(AFTER_END) or _summary_line(d, text)
        if d.first_line is None:  # right after "[ cut here ]": the first descriptive line
            if not text:
                return True
            d.first_line = text
        if d.trace == "in":
            if text in TRACE_MARKERS:
                return True
            frame = BT_FRAME.match(text) if d.crash_bt else FRAME.match(text)
            if frame:
                d.frames.append(to_frame(frame, d.crash_bt))
                return True
            if ">{" in text:
                d.frames += brace_frames(text)
                return True
            if text.startswith(TRACE_ENDS) and not d.crash_bt:  # bt interleaves the exception registers
                d.trace = "done"
        if text.startswith(("Call Trace:", "Call trace:")):
            if d.trace == "before":
                d.trace = "in"
                d.frames += brace_frames(text)  # 2.6 put the first frames on this line
            return True
        if text.startswith("---[ end trace") or text.startswith("---[ end Kernel panic"):
            d.ended = True
            return True
        return read_fact(d, text) or bool(STRUCTURE.match(text))


def _summary_line(d: Draft, text: str) -> bool:
    """Whether ``text``, read after the end marker, repeats the RIP, code or registers before a panic."""
    if d.panic_message is not None:
        return False
    return text.startswith(("RIP", "EIP", "Code: ")) or SUMMARY_REGISTERS.fullmatch(text) is not None


def _start_of_report(text: str, d: Draft | None) -> tuple[str | None, str | None, bool] | None:
    """``(kind, first_line, crash_bt)`` when ``text`` opens a new report; None when it does not."""
    if not text or text[0] not in "-BkKgiWOUIPwNr":
        return None
    if CUT_HERE.fullmatch(text):
        return None, None, False
    if text.startswith("INFO: task ") and HUNG.match(text):
        return "hung_task", text, False
    if "INFO: rcu" in text[:16] and RCU_STALL.match(text):
        return "rcu_stall", text, False
    if text.startswith("PID: ") and CRASH_BT.match(text):
        return "panic", text, True
    kind = _kind_of(text)
    if kind is None:
        return None
    if d is not None and (not d.ended or kind == "panic") and _continues(d, kind, text):
        return None
    return kind, text, False


def _kind_of(text: str) -> str | None:
    if text.startswith("Oops: ") and not OOPS_CODE.match(text):
        text = text[6:]  # 6.x kernels: "Oops: general protection fault, ..."
    if text.startswith(WATCHDOG):
        if HARD_LOCKUP.match(text):
            return "hard_lockup"
        text = text.split(": ", 1)[1]
    if text.startswith("Watchdog detected hard LOCKUP"):
        return "hard_lockup"
    if text.startswith(("BUG: ", "Unable to handle kernel")):
        if "soft lockup" in text:
            return "soft_lockup"
        if any(s in text for s in NULL_DEREF):
            return "null_pointer_dereference"
        if any(s in text for s in PAGE_FAULT):
            return "page_fault"
        return "bug"
    if text.startswith("general protection fault"):
        return "general_protection_fault"
    if text.startswith(("invalid opcode: ", "illegal operation: ")):  # x86, s390
        return "invalid_opcode_bug"
    if text.startswith("kernel BUG at "):
        return "bug"
    if text.startswith("WARNING: ") and " at " in text:
        return "warning"
    if text.startswith("Kernel panic - not syncing"):
        return "panic"
    if OOPS_CODE.match(text):
        return "oops"
    return None


def _continues(d: Draft, kind: str, text: str) -> bool:
    """Whether a report-opening line belongs to the open report (``Oops:`` after ``BUG:``, and the like)."""
    if kind in ("oops", "panic"):
        if kind == "oops" and d.oops_code is None:
            d.oops_code = OOPS_CODE.match(text).group(1)  # type: ignore[union-attr]
        elif kind == "panic":
            if d.panic_message is not None:
                return not d.ended
            d.panic_message = PANIC.match(text).group(1)  # type: ignore[union-attr]
        return True
    if kind == "invalid_opcode_bug" and d.kind in ("bug", None) and d.oops_code is None:
        d.kind = d.kind or kind
        d.oops_code = text.split(": ", 1)[1].split(" SMP")[0].strip() or None
        return True
    if d.kind is None:  # after "[ cut here ]": the WARNING or BUG line names the kind
        d.kind = kind
        read_fact(d, text)
        return True
    return False
