"""The Python API: configure, run the event loops, fit, plot; and the whole job that the command line runs.

    import rdf_ttbar

    config = rdf_ttbar.configure(mt=2, demo={"events_per_sample": 20_000})
    result = rdf_ttbar.run(config)             # result.histograms: {AGC name: hist.Hist}, result.metrics
    report = rdf_ttbar.fit(result.histograms)  # report.summary["ttbar_norm"]
    rdf_ttbar.plot(result.histograms, report, plots_dir="plots")

A second ``run`` in the same process reuses what the first one set up (ROOT started, the helpers declared, the
compiled analysis graph loaded; on Dask the code RDataFrame jitted), so it costs little more than its event loop.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import config as configuration
from . import interrupts
from .config import RunConfig
from .errors import UserError, note_kept
from .execution import pipeline
from .execution.outputs import OutputFolder, problem, write_errors

if TYPE_CHECKING:
    from .analysis import Analysis

log = logging.getLogger(__name__)

HISTOGRAMS_FILE = "histograms.root"
METRICS_FILE = "metrics.json"


def configure(config: str | os.PathLike | Mapping | RunConfig | None = None, **overrides) -> RunConfig:
    """The configuration of a run: the built-in defaults, updated with ``config``, then with ``overrides``.

    Args:
        config: a YAML file in the format of the repository's config.yaml, a mapping of the same options, or a
            :class:`RunConfig` (e.g. of an earlier ``configure``).
        **overrides: options by name (``mt=2``, ``inputs="agc"``); the ``demo`` and ``agc`` sections as mappings
            (``demo={"events_per_sample": 20_000}``) update only the keys they name.

    Returns:
        The :class:`RunConfig` (frozen; every value checked; ``config.mt``, ``config.demo.seed``).

    Raises:
        UserError: an unknown option or a value of the wrong type or range.
    """
    layers: list[tuple[str, Mapping | RunConfig]] = []
    if isinstance(config, (Mapping, RunConfig)):
        layers.append(("configure(config)", config))
    elif config is not None:
        layers.append(configuration.read_file(config))
    return configuration.build(layers + [("configure()", overrides)])


@dataclass
class RunResult:
    """What the event loops produced."""

    histograms: dict  # AGC name -> hist.Hist (Weight storage, flow bins), pseudo-data included
    metrics: dict  # as metrics.json: wall times, events, rates, bytes read, events per sample
    analysis: Analysis | None = None  # the definition that filled them (fit and plot use it)


def run(
    config: RunConfig | Mapping | str | os.PathLike | None = None, *, progress: bool | None = None, **overrides
) -> RunResult:
    """Run the event loops of every sample (nothing is written, except the demo set's cache on first use).

    Args:
        config: from :func:`configure` (default: the built-in defaults), or what it takes.
        progress: draw a progress bar (on stderr, which Jupyter shows); None: when stderr is a terminal.
        **overrides: options to change for this run, as for :func:`configure`.

    Returns:
        The histograms under their AGC names (``{region}_{process}[_{variation}]``) and the metrics.

    Raises:
        UserError: bad options or inputs, or a failed event loop.
    """
    config = configure(config, **overrides)
    if config.io_only:
        raise UserError("run() runs the analysis; for the I/O-only mode use run_job() (it writes metrics.json)")
    processed = pipeline.process(config, progress=progress)
    metrics = processed.metrics
    metrics["wall_time_s"]["total"] = round(time.perf_counter() - processed.start, 3)
    return RunResult(processed.histograms, metrics, processed.analysis)


def write_histograms(result: RunResult, path: str | os.PathLike) -> Path:
    """Write the histograms of ``result`` to a ROOT file (the format of histograms.root); returns its path."""
    from .execution import histograms

    path = Path(path)
    with write_errors(path.parent):
        return histograms.write(result.histograms, path)


def fit(histograms, *, ranking: bool = False, analysis: Analysis | str | None = None):
    """The statistical fit (cabinetry + pyhf) of the definition's model to the pseudo-data.

    Args:
        histograms: a :class:`RunResult`, a mapping {AGC name: UHI histogram} or the path of a histograms.root.
        ranking: also rank the nuisance parameters by their impact on ttbar_norm (about four fits each).
        analysis: the definition whose fit it is (an Analysis, or v1, v2, FILE.py, a module path); default: a
            RunResult's, else the AGC v1.

    Returns:
        The fit report: ``report.summary`` (the content of fit_results.json, ``summary["ttbar_norm"]``),
        ``report.workspace`` (the pyhf workspace).

    Raises:
        inference.FitError: histograms that do not make a usable model.
    """
    from . import inference

    if isinstance(histograms, RunResult):
        histograms, analysis = histograms.histograms, analysis or histograms.analysis
    return inference.fit(histograms, ranking=ranking, analysis=analysis)


def plot(
    histograms=None, report=None, *, plots_dir: str | os.PathLike = "plots", analysis: Analysis | str | None = None
) -> list[Path]:
    """Draw the histogram plots and (given a fit report) the fit plots as PNG files into ``plots_dir``.

    Args:
        histograms: a :class:`RunResult`, a mapping {AGC name: UHI histogram} or a histograms.root path; None: none.
        report: the result of :func:`fit`; None: no fit plots.
        plots_dir: where the PNG files go.
        analysis: the definition whose plots they are (an Analysis or its name; default: a RunResult's, else the
            AGC v1).

    Returns:
        The paths of the PNG files written.
    """
    from . import plots

    if isinstance(histograms, RunResult):
        histograms, analysis = histograms.histograms, analysis or histograms.analysis
    paths: list[Path] = []
    if histograms is not None:
        paths += plots.plot_histograms(histograms, plots_dir, analysis)
    if report is not None:
        paths += plots.plot_fit(report.summary, plots_dir, analysis)
    return paths


@dataclass
class JobResult:
    """What :func:`run_job` left in the output folder."""

    metrics: dict
    fit_summary: dict | None  # the content of fit_results.json; None without the fit
    outputs: list[Path]  # this run's outputs, at their final paths


def run_job(config: RunConfig | Mapping | str | os.PathLike | None = None, **overrides) -> JobResult:
    """The whole job of ``python -m rdf_ttbar``: event loops, histograms.root, fit, plots, metrics.json.

    Everything is written into a staging folder inside the output folder and published at the end, replacing
    the outputs of an earlier run there (none of them stays). Once the event loops succeeded their histograms
    are never lost: if the fit or the plots fail, histograms.root and metrics.json are published anyway and
    the UserError says how to rerun the fit on them.

    Args:
        config: from :func:`configure`; **overrides as there.

    Returns:
        The metrics, the fit summary and the paths of the outputs.

    Raises:
        UserError: bad options, inputs or output folder, a failed event loop, or a failed fit or plot (then
            with histograms.root and metrics.json kept).
    """
    config = configure(config, **overrides)
    if config.hepdata is not None:
        from .report import hepdata as hepdata_record

        if not config.fit or config.io_only:
            raise UserError(
                f"--hepdata records the fit: drop {'--io-only' if config.io_only else '--no-fit'} or --hepdata"
            )
        hepdata_record.check_folder(config.hepdata)
    if config.io_only:
        from .execution import io_only

        metrics = io_only.run(config)
        return JobResult(metrics, None, [Path(p) for p in metrics.pop("outputs")])
    from .plots.painters import Painters, workers_for

    # a folder that cannot be written fails here, before the loops; the plot workers get ready meanwhile (the
    # histograms are sent to them in memory: they need not read files)
    with OutputFolder(config.output_dir) as out, Painters(workers_for(config.fit), read_files=False) as painters:
        processed = pipeline.process(config, call="rdf_ttbar.run_job(config)")
        metrics = processed.metrics
        from .execution import histograms

        with write_errors(out.final):
            histograms.write_outputs(processed.analysis, processed.histograms, out.staging)
        try:
            with interrupts.immediate():  # pure Python: a signal raises at once (interrupts.py)
                fit_summary = fit_and_plots(
                    processed.histograms, config.fit, out, metrics, painters, processed.analysis
                )
        except Exception as err:
            keep_event_loop(out, metrics, processed.start)
            kept = out.final / HISTOGRAMS_FILE
            if isinstance(err, OSError):
                err = problem(err, out.final)
            text = str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
            raise UserError(
                f"{text}\nThe event loops' histograms are kept in {kept} (and {METRICS_FILE}); "
                f"rerun the fit on them with: python -m rdf_ttbar fit {kept}"
            ) from None
        except KeyboardInterrupt as err:  # Ctrl-C, SIGTERM, SIGHUP (cli.Terminated): a finished loop is never lost
            keep_event_loop(out, metrics, processed.start)
            kept = out.final / HISTOGRAMS_FILE
            raise note_kept(
                err,
                f"the event loops' histograms are kept in {kept} (and {METRICS_FILE}); rerun "
                f"the fit on them with: python -m rdf_ttbar fit {kept}",
            )
        write_metrics(out, metrics, processed.start)
        with write_errors(out.final):
            write_report(out, metrics, fit_summary, processed.histograms, processed.analysis)
        paths = out.publish()
    if config.hepdata is not None and fit_summary is not None:
        hepdata(fit_summary, config.hepdata, workspace=out.final / "workspace.json", analysis=processed.analysis)
    return JobResult(metrics, fit_summary, paths)


def hepdata(report, folder: str | os.PathLike, *, workspace=None, analysis: Analysis | None = None) -> Path:
    """Write a HEPData submission (hepdata_lib) of a fit into ``folder``: the post-fit distributions of every fitted
    region per sample with uncertainties, ttbar_norm with its interval, the workspace as an additional resource
    (AGC v2: also the ML features with the fit's parameters). An earlier submission in ``folder`` is replaced.

    Args:
        report: the result of :func:`fit`, or a fit summary (fit_results.json's content, or its path).
        workspace: the workspace's file or content (default: the report's; for a summary, the workspace.json
            it names).
        analysis: the definition whose fit it is (default: the AGC v1's).

    Returns:
        The folder.

    Raises:
        UserError: a folder holding other files, or no hepdata_lib.
    """
    from .analysis import chosen
    from .report import hepdata as hepdata_record

    if isinstance(report, (str, os.PathLike)):
        report = json.loads(Path(report).read_text())
    summary = report if isinstance(report, Mapping) else report.summary
    if workspace is None:
        workspace = summary["workspace"] if isinstance(report, Mapping) else report.workspace
    with write_errors(Path(folder)):
        return hepdata_record.write(folder, dict(summary), workspace, chosen(analysis))


def write_report(out: OutputFolder, metrics: dict, fit_summary: dict | None, histograms: dict, analysis) -> Path:
    """report.html into the staging folder (after metrics.json: its total time does not include the report)."""
    from . import report

    return report.write_report(
        out.staging / report.REPORT_FILE,
        metrics=metrics,
        summary=fit_summary,
        plots_dir=out.staging / "plots",
        histograms=histograms,
        analysis=analysis,
    )


def fit_and_plots(
    histograms: dict, do_fit: bool, out: OutputFolder, metrics: dict, painters, analysis: Analysis
) -> dict | None:
    """The fit of the event loops' histograms (in memory; written into the staging folder, naming the files
    where they are published) and the plots (``plots/``) of ``analysis`` (the run's definition),
    drawn by ``painters`` (warm plot workers, :class:`rdf_ttbar.plots.painters.Painters`): the histogram plots while
    the fit runs, then the fit plots. With ML histograms in the definition (AGC v2), the main fit's result is
    then applied to them (:mod:`rdf_ttbar.inference.ml_validation`, while the fit plots are drawn): their numbers
    go into fit_results.json ("ml_validation"), their plots are ``ml_{prefit,postfit}_{feature}.png``; when they
    make no usable model, a warning in the summary says so and the run goes on.
    Fills the fit (the ML validation's included) and plots times into ``metrics``; returns the fit summary as
    fit_results.json holds it."""
    plots_dir = out.staging / "plots"
    start = time.perf_counter()
    histogram_plots = painters.draw("histograms", histograms, plots_dir, analysis)  # in memory: not histograms.root
    if not do_fit:
        histogram_plots.result()
        metrics["wall_time_s"]["fit"], metrics["wall_time_s"]["plots"] = 0.0, round(time.perf_counter() - start, 3)
        return None
    from . import inference
    from .inference import ml_validation

    with warnings.catch_warnings():  # they are in the summary (report.summary["warnings"]), which the CLI prints
        warnings.simplefilter("ignore", inference.FitWarning)
        report = inference.fit(histograms, analysis=analysis)
    report = report.adding(provenance=metrics.get("provenance"))
    jobs = [histogram_plots, painters.draw("fit", report.summary, plots_dir, analysis)]
    if ml_validation.ml_histograms(analysis):
        try:
            ml = ml_validation.ml_validation(histograms, report.summary, analysis)
        except inference.FitError as err:
            report = report.adding(warnings=[*report.summary["warnings"], f"no ML validation plots: {err}"])
        else:
            report = report.adding(ml_validation=ml)
            jobs.append(painters.draw("ml", ml, plots_dir, analysis))
    inference.write(report, out.staging, published_in=out.final, histograms=out.final / HISTOGRAMS_FILE)
    summary = report.published(out.final, out.final / HISTOGRAMS_FILE)
    fit_done = time.perf_counter()
    for job in jobs:
        job.result()
    metrics["wall_time_s"]["fit"] = round(fit_done - start, 3)
    metrics["wall_time_s"]["plots"] = round(time.perf_counter() - fit_done, 3)  # beyond the fit
    return summary


def write_metrics(out: OutputFolder, metrics: dict, start: float) -> None:
    metrics["wall_time_s"]["total"] = round(time.perf_counter() - start, 3)
    with write_errors(out.final):
        (out.staging / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")


def keep_event_loop(out: OutputFolder, metrics: dict, start: float) -> None:
    """Publish only histograms.root and metrics.json (a later stage failed): no partial fit or plots."""
    import shutil

    for name in ("workspace.json", "fit_results.json", "plots"):
        path = out.staging / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    write_metrics(out, metrics, start)
    out.publish()
