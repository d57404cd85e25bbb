"""Kernel oops, panic, BUG, general protection fault, WARNING and hung-task reports found in any kernel log.

Sample input (a kdump ``vmcore-dmesg.txt``, ``dmesg``, ``/var/log/messages``, ``journalctl -k``, a netconsole
receiver's file, or the ``crash`` tool's ``bt`` output)::

    [  490.036661] BUG: unable to handle kernel NULL pointer dereference at 0000000000000000
    [  490.047027] Oops: 0000 [#1] SMP PTI
    [  490.050518] CPU: 0 PID: 7 Comm: kworker/0:1 Kdump: loaded Tainted: G   I   --------- -  - 4.18.
    [  490.072371] RIP: 0010:lpfc_sli4_cleanup_poll_list+0x20/0xb0 [lpfc]
    [  490.176123] Call Trace:
    [  490.178598]  lpfc_sli4_queue_destroy+0x7f/0x3c0 [lpfc]
    [  490.188797]  ? kernfs_activate+0x63/0x80
    [  490.251869] Modules linked in: lpfc(+) xt_CHECKSUM ipt_MASQUERADE

    >>> [o] = parse_oopses(text)
    >>> o.kind, o.rip, o.rip_module, o.implicated_module, o.taint
    ('null_pointer_dereference', 'lpfc_sli4_cleanup_poll_list', 'lpfc', 'lpfc', ('I',))

Lines may carry a syslog or journald prefix (``Jul 30 15:28:52 host kernel:``, no year: pass
``reference_year``), an ISO-8601 prefix (rsyslog, ``journalctl -o short-iso``, or the netconsole receiver's
``2026-11-25T01:12:03.123456+00:00 [  812.3] ...``), a ``[ seconds]`` stamp, or nothing:
``fleetfix.triage.lines`` splits it off. Lines of other messages interleaved inside a report are skipped. The
input may be one string or any iterable of text or bytes pieces (lines, or chunks of any size), so a 1 GB file
streams through in bounded memory: ordinary lines are skipped by a few fixed-string searches per block, and
only reports are parsed line by line. A report is found through its call trace, its panic line or its
``crash`` bt header (see ``ANCHORS``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from fleetfix.triage.lines import Line, split_prefix

# Finding reports in bulk. Every report carries an anchor: a call trace, a panic line, or the header of
# the crash tool's bt. Fixed strings found by str.find scan a large log far faster than one regular
# expression, and four anchors far faster than every marker; the text up to _LOOKBACK before an anchor is
# then searched for the marker that opened its report, and each hit is checked against the anchored rules
# below. So a report is a report because it has a trace: a lone "BUG:" line with nothing after it is not.
ANCHORS = ("Call Trace:", "Call trace:", "Kernel panic - not syncing", 'COMMAND: "')
MARKERS = (
    "cut here ]",
    "BUG: ",
    "BUG at ",
    "WARNING: ",
    "general protection fault",
    "invalid opcode: ",
    "Oops: ",
    "Kernel panic - not syncing",
    "Unable to handle kernel",
    "blocked for more than",
    'COMMAND: "',
)
_ANCHOR_BYTES = tuple(anchor.encode() for anchor in ANCHORS)
_MARKER_BYTES = tuple(marker.encode() for marker in MARKERS)
_LOOKBACK = 1 << 15  # a report's opening line comes at most this far before its anchor
_BLOCK = 1 << 20  # small pieces (lines) are gathered into blocks of this size before scanning
_CUT_HERE = re.compile(r"-+\[ cut here \]-+")
_WARNING = re.compile(r"WARNING: (?:CPU: (\d+) PID: (\d+) )?at (\S+)(?: (\S+)\+(0x[0-9a-f]+/0x[0-9a-f]+))?")
_KERNEL_BUG = re.compile(r"kernel BUG at (\S+?)!?$")
_HUNG = re.compile(r"INFO: task (.+):(\d+) blocked for more than \d+ seconds")
_CRASH_BT = re.compile(r'PID: (\d+)\s+TASK: [0-9a-f]+\s+CPU: (\d+)\s+COMMAND: "(.*)"')
_PANIC = re.compile(r"Kernel panic - not syncing: ?(.*)")
_OOPS_CODE = re.compile(r"Oops: (?:Oops: )?([0-9a-f]{4} \[#\d+\])")
_IDENTITY = re.compile(
    r"CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (.*?)(?= Kdump:| ve:| Tainted:| Not tainted|$)(.*)"
)
_OLD_IDENTITY = re.compile(r"Pid: (\d+), comm: (.*?)(?= Tainted:| Not tainted|$)(.*)")
_OLD_CPU = re.compile(r"CPU (\d+)\s*$")
_RIP = re.compile(
    r"(?:RIP: (?P<cs>[0-9a-f]{4}):|RIP |E?IP: |EIP is at |pc : |NIP \[[0-9a-f]+\] )"
    r"(?:\[<[0-9a-f]+>\]\s*)*(?P<fn>[\w.$]+)\+(?P<off>0x[0-9a-f]+(?:/0x[0-9a-f]+)?)(?: \[(?P<mod>[\w-]+)\])?"
)
_USER_CS = frozenset({"0033", "0023", "e033", "e02b"})
_EXCEPTION_RIP = re.compile(r"\[exception RIP: ([\w.$]+)\+((?:0x)?[0-9a-f]+)\]")
_FRAME = re.compile(
    r"(?:\[<[0-9a-f]+>\]\s+)?(\?\s+)?(?:\[<[0-9a-f]+>\]\s+)?([\w.$]+)\+(0x[0-9a-f]+(?:/0x[0-9a-f]+)?)"
    r"(?:\s+\[([\w-]+)\])?\s*$"
)
_BT_FRAME = re.compile(r"#?\d+\s+\[[0-9a-f]+\]\s+([\w.$]+)\s+at\s+[0-9a-f]+(?:\s+\[([\w-]+)\])?\s*$")
_MODULE_TOKEN = re.compile(r"([^\s()]+)(?:\(([^)]*)\))?")
_LAST_UNLOADED = re.compile(r"\[last unloaded: ([^\]\s]+)\s*\]")
_RELEASE = re.compile(r"\d+\.\S*")
_TAINT_CONTINUATION = re.compile(r"\s*(?:(?:[A-Z]+|-+)\s+)*(?:\d+\.\S*)?\s*(?:#\S.*)?")
_TRACE_ENDS = (
    "RIP: ",
    "Code: ",
    "---[ end",
    "Modules linked in:",
    "Kernel Offset:",
    "Allocated by task",
    "Freed by task",
    "RSP: ",
    "Stack:",
)
_TRACE_MARKERS = frozenset({"<IRQ>", "</IRQ>", "<TASK>", "</TASK>", "<NMI>", "</NMI>", "<EOI>"})
_STRUCTURE = re.compile(
    r"(?:R[A-Z0-9]{1,2}: |[EC]S: |FS: |GS: |CR[02]: |DR\d: |PKRU: |ORIG_RAX: |Code: |Hardware name: "
    r"|Workqueue: |PGD |P4D |#PF: |Oops: |Stack: ?|Call Trace:|Call trace:|Process |task: |last sysfs file: "
    r"|Kernel Offset: "
    r"|\(relocation range|SMP: |\"echo 0 > |-+\[ end |\[last unloaded|[0-9a-f]{8,16}(?: [0-9a-f]{8,16})+$"
    r"|<\d> [0-9a-f]{16}|[\w/:.-]+ +[DRS] [0-9a-f]+ +\d+ +\d+ +\d+ )"
)
# After "---[ end trace", x86 repeats the first RIP, code and registers (an executive summary in case the
# report scrolled away) before "Kernel panic - not syncing": those lines still belong to the report.
_SUMMARY_REGISTERS = re.compile(r"(?:[A-Za-z][A-Za-z0-9_]{1,7}: *[0-9a-f]+(?:[:(][0-9a-f]+\)?)*(?: +|$))+")
_AFTER_END = ("Kernel Offset:", "(relocation range", "---[ end Kernel panic", "SMP: ")
_IDLE_LIMIT = 12  # unrecognised lines in a row that end a report with no end marker
_NULL_DEREF = ("NULL pointer dereference",)
_PAGE_FAULT = (
    "unable to handle kernel paging request",
    "unable to handle page fault",
    "Unable to handle kernel paging request",
)
_EXCEPTION_FRAMES = {
    "page_fault": "page_fault",
    "exc_page_fault": "page_fault",
    "asm_exc_page_fault": "page_fault",
    "do_page_fault": "page_fault",
    "general_protection": "general_protection_fault",
    "asm_exc_general_protection": "general_protection_fault",
    "exc_general_protection": "general_protection_fault",
    "invalid_op": "invalid_opcode_bug",
    "exc_invalid_op": "invalid_opcode_bug",
    "asm_exc_invalid_op": "invalid_opcode_bug",
    "do_invalid_op": "invalid_opcode_bug",
}


@dataclass(frozen=True)
class Frame:
    """One call-trace frame. ``offset`` is ``0x1ce/0x200`` (offset/length) or ``None`` in ``crash`` bt."""

    function: str
    offset: str | None
    module: str | None
    reliable: bool


@dataclass(frozen=True)
class LinkedModule:
    """An entry of ``Modules linked in:``: ``mpt3sas(OE)`` is name ``mpt3sas``, markers ``OE``."""

    name: str
    markers: str


@dataclass(frozen=True)
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


def parse_oopses(
    log: str | bytes | Iterable[str] | Iterable[bytes], *, reference_year: int | None = None
) -> list[Oops]:
    """Every report in ``log``, in input order."""
    return list(iter_oopses(log, reference_year=reference_year))


def iter_oopses(
    log: str | bytes | Iterable[str] | Iterable[bytes], *, reference_year: int | None = None
) -> Iterator[Oops]:
    """Stream the reports of ``log``, each one once the block of input holding its end is read.

    ``log`` is text, or an iterable of text pieces all of one type: lines, or chunks of any size. Pieces
    may be ``bytes`` (decoded as UTF-8, bad bytes replaced), which spares decoding lines that hold no report.
    """
    reader = _BlockReader(_Scanner(reference_year))
    for block in _blocks(log):
        yield from reader.read(block)
    if reader.carry:  # the last line has no newline
        yield from reader.read(reader.carry[:0] + ("\n" if isinstance(reader.carry, str) else b"\n"))
    yield from reader.scanner.finish()


class _BlockReader:
    """Finds the reports in successive blocks of a log; keeps what a report may need of the last block."""

    def __init__(self, scanner: _Scanner) -> None:
        self.scanner = scanner
        self.carry: str | bytes = ""
        self.searched = 0  # in carry, the anchors were already looked for before this index
        self.line_no = 0  # lines before carry

    def read(self, block: str | bytes) -> Iterator[Oops]:
        buf = self.carry + block if self.carry else block
        text = isinstance(buf, str)
        newline, markers, anchors = (
            ("\n", MARKERS, ANCHORS) if text else (b"\n", _MARKER_BYTES, _ANCHOR_BYTES)
        )
        pos, size, cache, searched = 0, len(buf), [-2] * len(anchors), self.searched
        while pos < size:
            if self.scanner.draft is None:
                hit = _next_start(buf, pos, max(pos, searched), markers, anchors, cache, newline)
                if hit < 0:  # keep a look-back's worth of whole lines for an anchor in the next block
                    partial = buf.rfind(newline, pos) + 1 or pos
                    keep = max(pos, partial - _LOOKBACK)
                    keep = buf.find(newline, keep - 1) + 1 if keep > pos else pos
                    self.line_no += buf.count(newline, pos, keep)
                    pos, searched = keep, partial - keep
                    break
                start = buf.rfind(newline, pos, hit) + 1 or pos
                self.line_no += buf.count(newline, pos, start)
                pos = start
            end = buf.find(newline, pos)
            if end < 0:
                searched = 0
                break
            self.line_no += 1
            line = buf[pos:end]
            yield from self.scanner.feed(line if text else line.decode("utf-8", "replace"), self.line_no)
            pos = end + 1
        else:
            searched = 0
        self.carry, self.searched = buf[pos:], searched


def _blocks(log: str | bytes | Iterable[str] | Iterable[bytes]) -> Iterator:
    if isinstance(log, str | bytes):
        yield log
        return
    parts: list = []
    size = 0
    for piece in log:
        parts.append(piece)
        size += len(piece)
        if size >= _BLOCK:
            yield parts[0] if len(parts) == 1 else parts[0][:0].join(parts)
            parts, size = [], 0
    if parts:
        yield parts[0][:0].join(parts)


def _next_start(buf, pos: int, fresh: int, markers: tuple, anchors: tuple, cache: list[int], newline) -> int:
    """Where the first line that may open a report starts, looking back from the next anchor; or -1."""
    anchor = _next_marker(buf, fresh, anchors, cache)
    if anchor < 0:
        return -1
    end = buf.find(newline, anchor)
    end = len(buf) if end < 0 else end
    low, best = max(pos, anchor - _LOOKBACK), anchor
    for marker in markers:
        at = buf.find(marker, low, end)
        if 0 <= at < best:
            best = at
    return best


def _next_marker(buf, pos: int, markers: tuple, hits: list[int]) -> int:
    """Where the next of ``markers`` at or after ``pos`` starts, or -1; ``hits`` caches each one's place."""
    nearest = -1
    for index, marker in enumerate(markers):
        at = hits[index]
        if at == -2 or 0 <= at < pos:
            at = hits[index] = buf.find(marker, pos)
        if at >= 0 and (nearest < 0 or at < nearest):
            nearest = at
    return nearest


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
        *_EXCEPTION_FRAMES,
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


