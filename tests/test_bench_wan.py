"""``bench --rtt-ms``: the analysis over a local xrootd behind the project's latency shim, and the shim itself.

The shim (rdf_ttbar/cli/latency_shim.py) is measured against tiny servers written here: an echo server (a round
trip takes at least the RTT) and a server that sends a fixed number of bytes (with --mbps the rate is capped).
The bench runs once on a tiny demo set (9 x 2k events): both RTTs in its table, the histograms reported
identical, its --json numbers, and nothing left behind (folders in the temporary folder, processes).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from helpers import REPO, run_cli
from rdf_ttbar.cli.bench_wan import parse_peer_line
from rdf_ttbar.cli.xrootd_server import free_port


# ---------------------------------------------------------------------------- the shim
class TinyServer:
    """A TCP server on 127.0.0.1 in a thread: ``echo`` sends back what it reads; else it sends ``send`` bytes
    on connect and closes."""

    def __init__(self, send: int = 0):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.send = send
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                if self.send:
                    conn.sendall(b"x" * self.send)
                    continue
                while data := conn.recv(65536):
                    conn.sendall(data)

    def close(self) -> None:
        self.sock.close()


def start_shim(target: int, *options: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rdf_ttbar.cli.latency_shim", str(port), str(target), *options],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == f"latency shim listening on 127.0.0.1:{port}"
    return proc, port


def stop_shim(proc: subprocess.Popen) -> None:
    proc.terminate()
    assert proc.wait(timeout=10) == 0  # SIGTERM stops it cleanly


def round_trip(port: int, payload: bytes) -> float:
    with socket.create_connection(("127.0.0.1", port)) as s:
        start = time.perf_counter()
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            got += s.recv(65536)
        elapsed = time.perf_counter() - start
    assert got == payload
    return elapsed


def receive_all(port: int) -> tuple[int, float]:
    with socket.create_connection(("127.0.0.1", port)) as s:
        start, total = time.perf_counter(), 0
        while data := s.recv(65536):
            total += len(data)
        return total, time.perf_counter() - start


def test_shim_round_trip_takes_at_least_the_rtt():
    server = TinyServer()
    proc, port = start_shim(server.port, "--rtt-ms", "300")
    try:
        times = [round_trip(port, b"ping %d" % i) for i in range(3)]
    finally:
        stop_shim(proc)
        server.close()
    assert min(times) >= 0.3, times
    assert max(times) < 3.0, times  # the RTT, not a stall


def test_shim_caps_the_bandwidth():
    size = 400_000  # bytes; 3.2 Mbit/s: 1 s at least
    server = TinyServer(send=size)
    proc, port = start_shim(server.port, "--rtt-ms", "0", "--mbps", "3.2")
    free, free_port_ = start_shim(server.port, "--rtt-ms", "0")
    try:
        total, capped_s = receive_all(port)
        total_free, free_s = receive_all(free_port_)
    finally:
        stop_shim(proc)
        stop_shim(free)
        server.close()
    assert total == total_free == size
    assert total / capped_s <= 3.2e6 / 8 * 1.05, f"{total / capped_s / 1e6:.2f} MB/s through a 0.4 MB/s cap"
    assert free_s < capped_s / 2  # without --mbps the same bytes come much faster


def test_shim_refuses_a_taken_port():
    server = TinyServer()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "rdf_ttbar.cli.latency_shim", str(server.port), "1"],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=30,
        )
    finally:
        server.close()
    assert result.returncode == 2
    assert f"latency shim: cannot listen on 127.0.0.1:{server.port}" in result.stderr


# ---------------------------------------------------------------------------- the bench
def ours() -> set[str]:
    """What a bench run may leave: its folders in the temporary folder, xrootd's instance folder, its processes."""
    tmp = Path(tempfile.gettempdir())
    left = {str(p) for pattern in ("rdf_ttbar-bench-*", "rdfbench*") for p in tmp.glob(pattern)}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "rdf_ttbar.cli.latency_shim" in cmdline or "rdf_ttbar-bench-xrootd-" in cmdline:
            left.add(f"process {proc.name}: {cmdline}")
    return left


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wan") / "set"
    run_cli("generate", "--events-per-sample", 2000, "--output-dir", out, "--mt", 2)
    return out / "nanoaod_inputs.json"


