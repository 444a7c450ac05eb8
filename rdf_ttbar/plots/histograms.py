"""The plots of the input histograms (``histograms.root`` or UHI histograms keyed by AGC name) of an analysis
definition:

- ``stacked_{histogram}.png``: per histogram of the definition, the nominal samples stacked, pseudo-data, MC
  statistical band, ratio (AGC v1: ``stacked_4j1b.png``, ``stacked_4j2b.png``; AGC v2: these and one per ML
  feature, ``stacked_{feature}.png``, e.g. ``stacked_mass_w1w2.png``, 22 in all)
- ``{plot}_{histogram}.png``: the definition's variation plots (AGC: the b-tag weight variations
  in 4j1b, the jet energy scale and resolution variations in 4j2b)

Given the path of histograms.root, the definition's other files beside it (AGC v2: histograms_ml.root) are read
too; a missing one leaves out its plots (one warning).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

import rdf_ttbar.plots.style as style
from rdf_ttbar.analysis import Analysis, chosen, histogram_name, pseudodata_name
from rdf_ttbar.plots.stack import MAIN_RECT, RATIO_RECT, stack_drawing

log = logging.getLogger(__name__)

VARIATION_COLORS = ("#5790fc", "#f89c20", "#e42536", "#964a8b")


def variation_lines(plot, analysis: Analysis) -> list[tuple[str, str, str, str]]:
    """(variation name, legend label, colour, line style) of each line of a definition's VariationPlot."""
    lines = []
    for i, name in enumerate(plot.systematics):
        syst = analysis.systematic(name)
        lines += [
            (
                f"{name}_{d}",
                f"{syst.fit_name} {d}",
                VARIATION_COLORS[i % len(VARIATION_COLORS)],
                "-" if d == "up" else "--",
            )
            for d in syst.directions
        ]
    return lines


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # values, variances, edges (no flow bins)


def _arrays(h) -> Arrays:
    edges = h.axes[0].edges
    edges = edges() if callable(edges) else edges  # uproot: a method; hist: an array
    return (
        np.asarray(h.values(flow=False), dtype=float),
        np.asarray(h.variances(flow=False), dtype=float),
        np.asarray(edges, dtype=float),
    )


def read_histograms(histograms: str | os.PathLike | Mapping[str, Any], analysis: Analysis) -> dict[str, Arrays]:
    """{name: (values, variances, edges)} from a mapping of UHI histograms, or a histograms.root path and the
    definition's other files beside it (``{output}.root``; a missing one is logged as a warning)."""
    wanted = drawn_names(analysis)
    if isinstance(histograms, Mapping):
        return {name: _arrays(h) for name, h in histograms.items() if name in wanted}
    path = Path(histograms)
    hists = _read_file(path, wanted)
    if path.stem == analysis.outputs[0]:
        for output in analysis.outputs[1:]:
            other = path.with_name(f"{output}.root")
            if other.is_file():
                hists.update(_read_file(other, wanted))
            else:
                log.warning("%s does not exist: the plots of its histograms are left out", other)
    return hists


def drawn_names(analysis: Analysis) -> set[str]:
    """The names of the histograms the plots of ``analysis`` draw (nominal samples, pseudo-data, the variations
    of the variation plots): the only ones read."""
    names = {pseudodata_name(h.prefix) for h in analysis.histograms}
    names |= {histogram_name(h.prefix, p) for h in analysis.histograms for p in analysis.process_names}
    for plot in analysis.variation_plots:
        names |= {histogram_name(plot.histogram, plot.process, v) for v, *_ in variation_lines(plot, analysis)}
    return names


def _read_file(path: Path, wanted: set[str]) -> dict[str, Arrays]:
    from ..execution.histograms import read_th1

    return {name: _arrays(h) for name, h in read_th1(path, wanted).items()}


