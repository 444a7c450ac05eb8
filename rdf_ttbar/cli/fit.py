"""``python -m rdf_ttbar fit``: fit a histograms.root or an AGC reference JSON, write the results, draw the plots."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from .. import provenance, report
from ..analysis import Analysis
from ..analysis import of as definition
from ..errors import UserError
from ..execution.outputs import write_errors
from ..inference import ml_validation
from ..inference.configuration import FIT_RESULTS_FILE, WORKSPACE_FILE, FitError, FitWarning
from ..inference.fitting import run_fit
from . import options

# ---------------------------------------------------------------------------
# command line


def add_fit_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of ``python -m rdf_ttbar fit``."""
    parser.add_argument(
        "histograms", type=Path, metavar="HISTOGRAMS.root", nargs="?", help="histograms file written by the analysis"
    )
    parser.add_argument(
        "--reference",
        metavar="N|FILE.json",
        help="fit an AGC reference histogram JSON instead (histos_N_file_per_process.json, or just "
        "N: 1, 2, 5, 10, 20, 50, 100, 200, all for the packaged copies of --analysis's version), with "
        "exact variances from the AGC file list",
    )
    for flags, kind, metavar, text in (
        (
            ("-n", "--files-per-sample"),
            int,
            "N",
            "with --reference: files per sample it was made from (default: from its name; 0: all)",
        ),
        (
            ("--agc-list",),
            Path,
            "FILE",
            "with --reference: the AGC file list giving the event counts (default: packaged copy)",
        ),
        (
            ("--output-dir",),
            Path,
            "DIR",
            "where to write workspace.json, fit_results.json and plots/ (default: the folder of HISTOGRAMS.root)",
        ),
    ):
        parser.add_argument(*flags, type=kind, default=None, metavar=metavar, help=text)
    parser.add_argument(
        "--ranking",
        action="store_true",
        help="also rank the nuisance parameters by their impact on ttbar_norm (about four fits "
        "per parameter) and draw plots/ranking.png",
    )
    parser.add_argument("--no-plots", action="store_true", help="do not draw the plots (input histograms and fit)")
    options.add_arguments(
        parser,
        ("analysis", "hepdata"),
        helps={
            "analysis": "the analysis whose fit it is, and whose packaged references --reference N "
            "names: v1 (AGC v1.4.0), v2 (AGC main), or your own definition (FILE.py or a module path)"
        },
    )
    return parser


def format_result(summary: dict[str, Any]) -> str:
    name = summary["poi"]
    poi = summary[name]
    text = f"{name} = {poi['value']:.4f} +/- {poi['uncertainty']:.4f}"
    if poi.get("interval"):
        lo, hi = poi["interval"]
        text += (
            f" (profile-likelihood interval [{lo:.4f}, {hi:.4f}]: {lo - poi['value']:+.4f} / {hi - poi['value']:+.4f})"
        )
    return text


def run_fit_and_plots(
    histograms_path, output_dir, plots: bool = True, ranking: bool = False, *, analysis: Analysis, record=None
) -> dict[str, Any]:
    """:func:`run_fit`, then the input-histogram plots, all into ``output_dir/plots`` (their
    paths are listed under "plots" in the returned summary); ``record``: the provenance fit_results.json keeps."""
    if not plots:
        return run_fit(histograms_path, output_dir, ranking=ranking, analysis=analysis, provenance=record)
    from ..plots.painters import Painters

    plots_dir = Path(output_dir) / "plots"
    with Painters() as painters:  # warm plot workers: the histogram plots are drawn while the fit runs
        jobs = [painters.draw("histograms", histograms_path, plots_dir, analysis)]
        summary = run_fit(histograms_path, output_dir, ranking=ranking, analysis=analysis, provenance=record)
        jobs.append(painters.draw("fit", summary, plots_dir, analysis))
        ml_files = {Path(histograms_path).with_name(f"{h.output}.root") for h in ml_validation.ml_histograms(analysis)}
        if ml_files and all(f.is_file() for f in ml_files):  # AGC v2: the ML features with the fit's parameters
            ml = ml_validation.ml_validation(histograms_path, summary, analysis)
            jobs.append(painters.draw("ml", ml, plots_dir, analysis))
        return {**summary, "plots": [str(p) for job in jobs for p in job.result()]}


