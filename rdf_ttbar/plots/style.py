"""The one style of all plots: labels, colours, stack order, CMS label, Poisson errors, saving.

The processes' legends, colours and stack order and the luminosity come from the run's definition (``Process.legend``,
``Process.color``, ``Analysis.stack_order``, ``Analysis.luminosity_pb``); a process without a colour takes the next
colour of ``PALETTE``.

matplotlib and mplhep are imported inside the functions (importing the package costs
nothing until a plot is drawn), and the backend is never set: figures are
``matplotlib.figure.Figure`` objects on an Agg canvas.
"""

from __future__ import annotations

import functools
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from rdf_ttbar import atomic
from rdf_ttbar.analysis import Analysis

# the colours of processes whose definition gives none, in turn (the CMS palette's others)
PALETTE = ("#9c9ca1", "#7a21dd", "#3f90da", "#bd1f01", "#94a4a2", "#a96b59", "#e76300", "#b9ac70", "#717581")
DATA_LABEL = "Pseudo-data"
DPI = 72  # 10 x 10 inch figures -> 720 x 720 pixels
FIGSIZE = (10.0, 10.0)
ONE_SIGMA = 0.682689492137086  # central probability of +-1 sigma


def process_of(sample: str, analysis: Analysis) -> str:
    """Process of a fit sample name ('W+jets' -> 'wjets'); unknown names are returned as given."""
    by_label = {p.label: p.name for p in analysis.processes}
    return by_label.get(sample, sample)


def bin_width_label(edges, xlabel: str = "[GeV]") -> str:
    """'Events / 20 GeV' (the unit: the one in brackets at the end of ``xlabel``, if any), or 'Events / bin'
    for bins of different widths."""
    widths = np.diff(np.asarray(edges, dtype=float))
    if not np.allclose(widths, widths[0]):
        return "Events / bin"
    unit = re.search(r"\[([^\]]+)\]\s*$", xlabel)
    return f"Events / {widths[0]:g}" + (f" {unit.group(1)}" if unit else "")


def display_label(process: str, analysis: Analysis) -> str:
    """The legend of a process: its ``legend``, else its ``label`` (unknown names as given)."""
    known = {p.name: p.legend or p.label for p in analysis.processes}
    return known.get(process, process)


def colors_for(processes: list[str], analysis: Analysis) -> list[str]:
    """The colour of each process: its definition's, else a colour of PALETTE (the same in every plot: by its
    place among the definition's processes without a colour; unknown processes after those)."""
    given = {p.name: p.color for p in analysis.processes if p.color}
    uncoloured = [p.name for p in analysis.processes if not p.color]
    uncoloured += [p for p in processes if p not in given and p not in uncoloured]
    return [given.get(p) or PALETTE[uncoloured.index(p) % len(PALETTE)] for p in processes]


def stack_order(processes, analysis: Analysis) -> list[str]:
    """Processes bottom to top (``Analysis.stacked``): unknown ones first, in their given order."""
    return analysis.stacked(processes)


def poisson_interval(n) -> tuple[np.ndarray, np.ndarray]:
    """Garwood (central, 68.27%) interval [lo, hi] of a Poisson mean given the count n.

    Non-integer n (weighted pseudo-data) use the same formula through the gamma function:
    lo = Gamma^-1(n, (1 - CL) / 2), hi = Gamma^-1(n + 1, (1 + CL) / 2); lo = 0 for n = 0.
    """
    from scipy.special import gammaincinv

    n = np.clip(np.asarray(n, dtype=float), 0.0, None)
    alpha = (1.0 - ONE_SIGMA) / 2.0
    with np.errstate(invalid="ignore"):
        lo = np.where(n > 0, gammaincinv(np.where(n > 0, n, 1.0), alpha), 0.0)
    hi = gammaincinv(n + 1.0, 1.0 - alpha)
    return lo, hi


@functools.lru_cache(maxsize=1)
def _rc() -> dict:
    """mplhep's CMS style (computed once), with the fonts it ships registered."""
    import mplhep

    rc = dict(mplhep.style.CMS)
    rc.update(
        {
            "savefig.dpi": DPI,
            "figure.dpi": DPI,
            "figure.figsize": FIGSIZE,
            "legend.fontsize": "x-small",
            "axes.formatter.limits": (-5, 7),
        }
    )
    return rc


@contextmanager
def style() -> Iterator[None]:
    """The CMS style, for building and saving figures (restores the rcParams after)."""
    import matplotlib

    with matplotlib.rc_context(_rc()):
        yield


def new_figure(figsize=FIGSIZE):
    """A Figure on an Agg canvas (no pyplot, no backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def finish_main_panel(ax, edges, ylabel: str, lumi_pb: float | None = None) -> None:
    """The upper panel of a plot with a ratio panel below: the x range of ``edges``, no x tick labels, the CMS label
    (with the luminosity ``lumi_pb``, when given)."""
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylabel(ylabel)
    ax.tick_params(labelbottom=False)
    cms_label(ax, lumi_pb=lumi_pb)


def cms_label(
    ax, *, simulation: bool = True, extra: str = "Open Data", lumi_pb: float | None = None, scale: float = 1.0
) -> None:
    """'CMS Simulation Open Data' above the left corner, 'L fb^-1 (13 TeV)' above the right (``lumi_pb``: the
    definition's luminosity; None: no luminosity).

    Plain Text artists, placed from the axes' corner: no layout pass needed.
    """
    import matplotlib

    size = matplotlib.rcParams["font.size"] * scale
    words = " ".join(w for w in ("Simulation" if simulation else "", extra) if w)
    cms = ax.text(
        0.0, 1.012, "CMS", transform=ax.transAxes, ha="left", va="bottom", fontsize=1.2 * size, fontweight="bold"
    )
    ax.annotate(
        words,
        xy=(1.0, 0.0),
        xycoords=cms,
        xytext=(8, 0),
        textcoords="offset points",
        ha="left",
        va="bottom",
        fontsize=size,
        fontstyle="italic",
    )
    if lumi_pb is not None:
        ax.text(
            1.0,
            1.012,
            rf"{lumi_pb / 1000.0:.2f} fb$^{{-1}}$ (13 TeV)",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=size,
        )


def save_figure(fig, path: Path) -> Path:
    """Write a PNG through a temporary name in the same folder (atomic.replacing): never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path) as tmp:
        # zlib level 1: a third of the encoding time of the default level 6, files ~30% larger
        fig.savefig(tmp, dpi=DPI, format="png", pil_kwargs={"compress_level": 1})
    return path


@dataclass(frozen=True)
class Drawing:
    """One plot to draw: ``func(**kwargs)`` returns its Figure, saved as ``file_name``.

    Plain data (module-level function, arrays, strings), so it can be drawn in a worker process.
    """

    file_name: str
    func: Callable[..., Any]
    kwargs: dict = field(default_factory=dict)

    def figure(self):
        """The Figure, built in the CMS style."""
        with style():
            return self.func(**self.kwargs)

    def save(self, plots_dir) -> Path:
        """Build the Figure and write ``plots_dir/file_name``."""
        with style():
            return save_figure(self.func(**self.kwargs), Path(plots_dir) / self.file_name)
