"""``python -m rdf_ttbar bench``: how fast the analysis starts and runs, against the I/O-only rate of its columns.

On a generated benchmark set (about 1M events per sample by default,
generated once into the demo cache), one bench run measures, each time in a
fresh ``python -m rdf_ttbar`` process whose ``metrics.json`` it reads:

- the full analysis (``--no-fit``), the I/O-only mode of exactly its columns
  (``--io-only --io-percent analysis``: the issue's ratio) and of the AGC's
  2.7% list (``--io-percent 2.7``, to compare with other implementations;
  with ``--full`` also 4, 15, 25 and 50%),
  interleaved (full, I/O, I/O, full, ...) and repeated (``--repeat``), for
  each thread count of ``--mt``;
- set-up (process start to graph built, the interpreter's own start
  included), jitting, start-up to the first event (set-up + jitting), the
  event loop, events/s in total and per core, bytes read, and the peak
  memory (maximum resident set size) of each process;
- the "cold" start-up: the very first run, after the ROOT installation's files
  (and the compiled analysis graph) were dropped from the page cache (best effort: pages that another running
  process maps stay), against the best warm one.

The input files are read once beforehand, so that every run finds them in the
page cache and the I/O-only rate is that of reading and decompressing. The
table reports, per mode and thread count, the best of the repetitions (lowest
time, highest rate; peak memory: the highest), the ratios full / I/O-only and
N threads / 1 thread, and a note when the event loops are too short (under
``MIN_LOOP_S``) for their rates to mean much. ``--formats ttree,rntuple``
also measures the same generated set written as RNTuple (analysis and I/O-only
of its columns) and compares event rates and bytes on disk. ``--json`` writes
every number and every single run.

This process never imports ROOT (so that it neither holds ROOT's pages nor
adds its memory to anything measured).
"""

from __future__ import annotations

import argparse
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

from .. import config as configuration
from .. import inputs
from ..analysis import native
from ..errors import UserError
from ..execution import io_only
from ..inputs import branch_lists
from .bench_os import evict_from_page_cache, maxrss_mb, root_install_files, warm_page_cache
from .bench_table import compare_formats, format_table, mode_key, mode_label, short_loops

DEFAULT_EVENTS_PER_SAMPLE = 1_000_000
DEFAULT_REPEAT = 2
# (bench_table.IO_PERCENT) the I/O-only mode the analysis is compared with: its own columns
IO_PERCENT = io_only.ANALYSIS
AGC_IO_PERCENT = 2.7  # the AGC's analysis columns, measured too for comparisons with other implementations
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # what python -m rdf_ttbar needs on sys.path

