"""The analysis definition and its graph builds (the lowest stage of rdf_ttbar).

- :mod:`.model`: the building blocks (samples, selection steps, regions, histograms, systematics)
- :mod:`.agc_v1`: the AGC ttbar analysis, version 1: ``ANALYSIS``
- :mod:`.nodes`: the graph as a list of nodes, and the delivery preselection
- :mod:`.graph`: both builds (compiled, jitted) and the histograms they fill
"""

from .agc_v1 import ANALYSIS as AGC_V1
from .model import Analysis, histogram_name, pseudodata_name

DEFAULT = AGC_V1

__all__ = ["AGC_V1", "Analysis", "DEFAULT", "histogram_name", "pseudodata_name"]
