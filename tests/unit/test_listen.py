"""The netconsole receiver, fed real UDP datagrams over 127.0.0.1."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetfix.errors import EnvironmentProblem, InputError
from fleetfix.listen.receiver import Listener
from fleetfix.listen.text import ListenEvent, escape, log_name, unescape
from tests.support import REPO

STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 (.*)$")


class Running:
    """A listener serving in a thread, and a way to send it datagrams from chosen client sockets."""

    def __init__(self, directory: Path, **limits: object) -> None:
        self.events: list[ListenEvent] = []
        self.listener = Listener("127.0.0.1", 0, directory, self.events.append, **limits)  # type: ignore[arg-type]
        self.directory = directory
        self.thread = threading.Thread(target=self.listener.serve_forever)
        self.thread.start()
        self.clients: list[socket.socket] = []
        self.names: dict[socket.socket, tuple[str, int]] = {}
        self.sent = 0

    def client(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        self.clients.append(sock)
        self.names[sock] = sock.getsockname()
        return sock

    def send(self, *datagrams: bytes, sock: socket.socket | None = None) -> socket.socket:
        sock = sock or (self.clients[0] if self.clients else self.client())
        for datagram in datagrams:
            sock.sendto(datagram, self.listener.address)
            self.sent += 1
        self.wait(lambda: self.listener.stats.received >= self.sent)
        return sock

    @staticmethod
    def wait(condition, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.01)

    def stop(self) -> None:
        self.listener.stop()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()
        for sock in self.clients:
            sock.close()

    def log_lines(self, sock: socket.socket) -> list[str]:
        path = self.directory / log_name(*self.names[sock])
        lines = path.read_text(encoding="utf-8").split("\n")
        assert lines.pop() == ""
        bodies = []
        for line in lines:
            match = STAMPED.match(line)
            assert match, line
            bodies.append(match[1])
        return bodies


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    started = Running(tmp_path)
    yield started
    if started.thread.is_alive():
        started.stop()


def test_plain_lines_are_stamped_in_utc(running: Running) -> None:
    sock = running.send(b"[   12.000001] sd 0:0:0:0: [sdb] Attached SCSI disk\n[   12.000002] second\n")
    running.stop()
    assert running.log_lines(sock) == [
        "[   12.000001] sd 0:0:0:0: [sdb] Attached SCSI disk",
        "[   12.000002] second",
    ]
    assert running.listener.stats.lines == 2


def test_lines_split_across_datagrams_are_joined(running: Running) -> None:
    sock = running.send(b"[    2.5] mpt3sas_cm0: log_", b"info(0x31120303): originator(PL)\r\n[    2.6] tail")
    running.stop()  # the unfinished last line is written on stop
    assert running.log_lines(sock) == [
        "[    2.5] mpt3sas_cm0: log_info(0x31120303): originator(PL)",
        "[    2.6] tail",
    ]


def test_unfinished_line_is_written_after_idle_time(tmp_path: Path) -> None:
    running = Running(tmp_path, idle_flush=0.2)
    sock = running.send(b"[    3.0] Kernel panic - not syncing: Fatal exception")
    log = tmp_path / log_name(*running.names[sock])
    running.wait(lambda: log.exists() and log.read_text().endswith("\n"))  # while still running
    assert running.log_lines(sock) == ["[    3.0] Kernel panic - not syncing: Fatal exception"]
    running.stop()
    assert [event.kind for event in running.events] == ["panic"]


def test_extended_records_are_written_dmesg_style(running: Running) -> None:
    sock = running.send(
        b"6,416,1758426,-;netconsole: network logging started\n SUBSYSTEM=net\n DEVICE=+net:eth0",
        b"6.4.0,4,444,501151268,-;sd 2:0:0:0: [sdb] tag#0 FAILED Result: hostbyte=DID_OK",
    )
    running.stop()
    assert running.log_lines(sock) == [
        "[    1.758426] netconsole: network logging started",
        "[  501.151268] sd 2:0:0:0: [sdb] tag#0 FAILED Result: hostbyte=DID_OK",
    ]


def test_fragments_are_reassembled_in_any_order(running: Running) -> None:
    message = "BUG: unable to handle kernel NULL pointer dereference at 0000000000000000 " + "x" * 2600
    body = message.encode()
    chunks = [(offset, body[offset : offset + 1000]) for offset in range(0, len(body), 1000)]
    random.Random(7).shuffle(chunks)
    fragments = [b"2,90,490036661,-,ncfrag=%d/%d;" % (offset, len(body)) + chunk for offset, chunk in chunks]
    sock = running.send(
        b"6,416,1758426,-,ncfrag=16/31; the 2nd chunk.",
        *fragments,
        b"6,416,1758426,-,ncfrag=0/31;the first chunk,",
    )
    running.stop()
    assert running.log_lines(sock) == [
        f"[  490.036661] {message}",
        "[    1.758426] the first chunk, the 2nd chunk.",
    ]
    assert [(event.kind, event.line) for event in running.events] == [("bug", f"[  490.036661] {message}")]


def test_missing_fragments_are_written_marked_incomplete(running: Running) -> None:
    sock = running.send(
        b"0,91,490047027,-,ncfrag=0/2500;Oops: 0000 [#1] SMP PTI",
        b"0,92,490047028,-,ncfrag=2400/100;" + b"y" * 101,  # runs past its own total: cannot belong
    )
    running.stop()
    assert running.log_lines(sock) == ["[  490.047027] Oops: 0000 [#1] SMP PTI [netconsole: incomplete]"]
    assert (running.listener.stats.incomplete, running.listener.stats.discarded) == (1, 1)


def test_overlapping_fragments_cannot_hold_more_than_twice_the_record(running: Running) -> None:
    total = 3000
    overlapping = [
        b"4,77,5000000,-,ncfrag=%d/%d;" % (offset, total) + b"o" * 1000 for offset in range(0, 2000, 250)
    ]
    sock = running.send(*overlapping)
    running.stop()
    assert running.listener.stats.discarded == 2  # 6 pieces of 1000 bytes fit in 2 x 3000; the rest do not
    kept = " [...] ".join(["o" * 1000] * 6)
    assert running.log_lines(sock) == [f"[    5.000000] {kept} [netconsole: incomplete]"]


def test_pending_records_per_source_are_bounded(tmp_path: Path) -> None:
    running = Running(tmp_path, max_pending=2)
    sock = running.send(*[b"6,%d,1000,-,ncfrag=0/10;part" % seq for seq in range(5)])
    assert running.listener.stats.incomplete == 3  # the oldest are written out as new ones arrive
    running.stop()
    assert len(running.log_lines(sock)) == 5


def test_garbage_never_breaks_the_line_structure(running: Running) -> None:
    sock = running.send("a\0b\x1b[31m\rc\u2028d\u0085e\tf ünï".encode() + b"\xff\xfe\xc3\n")
    running.stop()
    assert running.log_lines(sock) == ["a\\x00b\\x1b[31m\\x0dc\\u2028d\\u0085e\tf ünï\\xff\\xfe\\xc3"]
    text = (running.directory / log_name(*running.names[sock])).read_text()
    assert len(text.splitlines()) == 1


def test_random_datagrams_keep_every_line_stamped(running: Running) -> None:
    generator = random.Random(20261125)
    datagrams = [generator.randbytes(generator.randrange(0, 1500)) for _ in range(150)]
    datagrams += [
        b"6,1,2,-,ncfrag=%d/%d;" % (generator.randrange(2000), 1500) + d[:200] for d in datagrams[:50]
    ]
    sock = running.send(*datagrams)
    running.stop()
    assert running.log_lines(sock)  # every line matched the stamp in log_lines
    assert running.listener.stats.received == 200


def test_oversized_datagrams_are_cut_and_counted(tmp_path: Path) -> None:
    running = Running(tmp_path, max_datagram=1024, max_line=4096)
    sock = running.send(b"z" * 60000 + b"\n", b"short\n")
    running.stop()
    assert running.log_lines(sock) == ["z" * 1024 + "short"]
    assert (running.listener.stats.truncated, running.listener.stats.bytes) == (1, 1024 + 6)


def test_overlong_unfinished_line_is_cut(tmp_path: Path) -> None:
    running = Running(tmp_path, max_line=100)
    sock = running.send(*[b"w" * 60] * 3)
    running.stop()
    assert running.log_lines(sock) == ["w" * 120, "w" * 60]


def test_many_sources_keep_bounded_state_and_every_line(tmp_path: Path) -> None:
    running = Running(tmp_path, max_sources=4)
    clients = [running.client() for _ in range(10)]
    for number, sock in enumerate(clients):
        running.send(b"[    5.0] host %d says" % number, sock=sock)  # unfinished: held until retired
        assert running.listener.open_sources <= 4
    retired = clients[:6]
    assert [running.log_lines(sock) for sock in retired] == [[f"[    5.0] host {n} says"] for n in range(6)]
    running.stop()
    assert len(list(tmp_path.glob("127.0.0.1_*.log"))) == 10


def test_fault_lines_go_to_events_file_and_callback(running: Running) -> None:
    sock = running.send(
        b"[ 1765.313774] WARNING: CPU: 23 PID: 5399 at lib/refcount.c:28 refcount_warn_saturate+0xa6/0xf0\n"
        b"[ 1765.313780] Modules linked in: mpt3sas(OE) raid_class\n"
        b"[  490.046000] general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP\n"
    )
    running.stop()
    source = f"127.0.0.1:{running.names[sock][1]}"
    rows = [json.loads(line) for line in (running.directory / "events.jsonl").read_text().splitlines()]
    assert [(row["kind"], row["source"], row["log"]) for row in rows] == [
        ("warning", source, log_name(*running.names[sock])),
        ("gpf", source, log_name(*running.names[sock])),
    ]
    assert rows[0]["line"].startswith("[ 1765.313774] WARNING: CPU: 23")
    assert all(STAMPED.match(f"{row['time']} x") for row in rows)
    assert [event.to_json() for event in running.events] == [json.dumps(row) for row in rows]
    assert running.listener.stats.events == 2


def test_stats_line_counts(running: Running) -> None:
    running.send(b"one\n", b"two\n")
    running.stop()
    assert running.listener.stats.line() == (
        "2 datagrams (8 bytes), 2 lines, 0 events; dropped 0, truncated 0, discarded 0, incomplete 0"
    )


@pytest.mark.parametrize(
    ("host", "port", "name"),
    [
        ("10.0.0.5", 6665, "10.0.0.5_6665.log"),
        ("fd00:1:2::1", 6665, "fd00-1-2--1_6665.log"),
        ("fe80::1%eth0", 1, "fe80--1-eth0_1.log"),
        ("../../etc/passwd", 2, "..-..-etc-passwd_2.log"),
    ],
)
def test_log_names_come_only_from_address_and_port(host: str, port: int, name: str) -> None:
    assert log_name(host, port) == name
    assert "/" not in log_name(host, port)


def test_escape_keeps_text_and_marks_a_kernel_escape_as_such() -> None:
    assert escape(b"sdb: \\x1b already escaped, caf\xc3\xa9") == "sdb: \\\\x1b already escaped, café"
    assert escape("evil \u202egnp.exe \u2066x\u2069".encode()) == "evil \\u202egnp.exe \\u2066x\\u2069"


@given(st.binary(max_size=300) | st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_escape_is_reversible_and_leaves_nothing_a_terminal_acts_on(raw: bytes) -> None:
    text = escape(raw)
    assert unescape(text) == raw
    assert not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") and c != "\t" for c in text), text
    assert not set(text) & {
        chr(c) for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    }


def test_a_storm_of_fault_lines_is_alerted_at_the_rate_and_the_rest_counted(tmp_path: Path) -> None:
    running = Running(tmp_path, alerts_per_second=3)
    sock = running.send(
        *[b"[  1.%06d] BUG: unable to handle page fault for address: %d\n" % (n, n) for n in range(50)]
    )
    running.stop()
    assert len(running.log_lines(sock)) == 50
    rows = (running.directory / "events.jsonl").read_text().splitlines()
    assert len(rows) == 50  # every flagged line is kept
    alerted = [e for e in running.events if e.kind != "folded"]
    folded = [e for e in running.events if e.kind == "folded"]
    assert 3 <= len(alerted) <= 6  # the storm may straddle a second
    assert sum(int(e.line.split()[0]) for e in folded) == 50 - len(alerted)
    assert running.listener.stats.folded == 50 - len(alerted)


def test_a_senders_log_is_rotated_at_its_cap(tmp_path: Path) -> None:
    running = Running(tmp_path, max_log_bytes=4000, max_events_bytes=100_000)
    line = b"x" * 60 + b"\n"
    sock = running.send(*[line] * 200)
    running.stop()
    log = running.directory / log_name(*running.names[sock])
    rotated = log.with_name(log.name + ".1")
    assert log.stat().st_size <= 4000 and rotated.stat().st_size <= 4000
    assert running.listener.stats.rotated_bytes > 0
    assert "rotated out" in running.listener.stats.line()


@pytest.mark.parametrize("port", [70000, -1, "6666", True])
def test_invalid_port(tmp_path: Path, port: object) -> None:
    with pytest.raises(InputError, match=r"^--port: expected a UDP port"):
        Listener("127.0.0.1", port, tmp_path)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bind", "message"),
    [
        ("no-such-host.invalid", r"^--bind: unknown address"),
        ("192.0.2.1", r"^--bind: 192.0.2.1 is not an address"),
    ],
)
def test_bad_bind_address(tmp_path: Path, bind: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Listener(bind, 6666, tmp_path)


def test_address_in_use(tmp_path: Path) -> None:
    with (
        Listener("127.0.0.1", 0, tmp_path) as first,
        pytest.raises(EnvironmentProblem, match="already in use"),
    ):
        Listener("127.0.0.1", first.address[1], tmp_path)


def test_log_dir_that_cannot_exist(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(EnvironmentProblem, match="cannot create the log directory"):
        Listener("127.0.0.1", 0, tmp_path / "file" / "logs")


UNPRIVILEGED_START = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
CHILD = """
import sys
from pathlib import Path
from fleetfix.errors import FleetfixError
from fleetfix.listen.receiver import Listener
try:
    Listener("127.0.0.1", 514, Path(sys.argv[1]))