class _Draft:
    """A report being read; frozen into an ``Oops`` when it ends."""

    def __init__(self, line: Line, line_no: int, kind: str | None, first: str | None, crash_bt: bool) -> None:
        self.kind, self.first_line, self.line = kind, first, line_no
        self.timestamp, self.wallclock = line.seconds, line.wallclock
        self.crash_bt = crash_bt
        self.warning_site = self.oops_code = self.panic_message = self.kernel = self.comm = None
        self.hardware = self.workqueue = self.rip = self.rip_offset = self.rip_module = None
        self.taint_raw = self.last_unloaded = None
        self.cpu: int | None = None
        self.pid: int | None = None
        self.kdump_loaded = False
        self.taint: tuple[str, ...] = ()
        self.frames: list[Frame] = []
        self.modules: list[LinkedModule] = []
        self.trace = "before"  # before -> in -> done
        self.modules_open = self.taint_open = self.ended = False
        self.idle = 0

    def freeze(self) -> Oops:
        if self.crash_bt:
            self._refine_crash_bt()
        named = [f for f in self.frames if f.module and f.reliable] or [f for f in self.frames if f.module]
        implicated = self.rip_module or (named[0].module if named else None)
        return Oops(
            kind=self.kind or "warning",
            first_line=self.first_line or "",
            line=self.line,
            timestamp=self.timestamp,
            wallclock=self.wallclock,
            warning_site=self.warning_site,
            oops_code=self.oops_code,
            panic_message=self.panic_message,
            kernel=self.kernel,
            cpu=self.cpu,
            pid=self.pid,
            comm=self.comm,
            kdump_loaded=self.kdump_loaded,
            hardware=self.hardware,
            workqueue=self.workqueue,
            rip=self.rip,
            rip_offset=self.rip_offset,
            rip_module=self.rip_module,
            call_trace=tuple(self.frames),
            taint=self.taint,
            taint_raw=self.taint_raw,
            modules_linked_in=tuple(self.modules),
            last_unloaded=self.last_unloaded,
            implicated_module=implicated,
        )

    def _refine_crash_bt(self) -> None:
        """``bt`` names the exception by its handler frame, and the RIP's module only on the RIP's frame."""
        for frame in self.frames:
            if frame.function in _EXCEPTION_FRAMES:
                self.kind = _EXCEPTION_FRAMES[frame.function]
        if self.rip and self.rip_module is None:
            self.rip_module = next(
                (f.module for f in self.frames if f.function == self.rip and f.module), None
            )


