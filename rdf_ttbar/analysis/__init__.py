"""The analysis definitions and their graph builds (the lowest stage of rdf_ttbar).

- :mod:`.model`: the building blocks (samples, selection steps, regions, histograms, systematics)
- :mod:`.agc_v1`, :mod:`.agc_v2`: the AGC ttbar analysis, versions 1 and 2 (``ANALYSIS`` of each)
- :mod:`.nodes`: the graph as a list of nodes, and the delivery preselection
- :mod:`.graph`: both builds (compiled, jitted) and the histograms they fill
"""

from .agc_v1 import ANALYSIS as AGC_V1
from .agc_v2 import ANALYSIS as AGC_V2
from .model import Analysis, histogram_name, pseudodata_name

VERSIONS = {"v1": AGC_V1, "v2": AGC_V2}  # --analysis
DEFAULT = AGC_V1


def get(version: str) -> Analysis:
    """The definition that ``--analysis`` names (v1, v2)."""
    return VERSIONS[version]


def of(config) -> Analysis:
    """The definition a RunConfig chooses: ``analysis``, and for v2 the xgboost models of ``ml_models``."""
    if config.analysis == "v2" and config.ml_models:
        from pathlib import Path

        from .agc_v2 import make

        return make(Path(config.ml_models).expanduser())
    return get(config.analysis)


__all__ = ["AGC_V1", "AGC_V2", "Analysis", "DEFAULT", "VERSIONS", "get", "histogram_name", "of", "pseudodata_name"]