def fit_only_main(args: argparse.Namespace) -> int:
    """``python -m rdf_ttbar fit``: returns the exit status (2 on FitError, message on stderr)."""
    if (args.histograms is None) == (args.reference is None):
        print(
            "rdf_ttbar fit: error: give either HISTOGRAMS.root or --reference N|FILE.json "
            "(see python -m rdf_ttbar fit --help)",
            file=sys.stderr,
        )
        return 2
    try:
        config = options.from_args(args)
        analysis = definition(config)
        if config.hepdata is not None:
            report.hepdata.check_folder(config.hepdata)
    except UserError as exc:
        print(f"rdf_ttbar fit: error: {exc}", file=sys.stderr)
        return 2
    if args.reference is not None:
        from ..inputs import reference

        output_dir = args.output_dir if args.output_dir is not None else Path("results-reference")
        n = -1 if args.files_per_sample is None else (args.files_per_sample or None)
        try:
            histograms = reference.read(args.reference, n, args.agc_list, analysis=analysis)
        except UserError as exc:
            print(f"rdf_ttbar fit: error: {exc}", file=sys.stderr)
            return 2
        with write_errors(output_dir):
            output_dir.mkdir(parents=True, exist_ok=True)
            args.histograms = reference.write_histograms_root(histograms, output_dir / "histograms.root")
    output_dir = args.output_dir if args.output_dir is not None else Path(args.histograms).parent
    record = provenance.make(
        call="rdf_ttbar.cli.fit.main(args)",
        analysis=analysis,
        options={
            "histograms": str(args.histograms),
            "reference": args.reference,
            "files_per_sample": args.files_per_sample,
            "output_dir": str(output_dir),
            "ranking": args.ranking,
            "plots": not args.no_plots,
        },
    )
    try:
        with warnings.catch_warnings(), write_errors(Path(output_dir)):
            warnings.simplefilter("ignore", FitWarning)  # printed below instead
            summary = run_fit_and_plots(
                args.histograms, output_dir, not args.no_plots, args.ranking, analysis=analysis, record=record
            )
            page = report.write_report(
                Path(output_dir) / report.REPORT_FILE,
                summary=summary,
                plots_dir=None if args.no_plots else Path(output_dir) / "plots",
                analysis=analysis,
            )
            if config.hepdata is not None:
                report.hepdata.write(config.hepdata, summary, Path(output_dir) / WORKSPACE_FILE, analysis)
    except (FitError, UserError) as exc:
        print(f"rdf_ttbar fit: error: {exc}", file=sys.stderr)
        return 2
    for msg in summary["warnings"]:
        print(f"rdf_ttbar fit: warning: {msg}", file=sys.stderr)
    print(format_result(summary))
    print("\n".join(report.yield_lines(summary["postfit_yields"])))
    print(f"wrote {Path(output_dir) / WORKSPACE_FILE} and {Path(output_dir) / FIT_RESULTS_FILE}")
    if summary.get("plots"):
        print(f"wrote {len(summary['plots'])} plots to {Path(output_dir) / 'plots'}")
    if config.hepdata is not None:
        print(f"HEPData submission: {config.hepdata}")
    print(f"report: {page}")
    return 0


# the subcommand interface of rdf_ttbar.cli: module.add_arguments(parser); module.main(args)
add_arguments = add_fit_arguments


def main(args: argparse.Namespace | list[str] | None = None) -> int:
    """Run the fit subcommand from parsed arguments (or an argument list / sys.argv)."""
    if not isinstance(args, argparse.Namespace):
        parser = add_fit_arguments(options.Parser(prog="python -m rdf_ttbar fit"))
        args = parser.parse_args(args)
    return fit_only_main(args)


if __name__ == "__main__":
    sys.exit(main())
