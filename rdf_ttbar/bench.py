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
  were dropped from the page cache (best effort: pages that another running
  process maps stay), against the best warm one.

The input files are read once beforehand, so that every run finds them in the
page cache and the I/O-only rate is that of reading and decompressing. The
table reports, per mode and thread count, the best of the repetitions (lowest
time, highest rate; peak memory: the highest), the ratios full / I/O-only and
N threads / 1 thread, and the issue's targets. ``--json`` writes every number
and every single run.

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

from . import branch_lists, inputs, io_only
from .errors import UserError

DEFAULT_EVENTS_PER_SAMPLE = 1_000_000
DEFAULT_REPEAT = 2
IO_PERCENT = io_only.ANALYSIS  # the I/O-only mode the analysis is compared with: its own columns
AGC_IO_PERCENT = 2.7  # the AGC's analysis columns, measured too for comparisons with other implementations
PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # what python -m rdf_ttbar needs on sys.path

# the targets
TARGET_RATIO = 0.85  # full analysis rate / I/O-only rate of its columns
TARGET_STARTUP_S = 3.0  # warm, process start to the first event
TARGET_SCALING_2 = 1.8  # 2 threads / 1 thread
TARGET_MEMORY_MB = 2000.0  # peak RSS of a 10M-event run
TARGET_MEMORY_EVENTS = 10_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Measure the analysis: set-up, jitting, start-up to the first event, event-loop speed in total and per core, "
        "peak memory, thread scaling, and the I/O-only speed of the same columns, each in a fresh process on a "
        "generated benchmark set (cached), repeated and interleaved. Prints a table; --json writes every number.")
    parser.add_argument("--events-per-sample", type=int, default=DEFAULT_EVENTS_PER_SAMPLE, metavar="N",
                        help=f"events per sample of the benchmark set (default {DEFAULT_EVENTS_PER_SAMPLE:,}: "
                        "9M events in all; generated once into the demo cache)")
    parser.add_argument("--mt", default=None, metavar="LIST",
                        help="thread counts to measure, comma-separated (default: 1,<cores of this machine>)")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, metavar="R",
                        help=f"runs of each measurement; the best counts (default {DEFAULT_REPEAT})")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write all numbers and runs to FILE")
    parser.add_argument("--full", action="store_true",
                        help="use a set generated with 'generate --full' and also measure the I/O-only mode at "
                        "4, 15, 25 and 50%% of the file")
    parser.add_argument("--inputs", metavar="FILE.json",
                        help="measure on this input list (AGC nanoaod_inputs.json format) instead of the generated set")
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="seed of the generated set (default 1)")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="demo cache folder (default: $RDF_TTBAR_CACHE, else $XDG_CACHE_HOME/rdf_ttbar or "
                        "~/.cache/rdf_ttbar)")
    parser.add_argument("--no-evict", dest="evict", action="store_false",
                        help="do not drop ROOT's files from the page cache before the cold run (the cold run is "
                        "then just the first run)")


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


def mode_key(io_percent) -> str:
    return "analysis" if io_percent is None else f"io_only_{io_percent}"


def mode_label(io_percent) -> str:
    if io_percent is None:
        return "analysis"
    return "I/O only, its cols" if io_percent == IO_PERCENT else f"I/O only {io_percent}%"


