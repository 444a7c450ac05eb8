"""The reference point of the set-up time reported in metrics.json: the package's import."""

import time

# set when rdf_ttbar is imported, before anything else of it (rdf_ttbar/__init__.py imports this module first)
START_TIME = time.perf_counter()
