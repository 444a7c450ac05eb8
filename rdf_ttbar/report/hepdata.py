"""``--hepdata DIR``: a HEPData submission of the fit, made with hepdata_lib (as the AGC notebook's
``utils/hepdata.py`` does, one table per fitted region, here with the bins as the independent variable).

- one table per fitted region: the post-fit yield of every sample per bin, with its uncertainty (cabinetry's
  ``model_utils.prediction`` with the fit's parameters and correlations, as fit_results.json holds it), the total
  with its uncertainty, and the pseudo-data;
- one table with the fitted ttbar_norm and its profile-likelihood (MINOS) interval;
- AGC v2: one table per ML feature, its post-fit distribution with the main fit's parameters;
- the pyhf workspace (workspace.json) as an additional resource.

The folder holds the YAML files (``submission.yaml`` and one per table) and a copy of the workspace: what HEPData
takes, as an archive of these files. It is written beside DIR and renamed into place when complete; an earlier
submission in DIR is replaced.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from .. import __version__, quiet
from ..errors import UserError

SUBMISSION = "submission.yaml"
ARCHIVE = "submission.tar.gz"
STAGING_PREFIX = ".rdf_ttbar-partial-hepdata-"
log = logging.getLogger(__name__)


def check_folder(folder: str | os.PathLike) -> Path:
    """Refuse, before any work, a DIR that would lose files of its own, and a missing hepdata_lib."""
    folder = Path(folder)
    if importlib.util.find_spec("hepdata_lib") is None:
        raise UserError("--hepdata needs the hepdata_lib package (a dependency of rdf_ttbar): pip install hepdata_lib")
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--hepdata {folder} is a file, not a folder: choose a new or empty folder")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / SUBMISSION).is_file():
        raise UserError(
            f"--hepdata {folder} holds other files and no earlier HEPData submission: choose a new or empty folder"
        )
    return folder


def distribution_table(name: str, description: str, location: str, yields: dict[str, Any], variable: str, units: str):
    """A table of one region's (or ML feature's) post-fit distribution, bins as the independent variable."""
    from hepdata_lib import Table, Uncertainty, Variable

    bins = yields["bins"]
    table = Table(name)
    table.description = description
    table.location = location
    table.keywords["observables"] = ["N"]
    table.keywords["reactions"] = ["P P --> TOP TOPBAR X"]
    table.keywords["cmenergies"] = [13000]
    edges = bins["edges"]
    axis = Variable(variable, is_independent=True, is_binned=True, units=units)
    axis.values = list(zip(edges[:-1], edges[1:]))
    table.add_variable(axis)
    columns = [(s, bins["samples"][s], bins["sample_uncertainties"][s]) for s in bins["samples"]]
    columns.append(("total", bins["total"], bins["total_uncertainty"]))
    for label, values, uncertainties in columns:
        column = Variable(f"post-fit {label}", is_independent=False, is_binned=False, units="events")
        column.values = [float(v) for v in values]
        unc = Uncertainty("post-fit total", is_symmetric=True)
        unc.values = [float(u) for u in uncertainties]
        column.add_uncertainty(unc)
        table.add_variable(column)
    data = Variable("pseudo-data", is_independent=False, is_binned=False, units="events")
    data.values = [float(v) for v in bins["data"]]
    table.add_variable(data)
    return table


def poi_table(summary: dict[str, Any]):
    """The fitted parameter of interest with its profile-likelihood interval (or Migrad's error, when MINOS
    failed)."""
    from hepdata_lib import Table, Uncertainty, Variable

    name = summary.get("poi", "ttbar_norm")
    entry = summary[name]
    table = Table(f"Fitted {name}")
    table.location = "rdf_ttbar's fit_results.json and report.html"
    table.description = (
        f"The fitted {name} (the ttbar cross-section relative to its nominal value) with its uncertainty: "
        f"{entry.get('method', 'fit')}."
    )
    table.keywords["observables"] = ["SIG/SIG"]
    table.keywords["reactions"] = ["P P --> TOP TOPBAR X"]
    table.keywords["cmenergies"] = [13000]
    parameter = Variable("parameter", is_independent=True, is_binned=False)
    parameter.values = [name]
    table.add_variable(parameter)
    value = Variable(f"fitted {name}", is_independent=False, is_binned=False)
    value.values = [float(entry["value"])]
    if entry.get("interval"):
        lo, hi = entry["interval"]
        unc = Uncertainty("profile likelihood (MINOS), 68% CL", is_symmetric=False)
        unc.values = [(float(lo - entry["value"]), float(hi - entry["value"]))]
    else:
        unc = Uncertainty(entry.get("method", "fit"), is_symmetric=True)
        unc.values = [float(entry["uncertainty"])]
    value.add_uncertainty(unc)
    table.add_variable(value)
    return table


def submission(summary: dict[str, Any], workspace: str | os.PathLike, analysis):
    """The hepdata_lib Submission of a fit summary (fit_results.json's content) and its workspace file."""
    # hepdata_lib imports ROOT, and hepdata_validator jsonschema's deprecated RefResolver (as pyhf does)
    with quiet.root_import(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"jsonschema\.\S+ is deprecated", category=DeprecationWarning)
        from hepdata_lib import Submission

    labels = {analysis.region(h.region).fit_name: h.label for h in analysis.fit_histograms}
    sub = Submission()
    sub.comment = (
        f"rdf_ttbar {__version__}: the {analysis.name} analysis of the Analysis Grand Challenge (CMS 2015 Open "
        "Data, ttbar) on ROOT's RDataFrame, fitted with cabinetry and pyhf to pseudo-data."
    )
    for region, yields in summary["postfit_yields"].items():
        sub.add_table(
            distribution_table(
                f"Post-fit {region}",
                f"Post-fit distribution in region {region}: every sample's yield per bin with the fitted parameters, "
                "with its uncertainty from the fit's covariance (cabinetry), the total and the pseudo-data.",
                f"rdf_ttbar's plots/data_mc_postfit_{region.replace(' ', '_')}.png",
                yields,
                labels.get(region, "observable"),
                "GeV",
            )
        )
    sub.add_table(poi_table(summary))
    ml = summary.get("ml_validation") or {}
    for feature, yields in (ml.get("postfit_yields") or {}).items():
        sub.add_table(
            distribution_table(
                f"Post-fit ML feature {feature}",
                f"ML feature {feature} (jet-parton assignment, {yields.get('region', '4j2b')}) with the main fit's "
                "parameters applied: every sample's yield per bin with its uncertainty, the total and the pseudo-data.",
                f"rdf_ttbar's plots/ml_postfit_{feature}.png",
                yields,
                yields.get("label") or feature,
                "",
            )
        )
    sub.add_additional_resource(
        "The pyhf workspace of the fit (HistFactory JSON)", str(workspace), copy_file=True, file_type="HistFactory"
    )
    return sub


def write(
    folder: str | os.PathLike, summary: dict[str, Any], workspace: str | os.PathLike | dict[str, Any], analysis
) -> Path:
    """Write the HEPData submission of ``summary`` (fit_results.json's content) and ``workspace`` (its file, or the
    workspace itself) into ``folder`` (made beside it, then renamed into place; an earlier submission there is
    replaced). Returns the folder."""
    folder = check_folder(folder).absolute()
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder.parent))
    cwd = os.getcwd()
    try:
        # hepdata_lib writes an archive into the working folder (left out: a folder holding it does not validate;
        # HEPData takes the folder's files, e.g. tar czf submission.tar.gz -C DIR .) and prints notes on stdout
        with tempfile.TemporaryDirectory(prefix=STAGING_PREFIX, dir=folder.parent) as scratch:
            if isinstance(workspace, dict):
                path = Path(scratch) / "workspace.json"
                path.write_text(json.dumps(workspace, indent=2) + "\n")
                workspace = path
            sub = submission(summary, Path(workspace).absolute(), analysis)
            os.chdir(scratch)
            try:
                with contextlib.redirect_stdout(io.StringIO()) as notes:
                    sub.create_files(str(staging), validate=False)
            finally:
                os.chdir(cwd)
        for line in notes.getvalue().splitlines():
            log.debug("hepdata_lib: %s", line)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder
