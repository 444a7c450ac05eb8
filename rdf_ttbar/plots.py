"""Plots of the histograms and of the fit (PNG, matplotlib Agg, mplhep CMS style).

- :func:`plot_histograms` from ``histograms.root``: ``stacked_{region}.png`` (nominal
  MC stacked, pseudo-data points), ``btag_variations_4j1b.png`` (ttbar, b-tag weight
  variations) and ``jet_energy_variations_4j2b.png`` (ttbar, jet pT scale / resolution)
- :func:`plot_fit` from the workspace and the fit results (cabinetry's visualize
  functions): ``data_mc_prefit_{region}.png`` / ``data_mc_postfit_{region}.png`` per fit
  region (``4j1b_CR``, ``4j2b_SR``), ``pulls.png`` and ``correlations.png``
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Iterable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rdf_ttbar.systematics import (  # noqa: E402
    LUMI_PB,
    PROCESSES,
    REGIONS,
    SAMPLE_LABELS,
    histogram_name,
    pseudodata_name,
)

# legend labels and colours, keyed by process (and by the fit's sample names)
PROCESS_LABELS = {**SAMPLE_LABELS, "ttbar": r"$t\bar{t}$"}
PROCESS_COLORS = {
    "ttbar": "#e42536",
    "single_top_s_chan": "#92dadd",
    "single_top_t_chan": "#5790fc",
    "single_top_tW": "#964a8b",
    "wjets": "#f89c20",
}
# stacking order, bottom to top
STACK_ORDER = ("single_top_s_chan", "single_top_t_chan", "single_top_tW", "wjets", "ttbar")
DPI = 110


def _style():
    import mplhep

    return plt.style.context(mplhep.style.CMS)


def _cms_label(ax, fontsize=None):
    import mplhep

    mplhep.cms.label(text="Open Data", data=False, lumi=LUMI_PB / 1000.0, lumi_format="{0:.2f}",
                     com=13, ax=ax, loc=0, fontsize=fontsize)


def _save(fig, path: Path, tight: bool = True) -> Path:
    """Save a PNG through a temporary name (os.replace) and close the figure.

    tight=False for cabinetry's figures, which have their own (constrained) layout.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    try:
        fig.savefig(tmp, dpi=DPI, bbox_inches="tight" if tight else None)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if tmp.exists():
            tmp.unlink()
    return path


def fit_region_file_name(fit_name: str) -> str:
    """'4j1b CR' -> '4j1b_CR'."""
    return "_".join(fit_name.split())


# ---------------------------------------------------------------------------
# histograms.root


def _read_histograms(histograms_path) -> dict[str, Any]:
    import uproot

    path = Path(histograms_path)
    if not path.is_file():
        raise FileNotFoundError(f"histograms file {path} does not exist (run the analysis first)")
    with uproot.open(path) as f:
        return {
            key.rsplit(";", 1)[0]: f[key].to_hist()
            for key, cls in f.classnames(recursive=False).items()
            if cls.startswith("TH1")
        }


def _variation_plot(ax_top, ax_ratio, hists, nominal_name, variations, region):
    import mplhep

    nominal = hists[nominal_name]
    edges = nominal.axes[0].edges
    nom = nominal.values()
    mplhep.histplot(nominal, ax=ax_top, label="nominal", color="black", linewidth=2, yerr=False,
                    flow="none")
    colors = plt.get_cmap("tab10").colors
    for name, label, i_color, linestyle in variations:
        if name not in hists:
            continue
        h = hists[name]
        color = colors[i_color % len(colors)]
        style = linestyle
        mplhep.histplot(h, ax=ax_top, label=label, color=color, linestyle=style, linewidth=1.5,
                        yerr=False, flow="none")
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(nom > 0, h.values() / nom, np.nan)
        ax_ratio.stairs(ratio, edges, baseline=None, color=color, linestyle=style, linewidth=1.5)
    ax_ratio.axhline(1.0, color="black", linewidth=1)
    ax_ratio.set_ylabel("var. / nom.", fontsize="small")
    ax_ratio.set_xlabel(region.label)
    ax_top.set_xlabel("")
    ax_top.set_ylabel("Events / 20 GeV")
    ax_top.set_xlim(edges[0], edges[-1])
    ax_top.legend(fontsize="x-small", ncol=2, title=rf"$t\bar{{t}}$, {region.name}",
                  title_fontsize="small")
    ax_top.set_ylim(0, ax_top.get_ylim()[1] * (1.3 + 0.07 * len(variations)))
    ratios = [line for line in ax_ratio.patches]
    finite = np.concatenate([np.asarray(p.get_data().values, dtype=float) for p in ratios] or [[1.0]])
    finite = finite[np.isfinite(finite)]
    span = max(np.max(np.abs(finite - 1.0)) if finite.size else 0.0, 0.02) * 1.15
    ax_ratio.set_ylim(1 - min(span, 0.5), 1 + min(span, 0.5))