class _Scanner:
    def __init__(self, reference_year: int | None) -> None:
        self.reference_year = reference_year
        self.draft: _Draft | None = None

    def finish(self) -> list[Oops]:
        done, self.draft = self.draft, None
        return [done.freeze()] if done and done.first_line is not None else []

    def feed(self, raw: str, line_no: int) -> list[Oops]:
        line = split_prefix(raw.rstrip("\r\n"), self.reference_year)
        text = line.body.strip()
        draft = self.draft
        start = _start_of_report(text, draft)
        if start is not None:
            finished = self.finish()
            kind, first, crash_bt = start
            self.draft = _Draft(line, line_no, kind, first, crash_bt)
            if first is not None:  # a "[ cut here ]" line says nothing more
                self._read(self.draft, line, text)
            return finished
        if draft is None:
            return []
        if self._read(draft, line, text):
            draft.idle = 0
        else:
            draft.idle += 1
            if draft.idle > _IDLE_LIMIT or draft.ended:
                return self.finish()
        return []

    def _read(self, d: _Draft, line: Line, text: str) -> bool:
        """Take what ``text`` says into ``d``; False when the line is not part of a report."""
        if d.taint_open:
            d.taint_open = False
            if text and _TAINT_CONTINUATION.fullmatch(line.body) and not _STRUCTURE.match(text):
                _read_taint(d, line.body)
                return True
        if d.modules_open:
            if line.body[:1].isspace() and text and not _STRUCTURE.match(text) and not _FRAME.match(text):
                _read_modules(d, text)
                return True
            d.modules_open = False
        if d.ended:
            panic = _PANIC.match(text)
            if panic and d.panic_message is None:
                d.panic_message = panic.group(1)
                return True
            return text.startswith(_AFTER_END) or _summary_line(d, text)
        if d.first_line is None:  # right after "[ cut here ]": the first descriptive line
            if not text:
                return True
            d.first_line = text
        if d.trace == "in":
            if text in _TRACE_MARKERS:
                return True
            frame = _BT_FRAME.match(text) if d.crash_bt else _FRAME.match(text)
            if frame:
                d.frames.append(_frame(frame, d.crash_bt))
                return True
            if text.startswith(_TRACE_ENDS) and not d.crash_bt:  # bt interleaves the exception registers
                d.trace = "done"
        if text.startswith(("Call Trace:", "Call trace:")):
            if d.trace == "before":
                d.trace = "in"
            return True
        if text.startswith("---[ end trace") or text.startswith("---[ end Kernel panic"):
            d.ended = True
            return True
        return _read_fact(d, text) or bool(_STRUCTURE.match(text))


