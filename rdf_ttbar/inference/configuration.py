"""The cabinetry configuration of the fit, generated from the run's analysis definition (rdf_ttbar.analysis)."""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Any, Literal

from rdf_ttbar.analysis import Analysis, chosen
from rdf_ttbar.errors import FitError  # noqa: F401  (defined with the other exceptions; imported from here too)

MEASUREMENT = "CMS_ttbar"
POI_BOUNDS = (0.0, 10.0)
DATA_SAMPLE = "Pseudodata"
DATA_SAMPLE_PATH = "pseudodata"  # {region}_pseudodata, see analysis.pseudodata_name
WORKSPACE_FILE = "workspace.json"
FIT_RESULTS_FILE = "fit_results.json"


class FitWarning(UserWarning):
    """The model was changed to let the fit run (for example an empty sample was dropped)."""


# ---------------------------------------------------------------------------
# configuration


def sample_labels(analysis: Analysis) -> dict[str, str]:
    """{process: its sample's name in the fit} of a definition."""
    return {p.name: p.label for p in analysis.processes}


def _systematic_config(syst, labels: dict[str, str]) -> dict[str, Any]:
    """One cabinetry systematic from an ``analysis.model.Systematic``."""
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
        entry["Down"] = {"Symmetrize": True} if syst.down is None else {"VariationPath": f"_{syst.down}"}
    elif syst.kind == "vary":
        entry.update(Type="NormPlusShape", Up={"VariationPath": f"_{syst.name}_up"})
        entry["Down"] = {"VariationPath": f"_{syst.name}_down"} if "down" in syst.directions else {"Symmetrize": True}
    else:
        raise ValueError(f"unknown systematic kind {syst.kind!r} for {syst.name}")
    if entry["Type"] == "NormPlusShape" and "down" not in syst.directions and not syst.symmetrize:
        raise ValueError(f"systematic {syst.name} has only an up variation but is not symmetrised")
    if syst.processes is not None:
        entry["Samples"] = [labels[p] for p in syst.processes]
    return entry


def cabinetry_config(
    histograms_path: str | os.PathLike,
    histogram_folder: str | os.PathLike = "histograms",
    analysis: Analysis | str | None = None,
) -> dict[str, Any]:
    """The cabinetry configuration of the fit, generated from the analysis definition (an Analysis or its name;
    None: the AGC v1). Its parameter of interest is the normalisation of the definition's ``poi_process``.

    Histogram paths follow ``{histograms_path}:{RegionPath}_{SamplePath}{VariationPath}``,
    i.e. the AGC names ``{region}_{process}[_{variation}]``.
    Regions carry the fit ``Binning`` (used by the template router and by the plots).
    ``histogram_folder`` is where cabinetry keeps its templates.
    """
    analysis = chosen(analysis)
    labels = sample_labels(analysis)
    input_path = f"{Path(histograms_path)}:{{RegionPath}}_{{SamplePath}}{{VariationPath}}"
    config = {
        "General": {
            "Measurement": MEASUREMENT,
            "POI": analysis.poi,
            "HistogramFolder": str(histogram_folder),
            "InputPath": input_path,
            "VariationPath": "",
        },
        "Regions": [
            {
                "Name": analysis.region(h.region).fit_name,
                "RegionPath": h.prefix,
                "Variable": h.label,
                "Binning": [float(x) for x in h.fit_edges],
            }
            for h in analysis.fit_histograms
        ],
        "Samples": [{"Name": DATA_SAMPLE, "SamplePath": DATA_SAMPLE_PATH, "Data": True}]
        + [{"Name": labels[p], "SamplePath": p} for p in analysis.process_names],
        "NormFactors": [
            {
                "Name": analysis.poi,
                "Samples": labels[analysis.poi_process],
                "Nominal": 1.0,
                "Bounds": [float(b) for b in POI_BOUNDS],
            }
        ],
        "Systematics": [_systematic_config(s, labels) for s in analysis.systematics],
    }
    return config


def template_histogram_name(
    config: dict[str, Any],
    region: dict,
    sample: dict,
    systematic: dict | None = None,
    template: Literal["Up", "Down"] | None = None,
) -> str:
    """Name inside the input file of the histogram of one template, from the config's
    ``InputPath`` (with cabinetry's own path resolution, as ``templates.collect`` does)."""
    from cabinetry.templates import collector

    general = config["General"]
    path = collector._histo_path(
        general["InputPath"], general.get("VariationPath", ""), region, sample, systematic or {}, template
    )
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


def poi_of(config: dict[str, Any]) -> str:
    """The parameter of interest of a cabinetry configuration."""
    return config["General"]["POI"]


@contextlib.contextmanager
def quiet_schema_warning():
    """pyhf validates workspaces with jsonschema's RefResolver, deprecated since jsonschema 4.18: every
    validation warns (DeprecationWarning), which ``python -W error`` turns into a failure. Silenced here only,
    around the pyhf calls that validate."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="jsonschema.RefResolver is deprecated", category=DeprecationWarning)
        yield