FORMATS = ("ttree", "rntuple")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Measure the analysis: set-up, jitting, start-up to the first event, event-loop speed in total and per core, "
        "peak memory, thread scaling, and the I/O-only speed of the same columns, each in a fresh process on a "
        "generated benchmark set (cached), repeated and interleaved. Prints a table; --json writes every number."
    )
    # the demo set's options of the run configuration; not config.yaml (the benchmark set is the same everywhere)
    configuration.add_arguments(
        parser,
        ("demo.events_per_sample", "demo.seed", "demo.cache_dir"),
        config_file=False,
        flags={"demo.cache_dir": ("--cache-dir",)},
        defaults={"demo.events_per_sample": DEFAULT_EVENTS_PER_SAMPLE},
        helps={
            "demo.events_per_sample": "events per sample of the benchmark set (9M events in all by default; "
            "generated once into the demo cache)",
            "demo.seed": "seed of the generated set",
            "demo.cache_dir": "demo cache folder (null: $RDF_TTBAR_CACHE, else $XDG_CACHE_HOME/rdf_ttbar or "
            "~/.cache/rdf_ttbar)",
        },
    )
    parser.add_argument(
        "--mt",
        default=None,
        metavar="LIST",
        help="thread counts to measure, comma-separated (default: 1,<cores of this machine>)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=DEFAULT_REPEAT,
        metavar="R",
        help=f"runs of each measurement; the best counts (default {DEFAULT_REPEAT})",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write all numbers and runs to FILE")
    parser.add_argument(
        "--full",
        action="store_true",
        help="use a set generated with 'generate --full' and also measure the I/O-only mode at "
        "4, 15, 25 and 50%% of the file",
    )
    parser.add_argument(
        "--inputs",
        metavar="FILE.json",
        help="measure on this input list (AGC nanoaod_inputs.json format) instead of the generated set",
    )
    parser.add_argument(
        "--formats",
        default="ttree",
        metavar="LIST",
        help="file formats of the generated set to measure, comma-separated: ttree (default), "
        "rntuple or ttree,rntuple (compares event rates and bytes on disk of the same events)",
    )
    parser.add_argument(
        "--no-evict",
        dest="evict",
        action="store_false",
        help="do not drop ROOT's files from the page cache before the cold run (the cold run is "
        "then just the first run)",
    )


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def parse_mt(text: str | None) -> list[int]:
    """'1,2' -> [1, 2]; default 1 and the cores of this machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if text is None:
        return sorted({1, cores})
    values = []
    for part in text.split(","):
        try:
            n = int(part)
        except ValueError:
            raise UserError(f"--mt takes thread counts separated by commas, e.g. 1,2; got {text!r}") from None
        if n < 0:
            raise UserError(f"--mt: thread counts must be >= 1 (0: all cores), got {n}")
        n = n or cores
        if n not in values:
            values.append(n)
    return values


def child_env(cache_dir: str | Path | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    if cache_dir is not None:
        env["RDF_TTBAR_CACHE"] = str(cache_dir)
    return env


def parse_formats(text: str) -> list[str]:
    values = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in values if f not in FORMATS]
    if bad or not values:
        raise UserError(f"--formats takes {', '.join(FORMATS)} separated by commas; got {text!r}")
    return list(dict.fromkeys(values))


def ensure_inputs(args, fmt: str = "ttree") -> Path:
    """The input list: --inputs, else the cached benchmark set (generated in a subprocess when missing)."""
    if args.inputs:
        path = Path(args.inputs)
        if not path.is_file():
            raise UserError(f"input list {path} does not exist: pass an existing JSON file to --inputs")
        return path.resolve()
    from ..inputs import demo

    d = configuration.from_args(args).demo  # --events-per-sample, --seed, --cache-dir
    directory = demo.demo_set_dir(d.cache_dir, d.events_per_sample, d.seed, args.full, fmt)
    if not (directory / demo.STAMP).is_file():
        print(
            f"rdf_ttbar bench: generating the benchmark set ({d.events_per_sample:,} events per sample"
            f"{', --full' if args.full else ''}, {fmt}) in {directory}; later runs reuse it",
            flush=True,
        )
        command = [
            sys.executable,
            "-m",
            "rdf_ttbar",
            "generate",
            "--events-per-sample",
            str(d.events_per_sample),
            "--seed",
            str(d.seed),
            "--format",
            fmt,
        ] + (["--full"] if args.full else [])
        result = subprocess.run(command, env=child_env(d.cache_dir), cwd=tempfile.gettempdir())
        if result.returncode != 0 or not (directory / demo.STAMP).is_file():
            raise UserError(f"generating the benchmark set failed (exit code {result.returncode}); see above")
    return directory / demo.INPUTS_JSON


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


def run_once(inputs_json: Path, mt: int, io_percent, offset_s: float, workdir: Path) -> dict:
    """One measurement in a fresh process; returns its numbers."""
    out_dir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    command = [
        sys.executable,
        "-m",
        "rdf_ttbar",
        "--inputs",
        str(inputs_json),
        "--mt",
        str(mt),
        "--scheduler",
        "mt",
        "--output-dir",
        str(out_dir),
        "--no-fit",
    ]
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
    samples = inputs.read_file_list(inputs_json)
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


def main(args: argparse.Namespace) -> int:
    """Run the benchmark; prints the table (and writes --json)."""
    events_per_sample = configuration.from_args(args).demo.events_per_sample  # checked here, before any run
    if args.repeat < 1:
        raise UserError(f"--repeat must be at least 1, got {args.repeat}")
    mts = parse_mt(args.mt)
    formats = parse_formats(args.formats)
    if args.inputs and formats != ["ttree"]:
        raise UserError("--formats measures the generated set in each format: leave out --inputs")
    percents = [IO_PERCENT] + (list(branch_lists.BRANCHES_BY_PERCENT) if args.full else [AGC_IO_PERCENT])
    result = measure(ensure_inputs(args, formats[0]), mts, percents, args.repeat, args.evict)
    result["format"] = "ttree" if args.inputs else formats[0]
    result["events_per_sample"] = None if args.inputs else events_per_sample
    result["formats"] = {}
    for fmt in formats[1:]:  # the same events in another format: the analysis and the I/O-only of its columns
        other = measure(ensure_inputs(args, fmt), mts, [IO_PERCENT], args.repeat, evict=False, cold=False)
        other["comparison"] = compare_formats(result, other, fmt)
        result["formats"][fmt] = other
    print()
    print(format_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nrdf_ttbar bench: numbers in {args.json}")
    return 0
