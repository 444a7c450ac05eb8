"""rdf_ttbar: the AGC v1 CMS Open Data ttbar analysis on ROOT's RDataFrame."""

import time as _time

__version__ = "0.1.0"

# reference point of the set-up time reported in metrics.json
START_TIME = _time.perf_counter()