def _summary_line(d: _Draft, text: str) -> bool:
    """Whether ``text``, read after the end marker, repeats the RIP, code or registers before a panic."""
    if d.panic_message is not None:
        return False
    return text.startswith(("RIP", "EIP", "Code: ")) or _SUMMARY_REGISTERS.fullmatch(text) is not None


def _start_of_report(text: str, d: _Draft | None) -> tuple[str | None, str | None, bool] | None:
    """``(kind, first_line, crash_bt)`` when ``text`` opens a new report; None when it does not."""
    if not text or text[0] not in "-BkKgiWOUIPw":
        return None
    if _CUT_HERE.fullmatch(text):
        return None, None, False
    if text.startswith("INFO: task ") and _HUNG.match(text):
        return "hung_task", text, False
    if text.startswith("PID: ") and _CRASH_BT.match(text):
        return "panic", text, True
    kind = _kind_of(text)
    if kind is None:
        return None
    if d is not None and (not d.ended or kind == "panic") and _continues(d, kind, text):
        return None
    return kind, text, False


def _kind_of(text: str) -> str | None:
    if text.startswith("Oops: ") and not _OOPS_CODE.match(text):
        text = text[6:]  # 6.x kernels: "Oops: general protection fault, ..."
    if text.startswith(("BUG: ", "watchdog: BUG: ", "Unable to handle kernel")):
        if "soft lockup" in text:
            return "soft_lockup"
        if any(s in text for s in _NULL_DEREF):
            return "null_pointer_dereference"
        if any(s in text for s in _PAGE_FAULT):
            return "page_fault"
        return "bug"
    if text.startswith("general protection fault"):
        return "general_protection_fault"
    if text.startswith("invalid opcode: "):
        return "invalid_opcode_bug"
    if text.startswith("kernel BUG at "):
        return "bug"
    if text.startswith("WARNING: ") and " at " in text:
        return "warning"
    if text.startswith("Kernel panic - not syncing"):
        return "panic"
    if _OOPS_CODE.match(text):
        return "oops"
    return None


