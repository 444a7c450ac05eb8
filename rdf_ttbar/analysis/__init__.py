"""The analysis definitions and their graph builds (the lowest stage of rdf_ttbar).

- :mod:`.model`: the building blocks (samples, selection steps, regions, histograms, systematics)
- :mod:`.agc_v1`, :mod:`.agc_v2`: the AGC ttbar analysis, versions 1 and 2 (``ANALYSIS`` of each)
- :mod:`.user`: a user's own definition, from a file (``my_analysis.py``) or a module path
- :mod:`.nodes`: the graph as a list of nodes, and the delivery preselection
- :mod:`.graph`: both builds (compiled, jitted) and the histograms they fill

A definition travels as an argument (as cabinetry's configuration does): every stage takes the run's
definition; ``DEFAULT`` (the AGC v1) is chosen here only: by :func:`chosen`, where an API call names none.
"""

from __future__ import annotations

from .agc_v1 import ANALYSIS as AGC_V1
from .agc_v2 import ANALYSIS as AGC_V2
from .model import Analysis, histogram_name, pseudodata_name

VERSIONS = {"v1": AGC_V1, "v2": AGC_V2}  # --analysis
DEFAULT = AGC_V1


def get(version: str) -> Analysis:
    """The definition that ``--analysis`` names: v1, v2, a file ``my_analysis.py`` or a module path
    (``package.module``) whose ``ANALYSIS`` is the definition."""
    if version in VERSIONS:
        return VERSIONS[version]
    from dataclasses import replace

    from .user import load

    analysis = load(version)
    if any(analysis is built_in for built_in in VERSIONS.values()):
        return analysis
    return replace(analysis, version="")  # a variant of v1 or v2 is not the AGC's (its packaged references, ...)


def of(config) -> Analysis:
    """The definition a RunConfig chooses: ``analysis``, and for v2 the xgboost models of ``ml_models``."""
    if config.analysis == "v2" and config.ml_models:
        from pathlib import Path

        from .agc_v2 import make

        return make(Path(config.ml_models).expanduser())
    return get(config.analysis)


def chosen(analysis: Analysis | str | None = None) -> Analysis:
    """The definition an API call names: an Analysis, a name for :func:`get`, or None (the AGC v1)."""
    if analysis is None:
        return DEFAULT
    return get(analysis) if isinstance(analysis, str) else analysis


__all__ = [
    "AGC_V1",
    "AGC_V2",
    "Analysis",
    "DEFAULT",
    "VERSIONS",
    "chosen",
    "get",
    "histogram_name",
    "of",
    "pseudodata_name",
]
