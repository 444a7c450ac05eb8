"""``python -m rdf_ttbar generate``: write the synthetic demo set (the library side is rdf_ttbar/inputs/demo.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

import rdf_ttbar.cli.options as options

from ..analysis import of as definition
from ..inputs.demo import DEFAULT_EVENTS_PER_FILE, FORMATS, ensure_demo_set, generate
from ..inputs.demo_jobs import demo_samples

# the sub-command's description in its --help (cli.main)
DESCRIPTION = (
    "Write the synthetic demo input set: NanoAOD-like ROOT files (TTree or RNTuple Events, the AGC branch types) "
    "for the samples of the analysis (the AGC's nine; --analysis FILE.py: those of your definition, each from the "
    "generator's recipe its process names), and a nanoaod_inputs.json listing them. The content depends only on the "
    "seed, the samples and the number of events, not on the thread count."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m rdf_ttbar generate``."""
    # the options shared with the main command: the set that '--inputs demo' reads with the same options
    options.add_arguments(
        parser,
        ("demo.events_per_sample", "demo.seed", "demo.cache_dir", "mt", "analysis"),
        helps={
            "demo.events_per_sample": "events in each sample",
            "analysis": "whose samples to write: v1 or v2 (the AGC's nine), or your own definition (FILE.py or a "
            "module path)",
            "demo.cache_dir": "the demo cache that '--inputs demo' reads (without --output-dir)",
            "mt": "threads (one file per thread at a time); 0: all cores",
        },
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="write the set into DIR (an earlier demo set there is replaced). Default: the cache "
        "that '--inputs demo' reads ($RDF_TTBAR_CACHE, else $XDG_CACHE_HOME/rdf_ttbar or "
        "~/.cache/rdf_ttbar), where an existing identical set is reused",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="also write the branches that the AGC I/O-only benchmark reads (2.7 to 50%% of a real "
        "file, see rdf_ttbar/inputs/branch_lists.py), filled with noise of their real compressed size",
    )
    parser.add_argument(
        "--events-per-file",
        type=int,
        metavar="N",
        help=f"events per file (default {DEFAULT_EVENTS_PER_FILE}); -n of the analysis counts files",
    )
    parser.add_argument(
        "--agc-layout",
        action="store_true",
        help="as many files per sample as the AGC's nanoaod_inputs.json lists (787 in all), each sample's "
        "events split evenly over its files (the default 200k: 573 to 66,667 events per file); the same events "
        "as the default layout",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="ttree",
        dest="format",
        help="file format: a TTree 'Events' per file (default) or an RNTuple 'Events' (the same "
        "events and columns, converted with RDataFrame's Snapshot)",
    )


def main(args: argparse.Namespace) -> int:
    """Run ``generate`` from parsed options; prints the path of the inputs JSON."""
    config = options.from_args(args)
    threads, d = config.mt or None, config.demo
    samples = demo_samples(definition(config))
    # into the demo cache (an identical set there is reused), or into --output-dir
    make, where = (ensure_demo_set, d.cache_dir) if args.output_dir is None else (generate, args.output_dir)
    path = make(
        where,
        d.events_per_sample,
        d.seed,
        args.full,
        args.events_per_file,
        threads=threads,
        fmt=args.format,
        agc_layout=args.agc_layout,
        samples=samples,
    )
    print(f"demo set: {path}")
    return 0
