"""Templates: read the histograms (ROOT file), merge bins into the fit binning, check and prune the model,
build the pyhf workspace with cabinetry."""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rdf_ttbar.inference.configuration import (
    FIT_BIN_EDGES,
    POI,
    FitError,
    FitWarning,
    cabinetry_config,
    quiet_schema_warning,
    required_histograms,
    template_histogram_name,
)

# ---------------------------------------------------------------------------
# reading and rebinning


def _merge_bins(
    values: np.ndarray, variances: np.ndarray, edges: np.ndarray, target_edges, name: str = "histogram"
) -> tuple[np.ndarray, np.ndarray]:
    """Sum the (in-range) bins of a histogram into ``target_edges``.

    Every target edge must be an edge of the original binning; bins outside the
    target range (and the flow bins, which are not passed in) are dropped.
    """
    target = np.asarray(target_edges, dtype=float)
    positions: list[int] = []
    for edge in target:
        hits = np.flatnonzero(np.isclose(edges, edge, rtol=0.0, atol=1e-6 * max(1.0, abs(edge))))
        if hits.size != 1:
            raise FitError(
                f"{name}: fit bin edge {edge:g} is not a bin edge of the histogram "
                f"(edges {edges[0]:g}..{edges[-1]:g}, {len(edges) - 1} bins). Fix: produce the "
                f"histograms with the analysis binning (25 bins from 50 to 550 GeV)."
            )
        positions.append(int(hits[0]))
    idx = np.asarray(positions)
    if np.any(np.diff(idx) <= 0):
        raise FitError(f"{name}: fit bin edges are not increasing")
    _check_finite(name, values, variances, edges, idx[0], idx[-1])
    merged = np.add.reduceat(values, idx[:-1])
    merged_var = np.add.reduceat(variances, idx[:-1])
    return merged, merged_var


def _check_finite(
    name: str, values: np.ndarray, variances: np.ndarray, edges: np.ndarray, first: int, stop: int
) -> None:
    """FitError naming the first bin in ``first:stop`` whose content or variance is NaN or infinite (the fit
    would turn it into a wrong uncertainty or a failed minimisation without saying why)."""
    for what, array in (("content", values), ("variance", variances)):
        bad = first + np.flatnonzero(~np.isfinite(array[first:stop]))
        if bad.size:
            i = int(bad[0])
            more = f" (and {bad.size - 1} more bin(s))" if bad.size > 1 else ""
            raise FitError(
                f"histogram {name} has a {what} of {array[i]} in bin [{edges[i]:g}, {edges[i + 1]:g}) "
                f"of the fit range{more}: the fit cannot use it. Fix: rerun the analysis to rewrite the "
                f"histograms file (a NaN comes from a damaged file or a NaN weight in the inputs)."
            )


def _variances(h) -> np.ndarray:
    """uproot's variances of a TH1 (no flow bins), but NaN or infinite where its fSumw2 is: uproot reads those as
    0, which would shrink the bin's uncertainty without a word (_check_finite reports them)."""
    variances = np.asarray(h.variances(flow=False), dtype=float)
    sumw2 = h.member("fSumw2", none_if_missing=True)
    if sumw2 is not None and len(sumw2) == len(variances) + 2:
        raw = np.asarray(sumw2, dtype=float)[1:-1]
        variances = np.where(np.isfinite(raw), variances, raw)
    return variances


class _HistogramFile:
    """The fit's input histograms, name -> (values, variances, edges): the TH1 of a ROOT file read once with
    uproot, or (:meth:`in_memory`) a mapping of UHI histograms as the event loops return them."""

    @classmethod
    def in_memory(cls, histograms: Mapping[str, Any]) -> "_HistogramFile":
        self = cls.__new__(cls)
        self.path = Path("(in memory)")
        self._histograms = {}
        for name, h in histograms.items():
            edges = h.axes[0].edges
            values = np.asarray(h.values(flow=False), dtype=float)
            variances = h.variances(flow=False)
            self._histograms[name] = (
                values,
                values if variances is None else np.asarray(variances, dtype=float),
                np.asarray(edges() if callable(edges) else edges, dtype=float),
            )
        return self

    def __init__(self, path: str | os.PathLike):
        from ..execution.histograms import read_th1

        self.path = Path(path)
        self._histograms: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {
            name: (
                np.asarray(h.values(flow=False), dtype=float),
                _variances(h),
                np.asarray(h.axis().edges(flow=False), dtype=float),
            )
            for name, h in read_th1(self.path, error=FitError).items()
        }

    def has_th1(self, name: str) -> bool:
        return name in self._histograms

    def read(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values, variances, edges) of a TH1, without the flow bins."""
        if name not in self._histograms:
            raise FitError(
                f"histogram {name} not found in {self.path} (or not a TH1). "
                f"Fix: rerun the analysis to rewrite the histograms file."
            )
        return self._histograms[name]

    def fit_binned(self, name: str, target_edges=FIT_BIN_EDGES) -> tuple[np.ndarray, np.ndarray]:
        values, variances, edges = self.read(name)
        return _merge_bins(values, variances, edges, target_edges, name=name)


def rebinned_histogram(histograms_path: str | os.PathLike, name: str, target_edges=FIT_BIN_EDGES):
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
        values, _ = hfile.fit_binned(
            template_histogram_name(config, region_by_name[rname], data), region_by_name[rname]["Binning"]
        )
        if np.sum(values) > 0:
            raise FitError(
                f"region '{rname}' has pseudo-data but no simulated events of any sample in the "
                "fit range, so the model cannot describe it. Fix: process more events "
                "(larger -n / --events-per-sample) or skip the fit with --no-fit."
            )
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
                    detail = (
                        f"hi={data['hi']:.3g}, lo={data['lo']:.3g}"
                        if mod["type"] == "normsys"
                        else "non-finite template"
                    )
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


def build_workspace(
    histograms: str | os.PathLike | Mapping[str, Any],
    template_dir: str | os.PathLike,
    analysis=None,
) -> tuple[dict[str, Any], dict[str, Any], list[str], list[str]]:
    """Check the inputs (a histograms.root path, or {AGC name: UHI histogram}), build the templates in
    ``template_dir`` and the pyhf workspace of ``analysis``'s fit (default: v1's).

    Returns (workspace, config used, warning messages, dropped samples).
    """
    hfile = _HistogramFile.in_memory(histograms) if isinstance(histograms, Mapping) else _HistogramFile(histograms)
    ws, config, messages, dropped = workspace_of(cabinetry_config(hfile.path, template_dir, analysis), hfile)
    for msg in messages:
        _warn(msg)
    return ws, config, messages, dropped


def workspace_of(
    config: dict[str, Any], hfile: _HistogramFile
) -> tuple[dict[str, Any], dict[str, Any], list[str], list[str]]:
    """The pyhf workspace of a cabinetry ``config`` whose templates come from ``hfile`` (checked; empty samples
    and invalid modifiers dropped, with a message each). Returns (workspace, config used, messages, dropped)."""
    import cabinetry

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
    with quiet_schema_warning():
        cabinetry.workspace.validate(ws)
    return ws, config, messages, dropped
