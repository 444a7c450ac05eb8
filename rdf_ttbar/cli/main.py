"""Command line: ``python -m rdf_ttbar [options]`` and its sub-commands (one module each in this package)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys

import rdf_ttbar.cli.options as options

from .. import __version__, interrupts, provenance, quiet
from .. import config as configuration
from ..errors import UserError, kept_note

PROG = "python -m rdf_ttbar"
PURE_PYTHON = ("fit", "validate", "bench")  # sub-commands without ROOT's C++ in this process

SUBCOMMANDS = {
    "generate": "write the synthetic demo data set",
    "fit": "fit an existing histograms.root (no event loop)",
    "validate": "compare a histograms.root with a reference JSON",
    "bench": "measure set-up, jitting, event-loop speed and I/O-only speed",
    "deliver": "skim the inputs once (preselection, analysis columns) into a folder the analysis reads",
}


def main_parser() -> argparse.ArgumentParser:
    epilog = "sub-commands (each has --help):\n" + "\n".join(
        f"  {PROG} {name:<9} {text}" for name, text in SUBCOMMANDS.items()
    )
    p = options.Parser(
        prog=PROG,
        description="The AGC CMS Open Data ttbar analysis on ROOT's RDataFrame: input files -> histograms "
        "(histograms.root) -> pyhf fit (fit_results.json) -> plots and metrics. Options override config.yaml.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--version", action="version", version=version_text(), help="print the versions of rdf_ttbar and ROOT and exit"
    )
    options.add_arguments(p)  # every option of config.yaml, generated from config.RunConfig
    return p


def config_from(args: argparse.Namespace) -> configuration.RunConfig:
    """config.yaml (or --config) updated with the options given on the command line."""
    config = options.from_args(args)
    if args.io_percent is not None and not config.io_only:
        raise UserError("--io-percent chooses the branches of an I/O-only run: add --io-only")
    return config


def version_text() -> str:
    return f"rdf_ttbar {__version__} (ROOT {provenance.root_version()})"


def run_main(argv: list[str]) -> int:
    args = main_parser().parse_args(argv)
    config = config_from(args)
    from .. import api
    from ..execution import io_only, pipeline

    interrupts.check()  # a signal during the start-up

    job = api.run_job(config)
    if job.metrics["mode"] == "io_only":
        lines = io_only.summary_lines(job.metrics)
    else:
        lines = pipeline.summary_lines(job.metrics, job.fit_summary)
    if job.fit_summary and "postfit_yields" in job.fit_summary:
        from ..report import yield_lines

        lines += yield_lines(job.fit_summary["postfit_yields"])
    outputs = ", ".join(p.name for p in job.outputs)
    lines.append(f"outputs in {config.output_dir}/ ({outputs})")
    if config.hepdata is not None and job.fit_summary:
        lines.append(f"HEPData submission: {config.hepdata}")
    lines += [f"report: {p}" for p in job.outputs if p.name == "report.html"]
    gap = "\n" if sys.stderr.isatty() else ""  # below the progress bar, which is drawn on a terminal only
    print(gap + "\n".join(f"rdf_ttbar: {line}" for line in lines))
    return 0


def run_subcommand(name: str, argv: list[str]) -> int:
    import importlib

    # each sub-command is the module of its name (imported only when run): add_arguments(parser), main(args), and
    # optionally a DESCRIPTION for its --help (else its line of the main --help)
    command = importlib.import_module(f"{__package__}.{name}")
    parser = options.Parser(prog=f"{PROG} {name}", description=getattr(command, "DESCRIPTION", SUBCOMMANDS[name]))
    command.add_arguments(parser)
    args = parser.parse_args(argv)
    interrupts.check()  # a signal during the start-up
    # fit, validate and bench run no C++ of ROOT in this process: a signal raises at once there (interrupts.py)
    with quiet.root_import(), interrupts.immediate() if name in PURE_PYTHON else contextlib.nullcontext():
        return command.main(args)


Terminated = interrupts.Terminated  # SIGTERM or SIGHUP


def forget_unhandled_interrupt() -> None:
    """Let ``python -m rdf_ttbar`` exit 130 after a Ctrl-C it handled.

    CPython marks a KeyboardInterrupt as unhandled when it ends a ``PyRun_String``
    call (cppyy runs some) even if Python code catches it further up; at exit,
    ``python -m`` then kills itself with SIGINT (status -2 for a parent process,
    not 130). Each ``PyRun_String`` call clears the mark first: run a trivial one.
    """
    import ctypes

    run = ctypes.pythonapi.PyRun_StringFlags
    run.restype = ctypes.py_object
    run.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.py_object, ctypes.py_object, ctypes.c_void_p]
    run(b"None", 258, {}, {}, None)  # 258: Py_eval_input


def show_warnings() -> None:
    """What rdf_ttbar's library modules log (logging.getLogger(__name__)) on stderr: warnings as
    ``rdf_ttbar: warning: ...`` lines, notes (info) as ``rdf_ttbar: ...`` lines; the library itself never prints."""
    import logging

    logger = logging.getLogger("rdf_ttbar")
    logger.setLevel(logging.INFO)

    class CliHandler(logging.StreamHandler):
        rdf_ttbar_cli = True  # installed once per process (whatever the copy of this module)

        def format(self, record: logging.LogRecord) -> str:
            if record.levelno < logging.WARNING:
                return f"rdf_ttbar: {record.getMessage()}"
            return f"rdf_ttbar: {record.levelname.lower()}: {record.getMessage()}"

    if not any(getattr(h, "rdf_ttbar_cli", False) for h in logger.handlers):
        handler = CliHandler()  # sys.stderr at the time of each message
        handler.setLevel(logging.INFO)
        logger.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    provenance.set_command(argv)
    previous = interrupts.install()  # signals are noted, and acted on at safe points (interrupts.py)
    show_warnings()
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return run_subcommand(argv[0], argv[1:])
        return run_main(argv)
    except UserError as err:
        print(f"rdf_ttbar: error: {err}", file=sys.stderr)
        return 2
    except Terminated as err:
        name = signal.Signals(err.signum).name
        print(
            f"rdf_ttbar: stopped by {name}; {kept_note(err) or 'the outputs of this run were not written'}",
            file=sys.stderr,
        )
        return 128 + err.signum
    except KeyboardInterrupt as err:
        print(
            f"rdf_ttbar: interrupted; {kept_note(err) or 'the outputs of this run were not written'}", file=sys.stderr
        )
        forget_unhandled_interrupt()
        return 130
    except BrokenPipeError:  # the reader of our output went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        interrupts.restore(previous)  # (main() called by other code: its handlers back)
