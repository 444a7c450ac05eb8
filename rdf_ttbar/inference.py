"""Statistical model and fit: cabinetry configuration, templates, pyhf workspace, MLE fit.

The cabinetry configuration is generated from the tables in
:mod:`rdf_ttbar.systematics` (``REGIONS``, ``PROCESSES``, ``SYSTEMATICS``,
``FIT_BIN_EDGES``); nothing is written per sample by hand. The templates are
built with a cabinetry template-building router (as the AGC does) that reads
the TH1D of ``histograms.root`` with uproot and merges their bins into the fit
binning (edges 110, 150, ..., 550: exactly the sums of the original 20 GeV bins,
flow bins and everything below 110 GeV dropped).

Entry points:

- :func:`cabinetry_config` the configuration (validates with
  ``cabinetry.configuration.validate``)
- :func:`run_fit` templates -> ``workspace.json`` -> fit -> ``fit_results.json``
- :func:`add_fit_arguments` / :func:`fit_only_main` the ``fit`` subcommand
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rdf_ttbar.errors import UserError
from rdf_ttbar.systematics import (
    FIT_BIN_EDGES,
    PROCESSES,
    REGIONS,
    SAMPLE_LABELS,
    SYSTEMATICS,
)

MEASUREMENT = "CMS_ttbar"
POI = "ttbar_norm"
POI_BOUNDS = (0.0, 10.0)
DATA_SAMPLE = "Pseudodata"
DATA_SAMPLE_PATH = "pseudodata"  # {region}_pseudodata, see systematics.pseudodata_name
WORKSPACE_FILE = "workspace.json"
FIT_RESULTS_FILE = "fit_results.json"


class FitError(UserError):
    """The fit cannot run: the message names the problem and how to fix it.

    (A ``UserError``, so the command line prints it as a clear error message.)
    """


class FitWarning(UserWarning):
    """The model was changed to let the fit run (for example an empty sample was dropped)."""


# ---------------------------------------------------------------------------
# configuration


def _sample_label(process: str) -> str:
    return SAMPLE_LABELS.get(process, process)


def _systematic_config(syst) -> dict[str, Any]:
    """One cabinetry systematic from a ``systematics.Systematic``."""
    entry: dict[str, Any] = {"Name": syst.fit_name}
    if syst.kind == "norm":
        entry.update(
            Type="Normalization",
            Up={"Normalization": float(syst.norm)},
            Down={"Normalization": -float(syst.norm)},
        )
    elif syst.kind == "sample":
        # alternative sample: histogram {region}_{process}_{sample}, e.g. 4j1b_ttbar_ME_var
        entry.update(Type="NormPlusShape", Up={"VariationPath": f"_{syst.up}"})
        entry["Down"] = (
            {"Symmetrize": True} if syst.down is None else {"VariationPath": f"_{syst.down}"}
        )
    elif syst.kind in ("jet_pt", "weight"):
        entry.update(Type="NormPlusShape", Up={"VariationPath": f"_{syst.name}_up"})
        entry["Down"] = (
            {"VariationPath": f"_{syst.name}_down"}
            if "down" in syst.directions
            else {"Symmetrize": True}
        )
    else:
        raise ValueError(f"unknown systematic kind {syst.kind!r} for {syst.name}")
    if entry["Type"] == "NormPlusShape" and "down" not in syst.directions and not syst.symmetrize:
        raise ValueError(f"systematic {syst.name} has only an up variation but is not symmetrised")
    if syst.processes is not None:
        entry["Samples"] = [_sample_label(p) for p in syst.processes]
    return entry


def cabinetry_config(histograms_path: str | os.PathLike,
                     histogram_folder: str | os.PathLike = "histograms") -> dict[str, Any]:
    """The cabinetry configuration of the AGC fit, generated from ``rdf_ttbar.systematics``.

    Histogram paths follow ``{histograms_path}:{RegionPath}_{SamplePath}{VariationPath}``,
    i.e. the AGC names ``4j1b_ttbar``, ``4j2b_wjets_scale_var_down``, ``4j1b_ttbar_ME_var``.
    Regions carry the fit ``Binning`` (used by the template router and by the plots).
    ``histogram_folder`` is where cabinetry keeps its templates.
    """
    input_path = f"{Path(histograms_path)}:{{RegionPath}}_{{SamplePath}}{{VariationPath}}"
    config = {
        "General": {
            "Measurement": MEASUREMENT,
            "POI": POI,
            "HistogramFolder": str(histogram_folder),
            "InputPath": input_path,
            "VariationPath": "",
        },
        "Regions": [
            {
                "Name": r.fit_name,
                "RegionPath": r.name,
                "Variable": r.label,
                "Binning": [float(x) for x in FIT_BIN_EDGES],
            }
            for r in REGIONS
        ],
        "Samples": [{"Name": DATA_SAMPLE, "SamplePath": DATA_SAMPLE_PATH, "Data": True}]
        + [{"Name": _sample_label(p), "SamplePath": p} for p in PROCESSES],
        "NormFactors": [
            {
                "Name": POI,
                "Samples": _sample_label("ttbar"),
                "Nominal": 1.0,
                "Bounds": [float(b) for b in POI_BOUNDS],
            }
        ],
        "Systematics": [_systematic_config(s) for s in SYSTEMATICS],
    }
    return config


def template_histogram_name(config: dict[str, Any], region: dict, sample: dict,
                            systematic: dict | None = None, template: str | None = None) -> str:
    """Name inside the input file of the histogram of one template, from the config's
    ``InputPath`` (with cabinetry's own path resolution, as ``templates.collect`` does)."""
    from cabinetry.templates import collector

    general = config["General"]
    path = collector._histo_path(general["InputPath"], general.get("VariationPath", ""),
                                 region, sample, systematic or {}, template)
    return path.rsplit(":", 1)[1]  # histogram names have no ':'; file paths may


def required_histograms(config: dict[str, Any]) -> list[str]:
    """Names (inside the input file) of all histograms the configuration reads, in order."""
    from cabinetry import route

    names: list[str] = []

    def collect(region, sample, systematic, template):
        name = template_histogram_name(config, region, sample, systematic, template)
        if name not in names:
            names.append(name)

    route.apply_to_all_templates(config, collect)
    return names


# ---------------------------------------------------------------------------
# reading and rebinning


def _merge_bins(values: np.ndarray, variances: np.ndarray, edges: np.ndarray,
                target_edges, name: str = "histogram") -> tuple[np.ndarray, np.ndarray]:
    """Sum the (in-range) bins of a histogram into ``target_edges``.

    Every target edge must be an edge of the original binning; bins outside the
    target range (and the flow bins, which are not passed in) are dropped.
    """
    target = np.asarray(target_edges, dtype=float)
    idx = []
    for edge in target:
        hits = np.flatnonzero(np.isclose(edges, edge, rtol=0.0, atol=1e-6 * max(1.0, abs(edge))))
        if hits.size != 1:
            raise FitError(
                f"{name}: fit bin edge {edge:g} is not a bin edge of the histogram "
                f"(edges {edges[0]:g}..{edges[-1]:g}, {len(edges) - 1} bins). Fix: produce the "
                f"histograms with the analysis binning (25 bins from 50 to 550 GeV)."
            )
        idx.append(int(hits[0]))
    idx = np.asarray(idx)
    if np.any(np.diff(idx) <= 0):
        raise FitError(f"{name}: fit bin edges are not increasing")
    merged = np.add.reduceat(values, idx[:-1])
    merged_var = np.add.reduceat(variances, idx[:-1])
    return merged, merged_var


class _HistogramFile:
    """The TH1 of one ROOT file, read once with uproot: name -> (values, variances, edges)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise FitError(
                f"histograms file {self.path} does not exist. Fix: run the analysis first "
                f"(python -m rdf_ttbar ... writes OUTPUT_DIR/histograms.root) and pass that file."
            )
        self._histograms: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        try:
            import uproot

            with uproot.open(self.path) as f:
                self.classnames = {
                    key.rsplit(";", 1)[0]: cls for key, cls in f.classnames(recursive=False).items()
                }
                for name, cls in self.classnames.items():
                    if cls.startswith("TH1"):
                        h = f[name]
                        self._histograms[name] = (
                            np.asarray(h.values(flow=False), dtype=float),
                            np.asarray(h.variances(flow=False), dtype=float),
                            np.asarray(h.axis().edges(flow=False), dtype=float),
                        )
        except Exception as exc:  # uproot raises many kinds of errors on bad files
            raise FitError(
                f"cannot read histograms file {self.path} ({type(exc).__name__}: {exc}). "
                f"Fix: pass the histograms.root written by the analysis; rerun it if the file "
                f"is truncated or corrupted."
            ) from exc

    def has_th1(self, name: str) -> bool:
        return name in self._histograms

    def read(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values, variances, edges) of a TH1, without the flow bins."""
        if name not in self._histograms:
            raise FitError(f"histogram {name} not found in {self.path} (or not a TH1). "
                           f"Fix: rerun the analysis to rewrite the histograms file.")
        return self._histograms[name]

    def fit_binned(self, name: str, target_edges=FIT_BIN_EDGES) -> tuple[np.ndarray, np.ndarray]:
        values, variances, edges = self.read(name)
        return _merge_bins(values, variances, edges, target_edges, name=name)


def rebinned_histogram(histograms_path: str | os.PathLike, name: str,
                       target_edges=FIT_BIN_EDGES):
    """One histogram of the file in the fit binning, as a ``boost_histogram.Histogram``."""
    values, variances = _HistogramFile(histograms_path).fit_binned(name, target_edges)
    return _to_boost(values, variances, target_edges)


def _to_boost(values, variances, edges):
    import boost_histogram as bh

    h = bh.Histogram(bh.axis.Variable([float(e) for e in edges]), storage=bh.storage.Weight())
    view = h.view()
    view.value = values
    view.variance = variances
    return h


def template_router(config: dict[str, Any], hfile: _HistogramFile):
    """A cabinetry ``Router`` whose template builder reads every template from the
    histograms file and merges its bins into the region's ``Binning``.

    (The AGC does the same with ``hist`` slicing ``[110j::hist.rebin(2)]``.)
    """
    from cabinetry import route

    router = route.Router()

    @router.register_template_builder()
    def rebinned_template(region, sample, systematic, template):
        name = template_histogram_name(config, region, sample, systematic, template)
        values, variances = hfile.fit_binned(name, region["Binning"])
        return _to_boost(values, variances, region["Binning"])

    return router


# ---------------------------------------------------------------------------
# checks and model adjustments


def _check_histograms(config: dict[str, Any], hfile: _HistogramFile) -> None:
    missing = [n for n in required_histograms(config) if not hfile.has_th1(n)]
    if missing:
        shown = ", ".join(missing[:40]) + (f", ... ({len(missing) - 40} more)" if len(missing) > 40 else "")
        raise FitError(
            f"histograms file {hfile.path} lacks {len(missing)} histogram(s) the fit needs: "
            f"{shown}. Fix: rerun the analysis with all nine samples and all variations "
            f"(python -m rdf_ttbar), or pass the right file."
        )


def _prune_empty_samples(config: dict[str, Any], hfile: _HistogramFile) -> tuple[dict, list[str], list[str]]:
    """Remove samples with no (positive) yield in the fit range from the regions where
    they are empty, and drop samples empty everywhere, with their modifiers.

    Returns the adjusted config, warning messages and the fully dropped samples.
    """
    config = copy.deepcopy(config)
    messages: list[str] = []
    dropped: list[str] = []
    region_by_name = {r["Name"]: r for r in config["Regions"]}
    kept_samples = []
    for sample in config["Samples"]:
        if sample.get("Data", False):
            kept_samples.append(sample)
            continue
        nonempty = []
        for rname, region in region_by_name.items():
            name = template_histogram_name(config, region, sample)
            values, _ = hfile.fit_binned(name, region["Binning"])
            if np.sum(values) > 0:
                nonempty.append(rname)
            else:
                messages.append(
                    f"sample '{sample['Name']}' has no events in region '{rname}' "
                    f"({name} is empty from {region['Binning'][0]:g} to {region['Binning'][-1]:g}): "
                    f"removed from that region of the fit"
                )
        if not nonempty:
            dropped.append(sample["Name"])
            messages.append(f"sample '{sample['Name']}' is empty in all regions: dropped from the fit")
            continue
        if len(nonempty) < len(region_by_name):
            sample["Regions"] = nonempty
        kept_samples.append(sample)
    config["Samples"] = kept_samples

    # a region where no sample has events: drop it when the data are empty there too
    for rname in list(region_by_name):
        if any(not s.get("Data") and rname in s.get("Regions", [rname]) for s in kept_samples):
            continue
        data = next(s for s in kept_samples if s.get("Data"))
        values, _ = hfile.fit_binned(template_histogram_name(config, region_by_name[rname], data),
                                     region_by_name[rname]["Binning"])
        if np.sum(values) > 0:
            raise FitError(f"region '{rname}' has pseudo-data but no simulated events of any sample in the "
                           "fit range, so the model cannot describe it. Fix: process more events "
                           "(larger -n / --events-per-sample) or skip the fit with --no-fit.")
        messages.append(f"region '{rname}' has no events at all: dropped from the fit")
        config["Regions"] = [r for r in config["Regions"] if r["Name"] != rname]
        for s in kept_samples:
            if "Regions" in s:
                s["Regions"] = [r for r in s["Regions"] if r != rname]

    poi_samples = config["NormFactors"][0]["Samples"]
    poi_samples = [poi_samples] if isinstance(poi_samples, str) else list(poi_samples)
    if not any(s["Name"] in poi_samples for s in kept_samples):
        raise FitError(
            f"the ttbar sample has no events in the fit range ({FIT_BIN_EDGES[0]:g}-"
            f"{FIT_BIN_EDGES[-1]:g} GeV) of any region, so {POI} cannot be measured. "
            f"Fix: process more ttbar events (larger -n / --events-per-sample)."
        )

    if dropped:
        systematics = []
        for syst in config.get("Systematics", []):
            if "Samples" in syst:
                samples = [syst["Samples"]] if isinstance(syst["Samples"], str) else syst["Samples"]
                samples = [s for s in samples if s not in dropped]
                if not samples:
                    messages.append(f"systematic '{syst['Name']}' acts only on dropped samples: dropped")
                    continue
                syst["Samples"] = samples
            systematics.append(syst)
        config["Systematics"] = systematics
    return config, messages, dropped


def _prune_invalid_modifiers(ws: dict[str, Any]) -> list[str]:
    """Remove modifiers pyhf cannot evaluate (non-finite data, non-positive normsys factors),
    as happens for variations of samples with very few events. Edits ``ws`` in place."""
    messages = []
    for channel in ws["channels"]:
        for sample in channel["samples"]:
            kept = []
            for mod in sample["modifiers"]:
                bad = False
                data = mod.get("data")
                if mod["type"] == "normsys":
                    vals = [data["hi"], data["lo"]]
                    bad = not all(math.isfinite(v) and v > 0 for v in vals)
                elif mod["type"] == "histosys":
                    vals = list(data["hi_data"]) + list(data["lo_data"])
                    bad = not all(math.isfinite(v) for v in vals)
                elif isinstance(data, list):
                    bad = not all(v is None or math.isfinite(v) for v in data)
                if bad:
                    detail = (f"hi={data['hi']:.3g}, lo={data['lo']:.3g}" if mod["type"] == "normsys"
                              else "non-finite template")
                    messages.append(
                        f"modifier '{mod['name']}' ({mod['type']}) of sample '{sample['name']}' "
                        f"in region '{channel['name']}' is ill-defined ({detail}): removed "
                        f"(too few events in the variation?)"
                    )
                else:
                    kept.append(mod)
            sample["modifiers"] = kept
    return messages


@contextlib.contextmanager
def _quiet_logger(name: str, level: int = logging.CRITICAL):
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _warn(msg: str) -> None:
    warnings.warn(msg, FitWarning, stacklevel=3)


# ---------------------------------------------------------------------------
# workspace and fit


def build_workspace(histograms_path: str | os.PathLike, template_dir: str | os.PathLike,
                    ) -> tuple[dict[str, Any], dict[str, Any], list[str], list[str]]:
    """Check the inputs, build the templates in ``template_dir`` and the pyhf workspace.

    Returns (workspace, config used, warning messages, dropped samples).
    """
    import cabinetry

    hfile = _HistogramFile(histograms_path)
    config = cabinetry_config(hfile.path, histogram_folder=template_dir)
    cabinetry.configuration.validate(config)
    _check_histograms(config, hfile)
    config, messages, dropped = _prune_empty_samples(config, hfile)
    cabinetry.configuration.validate(config)

    # (cabinetry.histo logs every template with empty bins, normal for sparse samples)
    with _quiet_logger("cabinetry.histo", logging.ERROR):
        cabinetry.templates.build(config, router=template_router(config, hfile))
        cabinetry.templates.postprocess(config)
    with np.errstate(divide="ignore", invalid="ignore"):
        ws = cabinetry.workspace.build(config, with_validation=False)
    messages += _prune_invalid_modifiers(ws)
    cabinetry.workspace.validate(ws)
    for msg in messages:
        _warn(msg)
    return ws, config, messages, dropped


def _finite(x):
    x = float(x)
    return x if math.isfinite(x) else None


def _yields_summary(model, prediction, data, config) -> dict[str, Any]:
    main_data = np.asarray(data[: model.config.nmaindata], dtype=float)
    out = {}
    for i_ch, channel in enumerate(model.config.channels):
        sl = model.config.channel_slices[channel]
        per_sample = np.asarray(prediction.model_yields[i_ch], dtype=float)  # (sample, bin)
        present = [i for i in range(len(model.config.samples)) if np.any(per_sample[i] != 0)]
        region = next((r for r in config["Regions"] if r["Name"] == channel), {})
        stdev_bins = prediction.total_stdev_model_bins[i_ch]
        stdev_chan = prediction.total_stdev_model_channels[i_ch]
        chan_data = main_data[sl]
        out[channel] = {
            "samples": {model.config.samples[i]: _finite(per_sample[i].sum()) for i in present},
            "sample_uncertainties": {model.config.samples[i]: _finite(stdev_chan[i]) for i in present},
            "total": _finite(per_sample.sum()),
            "total_uncertainty": _finite(stdev_chan[-1]),
            "data": _finite(chan_data.sum()),
            "bins": {
                "edges": [float(e) for e in region.get("Binning", range(len(chan_data) + 1))],
                "samples": {model.config.samples[i]: [_finite(v) for v in per_sample[i]] for i in present},
                "total": [_finite(v) for v in per_sample.sum(axis=0)],
                "total_uncertainty": [_finite(v) for v in stdev_bins[-1]],
                "data": [_finite(v) for v in chan_data],
            },
        }
    return out


def _parameters_summary(model, fit_results) -> list[dict[str, Any]]:
    from cabinetry import model_utils

    nominal = np.asarray(model_utils.asimov_parameters(model), dtype=float)
    prefit_unc = np.asarray(model_utils.prefit_uncertainties(model), dtype=float)
    params = []
    for i, name in enumerate(fit_results.labels):
        entry = {
            "name": name,
            "value": _finite(fit_results.bestfit[i]),
            "uncertainty": _finite(fit_results.uncertainty[i]),
            "nominal": _finite(nominal[i]),
            "constrained": bool(prefit_unc[i] > 0),
        }
        if prefit_unc[i] > 0:
            entry["prefit_uncertainty"] = _finite(prefit_unc[i])
            entry["pull"] = _finite((fit_results.bestfit[i] - nominal[i]) / prefit_unc[i])
            entry["pull_uncertainty"] = _finite(fit_results.uncertainty[i] / prefit_unc[i])
        params.append(entry)
    return params


def _check_data_covered(ws: dict[str, Any]) -> None:
    """Raise FitError where a bin has data but every sample predicts zero events
    (the likelihood is zero there at any parameter values near nominal)."""
    observations = {o["name"]: np.asarray(o["data"], dtype=float) for o in ws["observations"]}
    problems = []
    for channel in ws["channels"]:
        total = np.sum([np.asarray(s["data"], dtype=float) for s in channel["samples"]], axis=0)
        data = observations[channel["name"]]
        bad = np.flatnonzero((total <= 0) & (data > 0))
        if bad.size:
            edges = FIT_BIN_EDGES
            ranges = ", ".join(f"[{edges[i]:g}, {edges[i + 1]:g})" for i in bad)
            problems.append(f"region '{channel['name']}' bins {ranges}")
    if problems:
        raise FitError(
            "the pseudo-data have events where no simulated sample predicts any: "
            + "; ".join(problems)
            + ". The model cannot describe them (too few events were processed). "
            "Fix: process more events (larger -n / --events-per-sample)."
        )


def fit_workspace(ws: dict[str, Any]):
    """MLE fit of a workspace (pyhf model, iminuit; see :mod:`rdf_ttbar.minimize` for the settings and
    why): (model, data, cabinetry FitResults, MinuitFit with Minuit's status and the POI's MINOS interval).

    Raises FitError when Migrad does not find a valid minimum, or the best fit is not finite.
    """
    import cabinetry
    from cabinetry.fit.results_containers import FitResults

    from rdf_ttbar import minimize

    _check_data_covered(ws)
    model, data = cabinetry.model_utils.model_and_data(ws)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = minimize.fit(model, data, POI)
    if not result.status["valid"] or not np.all(np.isfinite(result.bestfit)):
        raise FitError(
            f"the maximum-likelihood fit did not converge (Minuit: valid={result.status['valid']}, "
            f"edm={result.status['edm']:.3g}). This happens with very few selected events (empty bins, "
            f"ill-defined variations). Fix: process more events (larger -n / --events-per-sample); the "
            f"workspace was written and can be inspected with pyhf."
        )
    fit_results = FitResults(result.bestfit, result.uncertainty, result.labels, result.corr_mat,
                             result.best_twice_nll)
    return model, data, fit_results, result


def poi_result(result) -> tuple[dict[str, Any], list[str]]:
    """ttbar_norm's entry of fit_results.json and the warnings that go with it.

    ``uncertainty`` is half the width of the profile-likelihood (MINOS) interval; Migrad's error is used
    only where MINOS failed and Minuit calls the covariance accurate.
    """
    i = result.labels.index(POI)
    value = float(result.bestfit[i])
    entry: dict[str, Any] = {"value": value}
    warn: list[str] = []
    if result.poi_interval_valid:
        lo, hi = result.poi_interval
        entry.update(uncertainty=(hi - lo) / 2, interval=[lo, hi], method="MINOS (profile likelihood)")
    else:
        entry.update(uncertainty=float(result.uncertainty[i]), interval=None,
                     method="Migrad covariance")
        warn.append(f"MINOS could not find the profile-likelihood interval of {POI}; its uncertainty is "
                    f"Migrad's estimate" + ("" if result.status["accurate"] else
                                             ", from a covariance Minuit calls NOT accurate: do not quote it"))
    if not result.status["accurate"]:
        warn.append("Minuit reports the covariance matrix as not accurate"
                    + (" (forced positive-definite)" if result.status["forced_positive_definite"] else "")
                    + f": the uncertainties of the parameters other than {POI} are approximate")
    return entry, warn


def fit_summary(histograms_path, model, data, fit_results, config, messages=(), dropped=(),
                minuit=None) -> dict[str, Any]:
    """The content of fit_results.json."""
    from cabinetry import model_utils

    prefit = model_utils.prediction(model)
    postfit = model_utils.prediction(model, fit_results=fit_results)
    poi, poi_warnings = poi_result(minuit)
    return {
        "histograms": str(histograms_path),
        "poi": POI,
        POI: poi,
        "converged": minuit.converged,
        "minuit": dict(minuit.status),
        "best_twice_nll": float(fit_results.best_twice_nll),
        "parameters": _parameters_summary(model, fit_results),
        "correlations": {
            "labels": list(fit_results.labels),
            "matrix": [[_finite(v) for v in row] for row in np.asarray(fit_results.corr_mat)],
        },
        "prefit_yields": _yields_summary(model, prefit, data, config),
        "postfit_yields": _yields_summary(model, postfit, data, config),
        "fit_bin_edges": [float(e) for e in FIT_BIN_EDGES],
        "dropped_samples": list(dropped),
        "warnings": list(messages) + poi_warnings,
    }


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON to ``path`` through a temporary file in the same folder and os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


@dataclass
class FitReport:
    """What :func:`fit` returns: ``summary`` (the content of fit_results.json) and ``workspace`` (pyhf)."""

    summary: dict[str, Any]
    workspace: dict[str, Any]


def fit(histograms, *, ranking: bool = False) -> FitReport:
    """Build the model from ``histograms`` and fit it; nothing is written (see :func:`write`).

    Args:
        histograms: the path of a histograms.root, or a mapping {AGC name: UHI histogram} (hist.Hist,
            uproot TH1) in the analysis binning.
        ranking: also compute the impact of every nuisance parameter on ttbar_norm (cabinetry's
            ranking: about four fits per parameter), under ``summary["ranking"]``.

    Raises:
        FitError: the histograms do not make a usable model, or the fit did not converge.
    """
    with tempfile.TemporaryDirectory(prefix="rdf_ttbar-fit-") as tmp:
        if isinstance(histograms, (str, os.PathLike)):
            path = source = Path(histograms)
        else:
            from rdf_ttbar import reference

            path, source = reference.write_histograms_root(dict(histograms), Path(tmp) / "histograms.root"), None
        ws, config, messages, dropped = build_workspace(path, Path(tmp) / "templates")
        model, data, fit_results, minuit = fit_workspace(ws)
        summary = fit_summary(source if source else "(in memory)", model, data, fit_results, config,
                              messages, dropped, minuit)
    if ranking:
        summary["ranking"] = _ranking(model, data, fit_results)
    return FitReport(summary, ws)


def _ranking(model, data, fit_results) -> list[dict[str, Any]]:
    """cabinetry's ranking of the nuisance parameters by their impact on ttbar_norm, largest first."""
    import cabinetry

    with np.errstate(divide="ignore", invalid="ignore"), _quiet_logger("pyhf.optimize.mixins"):
        r = cabinetry.fit.ranking(model, data, fit_results=fit_results)
    rows = [{"name": name, "value": _finite(r.bestfit[i]), "uncertainty": _finite(r.uncertainty[i]),
             "impact_prefit_up": _finite(r.prefit_up[i]), "impact_prefit_down": _finite(r.prefit_down[i]),
             "impact_postfit_up": _finite(r.postfit_up[i]), "impact_postfit_down": _finite(r.postfit_down[i])}
            for i, name in enumerate(r.labels)]
    return sorted(rows, key=lambda x: -max(abs(x["impact_postfit_up"] or 0), abs(x["impact_postfit_down"] or 0)))


def write(report: FitReport, output_dir: str | os.PathLike) -> list[Path]:
    """Write ``workspace.json`` and ``fit_results.json`` of a :func:`fit` into ``output_dir`` (atomically)."""
    output_dir = Path(output_dir)
    report.summary["workspace"] = str(output_dir / WORKSPACE_FILE)
    return [write_json_atomic(output_dir / WORKSPACE_FILE, report.workspace),
            write_json_atomic(output_dir / FIT_RESULTS_FILE, report.summary)]


def run_fit(histograms_path: str | os.PathLike, output_dir: str | os.PathLike,
            plots_dir: str | os.PathLike | None = None, ranking: bool = False) -> dict[str, Any]:
    """:func:`fit` then :func:`write` into ``output_dir``; returns the summary (fit_results.json).
    With ``plots_dir``, also draw the fit plots there (their paths are listed under "plots")."""
    report = fit(histograms_path, ranking=ranking)
    write(report, output_dir)
    if plots_dir is not None:
        from rdf_ttbar import plots

        report.summary["plots"] = [str(p) for p in plots.plot_fit(report.summary, plots_dir)]
    return report.summary


# ---------------------------------------------------------------------------
# command line


def add_fit_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of ``python -m rdf_ttbar fit``."""
    parser.add_argument("histograms", type=Path, metavar="HISTOGRAMS.root", nargs="?",
                        help="histograms file written by the analysis")
    parser.add_argument("--reference", metavar="N|FILE.json",
                        help="fit an AGC reference histogram JSON instead (histos_N_file_per_process.json, or just "
                             "N: 1, 2, 5, 10, 20, 50, 100, 200, all for the packaged AGC v1.4.0 copies), with exact "
                             "variances from the AGC file list")
    parser.add_argument("-n", "--files-per-sample", type=int, default=None, metavar="N",
                        help="with --reference: files per sample it was made from (default: from its name; 0: all)")
    parser.add_argument("--agc-list", type=Path, default=None, metavar="FILE",
                        help="with --reference: the AGC file list giving the event counts (default: packaged copy)")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="where to write workspace.json, fit_results.json and plots/ "
                             "(default: the folder of HISTOGRAMS.root)")
    parser.add_argument("--ranking", action="store_true",
                        help="also rank the nuisance parameters by their impact on ttbar_norm (about four fits "
                             "per parameter) and draw plots/ranking.png")
    parser.add_argument("--no-plots", action="store_true", help="do not draw the plots (input histograms and fit)")
    return parser


def format_result(summary: dict[str, Any]) -> str:
    poi = summary[POI]
    text = f"{POI} = {poi['value']:.4f} +/- {poi['uncertainty']:.4f}"
    if poi.get("interval"):
        lo, hi = poi["interval"]
        text += f" (profile-likelihood interval [{lo:.4f}, {hi:.4f}]: {lo - poi['value']:+.4f} / {hi - poi['value']:+.4f})"
    return text


def run_fit_and_plots(histograms_path, output_dir, plots: bool = True, ranking: bool = False) -> dict[str, Any]:
    """:func:`run_fit`, then the input-histogram plots, all into ``output_dir/plots`` (their
    paths are listed under "plots" in the returned summary)."""
    if not plots:
        return run_fit(histograms_path, output_dir, ranking=ranking)
    from rdf_ttbar import plots as plotting

    plots_dir = Path(output_dir) / "plots"
    summary = run_fit(histograms_path, output_dir, plots_dir=plots_dir, ranking=ranking)
    histogram_plots = plotting.plot_histograms(histograms_path, plots_dir)
    summary["plots"] = [str(p) for p in histogram_plots] + summary["plots"]
    return summary


def fit_only_main(args: argparse.Namespace) -> int:
    """``python -m rdf_ttbar fit``: returns the exit status (2 on FitError, message on stderr)."""
    if (args.histograms is None) == (args.reference is None):
        print("rdf_ttbar fit: error: give either HISTOGRAMS.root or --reference N|FILE.json", file=sys.stderr)
        return 2
    if args.reference is not None:
        from rdf_ttbar import reference

        output_dir = args.output_dir if args.output_dir is not None else Path("results-reference")
        n = -1 if args.files_per_sample is None else (args.files_per_sample or None)
        try:
            histograms = reference.read(args.reference, n, args.agc_list)
        except UserError as exc:
            print(f"rdf_ttbar fit: error: {exc}", file=sys.stderr)
            return 2
        output_dir.mkdir(parents=True, exist_ok=True)
        args.histograms = reference.write_histograms_root(histograms, output_dir / "histograms.root")
    output_dir = args.output_dir if args.output_dir is not None else Path(args.histograms).parent
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)  # printed below instead
            summary = run_fit_and_plots(args.histograms, output_dir, plots=not args.no_plots,
                                        ranking=args.ranking)
    except FitError as exc:
        print(f"rdf_ttbar fit: error: {exc}", file=sys.stderr)
        return 2
    for msg in summary["warnings"]:
        print(f"rdf_ttbar fit: warning: {msg}", file=sys.stderr)
    print(format_result(summary))
    print(f"wrote {Path(output_dir) / WORKSPACE_FILE} and {Path(output_dir) / FIT_RESULTS_FILE}")
    if summary.get("plots"):
        print(f"wrote {len(summary['plots'])} plots to {Path(output_dir) / 'plots'}")
    return 0


# the subcommand interface of rdf_ttbar.cli: module.add_arguments(parser); module.main(args)
add_arguments = add_fit_arguments


def main(args: argparse.Namespace | list[str] | None = None) -> int:
    """Run the fit subcommand from parsed arguments (or an argument list / sys.argv)."""
    if not isinstance(args, argparse.Namespace):
        parser = add_fit_arguments(argparse.ArgumentParser(prog="python -m rdf_ttbar fit"))
        args = parser.parse_args(args)
    return fit_only_main(args)


if __name__ == "__main__":
    sys.exit(main())
