"""Statistical model and fit, split by stage as cabinetry is:

- :mod:`.configuration`: the cabinetry configuration, generated from the analysis definition (``rdf_ttbar.analysis``)
- :mod:`.templates`: reading and rebinning the histograms, model checks, the pyhf workspace
- :mod:`.fitting`: the fit (Minuit through :mod:`.minimize`), ranking, writing
- :mod:`.results`: fit_results.json's content (ttbar_norm, its interval, Minuit's status, yields)

Public API: :func:`fit`, :func:`write`, :func:`run_fit`, :class:`FitReport`, :class:`FitError`.
"""

from rdf_ttbar.inference.configuration import (
    FIT_RESULTS_FILE,
    POI,
    SAMPLE_LABELS,
    WORKSPACE_FILE,
    FitError,
    FitWarning,
    cabinetry_config,
    required_histograms,
)
from rdf_ttbar.inference.fitting import fit, fit_workspace, run_fit, write
from rdf_ttbar.inference.results import FitReport, fit_summary, write_json_atomic
from rdf_ttbar.inference.templates import (
    _merge_bins,
    build_workspace,
    rebinned_histogram,
)

__all__ = [
    "FIT_RESULTS_FILE",
    "POI",
    "SAMPLE_LABELS",
    "WORKSPACE_FILE",
    "FitError",
    "FitReport",
    "FitWarning",
    "_merge_bins",
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
