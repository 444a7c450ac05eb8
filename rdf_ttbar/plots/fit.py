"""The plots of the fit, drawn only from the numbers of the fit summary (fit_results.json):

- ``data_mc_{prefit,postfit}_{region}.png``: stacked model, pseudo-data, pre-/post-fit band, ratio
- ``ml_{prefit,postfit}_{feature}.png`` (when the summary has "ml_validation", AGC v2: 7 features): the same for
  the ML feature histograms, post-fit with the main fit's parameters (``rdf_ttbar.inference.ml_validation``)
- ``pulls.png``: pulls of the constrained nuisance parameters (MC-statistics ones left out)
- ``correlations.png``: correlations of the parameters correlated with any other above a threshold
  (the per-bin MC-statistics parameters left out; the full matrix is in fit_results.json)
- ``ranking.png`` (when the summary has "ranking"): impact of each nuisance parameter on the POI
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

import rdf_ttbar.plots.style as style
from rdf_ttbar.analysis import Analysis, chosen
from rdf_ttbar.plots.stack import stack_drawing

CORRELATION_THRESHOLD = 0.2  # correlations.png: parameters with |rho| above this with another one
RANKING_MAX = 20  # ranking.png: the largest impacts only
STAGES = (("prefit", "pre-fit"), ("postfit", "post-fit"))


def xlabels_of(analysis: Analysis) -> dict[str, str]:
    """The x-axis label of each fit channel of a definition."""
    return {analysis.region(h.region).fit_name: h.label for h in analysis.fit_histograms}


def region_file_name(channel: str) -> str:
    """'4j1b CR' -> '4j1b_CR'."""
    return "_".join(channel.split())


def _float(x) -> float:
    return np.nan if x is None else float(x)


def _mu(analysis: Analysis) -> str:
    """The symbol of the fitted normalisation, e.g. \\mu_{t\\bar{t}} (the process' legend, when it is math)."""
    legend = style.display_label(analysis.poi_process, analysis)
    inner = legend[1:-1] if len(legend) > 2 and legend[0] == legend[-1] == "$" else rf"\mathrm{{{legend}}}"
    return rf"\mu_{{{inner}}}"


def _poi_text(summary: Mapping[str, Any], analysis: Analysis) -> str:
    poi = summary.get("poi", analysis.poi)
    result = summary.get(poi)
    if not isinstance(result, Mapping) or result.get("value") is None:
        return ""
    mu = _mu(analysis)
    if result.get("interval"):
        lo, hi = result["interval"]
        value = result["value"]
        return rf"${mu} = {value:.3f}^{{+{hi - value:.3f}}}_{{-{value - lo:.3f}}}$"
    return rf"${mu} = {result['value']:.3f} \pm {result['uncertainty']:.3f}$"


def _stage_drawings(
    source: Mapping[str, Any],
    prefix: str,
    xlabels: Mapping[str, str],
    default_label: str,
    analysis: Analysis,
    postfit_note: str = "",
) -> list[style.Drawing]:
    """``{prefix}_{stage}_{channel}.png`` per stage and channel of ``source``'s "{stage}_yields" (a channel's own
    "label" and "region", when it has them, are its x label and the title's region; else the channel's name)."""
    drawings = []
    for stage, stage_label in STAGES:
        for channel, yields in source.get(f"{stage}_yields", {}).items():
            bins = yields["bins"]
            processes = style.stack_order([style.process_of(s, analysis) for s in bins["samples"]], analysis)
            by_process = {style.process_of(s, analysis): v for s, v in bins["samples"].items()}
            title = f"{yields.get('region', channel)}, {stage_label}" + (postfit_note if stage == "postfit" else "")
            if stage == "postfit" and _poi_text(source, analysis):
                title += "\n" + _poi_text(source, analysis)
            edges = np.asarray(bins["edges"], dtype=float)
            xlabel = yields.get("label") or xlabels.get(channel, default_label)
            drawings.append(
                stack_drawing(
                    f"{prefix}_{stage}_{region_file_name(channel)}.png",
                    edges,
                    processes,
                    [np.array([_float(v) for v in by_process[p]]) for p in processes],
                    total=np.array([_float(v) for v in bins["total"]]),
                    uncertainty=np.array([_float(v) for v in bins["total_uncertainty"]]),
                    data=np.array([_float(v) for v in bins["data"]]),
                    xlabel=xlabel,
                    title=title,
                    band_label=f"{stage_label.capitalize()} unc.",
                    analysis=analysis,
                )
            )
    return drawings


def data_mc_drawings(
    summary: Mapping[str, Any], xlabels: Mapping[str, str] | None, analysis: Analysis
) -> list[style.Drawing]:
    """``data_mc_{stage}_{region}.png`` per stage and channel of the summary's yields."""
    xlabels = {**xlabels_of(analysis), **(xlabels or {})}
    return _stage_drawings(summary, "data_mc", xlabels, "observable [GeV]", analysis)


def ml_drawings(ml: Mapping[str, Any] | None, analysis: Analysis | str | None = None) -> list[style.Drawing]:
    """``ml_{stage}_{feature}.png`` of the ML validation's numbers (the summary's "ml_validation"; none: [])."""
    return _stage_drawings(ml, "ml", {}, "observable", chosen(analysis), " (main fit)") if ml else []


def _vertical_figure(n_rows: int, left_in: float = 4.4, width_in: float = 12.0):
    """A figure with one axes whose height grows with the number of rows (fixed margins in inches)."""
    top_in, bottom_in, row_in = 1.0, 1.3, 0.42
    height = top_in + bottom_in + row_in * max(n_rows, 6)
    fig = style.new_figure((width_in, height))
    ax = fig.add_axes(
        (left_in / width_in, bottom_in / height, 1 - (left_in + 0.4) / width_in, 1 - (top_in + bottom_in) / height)
    )
    return fig, ax


def pulls_figure(names, pulls, pull_uncertainties):
    """Pull (value - nominal) / pre-fit uncertainty with its post-fit uncertainty, per parameter
    (first name at the top), on +-1 / +-2 bands."""
    n = len(names)
    fig, ax = _vertical_figure(n)
    y = np.arange(n)[::-1]
    ax.axvspan(-2, 2, color="#f8e71c", alpha=0.5, linewidth=0)
    ax.axvspan(-1, 1, color="#7ed321", alpha=0.5, linewidth=0)
    ax.axvline(0.0, color="black", linestyle="--", linewidth=1)
    ax.errorbar(pulls, y, xerr=pull_uncertainties, fmt="o", color="black", markersize=7, gid="pulls")
    ax.set_yticks(y, names, fontsize="x-small")
    ax.tick_params(axis="y", which="minor", left=False, right=False)
    ax.set_ylim(-0.7, n - 0.3)
    reach = np.nanmax(np.abs(np.asarray(pulls, float)) + np.asarray(pull_uncertainties, float), initial=0)
    ax.set_xlim(-max(3.0, reach * 1.1), max(3.0, reach * 1.1))
    ax.set_xlabel(r"$(\hat{\theta} - \theta_0) / \Delta\theta$")
    style.cms_label(ax, scale=0.8)
    return fig


def pulls_drawing(summary: Mapping[str, Any]) -> style.Drawing:
    """pulls.png: the constrained parameters except the per-bin MC-statistics ones."""
    params = [
        p
        for p in summary["parameters"]
        if p.get("constrained") and p.get("pull") is not None and not p["name"].startswith("staterror_")
    ]
    return style.Drawing(
        "pulls.png",
        pulls_figure,
        dict(
            names=[p["name"] for p in params],
            pulls=np.array([_float(p["pull"]) for p in params]),
            pull_uncertainties=np.array([_float(p.get("pull_uncertainty")) for p in params]),
        ),
    )


def correlated_subset(
    labels, matrix, threshold: float = CORRELATION_THRESHOLD, keep=(), skip_prefix: str = "staterror_"
):
    """(labels, matrix) of the parameters with |correlation| > threshold with any other one
    shown (and those in ``keep``), in their original order; names starting with
    ``skip_prefix`` are left out."""
    matrix = np.array([[_float(v) for v in row] for row in matrix], dtype=float)
    shown = [i for i, name in enumerate(labels) if not (skip_prefix and name.startswith(skip_prefix))]
    matrix = matrix[np.ix_(shown, shown)]
    labels = [labels[i] for i in shown]
    off = np.abs(np.where(np.eye(len(labels), dtype=bool), 0.0, np.nan_to_num(matrix)))
    chosen = [i for i, name in enumerate(labels) if off[i].max(initial=0.0) > threshold or name in keep]
    return [labels[i] for i in chosen], matrix[np.ix_(chosen, chosen)]


def correlations_figure(labels, matrix, threshold: float = CORRELATION_THRESHOLD):
    """The correlation matrix, every cell annotated with its value."""
    n = len(labels)
    cell, margin = 0.9, 4.2
    size = margin + 1.2 + cell * max(n, 1)
    fig = style.new_figure((size + 1.5, size))
    ax = fig.add_axes((margin / (size + 1.5), margin / size, cell * n / (size + 1.5), cell * n / size))
    cax = fig.add_axes(((margin + cell * n + 0.3) / (size + 1.5), margin / size, 0.35 / (size + 1.5), cell * n / size))
    image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r", aspect="auto", gid="correlations")
    fig.colorbar(image, cax=cax)
    for i in range(n):
        for j in range(n):
            value = matrix[i, j]
            ax.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=13,
                color="white" if abs(value) > 0.6 else "black",
            )
    ax.set_xticks(range(n), labels, rotation=90, fontsize="x-small")
    ax.set_yticks(range(n), labels, fontsize="x-small")
    ax.tick_params(which="both", top=False, right=False, length=0)
    ax.minorticks_off()
    ax.set_title(rf"parameters with $|\rho| > {threshold:g}$ with another", fontsize="small", loc="left")
    return fig


