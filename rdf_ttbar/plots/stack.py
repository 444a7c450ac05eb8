"""The stacked plot: simulated samples stacked, pseudo-data with Poisson errors, the model's
uncertainty band, and a pseudo-data / model ratio panel with the same band.

Drawn from plain arrays (the histogram plots and the fit plots both use it); every artist
carries a ``gid`` so that tests (and users) can find it: ``stack:<label>``, ``band``,
``data``, ``ratio_band``, ``ratio``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

import rdf_ttbar.plots.style as style
from rdf_ttbar.analysis import Analysis

# axes rectangles [left, bottom, width, height] in figure fractions: a fixed layout
MAIN_RECT = (0.15, 0.33, 0.81, 0.62)
RATIO_RECT = (0.15, 0.09, 0.81, 0.22)

BAND = dict(fill=True, facecolor="none", edgecolor="#555555", hatch="///", linewidth=0)  # an uncertainty band


def _ratio_span(ratio, err_lo, err_hi, rel) -> float:
    """Half-height of the ratio panel around 1: everything drawn fits, within [0.02, 0.6]."""
    reach = np.concatenate([np.abs(ratio - 1.0) + np.maximum(err_lo, err_hi), rel])
    reach = reach[np.isfinite(reach)]
    span = 1.2 * float(reach.max()) if reach.size else 0.1
    return float(np.clip(span, 0.02, 0.6))


def stack_figure(
    edges,
    stack: Sequence[tuple[str, str, Sequence[float]]],
    total,
    total_uncertainty,
    data,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    band_label: str,
    lumi_pb: float | None = None,
):
    """Figure of the stack (``stack``: (label, colour, values) from bottom to top), the
    band total +- total_uncertainty, ``data`` with Garwood errors, and the ratio panel.

    The legend lists the pseudo-data, the samples from the top of the stack down, then the band; ``lumi_pb``: the
    luminosity in the CMS label.
    """
    edges = np.asarray(edges, dtype=float)
    total = np.asarray(total, dtype=float)
    unc = np.asarray(total_uncertainty, dtype=float)
    data = np.asarray(data, dtype=float)
    centers = 0.5 * (edges[1:] + edges[:-1])
    lo, hi = style.poisson_interval(data)

    fig = style.new_figure()
    ax = fig.add_axes(MAIN_RECT)
    rax = fig.add_axes(RATIO_RECT, sharex=ax)

    bottom = np.zeros(len(edges) - 1)
    sample_handles = []
    for label, color, values in stack:
        top = bottom + np.asarray(values, dtype=float)
        sample_handles.append(
            ax.stairs(
                top,
                edges,
                baseline=bottom,
                fill=True,
                facecolor=color,
                edgecolor="black",
                linewidth=0.5,
                label=label,
                gid=f"stack:{label}",
            )
        )
        bottom = top
    band = ax.stairs(total + unc, edges, baseline=total - unc, label=band_label, gid="band", **BAND)
    points = ax.errorbar(
        centers,
        data,
        yerr=[data - lo, hi - data],
        fmt="o",
        color="black",
        markersize=6,
        elinewidth=1.5,
        label=style.DATA_LABEL,
        gid="data",
    )
    points[0].set_gid("data")
    ax.legend(
        [points, *sample_handles[::-1], band],
        [style.DATA_LABEL, *[h.get_label() for h in sample_handles[::-1]], band_label],
        loc="upper right",
    )
    ax.text(0.04, 0.95, title, transform=ax.transAxes, ha="left", va="top", fontsize="small")
    ymax = np.nanmax(np.concatenate([total + unc, hi, [1.0]]))
    ax.set_ylim(0.0, 1.6 * ymax)
    style.finish_main_panel(ax, edges, ylabel, lumi_pb)

    with np.errstate(divide="ignore", invalid="ignore"):
        ok = total > 0
        rel = np.where(ok, unc / total, np.nan)
        ratio = np.where(ok, data / total, np.nan)
        err_lo = np.where(ok, (data - lo) / total, np.nan)
        err_hi = np.where(ok, (hi - data) / total, np.nan)
    rax.stairs(1.0 + rel, edges, baseline=1.0 - rel, gid="ratio_band", **BAND)
    rax.axhline(1.0, color="black", linewidth=1, linestyle="--")
    ratio_points = rax.errorbar(
        centers, ratio, yerr=[err_lo, err_hi], fmt="o", color="black", markersize=6, elinewidth=1.5, gid="ratio"
    )
    ratio_points[0].set_gid("ratio")
    span = _ratio_span(ratio, err_lo, err_hi, rel)
    rax.set_ylim(1.0 - span, 1.0 + span)
    rax.set_ylabel("Data / pred.", fontsize="small")
    rax.set_xlabel(xlabel)
    return fig


def stack_drawing(
    name: str,
    edges,
    processes,
    values,
    *,
    total,
    uncertainty,
    data,
    xlabel: str,
    title: str,
    band_label: str,
    analysis: Analysis,
) -> style.Drawing:
    """The drawing of a stack (``values`` of ``processes``, in stack order) with its band, data and ratio panel, in
    the legends, colours and luminosity of ``analysis``."""
    colors = style.colors_for(list(processes), analysis)
    return style.Drawing(
        name,
        stack_figure,
        dict(
            edges=edges,
            stack=[(style.display_label(p, analysis), c, v) for p, c, v in zip(processes, colors, values)],
            total=total,
            total_uncertainty=uncertainty,
            data=data,
            xlabel=xlabel,
            ylabel=style.bin_width_label(edges, xlabel),
            title=title,
            band_label=band_label,
            lumi_pb=analysis.luminosity_pb,
        ),
    )
