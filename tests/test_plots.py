"""Tests of rdf_ttbar.plots: the expected PNG files are written and readable."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

pytest.importorskip("cabinetry")
pytest.importorskip("mplhep")

from rdf_ttbar import inference, plots  # noqa: E402


def _synthetic():
    """The synthetic-histograms helpers of test_inference.py (whatever pytest's import mode)."""
    spec = importlib.util.spec_from_file_location(
        "_rdf_ttbar_test_inference_helpers", Path(__file__).with_name("test_inference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HISTOGRAM_PLOTS = ["stacked_4j1b.png", "stacked_4j2b.png", "btag_variations_4j1b.png",
                   "jet_energy_variations_4j2b.png"]
FIT_PLOTS = ["data_mc_prefit_4j1b_CR.png", "data_mc_prefit_4j2b_SR.png",
             "data_mc_postfit_4j1b_CR.png", "data_mc_postfit_4j2b_SR.png",
             "pulls.png", "correlations.png", "correlations_full.png"]


def assert_png(path: Path):
    import matplotlib.image

    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert image.std() > 0  # not blank


@pytest.fixture(scope="module")
def histograms(tmp_path_factory):
    base = tmp_path_factory.mktemp("plots")
    return _synthetic().write_synthetic_histograms(base / "histograms.root", mu=1.1)


def test_plot_histograms_with_missing_sample(tmp_path):
    hpath = _synthetic().write_synthetic_histograms(
        tmp_path / "histograms.root", skip=("4j1b_single_top_tW", "4j2b_ttbar"))
    with pytest.warns(UserWarning):
        paths = plots.plot_histograms(hpath, tmp_path / "plots")
    names = [p.name for p in paths]
    assert "stacked_4j1b.png" in names and "jet_energy_variations_4j2b.png" not in names
    with pytest.raises(FileNotFoundError):
        plots.plot_histograms(tmp_path / "missing.root", tmp_path / "plots")


def test_fit_plots(histograms, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", inference.FitWarning)
        summary = inference.run_fit_and_plots(histograms, tmp_path / "fit")
    assert summary["ttbar_norm"]["value"] == pytest.approx(1.1, rel=0.005)
    # run_fit_and_plots = plot_histograms + plot_fit into output_dir/plots
    paths = [Path(p) for p in summary["plots"]]
    assert [p.name for p in paths] == HISTOGRAM_PLOTS + FIT_PLOTS
    for p in paths:
        assert p.parent == tmp_path / "fit" / "plots"
        assert_png(p)
    # nothing else there (no temporary files left)
    assert sorted(x.name for x in (tmp_path / "fit" / "plots").iterdir()) == sorted(p.name for p in paths)


def test_fit_results_round_trip(histograms, tmp_path):
    """plot_fit also takes (the path of) fit_results.json: the FitResults rebuilt from it
    equal the fit's."""
    import json

    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", inference.FitWarning)
        outcome = inference.run_fit_outcome(histograms, tmp_path)
    summary = json.loads((tmp_path / "fit_results.json").read_text())
    assert "plots" not in summary
    rebuilt = inference.fit_results_from_summary(summary)
    assert rebuilt.labels == outcome.fit_results.labels
    np.testing.assert_array_equal(rebuilt.bestfit, outcome.fit_results.bestfit)
    np.testing.assert_array_equal(rebuilt.uncertainty, outcome.fit_results.uncertainty)
    np.testing.assert_allclose(rebuilt.corr_mat, outcome.fit_results.corr_mat, rtol=0, atol=1e-15)
    assert plots._load_json(tmp_path / "fit_results.json") == summary


def test_fit_region_file_name():
    assert plots.fit_region_file_name("4j2b SR") == "4j2b_SR"
