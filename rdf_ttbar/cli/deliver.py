"""``python -m rdf_ttbar deliver``: skim the inputs once into a folder that the analysis then reads.

The library side is rdf_ttbar/execution/delivery.py; this module only parses the options, resolves the
input set as the main command does (prepare.resolve_samples) and prints the summary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import rdf_ttbar.cli.options as options

from ..analysis import of as definition
from ..errors import UserError
from ..execution import delivered, delivery, prepare
from ..execution import executor as execution

# the run options that deliver shares with the main command (the rest comes from config.yaml / --config)
SHARED = (
    "inputs",
    "analysis",
    "files_per_sample",
    "mt",
    "tree",
    "agc.remote_prefix",
    "agc.inputs",
    "demo.events_per_sample",
    "demo.seed",
    "demo.cache_dir",
    "scheduler",
    "ncores",
    "scheduler_address",
)


# the sub-command's description in its --help (cli.main)
DESCRIPTION = (
    "Deliver the inputs once: keep only the events that can pass the selection under some "
    "variation and only the columns the analysis reads, one file per input file, and write "
    "DIR/nanoaod_inputs.json for '--inputs DIR/nanoaod_inputs.json'. A re-run delivers only "
    "what is missing or out of date."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output-dir", required=True, metavar="DIR", help="where the delivered files and list go")
    p.add_argument(
        "--format",
        choices=delivery.FORMATS,
        help=f"how the delivered files store the events (default {delivery.DEFAULT_FORMAT}; on Dask "
        f"{delivery.DASK_FORMAT}, the only one distributed RDataFrame writes)",
    )
    options.add_arguments(
        p,
        SHARED,
        helps={
            "scheduler": "where the event loops run: mt, dask-local or dask-remote (the output folder must then be "
            "writable by the workers at the same path); not on Spark"
        },
    )


def main(args: argparse.Namespace) -> int:
    config = options.from_args(args)
    if config.scheduler.startswith("spark"):
        raise UserError(
            f"deliver runs with --scheduler mt, dask-local or dask-remote, not {config.scheduler}: deliver "
            f"there, then analyse the delivered files with --scheduler {config.scheduler}"
        )
    analysis = definition(config)
    samples = prepare.resolve_samples(config, analysis=analysis)
    output_dir = Path(args.output_dir).expanduser()
    execution.configure_threads(config.mt)
    executor = None
    if config.scheduler != "mt":
        executor = execution.Executor(
            config.scheduler, config.ncores, config.scheduler_address, headers=analysis.headers
        )
    try:
        report = delivery.deliver(
            samples, output_dir, tree=config.tree, fmt=args.format, executor=executor, analysis=analysis
        )
    finally:
        if executor is not None:
            executor.close()
    path = delivered.write_file_list(samples, report, output_dir)
    print(f"rdf_ttbar: {delivered.summary(report, output_dir)}")
    print(f"rdf_ttbar: analyse them with: python -m rdf_ttbar --inputs {path}")
    sys.stdout.flush()
    return 0
