"""Command line: ``python -m rdf_ttbar [options]`` and its sub-commands."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from pathlib import Path

from . import __version__, config as configuration, quiet
from .errors import UserError

PROG = "python -m rdf_ttbar"

SUBCOMMANDS = {
    "generate": "write the synthetic demo data set",
    "fit": "fit an existing histograms.root (no event loop)",
    "validate": "compare a histograms.root with a reference JSON",
    "bench": "measure set-up, jitting, event-loop speed and I/O-only speed",
    "deliver": "skim the inputs once (preselection, analysis columns) into a folder the analysis reads",
}


def io_percent_value(text: str) -> float | int | str:
    """--io-percent: one of the AGC's percentages or 'analysis' (branch_lists.io_percent_key)."""
    from .branch_lists import IO_PERCENT_CHOICES, io_percent_key

    key = io_percent_key(text)
    if key is None:
        raise argparse.ArgumentTypeError(f"expected {IO_PERCENT_CHOICES}, got {text!r}")
    return key


def main_parser() -> argparse.ArgumentParser:
    epilog = "sub-commands (each has --help):\n" + "\n".join(
        f"  {PROG} {name:<9} {text}" for name, text in SUBCOMMANDS.items()
    )
    p = argparse.ArgumentParser(
        prog=PROG,
        description="The AGC CMS Open Data ttbar analysis on ROOT's RDataFrame: input files -> histograms "
        "(histograms.root) -> pyhf fit (fit_results.json) -> plots and metrics. Options override config.yaml.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=version_text(),
                   help="print the versions of rdf_ttbar and ROOT and exit")
    p.add_argument("--config", metavar="FILE",
                   help="YAML file with the defaults (default: ./config.yaml if present, else built-in defaults)")
    p.add_argument("--inputs", metavar="demo|agc|FILE.json",
                   help="input file set: 'demo' (synthetic, generated and cached on first use), 'agc' (the AGC "
                   "file list) or a JSON file in the AGC nanoaod_inputs.json format (local paths or root:// / "
                   "https:// URLs) [config: inputs, default demo]")
    p.add_argument("-n", "--files-per-sample", type=int, metavar="N",
                   help="process only the first N files of every sample [config: files_per_sample, default all]")
    p.add_argument("--mt", type=int, metavar="N",
                   help="threads for ROOT's implicit multi-threading; 0: all cores, 1: single-threaded "
                   "[config: mt, default 0]")
    p.add_argument("--output-dir", metavar="DIR", help="where the outputs go [config: output_dir, default results]")
    p.add_argument("--no-fit", dest="fit", action="store_false", default=None,
                   help="stop after the histograms and their plots (no workspace, no fit)")
    p.add_argument("--tree", metavar="NAME", help="name of the TTree in the input files [config: tree, default Events]")
    p.add_argument("--remote-prefix", metavar="PREFIX",
                   help="replace the AGC list's https://xrootd-local.unl.edu:1094//store/user/AGC prefix, e.g. "
                   "root://eospublic.cern.ch//eos/root-eos/AGC [config: agc.remote_prefix]")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="copy remote input files once into DIR and read the local copies [config: cache_dir]")
    p.add_argument("--deliver-cache", metavar="DIR",
                   help="deliver the inputs into DIR first (see the 'deliver' sub-command; only what is missing "
                   "or out of date), then analyse the delivered files [config: deliver_cache]")
    p.add_argument("--scheduler", choices=("mt", "dask-local", "dask-remote"),
                   help="where the event loops run: mt (this process, --mt threads), dask-local (a Dask "
                   "LocalCluster of --ncores processes), dask-remote (the Dask scheduler at --scheduler-address) "
                   "[config: scheduler, default mt]")
    p.add_argument("--ncores", type=int, metavar="N", help="worker processes for dask-local; 0: all cores")
    p.add_argument("--scheduler-address", metavar="tcp://HOST:PORT", help="the Dask scheduler for dask-remote")
    p.add_argument("--npartitions", type=int, metavar="N", help="Dask partitions per sample (default: ROOT's)")
    p.add_argument("--io-only", dest="io_only", action="store_true", default=None,
                   help="I/O-only benchmark (the AGC's DISABLE_PROCESSING): read the branches of --io-percent "
                   "in every sample and nothing else; writes only metrics.json (event rate, bytes read) "
                   "[config: io_only, default false]")
    p.add_argument("--io-percent", dest="io_percent", type=io_percent_value, metavar="2.7|4|15|25|50|analysis",
                   help="with --io-only: the AGC IO_FILE_PERCENT branch list to read (2.7 = the AGC analysis "
                   "columns; more needs the extra branches of 'generate --full'), or 'analysis': exactly the "
                   "columns this analysis reads (the 2.7%% list and run, luminosityBlock, event) "
                   "[config: io_percent, default 2.7]")
    p.add_argument("--agc-list", metavar="PATH|URL",
                   help="where --inputs agc reads the AGC file list (nanoaod_inputs.json) [config: agc.inputs, "
                   "default: the AGC repository's list on GitHub]")
    return p


