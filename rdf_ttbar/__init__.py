"""rdf_ttbar: the AGC v1 CMS Open Data ttbar analysis on ROOT's RDataFrame."""

import time as _time
import warnings as _warnings

__version__ = "0.1.0"

# reference point of the set-up time reported in metrics.json
START_TIME = _time.perf_counter()

# the PyPI build of ROOT warns at every import that it is a pre-release
_warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha", category=UserWarning)
