"""Templates: read the histograms (ROOT file), merge bins into the fit binning, check and prune the model,
build the pyhf workspace with cabinetry."""

from __future__ import annotations

import copy
import logging
import math
import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from rdf_ttbar import quiet
from rdf_ttbar.inference.configuration import (
    FitError,
    FitWarning,
    cabinetry_config,
    poi_of,
    quiet_schema_warning,
    required_histograms,
    template_histogram_name,
)
from rdf_ttbar.inference.containers import HistogramFile

# ---------------------------------------------------------------------------
# reading and rebinning


def rebinned_histogram(histograms_path: str | os.PathLike, name: str, target_edges):
    """One histogram of the file in the fit binning, as a ``boost_histogram.Histogram``."""
    values, variances = HistogramFile(histograms_path).fit_binned(name, target_edges)
    return _to_boost(values, variances, target_edges)


def _to_boost(values, variances, edges):
    import boost_histogram as bh

    h = bh.Histogram(bh.axis.Variable([float(e) for e in edges]), storage=bh.storage.Weight())
    view = h.view()
    view.value = values
    view.variance = variances
    return h


def template_router(config: dict[str, Any], hfile: HistogramFile):
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


def _check_histograms(config: dict[str, Any], hfile: HistogramFile) -> None:
    missing = [n for n in required_histograms(config) if not hfile.has_th1(n)]
    if missing:
        shown = ", ".join(missing[:40]) + (f", ... ({len(missing) - 40} more)" if len(missing) > 40 else "")
        raise FitError(
            f"histograms file {hfile.path} lacks {len(missing)} histogram(s) the fit needs: "
            f"{shown}. Fix: rerun the analysis with all the samples of its definition and all variations "
            f"(python -m rdf_ttbar, with the same --analysis), or pass the right file."
        )


def _prune_empty_samples(config: dict[str, Any], hfile: HistogramFile) -> tuple[dict, list[str], list[str]]:
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
        ranges = ", ".join(f"{r['Binning'][0]:g}-{r['Binning'][-1]:g}" for r in region_by_name.values())
        raise FitError(
            f"the {' and '.join(poi_samples)} sample has no events in the fit range ({ranges}) of any region, so "
            f"{poi_of(config)} cannot be measured. Fix: process more events (larger -n / --events-per-sample)."
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


def _warn(msg: str) -> None:
    warnings.warn(msg, FitWarning, stacklevel=3)


# ---------------------------------------------------------------------------
# workspace and fit


def build_workspace(
    histograms: str | os.PathLike | Mapping[str, Any],
    template_dir: str | os.PathLike,
    analysis,
) -> tuple[dict[str, Any], dict[str, Any], list[str], list[str]]:
    """Check the inputs (a histograms.root path, or {AGC name: UHI histogram}), build the templates in
    ``template_dir`` and the pyhf workspace of ``analysis``'s fit (the definition, or its name).

    Returns (workspace, config used, warning messages, dropped samples).
    """
    hfile = HistogramFile.in_memory(histograms) if isinstance(histograms, Mapping) else HistogramFile(histograms)
    ws, config, messages, dropped = workspace_of(cabinetry_config(hfile.path, template_dir, analysis), hfile)
    for msg in messages:
        _warn(msg)
    return ws, config, messages, dropped


def workspace_of(
    config: dict[str, Any], hfile: HistogramFile
) -> tuple[dict[str, Any], dict[str, Any], list[str], list[str]]:
    """The pyhf workspace of a cabinetry ``config`` whose templates come from ``hfile`` (checked; empty samples
    and invalid modifiers dropped, with a message each). Returns (workspace, config used, messages, dropped)."""
    import cabinetry

    cabinetry.configuration.validate(config)
    _check_histograms(config, hfile)
    config, messages, dropped = _prune_empty_samples(config, hfile)
    cabinetry.configuration.validate(config)

    # (cabinetry.histo logs every template with empty bins, normal for sparse samples)
    with quiet.logger_level("cabinetry.histo", logging.ERROR):
        cabinetry.templates.build(config, router=template_router(config, hfile))
        cabinetry.templates.postprocess(config)
    with np.errstate(divide="ignore", invalid="ignore"):
        ws = cabinetry.workspace.build(config, with_validation=False)
    messages += _prune_invalid_modifiers(ws)
    with quiet_schema_warning():
        cabinetry.workspace.validate(ws)
    return ws, config, messages, dropped
