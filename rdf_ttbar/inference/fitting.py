"""The fit: workspace -> pyhf model -> Minuit (rdf_ttbar.minimize) -> FitReport; optional ranking; writing."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rdf_ttbar import provenance, quiet
from rdf_ttbar.analysis import Analysis, chosen
from rdf_ttbar.inference.configuration import (
    FIT_RESULTS_FILE,
    WORKSPACE_FILE,
    FitError,
    quiet_schema_warning,
)
from rdf_ttbar.inference.containers import finite
from rdf_ttbar.inference.results import FitReport, fit_summary, write_json_atomic
from rdf_ttbar.inference.templates import build_workspace


def _check_data_covered(ws: dict[str, Any], bin_edges) -> None:
    """Raise FitError where a bin has data but every sample predicts zero events
    (the likelihood is zero there at any parameter values near nominal)."""
    observations = {o["name"]: np.asarray(o["data"], dtype=float) for o in ws["observations"]}
    problems = []
    for channel, edges in zip(ws["channels"], bin_edges):
        total = np.sum([np.asarray(s["data"], dtype=float) for s in channel["samples"]], axis=0)
        data = observations[channel["name"]]
        bad = np.flatnonzero((total <= 0) & (data > 0))
        if bad.size:
            ranges = ", ".join(f"[{edges[i]:g}, {edges[i + 1]:g})" for i in bad)
            problems.append(f"region '{channel['name']}' bins {ranges}")
    if problems:
        raise FitError(
            "the pseudo-data have events where no simulated sample predicts any: "
            + "; ".join(problems)
            + ". The model cannot describe them (too few events were processed). "
            "Fix: process more events (larger -n / --events-per-sample)."
        )


def fit_workspace(ws: dict[str, Any], bin_edges=None):
    """MLE fit of a workspace (pyhf model, iminuit; see :mod:`rdf_ttbar.minimize` for the settings and
    why): (model, data, cabinetry FitResults, MinuitFit with Minuit's status and the POI's MINOS interval).

    ``bin_edges``: the edges of each channel's bins (in the workspace's order; None: bin numbers), for messages.
    Raises FitError when Migrad does not find a valid minimum, or the best fit is not finite.
    """
    import cabinetry
    from cabinetry.fit.results_containers import FitResults

    import rdf_ttbar.inference.minimize as minimize

    if bin_edges is None:
        bin_edges = [range(len(c["samples"][0]["data"]) + 1) if c["samples"] else [] for c in ws["channels"]]
    _check_data_covered(ws, bin_edges)
    with quiet_schema_warning():
        model, data = cabinetry.model_utils.model_and_data(ws)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = minimize.fit(model, data, model.config.poi_name)
    if not result.status["valid"] or not np.all(np.isfinite(result.bestfit)):
        raise FitError(
            f"the maximum-likelihood fit did not converge (Minuit: valid={result.status['valid']}, "
            f"edm={result.status['edm']:.3g}). This happens with very few selected events (empty bins, "
            f"ill-defined variations). Fix: process more events (larger -n / --events-per-sample)."
        )
    fit_results = FitResults(result.bestfit, result.uncertainty, result.labels, result.corr_mat, result.best_twice_nll)
    return model, data, fit_results, result


def fit(histograms, *, ranking: bool = False, analysis: Analysis | str | None = None) -> FitReport:
    """Build the model from ``histograms`` and fit it; nothing is written (see :func:`write`).

    Args:
        histograms: the path of a histograms.root, or a mapping {AGC name: UHI histogram} (hist.Hist,
            uproot TH1) in the analysis binning.
        ranking: also compute the impact of every nuisance parameter on ttbar_norm (cabinetry's
            ranking: about four fits per parameter), under ``summary["ranking"]``.
        analysis: the definition whose fit it is (an Analysis, or a name for rdf_ttbar.analysis.get); None: the
            AGC v1.

    Raises:
        FitError: the histograms do not make a usable model, or the fit did not converge.
    """
    source = str(histograms) if isinstance(histograms, (str, os.PathLike)) else "(in memory)"
    with tempfile.TemporaryDirectory(prefix="rdf_ttbar-fit-") as tmp:  # cabinetry's template files
        ws, config, messages, dropped = build_workspace(
            histograms if isinstance(histograms, (str, os.PathLike)) else dict(histograms),
            Path(tmp) / "templates",
            chosen(analysis),
        )
        by_name = {r["Name"]: r["Binning"] for r in config["Regions"]}
        model, data, fit_results, minuit = fit_workspace(ws, [by_name[c["name"]] for c in ws["channels"]])
        summary = fit_summary(source, model, data, fit_results, config, messages, dropped, minuit)
    summary["provenance"] = provenance.make(  # a run's own (its options and inputs) replaces it: FitReport.adding
        call="rdf_ttbar.fit(histograms)",
        analysis=chosen(analysis),
        options={"histograms": source, "ranking": ranking},
    )
    if ranking:
        import pyhf

        try:
            summary["ranking"] = _ranking(model, data, fit_results)
        except (pyhf.exceptions.FailedMinimization, ValueError) as exc:  # keep the fit, say why there is no ranking
            summary["warnings"].append(
                f"no ranking: one of its fits with a nuisance parameter fixed did not "
                f"converge ({exc}); the fit result itself is unaffected"
            )
    return FitReport(summary, ws)


def _ranking(model, data, fit_results) -> list[dict[str, Any]]:
    """cabinetry's ranking of the nuisance parameters by their impact on ttbar_norm, largest first."""
    import cabinetry
    import pyhf

    # cabinetry's fits ask pyhf for Minuit at print level 1, which prints Minuit's raw "W MnPosDef" lines for
    # every fixed-parameter fit: only these fits run quietly (the impacts need their best fits, not their errors)
    optimizer = pyhf.optimize.minuit_optimizer

    class QuietMinuit(pyhf.optimize.minuit_optimizer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "verbose": 0})

    pyhf.optimize.minuit_optimizer = QuietMinuit
    try:
        with (
            np.errstate(divide="ignore", invalid="ignore"),
            quiet.logger_level("pyhf.optimize.mixins"),
            quiet_schema_warning(),
        ):
            r = cabinetry.fit.ranking(model, data, fit_results=fit_results, strategy=1, tolerance=0.1)
    finally:
        pyhf.optimize.minuit_optimizer = optimizer
    rows = [
        {
            "name": name,
            "value": finite(r.bestfit[i]),
            "uncertainty": finite(r.uncertainty[i]),
            "impact_prefit_up": finite(r.prefit_up[i]),
            "impact_prefit_down": finite(r.prefit_down[i]),
            "impact_postfit_up": finite(r.postfit_up[i]),
            "impact_postfit_down": finite(r.postfit_down[i]),
        }
        for i, name in enumerate(r.labels)
    ]
    return sorted(rows, key=lambda x: -max(abs(x["impact_postfit_up"] or 0), abs(x["impact_postfit_down"] or 0)))


def write(
    report: FitReport,
    output_dir: str | os.PathLike,
    *,
    published_in: str | os.PathLike | None = None,
    histograms: str | os.PathLike | None = None,
) -> list[Path]:
    """Write ``workspace.json`` and ``fit_results.json`` of a :func:`fit` into ``output_dir`` (atomically).

    The summary written names the workspace (and ``histograms``, when given) at their paths in ``published_in``
    (default: ``output_dir``), where they are published (:meth:`FitReport.published`)."""
    output_dir = Path(output_dir)
    summary = report.published(published_in or output_dir, histograms)
    return [
        write_json_atomic(output_dir / WORKSPACE_FILE, report.workspace),
        write_json_atomic(output_dir / FIT_RESULTS_FILE, summary),
    ]


def run_fit(
    histograms_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    ranking: bool = False,
    analysis=None,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """:func:`fit` then :func:`write` into ``output_dir``; returns the summary (fit_results.json).
    ``provenance``: the record that fit_results.json keeps (rdf_ttbar.provenance.make; default: the fit's own)."""
    report = fit(histograms_path, ranking=ranking, analysis=analysis)
    if provenance is not None:
        report = report.adding(provenance=provenance)
    write(report, output_dir)
    return report.published(output_dir)
