"""Plots of the histograms and of the fit: PNG files in one style (mplhep CMS), numbers in,
figures out. This package imports neither the fit nor ROOT.

- :func:`plot_histograms`: ``stacked_{4j1b,4j2b}.png``, ``btag_variations_4j1b.png``,
  ``jet_energy_variations_4j2b.png`` (see :mod:`rdf_ttbar.plots.histograms`)
- :func:`plot_fit`: ``data_mc_{prefit,postfit}_{4j1b_CR,4j2b_SR}.png``, ``pulls.png``,
  ``correlations.png`` and, when the summary has a ranking, ``ranking.png``
  (see :mod:`rdf_ttbar.plots.fit`)

Each plot is a :class:`~rdf_ttbar.plots.style.Drawing`: ``drawing.figure()`` returns its
matplotlib Figure (e.g. to show it in a notebook), ``drawing.save(folder)`` writes it.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

from rdf_ttbar.errors import UserError
from rdf_ttbar.plots.fit import fit_drawings, region_file_name
from rdf_ttbar.plots.histograms import histogram_drawings
from rdf_ttbar.plots.style import Drawing

__all__ = ["plot_histograms", "plot_fit", "histogram_drawings", "fit_drawings", "Drawing", "save_all",
           "region_file_name", "load_summary", "start", "Background"]


def load_summary(summary: Mapping[str, Any] | str | os.PathLike) -> Mapping[str, Any]:
    """The fit summary: the dict itself, or read from (the path of) fit_results.json."""
    if isinstance(summary, Mapping):
        return summary
    path = Path(summary)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"fit results {path} do not exist. Fix: run the fit first "
                        f"(python -m rdf_ttbar fit HISTOGRAMS.root writes fit_results.json).") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read fit results {path} ({exc}). Fix: pass the fit_results.json "
                        f"written by the fit, or rerun the fit.") from None


class Background:
    """Drawings being drawn and saved by a separate Python process (see :func:`start`)."""

    def __init__(self, drawings: Sequence[Drawing], plots_dir):
        from rdf_ttbar.plots.launch import command_and_env

        fd, self._payload = tempfile.mkstemp(prefix="rdf_ttbar-plots-", suffix=".pkl")
        with os.fdopen(fd, "wb") as f:
            pickle.dump((str(plots_dir), list(drawings)), f)
        command, env = command_and_env(self._payload)
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def result(self, timeout: float | None = None) -> list[Path]:
        """Wait for the worker; the paths written (raises RuntimeError if it failed)."""
        try:
            out, err = self._process.communicate(timeout=timeout)
        finally:
            if self._process.returncode is not None and os.path.exists(self._payload):
                os.unlink(self._payload)
        if self._process.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError(f"plot worker failed (exit {self._process.returncode}): " + " | ".join(tail))
        return [Path(p) for p in json.loads(out)]


def start(drawings: Sequence[Drawing], plots_dir) -> Background:
    """Start drawing ``drawings`` into ``plots_dir`` in a separate Python process (e.g. the
    histogram plots while the fit runs); ``.result()`` waits and returns the paths."""
    return Background(drawings, plots_dir)


def save_all(drawings: Sequence[Drawing], plots_dir, *, workers: int = 0) -> list[Path]:
    """Draw and save ``drawings`` into ``plots_dir``, in their order; returns the paths.

    ``workers`` > 0: that many extra processes draw a share each while this one draws its own.
    """
    drawings = list(drawings)
    shares = [drawings[i::workers + 1] for i in range(workers + 1)] if workers > 0 else [drawings]
    background = [start(share, plots_dir) for share in shares[1:] if share]
    written = {d.file_name: d.save(plots_dir) for d in shares[0]}
    for job in background:
        written.update((p.name, p) for p in job.result())
    return [written[d.file_name] for d in drawings]


def plot_histograms(histograms, plots_dir, *, workers: int = 0) -> list[Path]:
    """Draw the input histograms into ``plots_dir``; returns the paths of the PNG files written.

    ``histograms``: the path of histograms.root, or a mapping {AGC name: UHI histogram}
    (uproot TH1, hist.Hist). Missing histograms are left out (logged as a warning).
    ``workers``: extra processes to draw in (see :func:`save_all`).
    """
    return save_all(histogram_drawings(histograms), plots_dir, workers=workers)


def plot_fit(summary, plots_dir, *, workers: int = 0) -> list[Path]:
    """Draw the fit plots into ``plots_dir`` from the fit summary (the dict of
    fit_results.json, or its path) alone; returns the paths of the PNG files written."""
    return save_all(fit_drawings(load_summary(summary)), plots_dir, workers=workers)
