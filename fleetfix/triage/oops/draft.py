"""A report being read: the facts each kind of line adds to it, and the ``Oops`` it freezes into."""

from __future__ import annotations

import re

from fleetfix.triage.lines import Line
from fleetfix.triage.oops.model import Frame, LinkedModule, Oops
from fleetfix.triage.oops.patterns import (
    BRACE_FRAME,
    CRASH_BT,
    EXCEPTION_FRAMES,
    EXCEPTION_RIP,
    GPF_CODE,
    HUNG,
    IDENTITY,
    KERNEL_BUG,
    LAST_UNLOADED,
    MODULE_TOKEN,
    OLD_CPU,
    OLD_IDENTITY,
    RELEASE,
    RIP,
    RIP_LINES,
    USER_CS,
    WARNING,
)


class Draft:
    """A report being read; frozen into an ``Oops`` when it ends."""

    def __init__(self, line: Line, line_no: int, kind: str | None, first: str | None, crash_bt: bool) -> None:
        self.kind, self.first_line, self.line = kind, first, line_no
        self.timestamp, self.wallclock = line.seconds, line.wallclock
        self.crash_bt = crash_bt
        self.warning_site = self.oops_code = self.panic_message = self.kernel = self.comm = None
        self.hardware = self.workqueue = self.rip = self.rip_offset = self.rip_module = None
        self.taint_raw = self.last_unloaded = None
        self.warned_at: tuple[str, str, str | None] | None = (
            None  # the WARNING line's function, offset, module
        )
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
        if self.rip is None and self.warned_at is not None:  # old WARNINGs print no RIP line
            self.rip, self.rip_offset, self.rip_module = self.warned_at
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
            if frame.function in EXCEPTION_FRAMES:
                self.kind = EXCEPTION_FRAMES[frame.function]
        if self.rip and self.rip_module is None:
            self.rip_module = next(
                (f.module for f in self.frames if f.function == self.rip and f.module), None
            )


def read_fact(d: Draft, text: str) -> bool:
    if text.startswith("WARNING: "):
        warning = WARNING.match(text)
        if warning is None:
            return False
        if d.cpu is None and warning.group(1):
            d.cpu, d.pid = int(warning.group(1)), int(warning.group(2))
        d.warning_site = d.warning_site or warning.group(3).rstrip(":")
        if warning.group(4) and d.warned_at is None:
            d.warned_at = (warning.group(4), warning.group(5), warning.group(6))
        return True
    if text.startswith("general protection fault"):
        code = GPF_CODE.match(text)
        d.oops_code = d.oops_code or (code.group(1) if code else None)
        return True
    if text.startswith("kernel BUG at "):
        d.warning_site = d.warning_site or KERNEL_BUG.match(text).group(1)  # type: ignore[union-attr]
        d.kind = "bug"
        return True
    if text.startswith(("CPU: ", "Pid: ")):
        return _read_identity(d, text)
    if text.startswith("CPU ") and OLD_CPU.match(text):
        d.cpu = d.cpu if d.cpu is not None else int(OLD_CPU.match(text).group(1))  # type: ignore[union-attr]
        return True
    if text.startswith("Modules linked in:"):
        d.modules_open = True
        read_modules(d, text[len("Modules linked in:") :])
        return True
    if text.startswith("[last unloaded:"):
        read_modules(d, text)
        return True
    if text.startswith("Hardware name: "):
        d.hardware = text[len("Hardware name: ") :]
        return True
    if text.startswith("Workqueue: "):
        d.workqueue = text[len("Workqueue: ") :]
        return True
    if text.startswith("[exception RIP: "):
        rip = EXCEPTION_RIP.match(text)
        if rip and d.rip is None:
            offset = rip.group(2)
            d.rip, d.rip_offset = rip.group(1), offset if offset.startswith("0x") else hex(int(offset))
        return True
    if text.startswith(RIP_LINES):
        rip = RIP.match(text)
        if rip is None:
            return text.startswith(("RIP", "NIP"))
        if rip.group("cs") not in USER_CS and d.rip is None:
            d.rip, d.rip_offset, d.rip_module = rip.group("fn"), rip.group("off"), rip.group("mod")
        return True
    if text.startswith("INFO: task "):
        hung = HUNG.match(text)
        if hung:
            d.comm, d.pid = hung.group(1), int(hung.group(2))
        return hung is not None
    if text.startswith("PID: "):
        bt = CRASH_BT.match(text)
        if bt:
            d.pid, d.cpu, d.comm = int(bt.group(1)), int(bt.group(2)), bt.group(3)
            d.trace = "in"
        return bt is not None
    return False