def test_bench_over_two_rtts(tiny_set, tmp_path):
    before = ours()
    numbers = tmp_path / "wan.json"
    result = run_cli("bench", "--rtt-ms", "0,50", "--repeat", 1, "--mt", 2, "--inputs", tiny_set, "--json", numbers)
    out = result.stdout
    # (the stager copies the root:// files: its bytes are reported beside the bytes the loops read)
    assert "| RTT | set-up | loop | loop rate | bytes read | downloaded | whole process | loop / loop(0) |" in out
    rows = [line for line in out.splitlines() if line.startswith("| 0 ms |") or line.startswith("| 50 ms |")]
    assert len(rows) == 2 and rows[0].startswith("| 0 ms |") and rows[1].startswith("| 50 ms |")
    assert rows[0].split("|")[8].strip() == "1.00"  # loop(0) / loop(0)
    assert "histograms: all 2 runs bit-identical to the first 0 ms run (values and variances)" in out
    data = json.loads(numbers.read_text())
    assert [r["rtt_ms"] for r in data["runs"]] == [0, 50]
    for run in data["runs"]:
        assert run["events"] == 9 * 2000
        assert run["bytes_read"] > 0
        assert run["histograms_differ"] == []
    assert ours() == before  # nothing left behind


def test_bench_without_xrootd_says_what_to_install(tiny_set):
    before = ours()
    result = run_cli(
        "bench", "--rtt-ms", "0", "--inputs", tiny_set, "--mt", 1, check=False, env={"PATH": "/nonexistent"}
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "rdf_ttbar: error: no 'xrootd' binary on PATH: install Debian's xrootd-server "
        "(apt-get install xrootd-server) so that the 'xrootd' binary is on PATH"
    )
    assert ours() == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rtt-ms", "0,20", "--mt", "1,2"], "--rtt-ms measures one thread count: pass --mt N"),
        (["--rtt-ms", "0,x"], "--rtt-ms takes round-trip times in ms separated by commas"),
        (["--mbps", "100"], "--mbps and --peer-coffea go with --rtt-ms"),
        (["--rtt-ms", "0", "--peer-coffea", "/nonexistent"], "--peer-coffea: /nonexistent has no run.py"),
        (["--rtt-ms", "0"], "{inputs} lists /nonexistent.root, which does not exist: fix the input list"),
    ],
)
def test_bench_wan_option_errors(tmp_path, args, message):
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"wjets": {"nominal": {"files": [{"path": "/nonexistent.root", "nevts": 1}]}}}))
    result = run_cli("bench", "--inputs", inputs, *args, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(f"rdf_ttbar: error: {message.format(inputs=inputs)}")


def test_peer_line_is_parsed():
    text = "some output\nPEER coffea events=1800000 loop_s=17.25 total_s=23.5\n"
    assert parse_peer_line(text) == {"events": 1800000, "loop_s": 17.25, "total_s": 23.5}
    assert parse_peer_line("no line") is None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_bench_leaves_nothing(tiny_set, signum):
    before = ours()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rdf_ttbar", "bench", "--rtt-ms", "0,50", "--repeat", "1", "--inputs", tiny_set],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("rdf_ttbar bench: 18,000 events in 9 files over a local xrootd")
    deadline = time.monotonic() + 60
    while not any("rdf_ttbar.cli.latency_shim" in line for line in ours() - before):  # the shims are up
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == {signal.SIGINT: 130, signal.SIGTERM: 128 + signal.SIGTERM}[signum], err
    assert ours() == before
