"""rdf_ttbar: the AGC v1 CMS Open Data ttbar analysis on ROOT's RDataFrame.

The Python API (``rdf_ttbar.api``): :func:`configure` (a :class:`RunConfig`), :func:`run` (the event loops:
histograms and metrics), :func:`fit`, :func:`plot`, :func:`hepdata`, and :func:`run_job` (the whole job of
``python -m rdf_ttbar``).
"""

__version__ = "0.1.0"

# reference point of the set-up time reported in metrics.json (set before anything else is imported)
from .clock import START_TIME  # noqa: E402, F401

# isort: split
import sys as _sys

# ``python -m rdf_ttbar``: signals are noted from here on, not only from the command line's start after the imports
# below (0.3 s and more, when Python's own handler would raise in the middle of one; interrupts.py)
if _sys.argv[:1] == ["-m"] and ["-m", "rdf_ttbar"] in map(list, zip(_sys.orig_argv, _sys.orig_argv[1:])):
    from .interrupts import install as _install

    _install()

# isort: split
from .api import JobResult, RunResult, configure, fit, hepdata, plot, run, run_job, write_histograms  # noqa: E402
from .config import RunConfig  # noqa: E402
from .errors import UserError  # noqa: E402

__all__ = [
    "configure",
    "run",
    "fit",
    "plot",
    "hepdata",
    "run_job",
    "write_histograms",
    "RunResult",
    "JobResult",
    "RunConfig",
    "UserError",
]
