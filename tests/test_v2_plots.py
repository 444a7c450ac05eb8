"""The AGC v2 plots: a stacked plot per ML feature, and the ML validation (the main fit's parameters applied to the
ML feature histograms, pre- and post-fit plots), on synthetic histograms built from the v2 definition (no event
loop)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from rdf_ttbar import analysis, plots
from rdf_ttbar.analysis import agc_v2, histogram_name, pseudodata_name
from rdf_ttbar.errors import FitError
from test_plots import FIT_PLOTS, HISTOGRAM_PLOTS

V2 = analysis.get("v2")
V1_PLOTS = HISTOGRAM_PLOTS
V2_HISTOGRAM_PLOTS = (
    ["stacked_4j1b.png", "stacked_4j2b.png"]
    + [f"stacked_{f}.png" for f in agc_v2.FEATURE_NAMES]
    + ["btag_variations_4j1b.png", "jet_energy_variations_4j2b.png"]
)
ML_PLOTS = [f"ml_{stage}_{f}.png" for stage in ("prefit", "postfit") for f in agc_v2.POSTFIT_FEATURES]
SCALES = {"ttbar": 3000.0, "single_top_s_chan": 40, "single_top_t_chan": 250, "single_top_tW": 300, "wjets": 900}
SAMPLE_LABELS = {p.name: p.label for p in V2.processes}


def _hist(binning, values, variances):
    import hist

    h = hist.Hist(hist.axis.Regular(binning.bins, binning.low, binning.high), storage=hist.storage.Weight())
    h.view().value = values
    h.view().variance = variances
    return h


def synthetic_v2(seed: int = 11) -> dict:
    """Every histogram of a full v2 run ({AGC name: hist.Hist}, the 20 ML features' included): a smooth shape
    per histogram and process, each variation a few per cent off it bin by bin, the pseudo-data as the
    definition sums them."""
    rng = np.random.default_rng(seed)
    out = {}
    for h in V2.histograms:
        n = h.binning.bins
        x = np.linspace(0.0, 1.0, n)
        for process in V2.process_names:
            shape = np.exp(-0.5 * ((x - rng.uniform(0.35, 0.6)) / 0.22) ** 2) + 0.05
            nominal = SCALES[process] * shape / shape.sum()
            weight = 0.3 if process == "ttbar" else 1.0
            for variation in V2.process(process).variations:
                for suffix in V2.sample_suffixes(process, variation):
                    values = nominal * (1.0 if suffix == "nominal" else rng.uniform(0.95, 1.05, n))
                    out[histogram_name(h.prefix, process, suffix)] = _hist(h.binning, values, values * weight)
        data = sum(c * out[histogram_name(h.prefix, p, v)].values() for c, p, v in V2.pseudodata)
        out[pseudodata_name(h.prefix)] = _hist(h.binning, np.round(data), np.round(data))
    assert sorted(out) == sorted(V2.histogram_names())
    return out


@pytest.fixture(scope="module")
def hists():
    return synthetic_v2()


def assert_png(path):
    import matplotlib.image

    assert path.is_file() and path.stat().st_size > 0, path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and min(image.shape[:2]) > 250 and image.std() > 0, path


def _figure(drawings, name):
    return next(d for d in drawings if d.file_name == name).figure()


# ---------------------------------------------------------------------------
# the histogram plots


def test_v2_draws_a_stacked_plot_per_feature_and_v1_what_it_drew(hists):
    assert [d.file_name for d in plots.histogram_drawings(hists, V2)] == V2_HISTOGRAM_PLOTS
    # the same histograms with the v1 definition (the default): the v1 plots only
    assert [d.file_name for d in plots.histogram_drawings(hists)] == V1_PLOTS
    assert [d.file_name for d in plots.histogram_drawings(hists, analysis.get("v1"))] == V1_PLOTS


@pytest.mark.parametrize(
    "feature, ylabel",
    [("mass_w1w2", "Events / 10 GeV"), ("deltar_w1w2", "Events / 0.24"), ("btag_w1", "Events / 0.04")],
)
def test_feature_stacked_plot(hists, feature, ylabel):
    fig = _figure(plots.histogram_drawings(hists, V2), f"stacked_{feature}.png")
    ax, rax = fig.axes
    h = V2.histogram(feature)
    assert rax.get_xlabel() == h.label and ax.get_ylabel() == ylabel
    assert any(t.get_text() == "4j2b, pre-fit" for t in ax.texts)
    edges = np.linspace(h.binning.low, h.binning.high, h.binning.bins + 1)
    total = np.zeros(h.binning.bins)
    for p in ("single_top_s_chan", "single_top_t_chan", "single_top_tW", "wjets", "ttbar"):  # bottom to top
        label = r"$t\bar{t}$" if p == "ttbar" else SAMPLE_LABELS[p]
        (patch,) = [a for a in ax.get_children() if a.get_gid() == f"stack:{label}"]
        np.testing.assert_allclose(patch.get_data().edges, edges)
        np.testing.assert_allclose(patch.get_data().baseline, total)
        total = total + hists[f"{feature}_{p}"].values()
        np.testing.assert_allclose(patch.get_data().values, total)
    data = next(c for c in ax.containers if c.lines[0].get_gid() == "data")
    np.testing.assert_allclose(data.lines[0].get_ydata(), hists[f"{feature}_pseudodata"].values())


def test_histograms_root_with_histograms_ml_root_beside(hists, tmp_path, caplog):
    from rdf_ttbar.execution.histograms import write_outputs

    paths = write_outputs(V2, hists, tmp_path)
    assert [p.name for p in paths] == ["histograms.root", "histograms_ml.root"]
    drawings = plots.histogram_drawings(tmp_path / "histograms.root", V2)
    assert [d.file_name for d in drawings] == V2_HISTOGRAM_PLOTS
    fig = _figure(drawings, "stacked_pt_w1.png")
    (ttbar,) = [a for a in fig.axes[0].get_children() if a.get_gid() == r"stack:$t\bar{t}$"]
    np.testing.assert_allclose(ttbar.get_data().values - ttbar.get_data().baseline, hists["pt_w1_ttbar"].values())
    # histograms.root alone: its plots, and one warning about the ML file
    (tmp_path / "histograms_ml.root").unlink()
    with caplog.at_level(logging.WARNING, logger="rdf_ttbar.plots"):
        assert [d.file_name for d in plots.histogram_drawings(tmp_path / "histograms.root", V2)] == V1_PLOTS
    assert caplog.text.count("histograms_ml.root does not exist") == 1


# ---------------------------------------------------------------------------
# the whole fit_and_plots of a v2 job: plots drawn by warm workers, the ML validation


@pytest.fixture(scope="module")
def v2_job(hists, tmp_path_factory):
    """api.fit_and_plots of the synthetic v2 histograms: (summary, staging folder)."""
    import warnings

    from rdf_ttbar import api
    from rdf_ttbar.execution.outputs import OutputFolder
    from rdf_ttbar.plots.painters import Painters

    metrics: dict = {"wall_time_s": {}}
    with OutputFolder(tmp_path_factory.mktemp("v2job")) as out, Painters(2) as painters, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = api.fit_and_plots(hists, True, out, metrics, painters, V2)
        # the staging folder goes with the with block: keep what the tests look at
        kept = tmp_path_factory.mktemp("v2kept")
        for path in (out.staging / "plots").iterdir():
            (kept / path.name).write_bytes(path.read_bytes())
        written = json.loads((out.staging / "fit_results.json").read_text())
    assert metrics["wall_time_s"]["fit"] > 0 and metrics["wall_time_s"]["plots"] >= 0
    return summary, written, kept


def test_v2_job_plot_files(v2_job):
    _, _, plots_dir = v2_job
    assert sorted(p.name for p in plots_dir.iterdir()) == sorted(V2_HISTOGRAM_PLOTS + FIT_PLOTS + ML_PLOTS)
    for name in V2_HISTOGRAM_PLOTS + FIT_PLOTS + ML_PLOTS:
        assert_png(plots_dir / name)


def test_ml_validation_numbers(v2_job, hists):
    summary, written, _ = v2_job
    ml = summary["ml_validation"]
    assert written["ml_validation"] == json.loads(json.dumps(ml))  # in fit_results.json
    assert ml["features"] == list(agc_v2.POSTFIT_FEATURES) == list(ml["prefit_yields"]) == list(ml["postfit_yields"])
    assert ml["ttbar_norm"] == summary["ttbar_norm"]
    for feature in agc_v2.POSTFIT_FEATURES:
        pre = ml["prefit_yields"][feature]
        assert pre["label"] == V2.histogram(feature).label and pre["region"] == "4j2b"
        np.testing.assert_allclose(pre["bins"]["edges"], hists[f"{feature}_ttbar"].axes[0].edges)
        np.testing.assert_allclose(pre["bins"]["data"], hists[f"{feature}_pseudodata"].values())
        for p in V2.process_names:  # the nominal histograms, bin by bin (no flow bins)
            np.testing.assert_allclose(pre["bins"]["samples"][SAMPLE_LABELS[p]], hists[f"{feature}_{p}"].values())
        post = ml["postfit_yields"][feature]
        assert post["bins"]["data"] == pre["bins"]["data"]
        assert post["total"] != pytest.approx(pre["total"], rel=1e-6)  # the fit moved the parameters
    # the pre- and post-fit plots of a feature show these numbers
    drawings = plots.ml_drawings(ml)
    assert [d.file_name for d in drawings] == ML_PLOTS
    ax = _figure(drawings, "ml_postfit_mass_w1w2.png").axes[0]
    (band,) = [a for a in ax.get_children() if a.get_gid() == "band"]
    post = ml["postfit_yields"]["mass_w1w2"]["bins"]
    np.testing.assert_allclose(
        band.get_data().values, np.array(post["total"]) + np.array(post["total_uncertainty"]), rtol=1e-9
    )
    assert any("post-fit (main fit)" in t.get_text() for t in ax.texts)


def test_ml_postfit_takes_the_main_fit_parameters_by_name(v2_job, hists):
    """Every parameter at its nominal value except ttbar_norm = 1.5 and the luminosity one +1 sigma (3%), and the
    main fit's own MC-statistics parameters of 4j2b at 1.2 (not in the ML model): post-fit ttbar is 1.5 x 1.03 its
    pre-fit yield, every other sample 1.03 x."""
    from rdf_ttbar.inference import ml_validation

    summary = json.loads(json.dumps(v2_job[0]))
    summary.pop("ml_validation")
    names = []
    for p in summary["parameters"]:
        p["value"] = p["nominal"]
        names.append(p["name"])
        if p["name"] == "ttbar_norm":
            p["value"] = 1.5
        elif p["name"] == "Luminosity":
            p["value"] = 1.0
        elif p["name"].startswith("staterror_4j2b"):
            p["value"] = 1.2
    assert {"ttbar_norm", "Luminosity"} <= set(names) and any(n.startswith("staterror_4j2b") for n in names)
    ml = ml_validation.ml_validation(hists, summary, V2, features=["mass_w1w2", "deltar_w1w2"])
    assert ml["features"] == ["deltar_w1w2", "mass_w1w2"]  # in the order of the definition
    for feature in ml["features"]:
        pre, post = ml["prefit_yields"][feature]["bins"], ml["postfit_yields"][feature]["bins"]
        for sample, values in pre["samples"].items():
            factor = 1.03 * (1.5 if sample == "ttbar" else 1.0)
            np.testing.assert_allclose(post["samples"][sample], factor * np.array(values), rtol=1e-6)


def test_ml_validation_errors(hists, v2_job):
    from rdf_ttbar.inference import ml_validation

    summary = v2_job[0]
    assert ml_validation.ml_histograms(analysis.get("v1")) == ()
    with pytest.raises(FitError, match="no ML feature histograms"):
        ml_validation.ml_validation(hists, summary, analysis.get("v1"))
    partial = {k: v for k, v in hists.items() if k != "mass_w1w2_wjets"}
    with pytest.raises(FitError, match="lacks 1 histogram.*mass_w1w2_wjets"):
        ml_validation.ml_validation(partial, summary, V2)
