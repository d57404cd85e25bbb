"""The netconsole receiver: one log file per sending host, fault lines flagged into ``events.jsonl``.

Each written line is ``<receive time, ISO-8601 UTC> <kernel line>``: the netconsole receiver prefix that
``fleetfix.triage.lines.split_prefix`` strips. Extended netconsole records
(``[release,]<level>,<seq>,<timestamp_us>,<flags>[,ncfrag=<offset>/<total>];<text>``, kernel
Documentation/networking/netconsole.rst) are reassembled from their fragments and written dmesg-style as
``[seconds.micros] text``; their dictionary lines (userdata such as ``taskname=``) are not logged. Plain
netconsole lines may be split across datagrams, so each source keeps its unfinished line.

Memory is bounded: datagrams are cut at ``max_datagram`` bytes, unfinished lines at ``max_line``, pending
fragmented records per source at ``max_pending`` and their size at ``max_message``, and only ``max_sources``
sources keep state and an open file (least recently heard is closed first). With the defaults that is about
70 MiB at most, whatever arrives; a kernel record is about 1 KiB of text plus a few KiB of userdata, well
under ``max_message``. Text is escaped reversibly (``fleetfix.listen.text.escape``): no content can split
or forge a log line, move a terminal's cursor or reorder what a reader sees (bidi controls).

Disk is bounded too: a sender's log is rotated to ``<log>.1`` (the previous ``.1`` is deleted) when it
reaches ``max_log_bytes``, as is ``events.jsonl`` at ``max_events_bytes``; what rotation deletes is counted
(``ListenStats.rotated_bytes``). A storm of fault lines costs no more than other lines: flagged lines are
written to ``events.jsonl`` in one write per batch of datagrams, and alerts reach ``on_event`` through a
bounded queue served by a thread of their own, at most ``alerts_per_second`` per sender; the rest are folded
into one "folded" event per sender and second that counts them.
"""

from __future__ import annotations

import contextlib
import os
import queue
import selectors
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from fleetfix.errors import EnvironmentProblem, FleetfixError
from fleetfix.listen.records import EXTENDED, FRAGMENT, Record, assemble
from fleetfix.listen.text import EVENTS_FILE, ListenEvent, ListenStats, escape, log_name
from fleetfix.listen.udp import bind_socket
from fleetfix.soak.verdict import kernel_fault_kind


class _Source:
    __slots__ = (
        "address",
        "alert_second",
        "alerts",
        "file",
        "folded",
        "log",
        "partial",
        "partial_since",
        "records",
        "written",
    )

    def __init__(self, address: str, log: str, file: TextIO, written: int) -> None:
        self.address, self.log, self.file, self.written = address, log, file, written
        self.partial = b""
        self.partial_since = 0.0
        self.records: OrderedDict[bytes, Record] = OrderedDict()
        self.alert_second, self.alerts, self.folded = -1, 0, 0