def stacked_drawings(hists: Mapping[str, Arrays], analysis: Analysis) -> list[style.Drawing]:
    """``stacked_{histogram}.png`` per histogram of the definition: nominal samples, pseudo-data, MC statistical
    band. The histograms of a file other than the main one are left out when none of them is there."""
    drawings = []
    present_outputs = {analysis.outputs[0]} | {o for n, o in analysis.outputs_by_name().items() if n in hists}
    for region in analysis.histograms:
        if region.output not in present_outputs:
            continue  # e.g. plots of histograms.root alone (read_histograms warned about the other file)
        processes = style.stack_order(analysis.process_names, analysis)
        present = [p for p in processes if histogram_name(region.prefix, p) in hists]
        missing = [histogram_name(region.prefix, p) for p in processes if p not in present]
        pd_name = pseudodata_name(region.prefix)
        if pd_name not in hists:
            missing.append(pd_name)
        if missing:
            log.warning("histograms %s are missing: left out of stacked_%s.png", ", ".join(missing), region.prefix)
        if not present:
            continue
        arrays = [hists[histogram_name(region.prefix, p)] for p in present]
        edges = arrays[0][2]
        total = np.sum([a[0] for a in arrays], axis=0)
        stat = np.sqrt(np.maximum(np.sum([a[1] for a in arrays], axis=0), 0.0))
        data = hists[pd_name][0] if pd_name in hists else np.full_like(total, np.nan)
        drawings.append(
            stack_drawing(
                f"stacked_{region.prefix}.png",
                edges,
                present,
                [a[0] for a in arrays],
                total=total,
                uncertainty=stat,
                data=data,
                xlabel=region.label,
                title=f"{region.region}, pre-fit",
                band_label="MC stat. unc.",
                analysis=analysis,
            )
        )
    return drawings


def variation_figure(edges, nominal, variations, *, xlabel: str, ylabel: str, title: str, lumi_pb=None):
    """Nominal (black) and variations ((label, colour, linestyle, values)), with var./nom. below."""
    edges = np.asarray(edges, dtype=float)
    nominal = np.asarray(nominal, dtype=float)
    fig = style.new_figure()
    ax = fig.add_axes(MAIN_RECT)
    rax = fig.add_axes(RATIO_RECT, sharex=ax)
    ax.stairs(nominal, edges, color="black", linewidth=2, label="nominal", gid="nominal")
    reach = [0.02]
    for label, color, linestyle, values in variations:
        values = np.asarray(values, dtype=float)
        ax.stairs(values, edges, color=color, linestyle=linestyle, linewidth=1.5, label=label, gid=f"variation:{label}")
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(nominal > 0, values / nominal, np.nan)
        rax.stairs(ratio, edges, baseline=None, color=color, linestyle=linestyle, linewidth=1.5, gid=f"ratio:{label}")
        finite = np.abs(ratio[np.isfinite(ratio)] - 1.0)
        reach.append(finite.max() if finite.size else 0.0)
    rax.axhline(1.0, color="black", linewidth=1)
    span = min(1.15 * max(reach), 0.5)
    rax.set_ylim(1.0 - span, 1.0 + span)
    rax.set_ylabel("var. / nom.", fontsize="small")
    rax.set_xlabel(xlabel)
    ax.legend(ncol=2, title=title, title_fontsize="x-small", loc="upper right")
    top = max([np.nanmax(nominal, initial=1.0)] + [np.nanmax(v[3], initial=0.0) for v in variations])
    ax.set_ylim(0.0, top * (1.3 + 0.07 * len(variations)))
    style.finish_main_panel(ax, edges, ylabel, lumi_pb)
    return fig


def variation_drawings(hists: Mapping[str, Arrays], analysis: Analysis) -> list[style.Drawing]:
    """``{plot}_{histogram}.png`` for each of the definition's variation plots (AGC: b-tag and jet energy)."""
    drawings = []
    for plot in analysis.variation_plots:
        stem, region_name, process = plot.name, plot.histogram, plot.process
        variations = variation_lines(plot, analysis)
        nominal_name = histogram_name(region_name, process)
        if nominal_name not in hists:
            log.warning("histogram %s is missing: %s_%s.png not drawn", nominal_name, stem, region_name)
            continue
        values, _, edges = hists[nominal_name]
        lines = [
            (label, color, linestyle, hists[histogram_name(region_name, process, v)][0])
            for v, label, color, linestyle in variations
            if histogram_name(region_name, process, v) in hists
        ]
        drawings.append(
            style.Drawing(
                f"{stem}_{region_name}.png",
                variation_figure,
                dict(
                    edges=edges,
                    nominal=values,
                    variations=lines,
                    xlabel=analysis.histogram(region_name).label,
                    ylabel=style.bin_width_label(edges, analysis.histogram(region_name).label),
                    title=rf"{style.display_label(process, analysis)}, {region_name}",
                    lumi_pb=analysis.luminosity_pb,
                ),
            )
        )
    return drawings


def histogram_drawings(histograms, analysis: Analysis | str | None = None) -> list[style.Drawing]:
    """All the histogram plots of a histograms.root path or a mapping of UHI histograms, for ``analysis`` (the
    definition or its name; None: the AGC v1)."""
    analysis = chosen(analysis)
    hists = read_histograms(histograms, analysis)
    return stacked_drawings(hists, analysis) + variation_drawings(hists, analysis)
