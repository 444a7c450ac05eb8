"""The ML validation of the AGC v2: the main fit's result applied to the ML feature histograms.

As the AGC's notebook does it (``cabinetry_config_ml.yml``, "ML Validation"): a cabinetry model is built from
the ML feature histograms of the definition (one channel per feature, its own 25 bins, the same samples,
systematics and ttbar_norm as the main fit; the configuration is :func:`cabinetry_config
<rdf_ttbar.inference.configuration.cabinetry_config>`'s with the features as its regions), and its prediction
is computed twice:

- pre-fit: every parameter at its nominal value;
- post-fit: with the main fit's parameters mapped onto the ML model by name
  (``cabinetry.model_utils.match_fit_results``): ttbar_norm and the nuisance parameters the two models share
  take their best-fit values, uncertainties and correlations from the main fit; the parameters only the ML
  model has (the per-bin MC-statistics ``staterror_{feature}``) stay at their pre-fit values and
  uncertainties, uncorrelated with the rest; the main fit's own ``staterror_4j1b-CR`` ... are dropped.

:func:`ml_validation` returns the numbers (``"prefit_yields"``/``"postfit_yields"`` in the format of
fit_results.json's yields, one channel per feature, each with its axis ``"label"``); ``rdf_ttbar.api`` stores them
under ``"ml_validation"`` in fit_results.json and ``rdf_ttbar.plots`` draws ``ml_{prefit,postfit}_{feature}.png``.
The features are the definition's histograms marked ``postfit_plot`` (for the AGC v2 its features 0, 1, 2, 4, 5,
6, 7, ``agc_v2.POSTFIT_FEATURES``).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rdf_ttbar.analysis import Analysis, chosen
from rdf_ttbar.analysis.model import Histogram
from rdf_ttbar.inference.configuration import FitError, cabinetry_config, quiet_schema_warning
from rdf_ttbar.inference.containers import HistogramFile, yields_summary
from rdf_ttbar.inference.templates import workspace_of

__all__ = ["ml_histograms", "ml_config", "fit_results_of", "ml_validation"]


def ml_histograms(analysis: Analysis, features: Sequence[str] | None = None) -> tuple[Histogram, ...]:
    """The histograms drawn pre- and post-fit: those named in ``features``, by default those the definition marks
    (``Histogram.postfit_plot``: the AGC v2's features 0, 1, 2, 4, 5, 6 and 7)."""
    if features is not None:
        return tuple(h for h in analysis.histograms if h.prefix in features)
    return tuple(h for h in analysis.histograms if h.postfit_plot)


def _edges(h: Histogram) -> list[float]:
    return [float(x) for x in np.linspace(h.binning.low, h.binning.high, h.binning.bins + 1)]


def ml_config(
    histograms_path: str | os.PathLike,
    histogram_folder: str | os.PathLike,
    analysis: Analysis,
    features: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The cabinetry configuration of the ML model: the main fit's (samples, systematics, ttbar_norm), with one
    region per feature histogram in its own binning (the AGC's cabinetry_config_ml.yml)."""
    config = cabinetry_config(histograms_path, histogram_folder, analysis)
    config["Regions"] = [
        {"Name": h.prefix, "RegionPath": h.prefix, "Variable": h.label, "Binning": _edges(h)}
        for h in ml_histograms(analysis, features)
    ]
    return config


def fit_results_of(summary: Mapping[str, Any]):
    """cabinetry's FitResults of the main fit, rebuilt from its summary (fit_results.json's content):
    best-fit values, uncertainties, correlations (a null there, i.e. not finite, is NaN)."""
    from cabinetry.fit.results_containers import FitResults

    def number(x) -> float:
        return math.nan if x is None else float(x)

    labels = list(summary["correlations"]["labels"])
    by_name = {p["name"]: p for p in summary["parameters"]}
    return FitResults(
        np.array([number(by_name[n]["value"]) for n in labels]),
        np.array([number(by_name[n]["uncertainty"]) for n in labels]),
        labels,
        np.array([[number(v) for v in row] for row in summary["correlations"]["matrix"]]),
        float(summary.get("best_twice_nll", math.nan)),
    )


def _histograms_file(histograms, analysis: Analysis, drawn: Sequence[Histogram]) -> HistogramFile:
    """The input histograms: the in-memory mapping of a run, or the ML file(s) (``{output}.root``) beside the
    given histograms.root (or that file itself when it is not the main one)."""
    if isinstance(histograms, Mapping):
        return HistogramFile.in_memory(histograms)
    path = Path(histograms)
    if path.stem != analysis.outputs[0]:
        return HistogramFile(path)
    files = sorted({path.with_name(f"{h.output}.root") for h in drawn})
    if len(files) > 1:
        raise FitError(f"the ML feature histograms are in {len(files)} files ({', '.join(map(str, files))}): pass one")
    return HistogramFile(files[0])


def ml_validation(
    histograms,
    summary: Mapping[str, Any],
    analysis: Analysis | str | None = None,
    features: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The pre- and post-fit predictions of the ML feature histograms with the main fit's parameters.

    Args:
        histograms: the run's mapping {AGC name: UHI histogram} (holding the ML histograms), or the path of its
            histograms.root (histograms_ml.root beside it is read) or of histograms_ml.root.
        summary: the main fit's summary (:attr:`FitReport.summary`, or fit_results.json's content).
        analysis: the definition (or its name; None: the AGC v1, which has no ML histograms).
        features: the feature histograms (default: see :func:`ml_histograms`).

    Returns:
        {"features": [...], "prefit_yields": {feature: yields}, "postfit_yields": {...}, "warnings": [...], "poi":
        "ttbar_norm", "ttbar_norm": the main fit's}, the yields as fit_results.json's (plus "label": the feature's
        axis label, "region": its region).

    Raises:
        FitError: no ML histograms in the definition, or histograms that make no usable model.
    """
    import cabinetry

    analysis = chosen(analysis)
    drawn = ml_histograms(analysis, features)
    if not drawn:
        raise FitError(f"the analysis {analysis.name} has no ML feature histograms to validate the fit with")
    hfile = _histograms_file(histograms, analysis, drawn)
    with tempfile.TemporaryDirectory(prefix="rdf_ttbar-ml-") as tmp:  # cabinetry's template files
        config = ml_config(hfile.path, Path(tmp) / "templates", analysis, [h.prefix for h in drawn])
        ws, config, messages, _ = workspace_of(config, hfile)
    with quiet_schema_warning(), np.errstate(divide="ignore", invalid="ignore"):
        model, data = cabinetry.model_utils.model_and_data(ws)
        matched = cabinetry.model_utils.match_fit_results(model, fit_results_of(summary))
        prefit = cabinetry.model_utils.prediction(model)
        postfit = cabinetry.model_utils.prediction(model, fit_results=matched)
    poi = summary["poi"]
    out: dict[str, Any] = {"features": [h.prefix for h in drawn], "poi": poi, poi: summary.get(poi)}
    out["warnings"] = messages
    for stage, prediction in (("prefit", prefit), ("postfit", postfit)):
        yields = yields_summary(model, prediction, data, config)
        for h in drawn:
            if h.prefix in yields:
                yields[h.prefix].update(label=h.label, region=h.region)
        out[f"{stage}_yields"] = {h.prefix: yields[h.prefix] for h in drawn if h.prefix in yields}
    return out
