"""Kernel oops text in the real x86_64 format of the 6.x kernels (BUG line, #PF lines, Oops line, CPU/Tainted
line, RIP, registers, Call Trace with <IRQ>/<TASK> markers, Modules linked in, CR2, end trace, panic)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from fleetfix.lab import hba
from fleetfix.lab.guest.kmod import TAINT_BITS

_HARDWARE = "Dell Inc. PowerEdge R740xd/0WRPXK, BIOS 2.19.1 06/19/2023"
_BASE_MODULES = ("xfs", "libcrc32c", "sd_mod", "t10_pi", "sg", "ahci", "libahci", "libata", "crc32c_intel")
_BASE_MODULES += ("ipmi_si", "ipmi_devintf", "ipmi_msghandler", "tg3", "dm_mod")


@dataclass(frozen=True)
class OopsContext:
    module: str
    kind: str  # "null_deref" or "use_after_free"
    release: str
    kernel_version: str
    tainted: int  # /proc/sys/kernel/tainted before the oops
    loaded: tuple[tuple[str, str], ...]  # (name, taint letters), most recently loaded first
    comm: str
    pid: int
    uptime: float
    kdump_loaded: bool


def tainted_field(value: int) -> str:
    """The kernel's print_tainted(): 'Not tainted', or 'G'/'P' then one column per flag."""
    if not value:
        return "Not tainted"
    flags = "".join(
        letter if value & (1 << bit) else " " for letter, bit in TAINT_BITS.items() if letter != "P"
    )
    return f"Tainted: {'P' if value & 1 else 'G'}{flags}"


def _regs(rng: random.Random, fault_address: int) -> list[str]:
    def q() -> str:
        return f"{rng.getrandbits(64) | 0xFFFF000000000000:016x}"

    return [
        f"RSP: 0018:ffffb1c2{rng.getrandbits(32):08x} EFLAGS: 00010246",
        f"RAX: 0000000000000000 RBX: {q()} RCX: 0000000000000000",
        f"RDX: {q()} RSI: {q()} RDI: {q()}",
        f"RBP: {q()} R08: 0000000000000001 R09: 0000000000000000",
        f"R10: {q()} R11: 0000000000000000 R12: {q()}",
        f"R13: 0000000000000000 R14: {q()} R15: 0000000000000000",
        f"FS:  0000000000000000(0000) GS:{q()}(0000) knlGS:0000000000000000",
        "CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033",
        f"CR2: {fault_address:016x} CR3: 000000{rng.getrandbits(32):08x}001 CR4: 00000000007706f0",
        "PKRU: 55555554",
    ]


def render(ctx: OopsContext, seed: int = 0) -> list[str]:
    """The oops as dmesg lines, each with its ``[ seconds.micros]`` stamp."""
    rng = random.Random(seed)
    frames = hba.hba(ctx.module).io_path
    rip, callers = frames[0], frames[1:]
    cpu = rng.randrange(0, 32)
    address = 0x10 + 8 * rng.randrange(0, 16) if ctx.kind == "null_deref" else 0xDEAD000000000122
    kdump = " Kdump: loaded" if ctx.kdump_loaded else ""
    head = []
    if ctx.kind == "null_deref":
        head = [
            f"BUG: kernel NULL pointer dereference, address: {address:016x}",
            "#PF: supervisor read access in kernel mode",
            "#PF: error_code(0x0000) - not-present page",
            "PGD 0 P4D 0 ",
            "Oops: 0000 [#1] PREEMPT SMP NOPTI",
        ]
    else:
        head = [
            "general protection fault, probably for non-canonical address 0xdead000000000122: "
            "0000 [#1] PREEMPT SMP NOPTI"
        ]
    lines = [
        *head,
        f"CPU: {cpu} PID: {ctx.pid} Comm: {ctx.comm}{kdump} {tainted_field(ctx.tainted)} {ctx.release} "
        f"{ctx.kernel_version}".rstrip(),
        f"Hardware name: {_HARDWARE}",
        f"RIP: 0010:{rip} [{ctx.module}]",
        "Code: "
        + " ".join(f"{rng.getrandbits(8):02x}" for _ in range(42))
        + " <48> 8b 40 10 "
        + " ".join(f"{rng.getrandbits(8):02x}" for _ in range(17)),
        *_regs(rng, address if ctx.kind == "null_deref" else rng.getrandbits(48)),
        "Call Trace:",
        " <IRQ>",
        " ? __die+0x23/0x70",
        " ? page_fault_oops+0x17d/0x4c0" if ctx.kind == "null_deref" else " ? die_addr+0x36/0x90",
        " ? exc_page_fault+0x7f/0x180"
        if ctx.kind == "null_deref"
        else " ? exc_general_protection+0x1ba/0x3f0",
        " ? asm_exc_page_fault+0x26/0x30"
        if ctx.kind == "null_deref"
        else " ? asm_exc_general_protection+0x26/0x30",
        f" ? {rip} [{ctx.module}]",
        *(f" {frame} [{ctx.module}]" for frame in callers),
        " __handle_irq_event_percpu+0x4a/0x180",
        " handle_irq_event+0x38/0x80",
        " handle_edge_irq+0x8b/0x230",
        " __common_interrupt+0x3e/0xb0",
        " common_interrupt+0x9f/0xc0",
        " </IRQ>",
        " <TASK>",
        " asm_common_interrupt+0x22/0x40",
        "RIP: 0033:0x7f3a2c1b8f2b",
        " </TASK>",
        "Modules linked in: "
        + " ".join(
            f"{name}({letters})" if letters else name
            for name, letters in (*ctx.loaded, *((m, "") for m in _BASE_MODULES))
        ),
        f"CR2: {address:016x}" if ctx.kind == "null_deref" else "---[ end trace 0000000000000000 ]---",
    ]
    if ctx.kind == "null_deref":
        lines.append("---[ end trace 0000000000000000 ]---")
    lines += [f"RIP: 0010:{rip} [{ctx.module}]", "Kernel panic - not syncing: Fatal exception in interrupt"]
    lines += [
        "Kernel Offset: 0x2a000000 from 0xffffffff81000000 "
        "(relocation range: 0xffffffff80000000-0xffffffffbfffffff)"
    ]
    stamped = []
    now = ctx.uptime
    for line in lines:
        stamped.append(f"[{now:12.6f}] {line}")
        now += rng.uniform(0.000001, 0.00004)
    return stamped