def plot_histograms(histograms_path, plots_dir) -> list[Path]:
    """Draw the input histograms; returns the paths of the PNG files written.

    Histograms missing from the file are left out of the plots (with a warning).
    """
    import mplhep

    plots_dir = Path(plots_dir)
    hists = _read_histograms(histograms_path)
    written: list[Path] = []
    region_by_name = {r.name: r for r in REGIONS}

    with _style():
        for region in REGIONS:
            fig, ax = plt.subplots(figsize=(10, 9))
            stack = [p for p in STACK_ORDER if p in PROCESSES]
            present = [p for p in stack if histogram_name(region.name, p) in hists]
            missing = [histogram_name(region.name, p) for p in stack if p not in present]
            if missing:
                warnings.warn(f"plot_histograms: {', '.join(missing)} not in {histograms_path}")
            if present:
                mplhep.histplot(
                    [hists[histogram_name(region.name, p)] for p in present],
                    ax=ax, stack=True, histtype="fill",
                    label=[PROCESS_LABELS.get(p, p) for p in present],
                    color=[PROCESS_COLORS.get(p) for p in present],
                    edgecolor="black", linewidth=0.5, flow="none",
                )
            pd_name = pseudodata_name(region.name)
            if pd_name in hists:
                h = hists[pd_name]
                mplhep.histplot(h, ax=ax, histtype="errorbar", color="black", label="Pseudo-data",
                                yerr=np.sqrt(np.maximum(h.variances(), 0.0)), flow="none")
            ax.set_xlabel(region.label)
            ax.set_ylabel("Events / 20 GeV")
            ax.set_xlim(50, 550)
            ax.set_ylim(0, ax.get_ylim()[1] * 1.45)
            handles, labels = ax.get_legend_handles_labels()
            ax.legend(handles[::-1], labels[::-1], title=region.name, fontsize="small")
            _cms_label(ax)
            written.append(_save(fig, plots_dir / f"stacked_{region.name}.png"))

        variation_plots = [
            ("btag_variations", "4j1b",
              [(f"btag_var_{i}_{d}", f"b-tag NP {i + 1} {d}", i, "-" if d == "up" else "--")
              for i in range(4) for d in ("up", "down")]),
            ("jet_energy_variations", "4j2b",
             [("pt_scale_up", "jet energy scale up", 0, "-"),
              ("pt_res_up", "jet energy resolution up", 1, "-")]),
        ]
        for stem, region_name, variations in variation_plots:
            nominal_name = histogram_name(region_name, "ttbar")
            if nominal_name not in hists:
                warnings.warn(f"plot_histograms: {nominal_name} not in {histograms_path}: "
                              f"{stem}_{region_name}.png not drawn")
                continue
            fig, (ax_top, ax_ratio) = plt.subplots(
                2, 1, figsize=(10, 10), sharex=True, gridspec_kw={"height_ratios": (3, 1), "hspace": 0.05})
            named = [(histogram_name(region_name, "ttbar", v), *rest) for v, *rest in variations]
            _variation_plot(ax_top, ax_ratio, hists, nominal_name, named, region_by_name[region_name])
            _cms_label(ax_top)
            written.append(_save(fig, plots_dir / f"{stem}_{region_name}.png"))
    return written


