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

``--rtt-ms 0,20,100`` measures instead the analysis reading the set through a local xrootd behind a latency
shim, one run per round-trip time, interleaved (:mod:`rdf_ttbar.cli.bench_wan`; default set 9 x 200k).

This process never imports ROOT (so that it neither holds ROOT's pages nor
adds its memory to anything measured).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import rdf_ttbar.cli.options as options

from ..errors import UserError
from ..inputs import branch_lists
from .bench_runs import IO_PERCENT, child_env, measure, rdf_ttbar_command
from .bench_table import compare_formats, format_table

DEFAULT_EVENTS_PER_SAMPLE = 1_000_000
WAN_EVENTS_PER_SAMPLE = 200_000  # --rtt-ms: the demo set (demo.DEFAULT_EVENTS_PER_SAMPLE)
DEFAULT_REPEAT = 2
AGC_IO_PERCENT = 2.7  # the AGC's analysis columns, measured too for comparisons with other implementations

FORMATS = ("ttree", "rntuple")


# the sub-command's description in its --help (cli.main)
DESCRIPTION = (
    "Measure the analysis: set-up, jitting, start-up to the first event, event-loop speed in total and per core, "
    "peak memory, thread scaling, and the I/O-only speed of the same columns, each in a fresh process on a "
    "generated benchmark set (cached), repeated and interleaved. Prints a table; --json writes every number."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # the demo set's options of the run configuration; not config.yaml (the benchmark set is the same everywhere)
    options.add_arguments(
        parser,
        ("demo.events_per_sample", "demo.seed", "demo.cache_dir"),
        config_file=False,
        flags={"demo.cache_dir": ("--cache-dir",)},
        defaults={"demo.events_per_sample": DEFAULT_EVENTS_PER_SAMPLE},
        helps={
            "demo.events_per_sample": "events per sample of the benchmark set (9M events in all by default, "
            f"{WAN_EVENTS_PER_SAMPLE:,} per sample with --rtt-ms; generated once into the demo cache)",
            "demo.seed": "seed of the generated set",
            "demo.cache_dir": "demo cache folder (null: $RDF_TTBAR_CACHE, else $XDG_CACHE_HOME/rdf_ttbar or "
            "~/.cache/rdf_ttbar)",
        },
    )
    parser.set_defaults(events_per_sample=None)  # given or not: the default depends on --rtt-ms (main)
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
        "--rtt-ms",
        metavar="LIST",
        help="instead: read the inputs over root:// from a local xrootd behind a latency shim with these "
        "round-trip times in ms, comma-separated (e.g. 0,20,100), --no-fit, one --mt N, runs interleaved; prints "
        "set-up, loop, bytes read and the ratios to the lowest RTT, and checks the histograms are bit-identical",
    )
    parser.add_argument("--mbps", type=float, metavar="N", help="with --rtt-ms: cap the link at N Mbit/s per direction")
    parser.add_argument(
        "--peer-coffea",
        metavar="DIR",
        help="with --rtt-ms: also run the coffea peer in DIR (its run.py, in the venv of its setup.sh) on the same "
        "root:// list at each RTT, and report its whole-process time",
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

    d = options.from_args(args).demo  # --events-per-sample, --seed, --cache-dir
    directory = demo.demo_set_dir(d.cache_dir, d.events_per_sample, d.seed, args.full, fmt)
    if not (directory / demo.STAMP).is_file():
        print(
            f"rdf_ttbar bench: generating the benchmark set ({d.events_per_sample:,} events per sample"
            f"{', --full' if args.full else ''}, {fmt}) in {directory}; later runs reuse it",
            flush=True,
        )
        command = rdf_ttbar_command(
            "generate", "--events-per-sample", d.events_per_sample, "--seed", d.seed, "--format", fmt
        ) + (["--full"] if args.full else [])
        result = subprocess.run(command, env=child_env(d.cache_dir), cwd=tempfile.gettempdir())
        if result.returncode != 0 or not (directory / demo.STAMP).is_file():
            raise UserError(f"generating the benchmark set failed (exit code {result.returncode}); see above")
    return directory / demo.INPUTS_JSON


def main(args: argparse.Namespace) -> int:
    """Run the benchmark; prints the table (and writes --json)."""
    if args.rtt_ms is not None:
        return _main_wan(args)
    if args.mbps is not None or args.peer_coffea is not None:
        raise UserError("--mbps and --peer-coffea go with --rtt-ms")
    if args.events_per_sample is None:
        args.events_per_sample = DEFAULT_EVENTS_PER_SAMPLE
    events_per_sample = options.from_args(args).demo.events_per_sample  # checked here, before any run
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


def _main_wan(args: argparse.Namespace) -> int:
    """``bench --rtt-ms``: one thread count, the 9 x 200k demo set unless --events-per-sample or --inputs."""
    from . import bench_wan

    if args.repeat < 1:
        raise UserError(f"--repeat must be at least 1, got {args.repeat}")
    if args.formats != "ttree" or args.full:
        raise UserError("--rtt-ms measures TTree files of the default set or --inputs: leave out --formats and --full")
    mts = parse_mt(args.mt) if args.mt is not None else parse_mt("0")
    if len(mts) != 1:
        raise UserError(f"--rtt-ms measures one thread count: pass --mt N, got {args.mt!r}")
    if args.events_per_sample is None:
        args.events_per_sample = WAN_EVENTS_PER_SAMPLE
    options.from_args(args)  # checks the demo options
    return bench_wan.main(args, ensure_inputs(args), mts[0])