def correlations_drawing(summary: Mapping[str, Any]) -> style.Drawing:
    labels, matrix = correlated_subset(
        summary["correlations"]["labels"],
        summary["correlations"]["matrix"],
        keep=(summary["poi"],) if "poi" in summary else (),
    )
    return style.Drawing("correlations.png", correlations_figure, dict(labels=labels, matrix=matrix))


def ranking_figure(
    names,
    prefit_up,
    prefit_down,
    postfit_up,
    postfit_down,
    pulls,
    pull_uncertainties,
    poi_label: str = r"\mu_{t\bar{t}}",
):
    """Impact of each parameter on the POI (bars: pre-fit open, post-fit filled; up and down),
    with the parameter's pull on the top axis; the first name at the top."""
    n = len(names)
    fig, ax = _vertical_figure(n)
    y = np.arange(n)[::-1]
    for values, kwargs in (
        *(
            (values, dict(facecolor="none", edgecolor=color, linewidth=1.5, label=rf"pre-fit ${sign}1\sigma$", gid=gid))
            for values, color, sign, gid in (
                (prefit_up, "#5790fc", "+", "impact_prefit_up"),
                (prefit_down, "#e42536", "-", "impact_prefit_down"),
            )
        ),
        (postfit_up, dict(color="#5790fc", alpha=0.8, label=r"post-fit $+1\sigma$", gid="impact_postfit_up")),
        (postfit_down, dict(color="#e42536", alpha=0.8, label=r"post-fit $-1\sigma$", gid="impact_postfit_down")),
    ):
        ax.barh(y, values, height=0.7, **kwargs)
    reach = np.nanmax(np.abs(np.concatenate([prefit_up, prefit_down, postfit_up, postfit_down, [1e-9]])))
    ax.set_xlim(-1.6 * reach, 1.6 * reach)
    ax.axvline(0.0, color="black", linewidth=1)
    ax.set_xlabel(rf"$\Delta {poi_label}$")
    ax.set_yticks(y, names, fontsize="x-small")
    ax.tick_params(axis="y", which="minor", left=False, right=False)
    ax.tick_params(axis="x", top=False, which="both")
    ax.set_ylim(-0.7, n + 1.3)  # room for the legend
    ax.legend(ncol=2, loc="upper left", fontsize="xx-small")
    pax = ax.twiny()
    pax.errorbar(pulls, y, xerr=pull_uncertainties, fmt="o", color="black", markersize=6, gid="ranking_pulls")
    pax.set_xlim(-2.0, 2.0)
    pax.set_xlabel(r"$(\hat{\theta} - \theta_0) / \Delta\theta$", fontsize="small")
    return fig