def _read_identity(d: Draft, text: str) -> bool:
    new = IDENTITY.match(text)
    if new:
        d.cpu, d.pid, d.comm, rest = int(new.group(1)), int(new.group(2)), new.group(3), new.group(4)
    else:
        old = OLD_IDENTITY.match(text)
        if old is None:
            return False
        d.pid, d.comm, rest = int(old.group(1)), old.group(2), old.group(3)
    if " Kdump: loaded" in rest:
        d.kdump_loaded = True
    if " Not tainted" in rest:
        d.taint_raw = "Not tainted"
        release = RELEASE.search(rest.split("Not tainted", 1)[1])
        d.kernel = release.group(0) if release else None
        d.taint_open = d.kernel is None
    elif " Tainted:" in rest:
        d.taint_raw = ""
        read_taint(d, rest.split("Tainted:", 1)[1])
    else:  # wrapped: "Not tainted ..." or "Tainted: ..." opens the next line
        d.taint_open = True
    return True


def read_wrapped_identity(d: Draft, text: str) -> bool:
    """The taint and release of an identity line a mailer or console wrapped after ``Comm:``."""
    if text.startswith("Not tainted"):
        d.taint_raw = "Not tainted"
        release = RELEASE.search(text[len("Not tainted") :])
        d.kernel = release.group(0) if release else None
        return True
    if text.startswith("Tainted:") and d.taint_raw is None:
        d.taint_raw = ""
        read_taint(d, text[len("Tainted:") :])
        return True
    return False


def read_taint(d: Draft, field: str) -> None:
    """Taint flags, an optional RHEL ``--------- -  -`` marker, then the release; may wrap to a new line."""
    release = re.search(r"(?<!\S)\d+\.\S*", field)
    flags = field[: release.start()] if release else field.split("#", 1)[0]
    if release:
        d.kernel = release.group(0)
    if d.taint_raw != "Not tainted":
        d.taint_raw = " ".join(filter(None, [d.taint_raw, flags.strip()])) if flags.strip() else d.taint_raw
        # "O--------------" (an s390 RHEL build marker run into the last flag) still says O
        letters = [c for token in flags.split() for c in re.match(r"[A-Z]*", token).group(0)]  # type: ignore[union-attr]
        d.taint = (*d.taint, *(c for c in letters if c != "G"))
    d.taint_open = release is None and "#" not in field


def read_modules(d: Draft, text: str) -> None:
    unloaded = LAST_UNLOADED.search(text)
    if unloaded:  # the kernel prints it last: the list is complete
        d.last_unloaded = unloaded.group(1)
        d.modules_open = False
        text = text[: unloaded.start()]
    for token in text.split():
        entry = MODULE_TOKEN.fullmatch(token)
        if entry:
            d.modules.append(LinkedModule(entry.group(1), entry.group(2) or ""))


def to_frame(match: re.Match[str], crash_bt: bool) -> Frame:
    if crash_bt:
        return Frame(match.group(1), None, match.group(2), True)
    guessed = match.group("guess") or match.group("unreliable") or match.group("paren")
    return Frame(match.group("fn"), match.group("off"), match.group("mod"), not guessed)


def brace_frames(text: str) -> list[Frame]:
    """2.6-era x86_64 frames, several a line: ``<ffffffff80162597>{free_pages_and_swap_cache+116}``."""
    return [
        Frame(fn, offset if offset.startswith("0x") else hex(int(offset)), module, True)
        for module, fn, offset in BRACE_FRAME.findall(text)
    ]