def _continues(d: _Draft, kind: str, text: str) -> bool:
    """Whether a report-opening line belongs to the open report (``Oops:`` after ``BUG:``, and the like)."""
    if kind in ("oops", "panic"):
        if kind == "oops" and d.oops_code is None:
            d.oops_code = _OOPS_CODE.match(text).group(1)  # type: ignore[union-attr]
        elif kind == "panic":
            if d.panic_message is not None:
                return not d.ended
            d.panic_message = _PANIC.match(text).group(1)  # type: ignore[union-attr]
        return True
    if kind == "invalid_opcode_bug" and d.kind in ("bug", None) and d.oops_code is None:
        d.kind = d.kind or kind
        d.oops_code = text[len("invalid opcode: ") :].split(" SMP")[0].strip() or None
        return True
    if d.kind is None:  # after "[ cut here ]": the WARNING or BUG line names the kind
        d.kind = kind
        _read_fact(d, text)
        return True
    return False


def _read_fact(d: _Draft, text: str) -> bool:
    if text.startswith("WARNING: "):
        warning = _WARNING.match(text)
        if warning is None:
            return False
        if d.cpu is None and warning.group(1):
            d.cpu, d.pid = int(warning.group(1)), int(warning.group(2))
        d.warning_site = d.warning_site or warning.group(3).rstrip(":")
        return True
    if text.startswith("kernel BUG at "):
        d.warning_site = d.warning_site or _KERNEL_BUG.match(text).group(1)  # type: ignore[union-attr]
        d.kind = "bug"
        return True
    if text.startswith(("CPU: ", "Pid: ")):
        return _read_identity(d, text)
    if text.startswith("CPU ") and _OLD_CPU.match(text):
        d.cpu = d.cpu if d.cpu is not None else int(_OLD_CPU.match(text).group(1))  # type: ignore[union-attr]
        return True
    if text.startswith("Modules linked in:"):
        d.modules_open = True
        _read_modules(d, text[len("Modules linked in:") :])
        return True
    if text.startswith("[last unloaded:"):
        _read_modules(d, text)
        return True
    if text.startswith("Hardware name: "):
        d.hardware = text[len("Hardware name: ") :]
        return True
    if text.startswith("Workqueue: "):
        d.workqueue = text[len("Workqueue: ") :]
        return True
    if text.startswith("[exception RIP: "):
        rip = _EXCEPTION_RIP.match(text)
        if rip and d.rip is None:
            offset = rip.group(2)
            d.rip, d.rip_offset = rip.group(1), offset if offset.startswith("0x") else hex(int(offset))
        return True
    if text.startswith(("RIP", "IP: ", "EIP", "pc : ", "NIP ")):
        rip = _RIP.match(text)
        if rip is None:
            return text.startswith("RIP")
        if rip.group("cs") not in _USER_CS and d.rip is None:
            d.rip, d.rip_offset, d.rip_module = rip.group("fn"), rip.group("off"), rip.group("mod")
        return True
    if text.startswith("INFO: task "):
        hung = _HUNG.match(text)
        if hung:
            d.comm, d.pid = hung.group(1), int(hung.group(2))
        return hung is not None
    if text.startswith("PID: "):
        bt = _CRASH_BT.match(text)
        if bt:
            d.pid, d.cpu, d.comm = int(bt.group(1)), int(bt.group(2)), bt.group(3)
            d.trace = "in"
        return bt is not None
    return False


