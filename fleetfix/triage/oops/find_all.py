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

Lines may come in any shape a fleet's logs take (syslog, journald including ``-o json``, ``dmesg -T``,
netconsole, mail quoting and quoted-printable, rsyslog's ``#012``, lines a mailer or console wrapped):
``fleetfix.triage.normalize`` and ``fleetfix.triage.lines`` put each back into the kernel's own text, with the
times its prefix carried (a syslog prefix has no year: pass ``reference_year``). Lines of other messages
interleaved inside a report are skipped. The input may be one string or any iterable of text or bytes pieces
(lines, or chunks of any size), so a 1 GB file streams through in bounded memory: ordinary lines are skipped
by a few fixed-string searches per block, and only reports are parsed line by line. A report is found through
an anchor: its call trace, its panic line, its ``crash`` bt header, or an RCU stall's first line (see
``ANCHORS``). These are reports, one per kernel report; ``fleetfix.triage.cascade`` folds the reports one
fault leaves into one crash.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fleetfix.triage.oops.model import Frame, LinkedModule, Oops
from fleetfix.triage.oops.scanner import Scanner
from fleetfix.triage.oops.search import ANCHORS, MARKERS, BlockReader, blocks
from fleetfix.triage.oops.signature import signature

__all__ = ["ANCHORS", "MARKERS", "Frame", "LinkedModule", "Oops", "iter_oopses", "parse_oopses", "signature"]


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
    reader = BlockReader(Scanner(reference_year))
    for block in blocks(log):
        yield from reader.read(block)
    if reader.carry:  # the last line has no newline
        yield from reader.read(reader.carry[:0] + ("\n" if isinstance(reader.carry, str) else b"\n"))
    yield from reader.scanner.finish()
