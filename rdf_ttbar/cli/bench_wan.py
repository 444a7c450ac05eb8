"""``python -m rdf_ttbar bench --rtt-ms 0,20,100``: the analysis reading its inputs over a wide-area link.

A local ``xrootd`` (:mod:`rdf_ttbar.cli.xrootd_server`) serves the input files (hard links, else copies, in a
temporary folder); for each round-trip time a latency shim (:mod:`rdf_ttbar.cli.latency_shim`, with
``--mbps`` a bandwidth cap) forwards a port to it, and the input list is rewritten to
``root://rdfbench@127.0.0.1:SHIMPORT//name``. Then ``python -m rdf_ttbar --inputs LIST --no-fit --mt N`` runs
for each RTT, interleaved (0, 20, 100, 0, 20, 100, ...), ``--repeat`` times, each in a fresh process whose
``metrics.json`` is read; with ``--peer-coffea DIR`` the coffea peer (``DIR/run.py``, in the virtual
environment its ``setup.sh`` makes) runs on the same list right after each of them.

The table gives, per RTT, the medians over the repetitions of: set-up (``metrics.json``: from the start of
rdf_ttbar's import to the graph built), event loop, loop rate, bytes read (and downloaded, where the run
reports it), the whole process (launch to exit, the histogram plots included), loop(RTT) / loop(lowest RTT)
and set-up(RTT) - set-up(lowest RTT); with the peer also its whole process and the ratio. Every run's
``histograms.root`` is compared with the first run at the lowest RTT: every histogram's values and variances
(flow bins included, read with uproot) must be exactly equal; the verdict is printed and a mismatch makes the
exit code 1.

Everything started here (server, shims, runs) is stopped, and the temporary folder removed, at the end, also
on an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import UserError
from .bench_runs import child_env, rdf_ttbar_command
from .xrootd_server import XRootDServer, free_port, port_open, stop_process, tail

USER_NAME = "rdfbench"  # the root:// user name (not the current user: see xrootd_server)
PEER_LINE = re.compile(r"PEER coffea events=(\d+) loop_s=([0-9.eE+-]+) total_s=([0-9.eE+-]+)")
DEFAULT_PEER_PYTHON = Path("/tmp/peers/coffea-venv/bin/python")  # where the peer's setup.sh puts it
RUN_TIMEOUT_S = 3600.0


def parse_rtts(text: str) -> list[float]:
    """'0,20,100' -> [0.0, 20.0, 100.0] (milliseconds, in the given order, without repeats)."""
    values: list[float] = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise UserError(f"--rtt-ms takes round-trip times in ms separated by commas, e.g. 0,20,100; got {text!r}")
        if value < 0:
            raise UserError(f"--rtt-ms: round-trip times must be >= 0, got {part}")
        if value not in values:
            values.append(value)
    return values


def peer_python() -> Path:
    """The coffea peer's interpreter: $COFFEA_PEER_VENV/bin/python, else the one its setup.sh makes."""
    venv = os.environ.get("COFFEA_PEER_VENV")
    return Path(venv) / "bin" / "python" if venv else DEFAULT_PEER_PYTHON


def parse_peer_line(output: str) -> dict | None:
    """The numbers of the peer's last ``PEER coffea events=N loop_s=X total_s=Y`` line."""
    found = PEER_LINE.findall(output)
    if not found:
        return None
    events, loop, total = found[-1]
    return {"events": int(events), "loop_s": float(loop), "total_s": float(total)}


