"""The lines of a kernel report, as regular expressions and fixed strings (what ``oops_scanner`` and
``oops_draft`` read).
"""

from __future__ import annotations

import re

CUT_HERE = re.compile(r"-+\[ cut here \]-+")
WARNING = re.compile(
    r"WARNING: (?:CPU: (\d+) PID: (\d+) )?at (\S+)"
    r"(?: ([\w.$]+)\+(0x[0-9a-f]+/0x[0-9a-f]+)(?: \[([\w-]+)\])?)?"
)
KERNEL_BUG = re.compile(r"kernel BUG at (\S+?)!?$")
HUNG = re.compile(r"INFO: task (.+):(\d+) blocked for more than \d+ seconds")
RCU_STALL = re.compile(r"(?:rcu: )?INFO: rcu_\w+ (?:self-)?detected stalls? on")
HARD_LOCKUP = re.compile(r"(?:NMI watchdog: )?Watchdog detected hard LOCKUP on cpu")
WATCHDOG = ("NMI watchdog: ", "watchdog: ")  # before "BUG: soft lockup"
CRASH_BT = re.compile(r'PID: (\d+)\s+TASK: [0-9a-f]+\s+CPU: (\d+)\s+COMMAND: "(.*)"')
PANIC = re.compile(r"Kernel panic - not syncing: ?(.*)")
GPF_CODE = re.compile(r"general protection fault(?:,[^:]*)?: ([0-9a-f]{4} \[#\d+\])")
OOPS_CODE = re.compile(r"(?:Internal error: )?Oops(?: - \w+)?: (?:Oops: )?([0-9a-f]+ \[#\d+\])")
IDENTITY = re.compile(
    r"CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (.*?)(?= Kdump:| ve:| Tainted:| Not tainted|$)(.*)"
)
OLD_IDENTITY = re.compile(r"Pid: (\d+), comm: (.*?)(?= Tainted:| Not tainted|$)(.*)")
OLD_CPU = re.compile(r"CPU (\d+)\s*$")
# The faulting instruction on every architecture: x86 RIP/EIP (2.6's "<addr>{fn+off}" too), arm64 "pc :", arm
# "PC is at", powerpc "NIP [addr] .fn" (ELFv1's leading dot dropped), s390 "Krnl PSW : psw addr (fn+off)".
RIP = re.compile(
    r"(?:RIP: (?P<cs>[0-9a-f]{4}):|RIP |E?IP: |EIP is at |PC is at |pc : |NIP:? +\[[0-9a-f]+\] "
    r"|Krnl PSW : [0-9a-f]+ [0-9a-f]+ \()"
    r"(?:\[<[0-9a-f]+>\]\s*)*(?:<[0-9a-f]+>\{)?\.?(?P<fn>[\w.$]+)\+(?P<off>0x[0-9a-f]+(?:/0x[0-9a-f]+)?|\d+)\}?"
    r"(?: \[(?P<mod>[\w-]+)(?: [0-9a-f]{20,})?\])?"
)
RIP_LINES = ("RIP", "IP: ", "EIP", "pc : ", "NIP", "PC is at ", "Krnl PSW ")
USER_CS = frozenset({"0033", "0023", "e033", "e02b"})
EXCEPTION_RIP = re.compile(r"\[exception RIP: ([\w.$]+)\+((?:0x)?[0-9a-f]+)\]")
# A call-trace frame: "fn+off/len [module]" after up to two addresses (x86 "[<addr>]", powerpc "[sp] [addr]"),
# "?" or powerpc's "(unreliable)" or s390's parentheses for a guess, a build id after the module, and the
# source position that syzbot's symbolizer adds; arm64 marks the frame of the PC or LR "(P)", "(L)".
FRAME = re.compile(
    r"(?P<paren>\()?(?:\[<?[0-9a-f]+>?\]\s+){0,2}(?P<guess>\?\s+)?(?:\[<[0-9a-f]+>\]\s+)?\.?(?P<fn>[\w.$]+)"
    r"\+(?P<off>0x[0-9a-f]+(?:/0x[0-9a-f]+)?)(?:\s+\[(?P<mod>[\w-]+)(?: [0-9a-f]{20,})?\])?\)?"
    r"(?P<unreliable>\s+\(unreliable\))?(?:\s+\([A-Z]\))?(?:\s+[\w/.+-]+:\d+(?: \[inline\])?)?\s*$"
)
# 2.6-era x86_64: several frames a line, "<addr>{fn+off}" or "<addr>{:module:fn+off}".
BRACE_FRAME = re.compile(r"<[0-9a-f]+>\{(?::([\w-]+):)?([\w.$]+)\+(0x[0-9a-f]+|\d+)\}")
BT_FRAME = re.compile(r"#?\d+\s+\[[0-9a-f]+\]\s+([\w.$]+)\s+at\s+[0-9a-f]+(?:\s+\[([\w-]+)\])?\s*$")
MODULE_TOKEN = re.compile(r"([^\s()]+)(?:\(([^)]*)\))?")
LAST_UNLOADED = re.compile(r"\[last unloaded: ([^\]\s]+)\s*\]")
RELEASE = re.compile(r"\d+\.\S*")
TAINT_CONTINUATION = re.compile(r"\s*(?:(?:[A-Z]+|-+)\s+)*(?:\d+\.\S*)?\s*(?:#\S.*)?")
TRACE_ENDS = (
    "RIP: ",
    "Code: ",
    "---[ end",
    "Modules linked in:",
    "Kernel Offset:",
    "Allocated by task",
    "Freed by task",
    "RSP: ",
    "Stack:",
    "Last Breaking-Event-Address",
    "Instruction dump:",
)
TRACE_MARKERS = frozenset({"<IRQ>", "</IRQ>", "<TASK>", "</TASK>", "<NMI>", "</NMI>", "<EOI>"})
STRUCTURE = re.compile(
    r"(?:R[A-Z0-9]{1,2}: |[EC]S: |FS: |GS: |CR[02]: |DR\d: |PKRU: |ORIG_RAX: |Code: |Hardware name: "
    r"|Workqueue: |PGD |P4D |#PF: |Oops: |Stack: ?|Call Trace:|Call trace:|Process |task: |last sysfs file: "
    r"|Kernel Offset: "
    r"|\(relocation range|SMP: |\"echo 0 > |-+\[ end |\[last unloaded|[0-9a-f]{8,16}(?: [0-9a-f]{8,16})+$"
    r"|<\d> [0-9a-f]{16}|[\w/:.-]+ +[DRS] [0-9a-f]+ +\d+ +\d+ +\d+ "
    # arm64, powerpc and s390 register dumps, fault details and markers
    r"|x\d{1,2} *: |pstate: |lr : |sp : |pc : |Mem abort info:|Data abort info:|[A-Z][A-Z0-9]{1,5} = "
    r"|\w+ pgtable: |\[[0-9a-f]+\] [pP][gu][dg]|Internal error: |GPR\d\d: |MSR: |REGS: |CFAR: |SOFTE: "
    r"|NIP|LR "
    r"|CTR: |TRAP: |PACATMSCRATCH|Krnl |[0-9a-f]{8,16}: [0-9a-f]|[>#]?[0-9a-f]{8,16}: |R:\d T:\d"
    r"|Tainted: \[|Fixing recursive fault|note: |Preemption disabled at|irq event stamp|hardirqs last"
    r"|softirqs last|Exception stack|Register r\d+ information|Flags: |Control: |CPU: \d|Pid: \d)"
)
# After "---[ end trace", x86 repeats the first RIP, code and registers (an executive summary in case the
# report scrolled away) before "Kernel panic - not syncing": those lines still belong to the report.
SUMMARY_REGISTERS = re.compile(r"(?:[A-Za-z][A-Za-z0-9_]{1,7}: *[0-9a-f]+(?:[:(][0-9a-f]+\)?)*(?: +|$))+")
AFTER_END = ("Kernel Offset:", "(relocation range", "---[ end Kernel panic", "SMP: ")
IDLE_LIMIT = 12  # unrecognised lines in a row that end a report with no end marker
NULL_DEREF = ("NULL pointer dereference",)
PAGE_FAULT = (
    "unable to handle kernel paging request",
    "unable to handle page fault",
    "Unable to handle kernel paging request",
    "Unable to handle kernel data access",
    "Unable to handle kernel instruction fetch",
)
EXCEPTION_FRAMES = {
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
