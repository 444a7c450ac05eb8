"""Statistical model and fit, split by stage as cabinetry is:

- :mod:`.configuration`: the cabinetry configuration, generated from the analysis definition (``rdf_ttbar.analysis``)
- :mod:`.templates`: reading and rebinning the histograms, model checks, the pyhf workspace
- :mod:`.fitting`: the fit (Minuit through :mod:`.minimize`), ranking, writing
- :mod:`.results`: fit_results.json's content (ttbar_norm, its interval, Minuit's status, yields)
- :mod:`.containers`: what the stages hand each other (the input histograms, the yields of a prediction)

Public API: :func:`fit`, :func:`write`, :func:`run_fit`, :class:`FitReport`, :class:`FitError`.
"""

from rdf_ttbar.inference.configuration import (
    FIT_RESULTS_FILE,
    WORKSPACE_FILE,
    FitError,
    FitWarning,
    cabinetry_config,
    required_histograms,
    sample_labels,
)
from rdf_ttbar.inference.containers import HistogramFile, merge_bins, yields_summary
from rdf_ttbar.inference.fitting import fit, fit_workspace, run_fit, write
from rdf_ttbar.inference.results import FitReport, fit_summary, write_json_atomic
from rdf_ttbar.inference.templates import build_workspace, rebinned_histogram

__all__ = [
    "FIT_RESULTS_FILE",
    "WORKSPACE_FILE",
    "FitError",
    "FitReport",
    "FitWarning",
    "HistogramFile",
    "merge_bins",
    "sample_labels",
    "yields_summary",
    "build_workspace",
    "cabinetry_config",
    "fit",
    "fit_summary",
    "fit_workspace",
    "rebinned_histogram",
    "required_histograms",
    "run_fit",
    "write",
    "write_json_atomic",
]