class Link:
    """The server and one latency shim per RTT, in a temporary folder; a context manager that stops and removes
    everything."""

    def __init__(self, inputs_json: Path, rtts: list[float], mbps: float | None):
        self.inputs_json, self.rtts, self.mbps = inputs_json, rtts, mbps
        self.server: XRootDServer | None = None
        self.shims: dict[float, subprocess.Popen] = {}
        self.lists: dict[float, Path] = {}
        self.workdir = Path(tempfile.mkdtemp(prefix="rdf_ttbar-bench-wan-"))

    def __enter__(self) -> Link:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        content = json.loads(self.inputs_json.read_text())
        self.server = server = XRootDServer(USER_NAME, prefix="rdfbench", folder="rdf_ttbar-bench-xrootd-")
        served: dict[str, str] = {}  # local path -> served name
        for process, variations in content.items():
            for variation, entry in variations.items():
                for f in entry["files"]:
                    path = Path(f["path"])
                    if "://" in f["path"]:
                        raise UserError(
                            f"bench --rtt-ms serves local files, but {self.inputs_json} lists {f['path']}: "
                            "pass a list of local files to --inputs"
                        )
                    path = path if path.is_absolute() else self.inputs_json.parent / path
                    if not path.is_file():
                        raise UserError(f"{self.inputs_json} lists {path}, which does not exist: fix the input list")
                    if str(path) not in served:
                        name = f"{len(served):04d}-{path.name}"
                        served[str(path)] = server.add(path, name, link=True)
                    f["served"] = served[str(path)]
        server.start()
        assert server.port is not None
        for rtt in self.rtts:
            port = free_port()
            command = [sys.executable, "-m", "rdf_ttbar.cli.latency_shim", str(port), str(server.port)]
            command += ["--rtt-ms", str(rtt)] + (["--mbps", str(self.mbps)] if self.mbps else [])
            log = open(self.workdir / f"shim-{rtt:g}.log", "wb")
            self.shims[rtt] = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=child_env(), start_new_session=True
            )
            log.close()
            deadline = time.monotonic() + 30
            while not port_open(port):
                if self.shims[rtt].poll() is not None or time.monotonic() > deadline:
                    raise UserError(
                        f"the latency shim did not start on port {port}: {tail(self.workdir / f'shim-{rtt:g}.log')}"
                    )
                time.sleep(0.05)
            self.lists[rtt] = self._write_list(content, rtt, port)

    def _write_list(self, content: dict, rtt: float, port: int) -> Path:
        assert self.server is not None
        rewritten = {
            process: {
                variation: dict(
                    entry,
                    files=[
                        {"path": self.server.url(f["served"], port=port), "nevts": f["nevts"]} for f in entry["files"]
                    ],
                )
                for variation, entry in variations.items()
            }
            for process, variations in content.items()
        }
        path = self.workdir / f"inputs-{rtt:g}ms.json"
        path.write_text(json.dumps(rewritten, indent=1))
        return path

    def close(self) -> None:
        for shim in self.shims.values():
            stop_process(shim, grace_s=3)
        if self.server is not None:
            self.server.cleanup()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _run(command: list, workdir: Path, log_path: Path, env: dict | None = None) -> tuple[int, float]:
    """Run ``command`` in its own session (killed if this process is interrupted); (exit code, wall seconds)."""
    with open(log_path, "w") as log:
        start = time.perf_counter()
        process = subprocess.Popen(
            [str(c) for c in command],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env or child_env(),
            cwd=workdir,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=RUN_TIMEOUT_S)
        finally:
            stop_process(process, grace_s=3)  # no-op once it has exited
        return code, time.perf_counter() - start


def run_rdf(inputs_json: Path, mt: int, workdir: Path, tag: str) -> dict:
    """One analysis run (--no-fit); its numbers and the path of its histograms.root."""
    out = workdir / f"run-{tag}"
    command = rdf_ttbar_command("--inputs", inputs_json, "--no-fit", "--mt", mt, "--output-dir", out)
    # cwd: a folder without config.yaml, so that the built-in defaults and these options apply
    code, wall = _run(command, workdir, workdir / f"run-{tag}.log")
    if code != 0 or not (out / "metrics.json").is_file():
        raise UserError(
            f"benchmark run failed (exit code {code}): {' '.join(map(str, command))}\n"
            f"{tail(workdir / f'run-{tag}.log', 15)}"
        )
    m = json.loads((out / "metrics.json").read_text())
    t = m["wall_time_s"]
    return {
        "setup_s": t["setup"],
        "event_loop_s": t["event_loop"],
        "total_s": t["total"],
        "process_wall_s": wall,
        "events": m["events_processed"],
        "event_rate_hz": m["events_processed"] / t["event_loop"] if t["event_loop"] else None,
        "bytes_read": m.get("bytes_read"),
        "bytes_downloaded": m.get("bytes_downloaded"),
        "histograms": str(out / "histograms.root"),
    }