# ---------------------------------------------------------------------------
# fit


def _load_json(obj):
    if isinstance(obj, (str, os.PathLike)):
        return json.loads(Path(obj).read_text())
    return obj


def plot_fit(config: dict[str, Any], workspace, fit_results, plots_dir,
             exclude_from_pulls: Iterable[str] | None = None) -> list[Path]:
    """Draw the fit: data vs. stacked model pre-fit and post-fit per region, pulls,
    correlations. Returns the paths of the PNG files written.

    config: the cabinetry configuration (binning and axis labels, see
    ``inference.cabinetry_config``); workspace: pyhf workspace (dict or path to
    workspace.json); fit_results: cabinetry ``FitResults`` or the fit summary
    (dict or path to fit_results.json, see ``inference.run_fit``).
    """
    import cabinetry

    from rdf_ttbar import inference

    plots_dir = Path(plots_dir)
    ws = _load_json(workspace)
    fit_results = _load_json(fit_results)
    if isinstance(fit_results, dict):
        fit_results = inference.fit_results_from_summary(fit_results)
    model, data = cabinetry.model_utils.model_and_data(ws)

    label_to_process = {v: k for k, v in inference.SAMPLE_LABELS.items()}
    colors = {s: PROCESS_COLORS.get(label_to_process.get(s, ""), None) for s in model.config.samples}
    if any(c is None for c in colors.values()):
        colors = None  # unknown sample: cabinetry's default colours
    written: list[Path] = []

    predictions = {
        "prefit": cabinetry.model_utils.prediction(model),
        "postfit": cabinetry.model_utils.prediction(model, fit_results=fit_results),
    }
    for stage, prediction in predictions.items():
        try:
            figures = cabinetry.visualize.data_mc(
                prediction, data, config=config, colors=colors, save_figure=False, close_figure=False
            ) or []
        except ValueError as err:  # e.g. a negative post-fit yield in a degenerate fit
            warnings.warn(f"no {stage} data/model plot: {err}".replace("\n", " "), stacklevel=2)
            continue
        for item in figures:
            fig = item["figure"]
            name = f"data_mc_{stage}_{fit_region_file_name(item['region'])}.png"
            written.append(_save(fig, plots_dir / name, tight=False))

    exclude = [inference.POI] if exclude_from_pulls is None else list(exclude_from_pulls)
    fig = cabinetry.visualize.pulls(fit_results, exclude=exclude, save_figure=False, close_figure=False)
    written.append(_save(fig, plots_dir / "pulls.png", tight=False))

    # correlations.png: POI and systematics; correlations_full.png: with the MC-statistics
    # (staterror) parameters as well
    fig = cabinetry.visualize.correlation_matrix(
        _without_staterror(fit_results), save_figure=False, close_figure=False)
    written.append(_save(fig, plots_dir / "correlations.png", tight=False))
    fig = cabinetry.visualize.correlation_matrix(fit_results, save_figure=False, close_figure=False)
    written.append(_save(fig, plots_dir / "correlations_full.png", tight=False))
    return written


def _without_staterror(fit_results):
    keep = [i for i, name in enumerate(fit_results.labels) if not name.startswith("staterror_")]
    return fit_results._replace(
        bestfit=np.asarray(fit_results.bestfit)[keep],
        uncertainty=np.asarray(fit_results.uncertainty)[keep],
        labels=[fit_results.labels[i] for i in keep],
        corr_mat=np.asarray(fit_results.corr_mat)[np.ix_(keep, keep)],
    )


def plot_fit_from_files(histograms_path, output_dir, plots_dir=None) -> list[Path]:
    """Fit plots from ``output_dir/workspace.json`` and ``output_dir/fit_results.json``."""
    from rdf_ttbar import inference

    output_dir = Path(output_dir)
    config = inference.cabinetry_config(histograms_path)
    return plot_fit(config, output_dir / inference.WORKSPACE_FILE,
                    output_dir / inference.FIT_RESULTS_FILE,
                    plots_dir if plots_dir is not None else output_dir / "plots")
