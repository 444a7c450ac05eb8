"""Results: the content of fit_results.json (yields, parameters, ttbar_norm and its interval) and atomic JSON
writing."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rdf_ttbar import atomic
from rdf_ttbar.inference.configuration import WORKSPACE_FILE, poi_of
from rdf_ttbar.inference.containers import finite, yields_summary


def _parameters_summary(model, fit_results) -> list[dict[str, Any]]:
    from cabinetry import model_utils

    nominal = np.asarray(model_utils.asimov_parameters(model), dtype=float)
    prefit_unc = np.asarray(model_utils.prefit_uncertainties(model), dtype=float)
    params = []
    for i, name in enumerate(fit_results.labels):
        entry = {
            "name": name,
            "value": finite(fit_results.bestfit[i]),
            "uncertainty": finite(fit_results.uncertainty[i]),
            "nominal": finite(nominal[i]),
            "constrained": bool(prefit_unc[i] > 0),
        }
        if prefit_unc[i] > 0:
            entry["prefit_uncertainty"] = finite(prefit_unc[i])
            entry["pull"] = finite((fit_results.bestfit[i] - nominal[i]) / prefit_unc[i])
            entry["pull_uncertainty"] = finite(fit_results.uncertainty[i] / prefit_unc[i])
        params.append(entry)
    return params


def poi_result(result, poi: str) -> tuple[dict[str, Any], list[str]]:
    """The entry of fit_results.json of the parameter of interest ``poi`` (ttbar_norm) and its warnings.

    ``uncertainty`` is half the width of the profile-likelihood (MINOS) interval; Migrad's error is used
    only where MINOS failed and Minuit calls the covariance accurate.
    """
    i = result.labels.index(poi)
    value = float(result.bestfit[i])
    entry: dict[str, Any] = {"value": value}
    warn: list[str] = []
    if result.poi_interval_valid:
        lo, hi = result.poi_interval
        entry.update(uncertainty=(hi - lo) / 2, interval=[lo, hi], method="MINOS (profile likelihood)")
    else:
        entry.update(uncertainty=float(result.uncertainty[i]), interval=None, method="Migrad covariance")
        warn.append(
            f"MINOS could not find the profile-likelihood interval of {poi}; its uncertainty is "
            f"Migrad's estimate"
            + ("" if result.status["accurate"] else ", from a covariance Minuit calls NOT accurate: do not quote it")
        )
    if not result.status["accurate"]:
        warn.append(
            "Minuit reports the covariance matrix as not accurate"
            + (" (forced positive-definite)" if result.status["forced_positive_definite"] else "")
            + f": the uncertainties of the parameters other than {poi} are approximate"
        )
    return entry, warn


def fit_summary(
    histograms_path, model, data, fit_results, config, messages=(), dropped=(), minuit=None
) -> dict[str, Any]:
    """The content of fit_results.json."""
    from cabinetry import model_utils

    prefit = model_utils.prediction(model)
    postfit = model_utils.prediction(model, fit_results=fit_results)
    name = poi_of(config)
    poi, poi_warnings = poi_result(minuit, name)
    return {
        "histograms": str(histograms_path),
        "poi": name,
        name: poi,
        "converged": minuit.converged,
        "minuit": dict(minuit.status),
        "best_twice_nll": float(fit_results.best_twice_nll),
        "parameters": _parameters_summary(model, fit_results),
        "correlations": {
            "labels": list(fit_results.labels),
            "matrix": [[finite(v) for v in row] for row in np.asarray(fit_results.corr_mat)],
        },
        "prefit_yields": yields_summary(model, prefit, data, config),
        "postfit_yields": yields_summary(model, postfit, data, config),
        "fit_bin_edges": [float(e) for e in config["Regions"][0]["Binning"]] if config["Regions"] else [],
        "dropped_samples": list(dropped),
        "warnings": list(messages) + poi_warnings,
    }


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON to ``path`` (its folder created) through a temporary file in the same folder (atomic.py)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic.write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


@dataclass(frozen=True)
class FitReport:
    """What :func:`fit` returns: ``summary`` (the content of fit_results.json, without the paths of the
    published files) and ``workspace`` (pyhf). Not changed after the fit: :meth:`published` adds the paths."""

    summary: dict[str, Any]
    workspace: dict[str, Any]

    def adding(self, **entries: Any) -> "FitReport":
        """A report whose summary also holds ``entries`` (e.g. a later stage's numbers, more warnings)."""
        return dataclasses.replace(self, summary={**self.summary, **entries})

    def published(self, folder: str | os.PathLike, histograms: str | os.PathLike | None = None) -> dict[str, Any]:
        """The summary as fit_results.json in ``folder`` holds it: with the workspace's path there, and the
        histograms' path (when given) instead of where the fit read them."""
        extra = {"workspace": str(Path(folder) / WORKSPACE_FILE)}
        if histograms is not None:
            extra["histograms"] = str(histograms)
        return {**self.summary, **extra}
