"""The containers the fit's stages hand each other (a leaf module, as cabinetry's fit/results_containers.py): the
input histograms of a model (:class:`HistogramFile`, with :func:`merge_bins` into a fit binning) and the yields of a
model's prediction as fit_results.json holds them (:func:`yields_summary`)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rdf_ttbar.errors import FitError


def finite(x):
    x = float(x)
    return x if math.isfinite(x) else None


def yields_summary(model, prediction, data, config) -> dict[str, Any]:
    main_data = np.asarray(data[: model.config.nmaindata], dtype=float)
    out = {}
    for i_ch, channel in enumerate(model.config.channels):
        sl = model.config.channel_slices[channel]
        per_sample = np.asarray(prediction.model_yields[i_ch], dtype=float)  # (sample, bin)
        present = [i for i in range(len(model.config.samples)) if np.any(per_sample[i] != 0)]
        region: dict[str, Any] = next((r for r in config["Regions"] if r["Name"] == channel), {})
        stdev_bins = prediction.total_stdev_model_bins[i_ch]
        stdev_chan = prediction.total_stdev_model_channels[i_ch]
        chan_data = main_data[sl]
        out[channel] = {
            "samples": {model.config.samples[i]: finite(per_sample[i].sum()) for i in present},
            "sample_uncertainties": {model.config.samples[i]: finite(stdev_chan[i]) for i in present},
            "total": finite(per_sample.sum()),
            "total_uncertainty": finite(stdev_chan[-1]),
            "data": finite(chan_data.sum()),
            "bins": {
                "edges": [float(e) for e in region.get("Binning", range(len(chan_data) + 1))],
                "samples": {model.config.samples[i]: [finite(v) for v in per_sample[i]] for i in present},
                "sample_uncertainties": {model.config.samples[i]: [finite(v) for v in stdev_bins[i]] for i in present},
                "total": [finite(v) for v in per_sample.sum(axis=0)],
                "total_uncertainty": [finite(v) for v in stdev_bins[-1]],
                "data": [finite(v) for v in chan_data],
            },
        }
    return out


def merge_bins(
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
    check_finite(name, values, variances, edges, idx[0], idx[-1])
    merged = np.add.reduceat(values, idx[:-1])
    merged_var = np.add.reduceat(variances, idx[:-1])
    return merged, merged_var


def check_finite(
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


def variances_of(h) -> np.ndarray:
    """uproot's variances of a TH1 (no flow bins), but NaN or infinite where its fSumw2 is: uproot reads those as
    0, which would shrink the bin's uncertainty without a word (_check_finite reports them)."""
    variances = np.asarray(h.variances(flow=False), dtype=float)
    sumw2 = h.member("fSumw2", none_if_missing=True)
    if sumw2 is not None and len(sumw2) == len(variances) + 2:
        raw = np.asarray(sumw2, dtype=float)[1:-1]
        variances = np.where(np.isfinite(raw), variances, raw)
    return variances


class HistogramFile:
    """The fit's input histograms, name -> (values, variances, edges): the TH1 of a ROOT file read once with
    uproot, or (:meth:`in_memory`) a mapping of UHI histograms as the event loops return them."""

    @classmethod
    def in_memory(cls, histograms: Mapping[str, Any]) -> "HistogramFile":
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
                variances_of(h),
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

    def fit_binned(self, name: str, target_edges) -> tuple[np.ndarray, np.ndarray]:
        values, variances, edges = self.read(name)
        return merge_bins(values, variances, edges, target_edges, name=name)