def child_env(cache_dir: Path | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    if cache_dir is not None:
        env["RDF_TTBAR_CACHE"] = str(cache_dir)
    return env


def ensure_inputs(args) -> Path:
    """The input list: --inputs, else the cached benchmark set (generated in a subprocess when missing)."""
    if args.inputs:
        path = Path(args.inputs)
        if not path.is_file():
            raise UserError(f"input list {path} does not exist: pass an existing JSON file to --inputs")
        return path.resolve()
    from . import demo

    directory = demo.demo_set_dir(args.cache_dir, args.events_per_sample, args.seed, args.full)
    if not (directory / demo.STAMP).is_file():
        print(f"rdf_ttbar bench: generating the benchmark set ({args.events_per_sample:,} events per sample"
              f"{', --full' if args.full else ''}) in {directory}; later runs reuse it", flush=True)
        command = [sys.executable, "-m", "rdf_ttbar", "generate", "--events-per-sample", str(args.events_per_sample),
                   "--seed", str(args.seed)] + (["--full"] if args.full else [])
        result = subprocess.run(command, env=child_env(args.cache_dir), cwd=tempfile.gettempdir())
        if result.returncode != 0 or not (directory / demo.STAMP).is_file():
            raise UserError(f"generating the benchmark set failed (exit code {result.returncode}); see above")
    return directory / demo.INPUTS_JSON


def local_files(samples: list[inputs.Sample]) -> list[Path]:
    return [Path(f) for s in samples for f in s.files if not inputs.is_remote(f)]


def warm_page_cache(files: list[Path]) -> tuple[int, float]:
    """Read every file once; returns (bytes, seconds)."""
    start, total = time.perf_counter(), 0
    for path in files:
        with open(path, "rb", buffering=0) as f:
            while chunk := f.read(16 << 20):
                total += len(chunk)
    return total, time.perf_counter() - start


def root_install_files() -> list[Path]:
    """The files of the ROOT installation (found without importing ROOT)."""
    import importlib.util

    roots = []
    for name in ("ROOT", "cppyy", "libcppyy"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec and spec.origin:
            roots.append(Path(spec.origin).parent)
    for d in list(roots):
        roots += [p for p in d.parent.glob("root*.libs")]
    files = []
    for d in dict.fromkeys(roots):
        files += [p for p in d.rglob("*") if p.is_file() and not p.is_symlink()]
    return files


def evict_from_page_cache(files: list[Path]) -> int:
    """Ask the kernel to drop the files' cached pages (no-op where unsupported); returns how many files."""
    if not hasattr(os, "posix_fadvise"):
        return 0
    n = 0
    for path in files:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            n += 1
        except OSError:
            pass
        finally:
            os.close(fd)
    return n


def maxrss_mb(usage) -> float:
    """ru_maxrss in MB (kilobytes on Linux, bytes on macOS)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return usage.ru_maxrss * scale / 1e6


def interpreter_start_s(repeat: int = 3) -> float:
    """Seconds from launching ``python`` to ``rdf_ttbar.START_TIME`` (the zero of the set-up time in metrics.json).

    ``time.perf_counter`` is the system-wide monotonic clock, so the child's
    ``START_TIME`` and this process's launch time compare directly.
    """
    best = None
    code = "import sys, rdf_ttbar; sys.stdout.write(repr(rdf_ttbar.START_TIME))"
    for _ in range(repeat):
        launch = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(),
                             cwd=tempfile.gettempdir())
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
    command = [sys.executable, "-m", "rdf_ttbar", "--inputs", str(inputs_json), "--mt", str(mt), "--scheduler", "mt",
               "--output-dir", str(out_dir), "--no-fit"]
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


# ---------------------------------------------------------------------------
# the benchmark
# ---------------------------------------------------------------------------
def measure(inputs_json: Path, mts: list[int], percents: list, repeat: int, evict: bool, log=print) -> dict:
    """All measurements; returns the result dictionary (see ``main``)."""
    samples = inputs.read_file_list(inputs_json)
    files = local_files(samples)
    events = sum(s.nevts for s in samples)
    disk_bytes = sum(p.stat().st_size for p in files)
    result: dict = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "root": _root_version()},
        "inputs": {"path": str(inputs_json), "events": events, "files": sum(len(s.files) for s in samples),
                   "bytes_on_disk": disk_bytes},
        "mt": mts, "repeat": repeat, "io_percents": percents,
    }
    log(f"rdf_ttbar bench: {events:,} events in {result['inputs']['files']} files ({disk_bytes / 1e6:,.0f} MB), "
        f"threads {','.join(map(str, mts))}, {repeat} repetition(s)")
    warm_bytes, warm_s = warm_page_cache(files)
    result["page_cache_warm"] = {"bytes": warm_bytes, "seconds": warm_s}
    result["interpreter_start_s"] = interpreter_start_s()

    with tempfile.TemporaryDirectory(prefix="rdf_ttbar-bench-") as tmp:
        workdir = Path(tmp)
        # cold: the very first analysis run, ROOT's files dropped from the page cache first
        evicted = evict_from_page_cache(root_install_files()) if evict else 0
        log(f"  cold run (analysis, {mts[0]} thread(s){', ROOT files evicted from the page cache' if evicted else ''})")
        cold = run_once(inputs_json, mts[0], None, result["interpreter_start_s"], workdir)
        cold["evicted_files"] = evicted
        result["cold"] = cold

        runs = []
        modes = [None] + list(percents)
        for rep in range(repeat):
            for mt in mts:
                order = modes if rep % 2 == 0 else modes[::-1]  # interleaved: full, I/O ... I/O, full
                for io_percent in order:
                    run = run_once(inputs_json, mt, io_percent, result["interpreter_start_s"], workdir)
                    run["repetition"] = rep
                    runs.append(run)
                    log(f"  {mode_label(io_percent):<18} {mt} thread(s): {run['event_rate_hz'] / 1e3:9,.1f} kHz, "
                        f"start-up {run['startup_s']:.2f} s, peak {run['peak_rss_mb']:,.0f} MB")
    result["runs"] = runs
    best = {}
    for io_percent in modes:
        key = mode_key(io_percent)
        best[key] = {str(mt): best_of([r for r in runs if r["mode"] == key and r["mt"] == mt]) for mt in mts}
    result["best"] = best
    result["ratios"] = ratios(best, mts, modes, cold)
    result["ratios"]["analysis_over_io_only_per_repetition"] = per_repetition_ratios(runs, mts, repeat)
    result["targets"] = targets(result, mts)
    return result


def _root_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("root")
    except Exception:  # not installed from a wheel: no matter
        return None


def ratios(best: dict, mts: list[int], modes: list, cold: dict) -> dict:
    full = best["analysis"]
    io = best[mode_key(IO_PERCENT)] if IO_PERCENT in modes else None
    out = {
        "analysis_over_io_only": {str(mt): full[str(mt)]["event_rate_hz"] / io[str(mt)]["event_rate_hz"]
                                  for mt in mts} if io else {},
        "scaling_over_1_thread": {},
    }
    if 1 in mts:
        for key, by_mt in best.items():
            base = by_mt["1"]["event_rate_hz"]
            out["scaling_over_1_thread"][key] = {str(mt): by_mt[str(mt)]["event_rate_hz"] / base for mt in mts}
    warm = full[str(cold["mt"])]["startup_s"]
    out["cold_over_warm_startup"] = cold["startup_s"] / warm if warm else None
    return out


def per_repetition_ratios(runs: list[dict], mts: list[int], repeat: int) -> dict:
    """Analysis / I/O-only of its columns within each repetition (runs next to each other): the spread shows the noise."""
    def rate(mode, mt, rep):
        return next((r["event_rate_hz"] for r in runs if r["mode"] == mode and r["mt"] == mt
                     and r["repetition"] == rep), None)

    out = {}
    for mt in mts:
        pairs = [(rate("analysis", mt, rep), rate(mode_key(IO_PERCENT), mt, rep)) for rep in range(repeat)]
        out[str(mt)] = [a / b for a, b in pairs if a and b]
    return out


def targets(result: dict, mts: list[int]) -> list[dict]:
    best, ratio = result["best"], result["ratios"]
    rows = []
    for mt in mts:
        value = ratio["analysis_over_io_only"].get(str(mt))
        if value is not None:
            rows.append({"target": f"analysis rate >= {TARGET_RATIO:.0%} of I/O-only of its columns, {mt} thread(s)",
                         "value": value, "limit": TARGET_RATIO, "met": value >= TARGET_RATIO})
    startup = min(best["analysis"][str(mt)]["startup_s"] for mt in mts)
    rows.append({"target": f"start-up to the first event <= {TARGET_STARTUP_S:g} s (warm)", "value": startup,
                 "limit": TARGET_STARTUP_S, "met": startup <= TARGET_STARTUP_S})
    if 1 in mts and 2 in mts:
        value = ratio["scaling_over_1_thread"]["analysis"]["2"]
        rows.append({"target": f"analysis: 2 threads >= {TARGET_SCALING_2}x 1 thread", "value": value,
                     "limit": TARGET_SCALING_2, "met": value >= TARGET_SCALING_2})
    peak = max(b["peak_rss_mb"] for b in best["analysis"].values())
    events = result["inputs"]["events"]
    rows.append({"target": f"peak memory <= {TARGET_MEMORY_MB:,.0f} MB (10M events; measured on {events:,} events)",
                 "value": peak, "limit": TARGET_MEMORY_MB, "met": peak <= TARGET_MEMORY_MB,
                 "events": events, "representative": events >= 0.9 * TARGET_MEMORY_EVENTS})
    return rows


def format_table(result: dict) -> str:
    head = (f"{'mode':<18} {'thr':>3} {'set-up':>7} {'jitting':>7} {'to 1st ev':>9} {'loop':>7} "
            f"{'events/s':>11} {'per core':>10} {'MB read':>8} {'peak MB':>8}")
    lines = [head, "-" * len(head)]

    def row(label, r):
        mb = f"{r['bytes_read'] / 1e6:8,.0f}" if r["bytes_read"] is not None else f"{'-':>8}"
        return (f"{label:<18} {r['mt']:>3} {r['setup_s']:6.2f}s {r['jitting_s']:6.2f}s {r['startup_s']:8.2f}s "
                f"{r['event_loop_s']:6.2f}s {r['event_rate_hz']:11,.0f} {r['event_rate_per_core_hz']:10,.0f} "
                f"{mb} {r['peak_rss_mb']:8,.0f}")

    for mt in result["mt"]:
        for key, by_mt in result["best"].items():
            r = by_mt[str(mt)]
            lines.append(row(mode_label(r["io_percent"]), r))
    cold = result["cold"]
    lines.append(row("analysis (cold)", cold))
    lines.append("")
    ratio = result["ratios"]
    for mt, value in ratio["analysis_over_io_only"].items():
        each = ratio.get("analysis_over_io_only_per_repetition", {}).get(mt, [])
        spread = f" (within each repetition: {', '.join(f'{x:.3f}' for x in each)})" if len(each) > 1 else ""
        lines.append(f"analysis / I/O-only of its columns, event rate, {mt} thread(s): {value:.3f}{spread}")
    for key, by_mt in ratio["scaling_over_1_thread"].items():
        for mt, value in by_mt.items():
            if mt != "1":
                lines.append(f"{mode_label(result['best'][key][mt]['io_percent'])}: {mt} threads / 1 thread: "
                             f"{value:.2f}x")
    if ratio["cold_over_warm_startup"]:
        lines.append(f"start-up cold / warm ({cold['mt']} thread(s)): {cold['startup_s']:.2f} s / "
                     f"{result['best']['analysis'][str(cold['mt'])]['startup_s']:.2f} s = "
                     f"{ratio['cold_over_warm_startup']:.2f}x")
    lines.append(f"(set-up includes {result['interpreter_start_s']:.3f} s of interpreter start; best of "
                 f"{result['repeat']} run(s) each; peak MB: maximum resident set size of the process)")
    lines.append("")
    for t in result["targets"]:
        value = t["value"]
        shown = f"{value:,.0f}" if t["limit"] >= 100 else f"{value:.3f}"
        lines.append(f"[{'met' if t['met'] else 'NOT met':>7}] {t['target']}: {shown}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """Run the benchmark; prints the table (and writes --json)."""
    if args.events_per_sample < 1:
        raise UserError(f"--events-per-sample must be at least 1, got {args.events_per_sample}")
    if args.repeat < 1:
        raise UserError(f"--repeat must be at least 1, got {args.repeat}")
    mts = parse_mt(args.mt)
    percents = [IO_PERCENT] + (list(branch_lists.BRANCHES_BY_PERCENT) if args.full else [AGC_IO_PERCENT])
    inputs_json = ensure_inputs(args)
    result = measure(inputs_json, mts, percents, args.repeat, args.evict)
    result["events_per_sample"] = None if args.inputs else args.events_per_sample
    print()
    print(format_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nrdf_ttbar bench: numbers in {args.json}")
    return 0
