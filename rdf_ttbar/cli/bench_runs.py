"""The benchmark's measurements: each run in a fresh process, repeated and interleaved, the best of each
kind, and the ratios between them (``python -m rdf_ttbar bench``, :mod:`rdf_ttbar.cli.bench`)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import inputs
from ..analysis import AGC_V1, native
from ..errors import UserError
from ..execution import io_only
from .bench_os import evict_from_page_cache, maxrss_mb, root_install_files, warm_page_cache
from .bench_table import mode_key, mode_label, short_loops

# (bench_table.IO_PERCENT) the I/O-only mode the analysis is compared with: its own columns
IO_PERCENT = io_only.ANALYSIS
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # what python -m rdf_ttbar needs on sys.path


def child_env(cache_dir: str | Path | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    if cache_dir is not None:
        env["RDF_TTBAR_CACHE"] = str(cache_dir)
    return env


def local_files(samples: list[inputs.Sample]) -> list[Path]:
    return [Path(f) for s in samples for f in s.files if not inputs.is_remote(f)]


def interpreter_start_s(repeat: int = 3) -> float:
    """Seconds from launching ``python`` to ``rdf_ttbar.START_TIME`` (the zero of the set-up time in metrics.json).

    ``time.perf_counter`` is the system-wide monotonic clock, so the child's
    ``START_TIME`` and this process's launch time compare directly.
    """
    best = None
    code = "import sys, rdf_ttbar; sys.stdout.write(repr(rdf_ttbar.START_TIME))"
    for _ in range(repeat):
        launch = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), cwd=tempfile.gettempdir()
        )
        try:
            offset = float(out.stdout) - launch
        except ValueError:
            continue
        if 0 <= offset < 60:
            best = offset if best is None else min(best, offset)
    return best or 0.0


def rdf_ttbar_command(*args) -> list[str]:
    """``python -m rdf_ttbar ARGS`` with this interpreter."""
    return [sys.executable, "-m", "rdf_ttbar", *map(str, args)]


def run_once(inputs_json: Path, mt: int, io_percent, offset_s: float, workdir: Path) -> dict:
    """One measurement in a fresh process; returns its numbers."""
    out_dir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    command = rdf_ttbar_command(
        "--inputs", inputs_json, "--mt", mt, "--scheduler", "mt", "--output-dir", out_dir, "--no-fit"
    )
    if io_percent is not None:
        command += ["--io-only", "--io-percent", str(io_percent)]
    log_path = out_dir.with_suffix(".log")
    with open(log_path, "w") as log:
        start = time.perf_counter()
        # cwd: a folder without config.yaml, so that the built-in defaults and these options apply
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=child_env(), cwd=workdir)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or not (out_dir / "metrics.json").is_file():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise UserError(f"benchmark run failed (exit code {process.returncode}): {' '.join(command)}\n{tail}")
    m = json.loads((out_dir / "metrics.json").read_text())
    shutil.rmtree(out_dir, ignore_errors=True)
    log_path.unlink(missing_ok=True)
    t = m["wall_time_s"]
    setup = offset_s + t["setup"]
    return {
        "mode": mode_key(io_percent),
        "io_percent": io_percent,
        "mt": mt,
        "cores": m["cores"],
        "setup_s": setup,
        "jitting_s": t["jitting"],
        "startup_s": setup + t["jitting"],
        "event_loop_s": t["event_loop"],
        "process_wall_s": wall,
        "events": m["events_processed"],
        "event_rate_hz": m["event_rate_hz"],
        "event_rate_per_core_hz": m["event_rate_per_core_hz"],
        "bytes_read": m["bytes_read"],
        "peak_rss_mb": maxrss_mb(usage),
    }


def best_of(runs: list[dict]) -> dict:
    """Best of repeated runs: lowest times, highest rates, highest peak memory."""
    lowest = ("setup_s", "jitting_s", "startup_s", "event_loop_s", "process_wall_s")
    best = {k: runs[0][k] for k in ("mode", "io_percent", "mt", "cores", "events", "bytes_read")}
    best.update({k: min(r[k] for r in runs) for k in lowest})
    rate = max(runs, key=lambda r: r["event_rate_hz"] or 0.0)
    best["event_rate_hz"], best["event_rate_per_core_hz"] = rate["event_rate_hz"], rate["event_rate_per_core_hz"]
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    best["runs"] = len(runs)
    return best


def build_compiled_graph() -> None:
    """Build the compiled analysis graph first, in a process of its own (this one imports no ROOT), so that no
    measured run includes its one-off build (native.py; a no-op when it is cached or not wanted)."""
    subprocess.run(
        [sys.executable, "-c", "import rdf_ttbar.analysis.native as n; n.load()"], cwd=PACKAGE_ROOT, check=False
    )


# ---------------------------------------------------------------------------
# the benchmark
# ---------------------------------------------------------------------------
def measure(
    inputs_json: Path, mts: list[int], percents: list, repeat: int, evict: bool, log=print, cold: bool = True
) -> dict:
    """All measurements; returns the result dictionary (see ``main``)."""
    samples = inputs.read_file_list(inputs_json, AGC_V1)  # the benchmark runs the AGC v1
    files = local_files(samples)
    events = sum(s.nevts for s in samples)
    disk_bytes = sum(p.stat().st_size for p in files)
    result: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "root": _root_version(),
        },
        "inputs": {
            "path": str(inputs_json),
            "events": events,
            "files": sum(len(s.files) for s in samples),
            "bytes_on_disk": disk_bytes,
        },
        "mt": mts,
        "repeat": repeat,
        "io_percents": percents,
    }
    log(
        f"rdf_ttbar bench: {events:,} events in {result['inputs']['files']} files ({disk_bytes / 1e6:,.0f} MB), "
        f"threads {','.join(map(str, mts))}, {repeat} repetition(s)"
    )
    warm_bytes, warm_s = warm_page_cache(files)
    result["page_cache_warm"] = {"bytes": warm_bytes, "seconds": warm_s}
    result["interpreter_start_s"] = interpreter_start_s()
    build_compiled_graph()

    with tempfile.TemporaryDirectory(prefix="rdf_ttbar-bench-") as tmp:
        workdir = Path(tmp)
        if cold:  # the very first analysis run, ROOT's files dropped from the page cache first
            # ROOT's files and the compiled analysis graph (native.py; imports no ROOT)
            evicted = (
                evict_from_page_cache(root_install_files() + sorted(native.cache_dir().glob("graph-*.so")))
                if evict
                else 0
            )
            evicted_note = ", ROOT files evicted from the page cache" if evicted else ""
            log(f"  cold run (analysis, {mts[0]} thread(s){evicted_note})")
            result["cold"] = dict(
                run_once(inputs_json, mts[0], None, result["interpreter_start_s"], workdir), evicted_files=evicted
            )

        runs = []
        modes = [None] + list(percents)
        for rep in range(repeat):
            for mt in mts:
                order = modes if rep % 2 == 0 else modes[::-1]  # interleaved: full, I/O ... I/O, full
                for io_percent in order:
                    run = run_once(inputs_json, mt, io_percent, result["interpreter_start_s"], workdir)
                    run["repetition"] = rep
                    runs.append(run)
                    log(
                        f"  {mode_label(io_percent):<18} {mt} thread(s): {run['event_rate_hz'] / 1e3:9,.1f} kHz, "
                        f"start-up {run['startup_s']:.2f} s, peak {run['peak_rss_mb']:,.0f} MB"
                    )
    result["runs"] = runs
    best = {}
    for io_percent in modes:
        key = mode_key(io_percent)
        best[key] = {str(mt): best_of([r for r in runs if r["mode"] == key and r["mt"] == mt]) for mt in mts}
    result["best"] = best
    result["ratios"] = ratios(best, mts, modes, result.get("cold"))
    result["ratios"]["analysis_over_io_only_per_repetition"] = per_repetition_ratios(runs, mts, repeat)
    result["short_loops_s"] = short_loops(result)
    return result


def _root_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("root")
    except Exception:  # not installed from a wheel: no matter
        return None


def ratios(best: dict, mts: list[int], modes: list, cold: dict | None) -> dict:
    full = best["analysis"]
    io = best[mode_key(IO_PERCENT)] if IO_PERCENT in modes else None
    out: dict[str, Any] = {
        "analysis_over_io_only": {str(mt): full[str(mt)]["event_rate_hz"] / io[str(mt)]["event_rate_hz"] for mt in mts}
        if io
        else {},
        "scaling_over_1_thread": {},
    }
    if 1 in mts:
        for key, by_mt in best.items():
            base = by_mt["1"]["event_rate_hz"]
            out["scaling_over_1_thread"][key] = {str(mt): by_mt[str(mt)]["event_rate_hz"] / base for mt in mts}
    warm = full[str(cold["mt"])]["startup_s"] if cold else None
    out["cold_over_warm_startup"] = cold["startup_s"] / warm if cold and warm else None
    return out


def per_repetition_ratios(runs: list[dict], mts: list[int], repeat: int) -> dict:
    """Analysis / I/O-only of its columns within each repetition (runs next to each other): the spread shows the
    noise."""

    def rate(mode, mt, rep):
        return next(
            (r["event_rate_hz"] for r in runs if r["mode"] == mode and r["mt"] == mt and r["repetition"] == rep), None
        )

    out = {}
    for mt in mts:
        pairs = [(rate("analysis", mt, rep), rate(mode_key(IO_PERCENT), mt, rep)) for rep in range(repeat)]
        out[str(mt)] = [a / b for a, b in pairs if a and b]
    return out