class Listener:
    """A UDP netconsole receiver, bound at construction; ``serve_forever()`` runs until ``stop()``.

    ``port`` 0 binds any free port (see ``address``). ``on_event`` is called for each flagged line, in the
    thread running ``serve_forever``, which closes the listener when it returns.
    """

    def __init__(
        self,
        bind: str,
        port: int,
        dir: Path,
        on_event: Callable[[ListenEvent], None] | None = None,
        *,
        max_datagram: int = 8192,
        max_line: int = 8192,
        max_message: int = 16384,
        max_pending: int = 8,
        max_sources: int = 256,
        receive_buffer: int = 32 * 1024 * 1024,
        idle_flush: float = 1.0,
        max_log_bytes: int = 256 * 1024 * 1024,
        max_events_bytes: int = 64 * 1024 * 1024,
        alerts_per_second: int = 5,
        alert_queue: int = 1024,
    ) -> None:
        self.dir, self.on_event = Path(dir), on_event
        self.max_datagram, self.max_line, self.max_message = max_datagram, max_line, max_message
        self.max_pending, self.max_sources, self.idle_flush = max_pending, max_sources, idle_flush
        self.max_log_bytes, self.max_events_bytes = max_log_bytes, max_events_bytes
        self.alerts_per_second = alerts_per_second
        self.stats = ListenStats()
        self._sources: OrderedDict[tuple[str, int], _Source] = OrderedDict()
        self._stopping = threading.Event()
        self._stamp_second, self._stamp_text = -1, ""
        self._prepare_dir()
        self._events, self._events_written = _append(self.dir / EVENTS_FILE)
        self._pending_events: list[str] = []
        self._alerts: queue.Queue[ListenEvent | None] = queue.Queue(maxsize=alert_queue)
        self._alerter = threading.Thread(target=self._deliver_alerts, name="listen alerts", daemon=True)
        self._alerter.start()
        try:
            self._sock = bind_socket(bind, port, receive_buffer)
        except FleetfixError:
            self._events.close()
            self._alerts.put(None)
            raise
        self._wake_read, self._wake_write = socket.socketpair()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return host, port

    @property
    def open_sources(self) -> int:
        """Senders with state kept and a log file open (at most ``max_sources``)."""
        return len(self._sources)

    @property
    def receive_buffer(self) -> int:
        return self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    def serve_forever(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._sock, selectors.EVENT_READ)
        selector.register(self._wake_read, selectors.EVENT_READ)
        interval = self.idle_flush / 2
        next_sweep = time.monotonic() + interval
        try:
            while not self._stopping.is_set():
                if any(key.fileobj is self._sock for key, _ in selector.select(timeout=interval)):
                    self._drain()
                if (
                    time.monotonic() >= next_sweep
                ):  # not per wake-up: under a flood that is thousands a second
                    self._flush_idle(time.time())
                    self.stats.dropped = self.kernel_drops()
                    next_sweep = time.monotonic() + interval
        finally:
            selector.close()
            self.close()

    def stop(self) -> None:
        """Ask ``serve_forever`` to return; safe from another thread or a signal handler."""
        self._stopping.set()
        with contextlib.suppress(OSError):  # already closed: the loop has ended
            self._wake_write.send(b"\0")

    def close(self) -> None:
        """Write out every unfinished line and record, close the files and the socket."""
        if self._sock.fileno() == -1:
            return
        self.stats.dropped = self.kernel_drops()
        while self._sources:
            self._retire(self._sources.popitem(last=False)[1], time.time())
        self._write_events()
        self._events.close()
        self._alerts.put(None)  # after every alert queued: the thread delivers them, then ends
        self._alerter.join(timeout=10)
        for sock in (self._sock, self._wake_read, self._wake_write):
            sock.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def kernel_drops(self) -> int:
        """Datagrams dropped for this socket (the ``drops`` column of /proc/net/udp[6])."""
        inode = str(os.fstat(self._sock.fileno()).st_ino)
        for table in ("/proc/net/udp", "/proc/net/udp6"):
            try:
                with open(table, encoding="ascii") as handle:
                    for row in handle:
                        fields = row.split()
                        if len(fields) > 9 and fields[9] == inode:
                            return int(fields[-1])
            except OSError:
                continue
        return self.stats.dropped

    # --- receiving ---------------------------------------------------------------------------------------

    def _drain(self, batch: int = 2048) -> None:
        """Read what is queued (at most ``batch`` datagrams, so idle flushing still happens under a flood)."""
        limit = self.max_datagram
        stats = self.stats
        for _ in range(batch):
            try:
                data, address = self._sock.recvfrom(limit + 1)
            except (BlockingIOError, InterruptedError):
                break
            if len(data) > limit:
                stats.truncated += 1
                data = data[:limit]
            self._datagram(self._source(address), data, time.time())
            stats.received += 1  # counted once handled, so a reader of the counters sees its effects
            stats.bytes += len(data)
        for source in self._sources.values():
            source.file.flush()
        self._write_events()

    def _datagram(self, source: _Source, data: bytes, now: float) -> None:
        header = EXTENDED.match(data)
        if header is None:
            self._plain(source, data, now)
            return
        micros = int(header[3])
        stamp = b"[%5d.%06d] " % divmod(micros, 1_000_000)
        body = data[header.end() :]
        fragment = FRAGMENT.search(header[4])
        if fragment is None:
            self._write(source, stamp + body.split(b"\n", 1)[0], now)
            return
        offset, total = int(fragment[1]), int(fragment[2])
        if total > self.max_message or offset + len(body) > total or not body:
            self.stats.discarded += 1
            return
        key = header[2] + b"/" + fragment[2]  # sequence number and size: one record
        record = source.records.get(key)
        if record is None:
            record = source.records[key] = Record(stamp, total, now, {})
            if len(source.records) > self.max_pending:
                self._write_record(source, source.records.popitem(last=False)[1], now)
        held = record.held - len(record.pieces.get(offset, b"")) + len(body)
        if held > 2 * total:
            self.stats.discarded += 1
            return
        record.pieces[offset], record.held = body, held
        whole = assemble(record)
        if whole is not None:
            del source.records[key]
            self._write(source, record.stamp + whole.split(b"\n", 1)[0], now)

    def _plain(self, source: _Source, data: bytes, now: float) -> None:
        if not source.partial:
            source.partial_since = now
        *lines, partial = (source.partial + data).split(b"\n")
        for line in lines:
            self._write(source, line.rstrip(b"\r"), now)
        if len(partial) > self.max_line:
            self._write(source, partial, now)
            partial = b""
        source.partial = partial

    def _write_record(self, source: _Source, record: Record, now: float) -> None:
        """A record whose fragments did not all arrive: what came, in order, marked incomplete."""
        self.stats.incomplete += 1
        known = b" [...] ".join(record.pieces[offset] for offset in sorted(record.pieces))
        self._write(source, record.stamp + known.split(b"\n", 1)[0] + b" [netconsole: incomplete]", now)

    def _write(self, source: _Source, raw: bytes, now: float) -> None:
        line = escape(raw)
        stamp = self._stamp(now)
        text = f"{stamp} {line}\n"
        if source.written + len(text) > self.max_log_bytes:
            self._rotate_log(source)
        source.file.write(text)
        source.written += len(text)
        self.stats.lines += 1
        kind = kernel_fault_kind(line)
        if kind is not None:
            event = ListenEvent(stamp, source.address, line, kind, source.log)
            self._pending_events.append(event.to_json())
            self.stats.events += 1
            self._alert(source, event, now)

    # --- alerts and events.jsonl -------------------------------------------------------------------------

    def _alert(self, source: _Source, event: ListenEvent, now: float) -> None:
        """At most ``alerts_per_second`` alerts per sender; the rest are counted, then told as one."""
        second = int(now)
        if second != source.alert_second:
            self._tell_folded(source, event.time)
            source.alert_second, source.alerts = second, 0
        if source.alerts >= self.alerts_per_second:
            source.folded += 1
            return
        source.alerts += 1
        self._queue_alert(event)

    def _tell_folded(self, source: _Source, stamp: str) -> None:
        if source.folded:
            line = f"{source.folded} more fault lines from {source.address} folded (see {source.log})"
            self._queue_alert(ListenEvent(stamp, source.address, line, "folded", source.log))
            self.stats.folded += source.folded
            source.folded = 0

    def _queue_alert(self, event: ListenEvent) -> None:
        if self.on_event is None:
            return
        try:
            self._alerts.put_nowait(event)
        except queue.Full:  # the terminal is slower than the senders: the line is in events.jsonl anyway
            self.stats.folded += 1

    def _deliver_alerts(self) -> None:
        while (event := self._alerts.get()) is not None:
            if self.on_event is not None:
                with contextlib.suppress(Exception):  # a broken terminal must not stop the receiver
                    self.on_event(event)

    def _write_events(self) -> None:
        if not self._pending_events:
            return
        text = "\n".join(self._pending_events) + "\n"
        self._pending_events.clear()
        if self._events_written + len(text) > self.max_events_bytes:
            self._events.close()
            self.stats.rotated_bytes += _rotate(self.dir / EVENTS_FILE)
            self._events, self._events_written = _append(self.dir / EVENTS_FILE)
        self._events.write(text)
        self._events.flush()
        self._events_written += len(text)

    def _rotate_log(self, source: _Source) -> None:
        source.file.close()
        self.stats.rotated_bytes += _rotate(self.dir / source.log)
        source.file, source.written = _append(self.dir / source.log)

    def _stamp(self, now: float) -> str:
        second = int(now)
        if second != self._stamp_second:
            self._stamp_second = second
            self._stamp_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._stamp_text}.{int((now - second) * 1_000_000):06d}+00:00"

    # --- per-source state ----------------------------------------------------------------------------------

    def _source(self, address: tuple[str, int]) -> _Source:
        key = (address[0], address[1])
        source = self._sources.get(key)
        if source is not None:
            self._sources.move_to_end(key)
            return source
        if len(self._sources) >= self.max_sources:
            self._retire(self._sources.popitem(last=False)[1], time.time())
        log = log_name(*key)
        source = self._sources[key] = _Source(f"{key[0]}:{key[1]}", log, *_append(self.dir / log))
        return source

    def _flush_idle(self, now: float) -> None:
        """Write lines left unfinished and records left incomplete for longer than ``idle_flush`` seconds."""
        for source in self._sources.values():
            if source.partial and now - source.partial_since >= self.idle_flush:
                self._write(source, source.partial, now)
                source.partial = b""
            while (
                source.records and now - next(iter(source.records.values())).first_seen >= self.idle_flush * 5
            ):
                self._write_record(source, source.records.popitem(last=False)[1], now)
            if source.folded and int(now) != source.alert_second:
                self._tell_folded(source, self._stamp(now))
            source.file.flush()
        self._write_events()

    def _retire(self, source: _Source, now: float) -> None:
        if source.partial:
            self._write(source, source.partial, now)
        while source.records:
            self._write_record(source, source.records.popitem(last=False)[1], now)
        self._tell_folded(source, self._stamp(now))
        source.file.close()

    def _prepare_dir(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EnvironmentProblem(f"{self.dir}: cannot create the log directory: {exc.strerror}") from None
        if not os.access(self.dir, os.W_OK | os.X_OK):
            raise EnvironmentProblem(f"{self.dir}: the log directory is not writable")


def _append(path: Path) -> tuple[TextIO, int]:
    """The file opened for appending, and its size so far (it counts against the disk cap)."""
    try:
        handle = path.open("a", encoding="utf-8", buffering=16384)
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot write: {exc.strerror or exc}") from None
    return handle, handle.tell()


def _rotate(path: Path) -> int:
    """``path`` becomes ``path.1``; returns the size of the ``.1`` that made room for it (now deleted)."""
    older = path.with_name(path.name + ".1")
    try:
        deleted = older.stat().st_size
    except OSError:
        deleted = 0
    try:
        path.replace(older)
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot rotate: {exc.strerror or exc}") from None
    return deleted