def _read_identity(d: _Draft, text: str) -> bool:
    new = _IDENTITY.match(text)
    if new:
        d.cpu, d.pid, d.comm, rest = int(new.group(1)), int(new.group(2)), new.group(3), new.group(4)
    else:
        old = _OLD_IDENTITY.match(text)
        if old is None:
            return False
        d.pid, d.comm, rest = int(old.group(1)), old.group(2), old.group(3)
    if " Kdump: loaded" in rest:
        d.kdump_loaded = True
    if " Not tainted" in rest:
        d.taint_raw = "Not tainted"
        release = _RELEASE.search(rest.split("Not tainted", 1)[1])
        d.kernel = release.group(0) if release else None
        d.taint_open = d.kernel is None
    elif " Tainted:" in rest:
        d.taint_raw = ""
        _read_taint(d, rest.split("Tainted:", 1)[1])
    return True


def _read_taint(d: _Draft, field: str) -> None:
    """Taint flags, an optional RHEL ``--------- -  -`` marker, then the release; may wrap to a new line."""
    release = re.search(r"(?<!\S)\d+\.\S*", field)
    flags = field[: release.start()] if release else field.split("#", 1)[0]
    if release:
        d.kernel = release.group(0)
    if d.taint_raw != "Not tainted":
        d.taint_raw = " ".join(filter(None, [d.taint_raw, flags.strip()])) if flags.strip() else d.taint_raw
        letters = [c for token in flags.split() if token.isalpha() and token.isupper() for c in token]
        d.taint = (*d.taint, *(c for c in letters if c != "G"))
    d.taint_open = release is None and "#" not in field


def _read_modules(d: _Draft, text: str) -> None:
    unloaded = _LAST_UNLOADED.search(text)
    if unloaded:  # the kernel prints it last: the list is complete
        d.last_unloaded = unloaded.group(1)
        d.modules_open = False
        text = text[: unloaded.start()]
    for token in text.split():
        entry = _MODULE_TOKEN.fullmatch(token)
        if entry:
            d.modules.append(LinkedModule(entry.group(1), entry.group(2) or ""))


def _frame(match: re.Match[str], crash_bt: bool) -> Frame:
    if crash_bt:
        return Frame(match.group(1), None, match.group(2), True)
    return Frame(match.group(2), match.group(3), match.group(4), match.group(1) is None)