except FleetfixError as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.skipif(
    not UNPRIVILEGED_START.exists() or int(UNPRIVILEGED_START.read_text()) <= 514,
    reason="this kernel lets anyone bind low ports",
)
@pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None, reason="setpriv is not installed")
def test_no_permission_to_bind_low_port(tmp_path: Path) -> None:
    """As root, run the child without CAP_NET_BIND_SERVICE; otherwise it already lacks it."""
    drop = ["setpriv", "--bounding-set", "-net_bind_service"] if os.geteuid() == 0 else []
    done = subprocess.run(
        [*drop, sys.executable, "-c", CHILD, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    expected = "EnvironmentProblem cannot listen on 127.0.0.1 port 514: permission denied"
    assert done.stdout.startswith(expected), done.stdout + done.stderr


def test_stop_before_serving_and_close_twice(tmp_path: Path) -> None:
    listener = Listener("127.0.0.1", 0, tmp_path)
    listener.stop()
    listener.serve_forever()  # returns at once: already asked to stop
    listener.close()
    listener.stop()


SERVER = """
import signal, sys
from pathlib import Path
from fleetfix.listen.receiver import Listener
listener = Listener("127.0.0.1", 0, Path(sys.argv[1]))
for number in (signal.SIGINT, signal.SIGTERM):
    signal.signal(number, lambda *_: listener.stop())
print(listener.address[1], flush=True)
listener.serve_forever()
print(listener.stats.line(), flush=True)
"""


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_receiver_cleanly(tmp_path: Path, signal_number: int) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    port = int(server.stdout.readline())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.sendto(b"[   9.0] sd 0:0:0:0: unfinished line", ("127.0.0.1", port))
        log = tmp_path / log_name(*sock.getsockname())
    Running.wait(lambda: log.exists())
    server.send_signal(signal_number)
    out, _ = server.communicate(timeout=10)
    assert server.returncode == 0
    assert out.startswith("1 datagrams")
    assert log.read_text().endswith(" [   9.0] sd 0:0:0:0: unfinished line\n")  # written out on the way down
