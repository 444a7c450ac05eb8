"""Plots of the histograms and of the fit: PNG files in one style (mplhep CMS), numbers in,
figures out. This package imports neither the fit nor ROOT.

- :func:`plot_histograms`: ``stacked_{histogram}.png`` and the variation plots of the definition
  (see :mod:`rdf_ttbar.plots.histograms`; AGC v2: also ``stacked_{feature}.png`` of its 20 ML features)
- :func:`plot_fit`: ``data_mc_{prefit,postfit}_{4j1b_CR,4j2b_SR}.png``, ``pulls.png``,
  ``correlations.png`` and, when the summary has a ranking, ``ranking.png``; when it has the ML validation
  (AGC v2), ``ml_{prefit,postfit}_{feature}.png`` (see :mod:`rdf_ttbar.plots.fit`)

Every function takes the run's analysis definition (an ``Analysis``, or a name for ``rdf_ttbar.analysis.get``:
v1, v2, FILE.py); None: the AGC v1. Legends, colours, stack order and luminosity are the definition's.

Each plot is a :class:`~rdf_ttbar.plots.style.Drawing`: ``drawing.figure()`` returns its
matplotlib Figure (e.g. to show it in a notebook), ``drawing.save(folder)`` writes it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from rdf_ttbar.errors import UserError
from rdf_ttbar.plots.fit import fit_drawings, ml_drawings, region_file_name
from rdf_ttbar.plots.histograms import histogram_drawings
from rdf_ttbar.plots.style import Drawing

__all__ = [
    "plot_histograms",
    "plot_fit",
    "histogram_drawings",
    "fit_drawings",
    "ml_drawings",
    "Drawing",
    "save_all",
    "region_file_name",
    "load_summary",
]


def load_summary(summary: Mapping[str, Any] | str | os.PathLike) -> Mapping[str, Any]:
    """The fit summary: the dict itself, or read from (the path of) fit_results.json."""
    if isinstance(summary, Mapping):
        return summary
    path = Path(summary)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(
            f"fit results {path} do not exist. Fix: run the fit first "
            f"(python -m rdf_ttbar fit HISTOGRAMS.root writes fit_results.json)."
        ) from None
    except (OSError, ValueError) as exc:
        raise UserError(
            f"cannot read fit results {path} ({exc}). Fix: pass the fit_results.json "
            f"written by the fit, or rerun the fit."
        ) from None


def save_all(drawings: Sequence[Drawing], plots_dir) -> list[Path]:
    """Draw and save ``drawings`` into ``plots_dir``, in their order; returns the paths (warm worker
    processes that draw while other work runs: :class:`rdf_ttbar.plots.painters.Painters`)."""
    return [d.save(plots_dir) for d in drawings]


def plot_histograms(histograms, plots_dir, analysis=None) -> list[Path]:
    """Draw the input histograms of ``analysis`` (None: the AGC v1) into ``plots_dir``; returns the paths of
    the PNG files written.

    ``histograms``: the path of histograms.root (the definition's other files are read from beside it), or a
    mapping {AGC name: UHI histogram} (uproot TH1, hist.Hist). Missing histograms are left out (logged as a
    warning).
    """
    return save_all(histogram_drawings(histograms, analysis), plots_dir)


def plot_fit(summary, plots_dir, analysis=None) -> list[Path]:
    """Draw the fit plots into ``plots_dir`` from the fit summary (the dict of
    fit_results.json, or its path) alone; returns the paths of the PNG files written."""
    return save_all(fit_drawings(load_summary(summary), analysis=analysis), plots_dir)
