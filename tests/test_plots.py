"""Tests of rdf_ttbar.plots: the files written, and the numbers drawn (read back from the
Figures) against values computed here (Garwood intervals from scipy.stats.chi2)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import chi2

from rdf_ttbar import plots
from rdf_ttbar.errors import UserError

PROCESSES = ["ttbar", "single_top_s_chan", "single_top_t_chan", "single_top_tW", "wjets"]
STACK_BOTTOM_UP = ["single_top_s_chan", "single_top_t_chan", "single_top_tW", "wjets", "ttbar"]
LABELS = {
    "ttbar": r"$t\bar{t}$",
    "single_top_s_chan": "single top, s-channel",
    "single_top_t_chan": "single top, t-channel",
    "single_top_tW": "tW",
    "wjets": "W+jets",
}
FIT_NAMES = {
    "ttbar": "ttbar",
    "single_top_s_chan": "single top, s-channel",
    "single_top_t_chan": "single top, t-channel",
    "single_top_tW": "tW",
    "wjets": "W+jets",
}
HISTOGRAM_PLOTS = ["stacked_4j1b.png", "stacked_4j2b.png", "btag_variations_4j1b.png", "jet_energy_variations_4j2b.png"]
FIT_PLOTS = [
    "data_mc_prefit_4j1b_CR.png",
    "data_mc_prefit_4j2b_SR.png",
    "data_mc_postfit_4j1b_CR.png",
    "data_mc_postfit_4j2b_SR.png",
    "pulls.png",
    "correlations.png",
]
EDGES = np.linspace(50, 550, 26)
FIT_EDGES = np.linspace(110, 550, 12)


def garwood(n):
    """Central 68.27% Poisson interval of the mean (chi2 quantiles), computed independently."""
    n = np.asarray(n, dtype=float)
    lo = np.where(n > 0, chi2.ppf(0.158655254, 2 * np.where(n > 0, n, 1)) / 2, 0.0)
    hi = chi2.ppf(0.841344746, 2 * (n + 1)) / 2
    return lo, hi


def _hist(values, variances):
    import hist

    h = hist.Hist(hist.axis.Regular(25, 50, 550), storage=hist.storage.Weight())
    h.view().value = values
    h.view().variance = variances
    return h


def synthetic_histograms(seed=3):
    rng = np.random.default_rng(seed)
    out, expected = {}, {}
    for region in ("4j1b", "4j2b"):
        for i, p in enumerate(PROCESSES):
            values = rng.uniform(10, 1000, 25) * (5 if p == "ttbar" else 1)
            variances = values * rng.uniform(0.5, 2.0, 25)
            out[f"{region}_{p}"] = _hist(values, variances)
            expected[f"{region}_{p}"] = (values, variances)
        data = np.round(rng.uniform(2000, 8000, 25)) + rng.uniform(0, 1, 25)  # weighted: non-integer
        data[0] = 0.0
        out[f"{region}_pseudodata"] = _hist(data, data * 3)
        expected[f"{region}_pseudodata"] = (data, data * 3)
        nominal = expected[f"{region}_ttbar"][0]
        for v in ["pt_scale_up", "pt_res_up"] + [f"btag_var_{i}_{d}" for i in range(4) for d in ("up", "down")]:
            out[f"{region}_ttbar_{v}"] = _hist(nominal * rng.uniform(0.8, 1.2, 25), nominal)
    return out, expected


@pytest.fixture(scope="module")
def histograms():
    return synthetic_histograms()


def _figure(drawings, name):
    return next(d for d in drawings if d.file_name == name).figure()


def _by_gid(ax, prefix):
    return [a for a in ax.get_children() if (a.get_gid() or "").startswith(prefix)]


def _errorbar(ax, gid):
    """(x, y, lower ends, upper ends) of the errorbar container whose data line has ``gid``."""
    container = next(c for c in ax.containers if c.lines[0].get_gid() == gid)
    x, y = container.lines[0].get_xdata(), container.lines[0].get_ydata()
    segments = container.lines[2][0].get_segments()
    return np.asarray(x), np.asarray(y), np.array([s[0][1] for s in segments]), np.array([s[1][1] for s in segments])


def assert_png(path):
    import matplotlib.image

    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and min(image.shape[:2]) > 250 and image.std() > 0


def test_stacked_histogram_plot_numbers(histograms):
    hists, expected = histograms
    fig = _figure(plots.histogram_drawings(hists), "stacked_4j2b.png")
    ax, rax = fig.axes
    # the stack, bottom to top: each patch spans [baseline, baseline + sample]
    bottom = np.zeros(25)
    for p in STACK_BOTTOM_UP:
        (patch,) = _by_gid(ax, f"stack:{LABELS[p]}")
        data = patch.get_data()
        np.testing.assert_allclose(data.baseline, bottom)
        np.testing.assert_allclose(data.values - data.baseline, expected[f"4j2b_{p}"][0])
        np.testing.assert_allclose(data.edges, EDGES)
        bottom = bottom + expected[f"4j2b_{p}"][0]
    # legend: pseudo-data, then the top of the stack first, then the band
    assert [t.get_text() for t in ax.get_legend().get_texts()] == (
        ["Pseudo-data"] + [LABELS[p] for p in STACK_BOTTOM_UP[::-1]] + ["MC stat. unc."]
    )
    # pseudo-data with Garwood errors, not sqrt(sum w^2)
    data = expected["4j2b_pseudodata"][0]
    lo, hi = garwood(data)
    x, y, low, high = _errorbar(ax, "data")
    np.testing.assert_allclose(x, 0.5 * (EDGES[1:] + EDGES[:-1]))
    np.testing.assert_allclose(y, data)
    np.testing.assert_allclose(low, lo, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(high, hi, rtol=1e-9)
    assert high[5] - data[5] == pytest.approx(np.sqrt(data[5]), rel=0.02)  # ~sqrt(n), not sqrt(3n)
    # MC statistical band, in the main panel and relative in the ratio panel
    stat = np.sqrt(sum(expected[f"4j2b_{p}"][1] for p in PROCESSES))
    (band,) = _by_gid(ax, "band")
    np.testing.assert_allclose(band.get_data().values, bottom + stat)
    np.testing.assert_allclose(band.get_data().baseline, bottom - stat)
    (ratio_band,) = _by_gid(rax, "ratio_band")
    np.testing.assert_allclose(ratio_band.get_data().values, 1 + stat / bottom)
    np.testing.assert_allclose(ratio_band.get_data().baseline, 1 - stat / bottom)
    _, ratio, r_low, r_high = _errorbar(rax, "ratio")
    np.testing.assert_allclose(ratio, data / bottom)
    np.testing.assert_allclose(r_high, hi / bottom, rtol=1e-9)
    np.testing.assert_allclose(r_low, lo / bottom, rtol=1e-9, atol=1e-12)


def test_variation_plot_numbers(histograms):
    hists, expected = histograms
    fig = _figure(plots.histogram_drawings(hists), "btag_variations_4j1b.png")
    ax, rax = fig.axes
    (nominal,) = _by_gid(ax, "nominal")
    np.testing.assert_allclose(nominal.get_data().values, expected["4j1b_ttbar"][0])
    (ratio,) = _by_gid(rax, "ratio:b-tag NP 3 down")
    np.testing.assert_allclose(
        ratio.get_data().values, hists["4j1b_ttbar_btag_var_2_down"].values() / expected["4j1b_ttbar"][0]
    )
    assert len(_by_gid(ax, "variation:")) == 8


def test_plot_histograms_files_from_root_file_and_mapping(histograms, tmp_path):
    import uproot

    hists, _ = histograms
    with uproot.recreate(tmp_path / "histograms.root") as f:
        for name, h in hists.items():
            f[name] = h
    paths = plots.plot_histograms(tmp_path / "histograms.root", tmp_path / "plots")
    assert [p.name for p in paths] == HISTOGRAM_PLOTS
    for p in paths:
        assert p.parent == tmp_path / "plots"
        assert_png(p)
    assert sorted(x.name for x in (tmp_path / "plots").iterdir()) == sorted(HISTOGRAM_PLOTS)  # no temporaries
    # uproot's TH1 (axes[0].edges is a method) and hist.Hist give the same figure numbers
    with uproot.open(tmp_path / "histograms.root") as f:
        from_file = {name: f[name] for name in hists}
        fig = _figure(plots.histogram_drawings(from_file), "stacked_4j1b.png")
    ref = _figure(plots.histogram_drawings(hists), "stacked_4j1b.png")
    for a, b in zip(_by_gid(fig.axes[0], "stack:"), _by_gid(ref.axes[0], "stack:")):
        np.testing.assert_allclose(a.get_data().values, b.get_data().values)


def test_missing_histograms(histograms, tmp_path, caplog):
    hists, _ = histograms
    partial = {k: v for k, v in hists.items() if k not in ("4j1b_single_top_tW", "4j2b_ttbar")}
    with caplog.at_level(logging.WARNING, logger="rdf_ttbar.plots"):
        paths = plots.plot_histograms(partial, tmp_path)
    assert [p.name for p in paths] == ["stacked_4j1b.png", "stacked_4j2b.png", "btag_variations_4j1b.png"]
    assert "4j1b_single_top_tW" in caplog.text and "jet_energy_variations_4j2b.png not drawn" in caplog.text
    fig = _figure(plots.histogram_drawings(partial), "stacked_4j1b.png")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "Pseudo-data",
        r"$t\bar{t}$",
        "W+jets",
        "single top, t-channel",
        "single top, s-channel",
        "MC stat. unc.",
    ]
    with pytest.raises(UserError, match=r"missing\.root does not exist\. Fix: run the analysis first"):
        plots.plot_histograms(tmp_path / "missing.root", tmp_path)


# ---------------------------------------------------------------------------
# fit plots from a summary


def _yields(rng, scale):
    out = {}
    for channel in ("4j1b CR", "4j2b SR"):
        samples = {
            FIT_NAMES[p]: (rng.uniform(100, 5000, 11) * (4 if p == "ttbar" else 1) * scale).tolist() for p in PROCESSES
        }
        total = np.sum(list(samples.values()), axis=0)
        out[channel] = {
            "samples": {k: float(np.sum(v)) for k, v in samples.items()},
            "total": float(total.sum()),
            "data": None,
            "bins": {
                "edges": FIT_EDGES.tolist(),
                "samples": samples,
                "total": total.tolist(),
                "total_uncertainty": (total * rng.uniform(0.005, 0.05, 11)).tolist(),
                "data": np.round(total * rng.uniform(0.95, 1.05, 11)).tolist(),
            },
        }
    return out


def make_summary(ranking=True):
    rng = np.random.default_rng(7)
    names = [
        "Jet energy scale",
        "b-tag NP 1",
        "ME variation",
        "ttbar_norm",
        "Luminosity",
        "staterror_4j1b-CR[0]",
        "staterror_4j1b-CR[1]",
    ]
    params = []
    for name in names:
        value = rng.normal(1.0 if name.startswith(("ttbar", "staterror")) else 0.0, 0.3)
        entry = {"name": name, "value": value, "uncertainty": 0.2, "nominal": 0.0, "constrained": name != "ttbar_norm"}
        if entry["constrained"]:
            entry.update(prefit_uncertainty=1.0, pull=value, pull_uncertainty=rng.uniform(0.1, 1.0))
        params.append(entry)
    corr = np.eye(len(names))
    for i, j, rho in ((0, 2, -0.45), (2, 3, 0.3), (0, 5, 0.9), (1, 4, 0.15)):
        corr[i, j] = corr[j, i] = rho
    summary = {
        "poi": "ttbar_norm",
        "ttbar_norm": {"value": 0.98, "uncertainty": 0.044, "interval": [0.937, 1.025]},
        "parameters": params,
        "correlations": {"labels": names, "matrix": corr.tolist()},
        "prefit_yields": _yields(rng, 1.0),
        "postfit_yields": _yields(rng, 0.97),
    }
    if ranking:
        summary["ranking"] = [
            {
                "name": n,
                "value": 0.1,
                "uncertainty": 0.5,
                "impact_prefit_up": 0.04 / (k + 1),
                "impact_prefit_down": -0.035 / (k + 1),
                "impact_postfit_up": 0.03 / (k + 1),
                "impact_postfit_down": -0.025 / (k + 1),
            }
            for k, n in enumerate(["ME variation", "Luminosity", "b-tag NP 1", "staterror_4j1b-CR[1]"])
        ]
    return summary


@pytest.mark.parametrize("stage", ["prefit", "postfit"])
def test_data_mc_plot_numbers(stage):
    summary = make_summary()
    fig = _figure(plots.fit_drawings(summary), f"data_mc_{stage}_4j2b_SR.png")
    bins = summary[f"{stage}_yields"]["4j2b SR"]["bins"]
    ax, rax = fig.axes
    bottom = np.zeros(11)
    for p in STACK_BOTTOM_UP:
        (patch,) = _by_gid(ax, f"stack:{LABELS[p]}")
        np.testing.assert_allclose(patch.get_data().values - patch.get_data().baseline, bins["samples"][FIT_NAMES[p]])
        np.testing.assert_allclose(patch.get_data().edges, FIT_EDGES)
        bottom += bins["samples"][FIT_NAMES[p]]
    total, unc, data = (np.array(bins[k]) for k in ("total", "total_uncertainty", "data"))
    np.testing.assert_allclose(bottom, total)
    band_label = "Pre-fit unc." if stage == "prefit" else "Post-fit unc."
    assert [t.get_text() for t in ax.get_legend().get_texts()] == (
        ["Pseudo-data"] + [LABELS[p] for p in STACK_BOTTOM_UP[::-1]] + [band_label]
    )
    (band,) = _by_gid(ax, "band")
    np.testing.assert_allclose(band.get_data().values, total + unc)
    np.testing.assert_allclose(band.get_data().baseline, total - unc)
    (ratio_band,) = _by_gid(rax, "ratio_band")
    np.testing.assert_allclose(ratio_band.get_data().values - 1, unc / total)
    np.testing.assert_allclose(1 - ratio_band.get_data().baseline, unc / total)
    lo, hi = garwood(data)
    _, y, low, high = _errorbar(ax, "data")
    np.testing.assert_allclose(y, data)
    np.testing.assert_allclose(low, lo, rtol=1e-9)
    np.testing.assert_allclose(high, hi, rtol=1e-9)
    _, ratio, _, r_high = _errorbar(rax, "ratio")
    np.testing.assert_allclose(ratio, data / total)
    np.testing.assert_allclose(r_high, hi / total, rtol=1e-9)
    # the ratio panel shows the whole band and all points
    y0, y1 = rax.get_ylim()
    assert y0 <= 1 - np.max(unc / total) and y1 >= max(np.max(1 + unc / total), np.max(r_high))
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("4j2b SR, " + ("pre-fit" if stage == "prefit" else "post-fit")) for t in texts)
    if stage == "postfit":
        assert any("0.980^{+0.045}_{-0.043}" in t for t in texts)


def test_pulls_correlations_ranking_numbers():
    summary = make_summary()
    drawings = plots.fit_drawings(summary)
    # pulls: constrained parameters, no MC-statistics ones, first at the top
    ax = _figure(drawings, "pulls.png").axes[0]
    x, y, _, _ = _errorbar(ax, "pulls")
    shown = [p for p in summary["parameters"] if p["constrained"] and not p["name"].startswith("staterror")]
    np.testing.assert_allclose(x, [p["pull"] for p in shown])
    container = next(c for c in ax.containers if c.lines[0].get_gid() == "pulls")
    widths = [s[1][0] - s[0][0] for s in container.lines[2][0].get_segments()]
    np.testing.assert_allclose(widths, [2 * p["pull_uncertainty"] for p in shown])
    labels = {round(t): lab.get_text() for t, lab in zip(ax.get_yticks(), ax.get_yticklabels())}
    assert [labels[round(v)] for v in y] == [p["name"] for p in shown]
    assert y[0] > y[-1]
    # correlations: the non-staterror parameters with |rho| > 0.2 with another one, annotated
    ax = _figure(drawings, "correlations.png").axes[0]
    names = ["Jet energy scale", "ME variation", "ttbar_norm"]
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    image = _by_gid(ax, "correlations")[0].get_array()
    np.testing.assert_allclose(image, [[1, -0.45, 0], [-0.45, 1, 0.3], [0, 0.3, 1]])
    assert sorted(t.get_text() for t in ax.texts) == sorted(["1.00"] * 3 + ["-0.45"] * 2 + ["0.30"] * 2 + ["0.00"] * 2)
    # ranking: bars of the four impacts, in the summary's order from the top; pulls beside
    fig = _figure(drawings, "ranking.png")
    ax = fig.axes[0]
    for key in ("impact_prefit_up", "impact_prefit_down", "impact_postfit_up", "impact_postfit_down"):
        bars = next(c for c in ax.containers if c.patches[0].get_gid() == key)
        np.testing.assert_allclose([b.get_width() for b in bars], [r[key] for r in summary["ranking"]])
        assert bars[0].get_y() > bars[-1].get_y()
    labels = {round(t): lab.get_text() for t, lab in zip(ax.get_yticks(), ax.get_yticklabels())}
    assert [labels[k] for k in sorted(labels, reverse=True)] == [r["name"] for r in summary["ranking"]]
    by_name = {p["name"]: p for p in summary["parameters"]}
    x, _, _, _ = _errorbar(fig.axes[1], "ranking_pulls")
    np.testing.assert_allclose(x, [by_name[r["name"]]["pull"] for r in summary["ranking"]])


def test_plot_fit_files(tmp_path):
    summary = make_summary()
    (tmp_path / "fit_results.json").write_text(json.dumps(summary))
    paths = plots.plot_fit(tmp_path / "fit_results.json", tmp_path / "plots")
    assert [p.name for p in paths] == FIT_PLOTS + ["ranking.png"]
    for p in paths:
        assert_png(p)
    assert sorted(x.name for x in (tmp_path / "plots").iterdir()) == sorted(FIT_PLOTS + ["ranking.png"])
    # without a ranking there is no ranking plot
    paths = plots.plot_fit(make_summary(ranking=False), tmp_path / "no_ranking")
    assert [p.name for p in paths] == FIT_PLOTS
    with pytest.raises(UserError, match=r"fit results .*nothing\.json do not exist\. Fix: run the fit first"):
        plots.plot_fit(tmp_path / "nothing.json", tmp_path)


def test_import_is_light():
    """Importing the package loads neither matplotlib nor ROOT nor the fit (and sets no backend)."""
    code = (
        "import sys, rdf_ttbar.plots; "
        "print(sorted(m for m in ('matplotlib', 'ROOT', 'rdf_ttbar.inference', 'cabinetry') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_region_file_name():
    assert plots.region_file_name("4j2b SR") == "4j2b_SR"


def test_warm_painters(histograms, tmp_path):
    """Painters: workers started ahead draw shares of the histogram plots (from histograms.root) and of the
    fit plots (from the summary) at the same time; the paths come back in the drawings' order, the same
    files as drawn in-process. A worker's UserError is raised as such; a dead worker is named."""
    from rdf_ttbar.inputs import reference
    from rdf_ttbar.plots.painters import Painters

    hists, _ = histograms
    path = reference.write_histograms_root(dict(hists), tmp_path / "histograms.root")
    with Painters(2) as painters:
        histogram_job = painters.draw("histograms", path, tmp_path / "p")
        fit_job = painters.draw("fit", make_summary(), tmp_path / "p")
        assert [p.name for p in histogram_job.result()] == HISTOGRAM_PLOTS
        assert [p.name for p in fit_job.result()] == FIT_PLOTS + ["ranking.png"]
        with pytest.raises(UserError, match=r"histograms file .*missing\.root does not exist"):
            painters.draw("histograms", tmp_path / "missing.root", tmp_path / "q").result()
    assert sorted(x.name for x in (tmp_path / "p").iterdir()) == sorted(HISTOGRAM_PLOTS + FIT_PLOTS + ["ranking.png"])
    for name in HISTOGRAM_PLOTS:
        assert_png(tmp_path / "p" / name)
    with Painters(1) as painters:
        painters._workers[0].process.kill()
        with pytest.raises(RuntimeError, match=r"plot worker ended \(exit -9\)"):
            painters.draw("fit", make_summary(), tmp_path / "r").result()