def run_peer(peer_dir: Path, inputs_json: Path, workdir: Path, tag: str) -> dict:
    """One coffea peer run on ``inputs_json``; its numbers (``total_s``: the peer's own, ``process_wall_s``)."""
    log = workdir / f"peer-{tag}.log"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [peer_python(), peer_dir / "run.py", inputs_json, workdir / f"peer-{tag}.root"]
    code, wall = _run(command, workdir, log, env=env)
    numbers = parse_peer_line(log.read_text(errors="replace"))
    if code != 0 or numbers is None:
        raise UserError(f"the coffea peer failed (exit code {code}): {' '.join(map(str, command))}\n{tail(log, 15)}")
    return dict(numbers, process_wall_s=wall)


def histogram_differences(path: Path, reference: Path) -> list[str]:
    """Names of the histograms whose values or variances (flow bins included) differ, or that only one file has."""
    import numpy as np
    import uproot

    def read(p: Path) -> dict:
        with uproot.open(p) as f:
            return {
                k.split(";")[0]: (h.values(flow=True), h.variances(flow=True))
                for k, h in f.items()
                if hasattr(h, "values")
            }

    a, b = read(path), read(reference)
    differ = sorted(set(a) ^ set(b))
    for name in sorted(set(a) & set(b)):
        if not (np.array_equal(a[name][0], b[name][0]) and np.array_equal(a[name][1], b[name][1])):
            differ.append(name)
    return differ


def measure(
    inputs_json: Path, rtts: list[float], mbps: float | None, mt: int, repeat: int, peer_dir: Path | None, log=print
) -> dict:
    """All runs, interleaved, and the histogram comparison; returns the result dictionary (``summarize``)."""
    content = json.loads(inputs_json.read_text())
    files = sum(len(e["files"]) for v in content.values() for e in v.values())
    events = sum(f["nevts"] for v in content.values() for e in v.values() for f in e["files"])
    log(
        f"rdf_ttbar bench: {events:,} events in {files} files over a local xrootd, "
        f"RTT {', '.join(f'{r:g}' for r in rtts)} ms{f', {mbps:g} Mbit/s' if mbps else ''}, "
        f"{mt} thread(s), {repeat} repetition(s)"
        f"{', with the coffea peer' if peer_dir else ''}"
    )
    runs, peers = [], []
    with Link(inputs_json, rtts, mbps) as link:
        for rep in range(repeat):
            for rtt in rtts:
                tag = f"{rtt:g}ms-{rep}"
                run = dict(run_rdf(link.lists[rtt], mt, link.workdir, tag), rtt_ms=rtt, repetition=rep)
                runs.append(run)
                log(
                    f"  {rtt:6g} ms: set-up {run['setup_s']:.2f} s, loop {run['event_loop_s']:.2f} s, "
                    f"whole process {run['process_wall_s']:.2f} s"
                )
                if peer_dir is not None:
                    peer = dict(run_peer(peer_dir, link.lists[rtt], link.workdir, tag), rtt_ms=rtt, repetition=rep)
                    peers.append(peer)
                    log(
                        f"  {rtt:6g} ms: coffea peer loop {peer['loop_s']:.2f} s, "
                        f"whole process {peer['process_wall_s']:.2f} s"
                    )
        reference = next(r for r in runs if r["rtt_ms"] == min(rtts))["histograms"]
        for run in runs:
            run["histograms_differ"] = histogram_differences(Path(run.pop("histograms")), Path(reference))
    return summarize(runs, peers, rtts, dict(files=files, events=events, mbps=mbps, mt=mt, repeat=repeat))