def ranking_drawing(summary: Mapping[str, Any]) -> style.Drawing | None:
    """ranking.png from summary["ranking"] (as ordered there, largest impact first), or None."""
    ranking = list(summary.get("ranking") or [])[:RANKING_MAX]
    if not ranking:
        return None
    params = {p["name"]: p for p in summary.get("parameters", [])}

    def column(key):
        return np.array([_float(r.get(key)) for r in ranking])

    pulls = np.array([_float(params.get(r["name"], {}).get("pull")) for r in ranking])
    pull_unc = np.array([_float(params.get(r["name"], {}).get("pull_uncertainty")) for r in ranking])
    return style.Drawing(
        "ranking.png",
        ranking_figure,
        dict(
            names=[r["name"] for r in ranking],
            prefit_up=column("impact_prefit_up"),
            prefit_down=column("impact_prefit_down"),
            postfit_up=column("impact_postfit_up"),
            postfit_down=column("impact_postfit_down"),
            pulls=pulls,
            pull_uncertainties=pull_unc,
        ),
    )


def fit_drawings(
    summary: Mapping[str, Any], xlabels: Mapping[str, str] | None = None, analysis: Analysis | str | None = None
) -> list[style.Drawing]:
    """All the fit plots of a fit summary (with its "ml_validation", when it has one: the ML plots last), in the
    style of ``analysis`` (the definition or its name; None: the AGC v1)."""
    analysis = chosen(analysis)
    drawings = data_mc_drawings(summary, xlabels, analysis) + [pulls_drawing(summary), correlations_drawing(summary)]
    ranking = ranking_drawing(summary)
    ml = ml_drawings(summary.get("ml_validation"), analysis)
    return drawings + ([ranking] if ranking is not None else []) + ml
