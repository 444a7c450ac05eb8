"""``python -m rdf_ttbar deliver``: skim the inputs once into a folder that the analysis then reads.

The library side is rdf_ttbar/delivery.py; this module only parses the options, resolves the
input set as the main command does (prepare.resolve_samples) and prints the summary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import config as configuration, delivery, execution, prepare

# option destination -> config key (the rest of the options comes from config.yaml / --config)
_OVERRIDES = {
    "inputs": "inputs",
    "files_per_sample": "files_per_sample",
    "mt": "mt",
    "tree": "tree",
    "remote_prefix": "agc.remote_prefix",
    "agc_list": "agc.inputs",
    "scheduler": "scheduler",
    "ncores": "ncores",
    "scheduler_address": "scheduler_address",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Deliver the inputs once: keep only the events that can pass the selection under some "
                     "variation and only the columns the analysis reads, one file per input file, and write "
                     "DIR/nanoaod_inputs.json for '--inputs DIR/nanoaod_inputs.json'. A re-run delivers only "
                     "what is missing or out of date.")
    p.add_argument("--output-dir", required=True, metavar="DIR", help="where the delivered files and list go")
    p.add_argument("--format", choices=delivery.FORMATS,
                   help=f"how the delivered files store the events (default {delivery.DEFAULT_FORMAT}; on Dask "
                   f"{delivery.DASK_FORMAT}, the only one distributed RDataFrame writes)")
    p.add_argument("--config", metavar="FILE", help="YAML file with the defaults (default: ./config.yaml if present)")
    p.add_argument("--inputs", metavar="demo|agc|FILE.json", help="input file set, as for the main command")
    p.add_argument("-n", "--files-per-sample", type=int, metavar="N", help="only the first N files of every sample")
    p.add_argument("--mt", type=int, metavar="N", help="threads for ROOT's implicit multi-threading; 0: all cores")
    p.add_argument("--tree", metavar="NAME", help="name of the tree in the input files (default Events)")
    p.add_argument("--remote-prefix", metavar="PREFIX", help="replace the AGC list's URL prefix")
    p.add_argument("--agc-list", metavar="PATH|URL", help="where --inputs agc reads the AGC file list")
    p.add_argument("--scheduler", choices=configuration.SCHEDULERS,
                   help="where the event loops run: mt, dask-local or dask-remote (the output folder must "
                   "then be writable by the workers at the same path)")
    p.add_argument("--ncores", type=int, metavar="N", help="worker processes for dask-local; 0: all cores")
    p.add_argument("--scheduler-address", metavar="tcp://HOST:PORT", help="the Dask scheduler for dask-remote")


def options_from(args: argparse.Namespace) -> dict:
    path = args.config if args.config is not None else ("config.yaml" if Path("config.yaml").is_file() else None)
    options = configuration.load(path)
    for dest, key in _OVERRIDES.items():
        value = getattr(args, dest)
        if value is None:
            continue
        configuration.check(key, value, source=f"option --{dest.replace('_', '-')}")
        section, _, leaf = key.rpartition(".")
        (options[section] if section else options)[leaf] = value
    return options


def main(args: argparse.Namespace) -> int:
    options = options_from(args)
    samples = prepare.resolve_samples(options)
    output_dir = Path(args.output_dir).expanduser()
    execution.configure_threads(options["mt"])
    executor = None
    if options["scheduler"] != "mt":
        executor = execution.Executor(options["scheduler"], options["ncores"], options["scheduler_address"])
    try:
        report = delivery.deliver(samples, output_dir, tree=options["tree"], fmt=args.format, executor=executor)
    finally:
        if executor is not None:
            executor.close()
    path = delivery.write_file_list(samples, report, output_dir)
    print(delivery.summary(report, output_dir))
    print(f"rdf_ttbar: analyse them with: python -m rdf_ttbar --inputs {path}")
    sys.stdout.flush()
    return 0