# command-line destination -> config key
_OVERRIDES = {
    "inputs": "inputs",
    "files_per_sample": "files_per_sample",
    "mt": "mt",
    "output_dir": "output_dir",
    "fit": "fit",
    "tree": "tree",
    "remote_prefix": "agc.remote_prefix",
    "agc_list": "agc.inputs",
    "cache_dir": "cache_dir",
    "deliver_cache": "deliver_cache",
    "scheduler": "scheduler",
    "ncores": "ncores",
    "scheduler_address": "scheduler_address",
    "npartitions": "npartitions",
    "io_only": "io_only",
    "io_percent": "io_percent",
}


def options_from(args: argparse.Namespace) -> dict:
    """config.yaml (or --config) updated with the options given on the command line."""
    config_path = args.config
    if config_path is None and Path("config.yaml").is_file():
        config_path = "config.yaml"
    options = configuration.load(config_path)
    for dest, key in _OVERRIDES.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        configuration.check(key, value, source=f"option --{dest.replace('_', '-')}")
        section, _, leaf = key.rpartition(".")
        (options[section] if section else options)[leaf] = value
    if getattr(args, "io_percent", None) is not None and not options["io_only"]:
        raise UserError("--io-percent chooses the branches of an I/O-only run: add --io-only")
    return options


def root_version() -> str:
    """ROOT's version without importing ROOT (which takes a while): from its headers, else the package's."""
    import importlib.metadata
    import importlib.util

    spec = importlib.util.find_spec("ROOT")
    if spec is None:
        return "not installed"
    for folder in spec.submodule_search_locations or []:
        header = Path(folder) / "include" / "ROOT" / "RVersion.hxx"
        if header.is_file():
            numbers = dict(re.findall(r"#define ROOT_VERSION_(MAJOR|MINOR|PATCH) (\d+)", header.read_text()))
            if len(numbers) == 3:
                return f"{numbers['MAJOR']}.{int(numbers['MINOR']):02d}.{int(numbers['PATCH']):02d}"
    try:
        return f"package {importlib.metadata.version('root')}"
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def version_text() -> str:
    return f"rdf_ttbar {__version__} (ROOT {root_version()})"


def run_main(argv: list[str]) -> int:
    args = main_parser().parse_args(argv)
    options = options_from(args)
    from . import api, io_only, pipeline

    job = api.run_job(options)
    if job.metrics["mode"] == "io_only":
        lines = io_only.summary_lines(job.metrics)
    else:
        lines = pipeline.summary_lines(job.metrics, job.fit_summary)
    outputs = ", ".join(p.name for p in job.outputs)
    lines.append(f"outputs in {options['output_dir']}/ ({outputs})")
    gap = "\n" if sys.stderr.isatty() else ""  # below the progress bar, which is drawn on a terminal only
    print(gap + "\n".join(f"rdf_ttbar: {line}" for line in lines))
    return 0


def run_subcommand(name: str, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} {name}", description=SUBCOMMANDS[name])
    if name == "generate":
        from . import demo as module
    elif name == "fit":
        from . import inference as module
    elif name == "validate":
        from . import validate as module
    elif name == "deliver":
        from . import deliver_command as module
    else:
        from . import bench as module
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    with quiet.root_import():
        return module.main(args)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so that every staging folder is removed."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum, frame):
    raise Terminated(signum)


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP raise Terminated in the main thread (the default would leave staging folders)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminate)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    install_signal_handlers()
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return run_subcommand(argv[0], argv[1:])
        return run_main(argv)
    except UserError as err:
        print(f"rdf_ttbar: error: {err}", file=sys.stderr)
        return 2
    except Terminated as err:
        name = signal.Signals(err.signum).name
        print(f"rdf_ttbar: stopped by {name}; the outputs of this run were not written", file=sys.stderr)
        return 128 + err.signum
    except KeyboardInterrupt:
        print("rdf_ttbar: interrupted; the outputs of this run were not written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