def summarize(runs: list[dict], peers: list[dict], rtts: list[float], setting: dict) -> dict:
    """Medians over the repetitions per RTT, and the ratios to the lowest RTT."""

    def median(rows: list[dict], key: str):
        values = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(values) if values else None

    rows = []
    for rtt in rtts:
        mine = [r for r in runs if r["rtt_ms"] == rtt]
        row: dict[str, Any] = {"rtt_ms": rtt, "runs": len(mine)}
        for key in ("setup_s", "event_loop_s", "event_rate_hz", "bytes_read", "bytes_downloaded", "process_wall_s"):
            row[key] = median(mine, key)
        theirs = [p for p in peers if p["rtt_ms"] == rtt]
        if theirs:
            row["peer_process_wall_s"] = median(theirs, "process_wall_s")
            row["peer_loop_s"] = median(theirs, "loop_s")
            row["peer_over_rdf"] = row["peer_process_wall_s"] / row["process_wall_s"]
        rows.append(row)
    base = next(r for r in rows if r["rtt_ms"] == min(rtts))
    for row in rows:
        row["loop_over_base"] = row["event_loop_s"] / base["event_loop_s"] if base["event_loop_s"] else None
        row["setup_minus_base_s"] = row["setup_s"] - base["setup_s"]
    differ = sorted({name for r in runs for name in r["histograms_differ"]})
    return dict(setting, rtts_ms=rtts, rows=rows, runs=runs, peer_runs=peers, histograms_differ=differ)


def format_table(result: dict) -> str:
    """The printed report: a Markdown table and the histogram verdict."""
    base = f"{min(result['rtts_ms']):g}"
    downloaded = any(r["bytes_downloaded"] is not None for r in result["rows"])
    peer = bool(result["peer_runs"])
    head = ["RTT", "set-up", "loop", "loop rate", "bytes read"] + (["downloaded"] if downloaded else [])
    head += ["whole process", f"loop / loop({base})", f"set-up - set-up({base})"]
    head += ["coffea whole process", "coffea / rdf_ttbar"] if peer else []
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]

    def mb(value) -> str:
        return "n/a" if value is None else f"{value / 1e6:,.1f} MB"

    for r in result["rows"]:
        hz = r["event_rate_hz"]
        rate = "n/a" if hz is None else f"{hz / 1e3:,.0f} kHz" if hz >= 1e4 else f"{hz:,.0f} Hz"
        cells = [
            f"{r['rtt_ms']:g} ms",
            f"{r['setup_s']:.2f} s",
            f"{r['event_loop_s']:.2f} s",
            rate,
            mb(r["bytes_read"]),
        ]
        cells += [mb(r["bytes_downloaded"])] if downloaded else []
        cells += [f"{r['process_wall_s']:.2f} s", f"{r['loop_over_base']:.2f}", f"{r['setup_minus_base_s']:+.2f} s"]
        if peer:
            cells += [f"{r['peer_process_wall_s']:.2f} s", f"{r['peer_over_rdf']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    n = len(result["runs"])
    lines.append("")
    cap = f", {result['mbps']:g} Mbit/s" if result["mbps"] else ""
    lines.append(
        f"medians of {result['repeat']} run(s) per RTT; {result['events']:,} events in {result['files']} files, "
        f"--mt {result['mt']}{cap}"
    )
    if result["histograms_differ"]:
        names = ", ".join(result["histograms_differ"][:5])
        lines.append(f"histograms DIFFER from the {base} ms run's: {names} ({len(result['histograms_differ'])} in all)")
    else:
        lines.append(f"histograms: all {n} runs bit-identical to the first {base} ms run (values and variances)")
    return "\n".join(lines)


def main(args, inputs_json: Path, mt: int) -> int:
    """``bench --rtt-ms``: measure, print the table (and write --json); exit code 1 if histograms differ."""
    rtts = parse_rtts(args.rtt_ms)
    if args.mbps is not None and args.mbps <= 0:
        raise UserError(f"--mbps must be > 0, got {args.mbps:g}")
    peer_dir = Path(args.peer_coffea).expanduser().resolve() if args.peer_coffea else None
    if peer_dir is not None:
        if not (peer_dir / "run.py").is_file():
            raise UserError(f"--peer-coffea: {peer_dir} has no run.py: pass the coffea peer's folder")
        if not peer_python().is_file():
            raise UserError(
                f"--peer-coffea: no interpreter {peer_python()}: run 'bash {peer_dir / 'setup.sh'}' first "
                "(or set COFFEA_PEER_VENV to its virtual environment)"
            )
    result = measure(inputs_json, rtts, args.mbps, mt, args.repeat, peer_dir)
    result["inputs"] = str(inputs_json)
    print()
    print(format_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nrdf_ttbar bench: numbers in {args.json}")
    return 1 if result["histograms_differ"] else 0
