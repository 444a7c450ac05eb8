"""Tests of rdf_ttbar.inference on a synthetic histograms.root built from a known model."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from rdf_ttbar import inference
from rdf_ttbar.analysis import DEFAULT as ANALYSIS
from rdf_ttbar.analysis import histogram_name, pseudodata_name

FIT_BIN_EDGES = ANALYSIS.fit_histograms[0].fit_edges
N_BINS, X_MIN, X_MAX = (
    ANALYSIS.histograms[0].binning.bins,
    ANALYSIS.histograms[0].binning.low,
    ANALYSIS.histograms[0].binning.high,
)
PROCESSES = ANALYSIS.process_names
SYSTEMATICS = ANALYSIS.systematics
all_histogram_names = ANALYSIS.histogram_names
REGIONS = ANALYSIS.regions

pytest.importorskip("cabinetry")
pytest.importorskip("uproot")

CENTERS = X_MIN + (np.arange(N_BINS) + 0.5) * (X_MAX - X_MIN) / N_BINS
# yields (fit range dominates) and shape (mean, width) per process and region
SHAPES = {
    "ttbar": {"4j1b": (4000.0, 330.0, 90.0), "4j2b": (6000.0, 220.0, 60.0)},
    "single_top_s_chan": {"4j1b": (40.0, 290.0, 90.0), "4j2b": (50.0, 210.0, 80.0)},
    "single_top_t_chan": {"4j1b": (400.0, 280.0, 100.0), "4j2b": (300.0, 260.0, 100.0)},
    "single_top_tW": {"4j1b": (500.0, 300.0, 90.0), "4j2b": (450.0, 225.0, 70.0)},
    "wjets": {"4j1b": (1200.0, 250.0, 110.0), "4j2b": (200.0, 240.0, 120.0)},
}
# relative size of each variation: (slope across the range, normalisation)
VARIATIONS = {
    "pt_scale_up": (0.04, 0.03),
    "pt_res_up": (0.02, 0.01),
    "btag_var_0_up": (0.01, 0.05),
    "btag_var_0_down": (-0.01, -0.05),
    "btag_var_1_up": (0.01, 0.04),
    "btag_var_1_down": (-0.01, -0.04),
    "btag_var_2_up": (0.01, 0.03),
    "btag_var_2_down": (-0.01, -0.03),
    "btag_var_3_up": (0.01, 0.02),
    "btag_var_3_down": (-0.01, -0.02),
    "scale_var_up": (0.0, 0.025),
    "scale_var_down": (0.0, -0.025),
    "scaleup": (0.03, 0.02),
    "scaledown": (-0.02, -0.03),
    "ME_var": (0.05, 0.04),
    "PS_var": (-0.04, -0.03),
}
MC_WEIGHT = 0.05  # variance = weight * content (MC statistics)


def nominal_contents(process: str, region: str) -> np.ndarray:
    """In-range contents (25 bins) of a nominal histogram of the synthetic model."""
    total, mean, width = SHAPES[process][region]
    shape = np.exp(-0.5 * ((CENTERS - mean) / width) ** 2) + 0.02
    return total * shape / shape.sum()


def variation_contents(process: str, region: str, variation: str) -> np.ndarray:
    slope, norm = VARIATIONS[variation]
    x = (CENTERS - 300.0) / 250.0
    return nominal_contents(process, region) * (1.0 + norm) * (1.0 + slope * x)


def fit_binned(contents: np.ndarray) -> np.ndarray:
    """Contents in the fit binning: pairs of 20 GeV bins from 110 GeV."""
    start = int(round((FIT_BIN_EDGES[0] - X_MIN) / ((X_MAX - X_MIN) / N_BINS)))
    return contents[start::2][: len(FIT_BIN_EDGES) - 1] + contents[start + 1 :: 2][: len(FIT_BIN_EDGES) - 1]


def asimov_pseudodata(region: str, mu: float) -> np.ndarray:
    """mu * ttbar + all other processes, nuisance parameters at nominal."""
    return sum((mu if p == "ttbar" else 1.0) * nominal_contents(p, region) for p in PROCESSES)


def write_synthetic_histograms(
    path: Path, *, mu: float = 1.2, empty: tuple = (), skip: tuple = (), overrides: dict | None = None, modify=None
) -> Path:
    """Write all AGC histograms of the synthetic model (TH1D, 25 bins 50-550, flow bins).

    empty: processes whose histograms (all variations) are zero; skip: histogram names not
    written; overrides: name -> in-range contents; modify(name, contents) -> contents.
    Pseudodata = Asimov data at ttbar_norm=mu (of the unmodified model).
    """
    import hist
    import uproot

    overrides = overrides or {}
    contents: dict[str, np.ndarray] = {}
    for name in all_histogram_names():
        region, rest = name.split("_", 1)
        if rest == "pseudodata":
            values = asimov_pseudodata(region, mu)
        else:
            process = next(p for p in sorted(PROCESSES, key=len, reverse=True) if rest == p or rest.startswith(p + "_"))
            variation = rest[len(process) + 1 :]
            values = (
                nominal_contents(process, region) if not variation else variation_contents(process, region, variation)
            )
            if process in empty:
                values = np.zeros(N_BINS)
        values = np.asarray(overrides.get(name, values), dtype=float)
        contents[name] = modify(name, values) if modify is not None else values
    with uproot.recreate(path) as f:
        for name, values in contents.items():
            if name in skip:
                continue
            h = hist.Hist(hist.axis.Regular(N_BINS, X_MIN, X_MAX), storage=hist.storage.Weight())
            view = h.view(flow=True)
            view.value = np.concatenate([[3.0], values, [5.0]])  # some under/overflow
            view.variance = np.concatenate([[3.0], values, [5.0]]) * MC_WEIGHT
            f[name] = h
    return path


@pytest.fixture(scope="module")
def asimov_fit(tmp_path_factory):
    """One full run_fit on the Asimov file (shared by the tests that inspect its output)."""
    base = tmp_path_factory.mktemp("asimov")
    hpath = write_synthetic_histograms(base / "histograms.root", mu=1.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", inference.FitWarning)  # the full model needs no pruning
        summary = inference.run_fit(hpath, base / "fit")
    return hpath, base / "fit", summary


# ---------------------------------------------------------------------------
# configuration


def test_config_validates_and_is_generated_from_tables(tmp_path):
    import cabinetry

    config = inference.cabinetry_config(tmp_path / "h.root")
    assert cabinetry.configuration.validate(config)
    assert [r["Name"] for r in config["Regions"]] == ["4j1b CR", "4j2b SR"]
    for region in config["Regions"]:
        assert region["Binning"] == [110.0 + 40.0 * i for i in range(12)]
    samples = {s["Name"]: s for s in config["Samples"]}
    assert set(samples) == {"Pseudodata", "ttbar", "W+jets", "single top, s-channel", "single top, t-channel", "tW"}
    assert samples["Pseudodata"]["Data"] is True
    assert samples["single top, t-channel"]["SamplePath"] == "single_top_t_chan"
    assert samples["single top, s-channel"]["SamplePath"] == "single_top_s_chan"
    assert config["NormFactors"] == [{"Name": "ttbar_norm", "Samples": "ttbar", "Nominal": 1.0, "Bounds": [0.0, 10.0]}]
    assert config["General"]["POI"] == "ttbar_norm"
    systs = {s["Name"]: s for s in config["Systematics"]}
    assert len(systs) == len(SYSTEMATICS) == 11
    assert systs["ME variation"] == {
        "Name": "ME variation",
        "Type": "NormPlusShape",
        "Up": {"VariationPath": "_ME_var"},
        "Down": {"Symmetrize": True},
        "Samples": ["ttbar"],
    }
    assert systs["tt scale variations"]["Down"] == {"VariationPath": "_scaledown"}
    assert systs["Jet energy scale"]["Down"] == {"Symmetrize": True}
    assert "Samples" not in systs["Jet energy scale"]
    assert systs["b-tag NP 4"]["Up"] == {"VariationPath": "_btag_var_3_up"}
    assert systs["W+jets scale variation"]["Samples"] == ["W+jets"]
    assert systs["Luminosity"] == {
        "Name": "Luminosity",
        "Type": "Normalization",
        "Up": {"Normalization": 0.03},
        "Down": {"Normalization": -0.03},
    }
    assert all(s["Type"] == "NormPlusShape" for n, s in systs.items() if n != "Luminosity")


def test_required_histograms_are_agc_names(tmp_path):
    config = inference.cabinetry_config(tmp_path / "h.root")
    names = inference.required_histograms(config)
    assert set(names) <= set(all_histogram_names())
    for region in REGIONS:
        assert pseudodata_name(region.name) in names
        for p in PROCESSES:
            assert histogram_name(region.name, p) in names
            assert histogram_name(region.name, p, "pt_res_up") in names
        assert f"{region.name}_ttbar_PS_var" in names
        assert f"{region.name}_wjets_scale_var_down" in names
        assert f"{region.name}_ttbar_scale_var_up" not in names  # W+jets only
        assert f"{region.name}_ttbar_pt_scale_down" not in names  # symmetrised


# ---------------------------------------------------------------------------
# rebinning


def test_merge_bins_exact():
    edges = np.linspace(X_MIN, X_MAX, N_BINS + 1)
    values = np.random.default_rng(1).uniform(0, 10, N_BINS)
    merged, merged_var = inference.merge_bins(values, 2 * values, edges, FIT_BIN_EDGES)
    expected = np.array([values[3 + 2 * i] + values[4 + 2 * i] for i in range(11)])
    assert np.array_equal(merged, expected)
    assert np.array_equal(merged_var, 2 * expected)
    with pytest.raises(inference.FitError, match="not a bin edge"):
        inference.merge_bins(values, values, edges, [115.0, 155.0])


def test_templates_are_merged_bin_pairs(asimov_fit):
    hpath, _, _ = asimov_fit
    import uproot

    with uproot.open(hpath) as f:
        original = f["4j2b_single_top_tW_btag_var_2_down"]
        values = original.values(flow=False)
        variances = original.variances(flow=False)
    h = inference.rebinned_histogram(hpath, "4j2b_single_top_tW_btag_var_2_down", FIT_BIN_EDGES)
    assert list(h.axes[0].edges) == list(FIT_BIN_EDGES)
    expected = [values[3 + 2 * i] + values[4 + 2 * i] for i in range(11)]
    assert list(h.values()) == expected  # exact: 110-150, ..., 510-550, no flow
    assert list(h.variances()) == [variances[3 + 2 * i] + variances[4 + 2 * i] for i in range(11)]
    # the same as the AGC's router: hist slicing [110j::hist.rebin(2)]
    import hist

    with uproot.open(hpath) as f:
        agc = f["4j2b_single_top_tW_btag_var_2_down"].to_hist()[110j :: hist.rebin(2)]
    assert list(agc.axes[0].edges) == list(FIT_BIN_EDGES)
    np.testing.assert_array_equal(h.values(), agc.values())
    np.testing.assert_array_equal(h.variances(), agc.variances())


def test_workspace_samples_read_their_own_histograms(asimov_fit):
    """t-channel and s-channel differ in the input; each channel of the workspace must
    hold the fit-binned nominal of its own process (the AGC config read s-chan twice)."""
    import pyhf

    _, outdir, _ = asimov_fit
    spec = json.loads((outdir / "workspace.json").read_text())
    pyhf.schema.validate(spec, "workspace.json")
    ws = pyhf.Workspace(spec)
    assert ws.channels == ["4j1b CR", "4j2b SR"]
    for channel in spec["channels"]:
        region = channel["name"].split()[0]
        samples = {s["name"]: s["data"] for s in channel["samples"]}
        for process, label in inference.sample_labels(ANALYSIS).items():
            np.testing.assert_allclose(samples[label], fit_binned(nominal_contents(process, region)), rtol=1e-12)
        assert not np.allclose(samples["single top, t-channel"], samples["single top, s-channel"])
    observations = {o["name"]: o["data"] for o in spec["observations"]}
    np.testing.assert_allclose(observations["4j1b CR"], fit_binned(asimov_pseudodata("4j1b", 1.2)), rtol=1e-12)


def test_workspace_modifiers(asimov_fit):
    _, outdir, _ = asimov_fit
    spec = json.loads((outdir / "workspace.json").read_text())
    for channel in spec["channels"]:
        for sample in channel["samples"]:
            mods = {(m["name"], m["type"]): m for m in sample["modifiers"]}
            names = {n for n, _ in mods}
            assert ("Luminosity", "normsys") in mods
            assert mods[("Luminosity", "normsys")]["data"] == {"hi": 1.03, "lo": 0.97}
            assert ("Jet energy scale", "histosys") in mods
            assert ("b-tag NP 1", "normsys") in mods
            assert ("ttbar_norm" in names) == (sample["name"] == "ttbar")
            assert ("ME variation" in names) == (sample["name"] == "ttbar")
            assert ("W+jets scale variation" in names) == (sample["name"] == "W+jets")
            if sample["name"] == "ttbar":
                region = channel["name"].split()[0]
                ratio = (
                    fit_binned(variation_contents("ttbar", region, "ME_var")).sum()
                    / fit_binned(nominal_contents("ttbar", region)).sum()
                )
                me = mods[("ME variation", "normsys")]["data"]
                assert me["hi"] == pytest.approx(ratio) and me["lo"] == pytest.approx(2 - ratio)
    assert spec["measurements"][0]["config"]["poi"] == "ttbar_norm"


# ---------------------------------------------------------------------------
# fit


def test_asimov_fit_recovers_ttbar_norm(asimov_fit):
    _, outdir, summary = asimov_fit
    mu = summary["ttbar_norm"]["value"]
    assert mu == pytest.approx(1.2, rel=0.005)
    assert 0 < summary["ttbar_norm"]["uncertainty"] < 0.2
    assert summary["converged"] is True
    on_disk = json.loads((outdir / "fit_results.json").read_text())
    assert on_disk["ttbar_norm"] == summary["ttbar_norm"]
    assert not list(outdir.glob(".cabinetry-templates-*"))  # templates cleaned up
    assert not list(outdir.glob(".*.tmp"))


def test_fit_results_content(asimov_fit):
    _, _, summary = asimov_fit
    params = {p["name"]: p for p in summary["parameters"]}
    assert "ttbar_norm" in params and params["ttbar_norm"]["constrained"] is False
    assert "pull" not in params["ttbar_norm"]
    for name in ("Luminosity", "ME variation", "b-tag NP 4", "Jet energy resolution"):
        assert params[name]["constrained"]
        assert abs(params[name]["pull"]) < 0.05  # Asimov: no pulls
        assert 0 < params[name]["pull_uncertainty"] <= 1.0 + 1e-6
    assert any(n.startswith("staterror_") for n in params)
    assert np.isfinite(summary["best_twice_nll"])
    for key in ("prefit_yields", "postfit_yields"):
        yields = summary[key]
        assert set(yields) == {"4j1b CR", "4j2b SR"}
        for region, y in yields.items():
            assert set(y["samples"]) == set(inference.sample_labels(ANALYSIS).values())
            assert y["total"] == pytest.approx(sum(y["samples"].values()))
            assert len(y["bins"]["total"]) == 11 and y["bins"]["edges"] == list(FIT_BIN_EDGES)
            assert y["total_uncertainty"] > 0
    pre, post = summary["prefit_yields"]["4j2b SR"], summary["postfit_yields"]["4j2b SR"]
    assert post["samples"]["ttbar"] == pytest.approx(1.2 * pre["samples"]["ttbar"], rel=0.005)
    assert post["total"] == pytest.approx(post["data"], rel=1e-3)
    n = len(summary["correlations"]["labels"])
    assert np.asarray(summary["correlations"]["matrix"]).shape == (n, n)


# ---------------------------------------------------------------------------
# errors and degenerate inputs


def test_missing_file(tmp_path):
    with pytest.raises(inference.FitError, match="does not exist.*Fix"):
        inference.run_fit(tmp_path / "nope.root", tmp_path / "out")


def test_unreadable_file(tmp_path):
    bad = tmp_path / "histograms.root"
    bad.write_bytes(b"this is not a ROOT file")
    with pytest.raises(inference.FitError, match="cannot read histograms file"):
        inference.run_fit(bad, tmp_path / "out")


def test_missing_histograms_are_listed(tmp_path):
    skip = ("4j1b_single_top_t_chan", "4j2b_ttbar_btag_var_3_down", "4j2b_pseudodata")
    hpath = write_synthetic_histograms(tmp_path / "histograms.root", skip=skip)
    with pytest.raises(inference.FitError) as err:
        inference.run_fit(hpath, tmp_path / "out")
    msg = str(err.value)
    assert "lacks 3 histogram(s)" in msg
    for name in skip:
        assert name in msg
    assert not (tmp_path / "out" / "workspace.json").exists()


def test_empty_sample_is_dropped_and_fit_runs(tmp_path):
    hpath = write_synthetic_histograms(tmp_path / "histograms.root", mu=1.0, empty=("single_top_s_chan",))
    with pytest.warns(inference.FitWarning, match="s-channel"):
        summary = inference.run_fit(hpath, tmp_path / "out")
    assert summary["dropped_samples"] == ["single top, s-channel"]
    spec = json.loads((tmp_path / "out" / "workspace.json").read_text())
    for channel in spec["channels"]:
        assert "single top, s-channel" not in {s["name"] for s in channel["samples"]}
    # the data still contain s-chan's (now missing) contribution: ttbar absorbs it
    assert summary["ttbar_norm"]["value"] == pytest.approx(1.0, abs=0.05)


def test_sample_empty_in_one_region(tmp_path):
    overrides = {name: np.zeros(N_BINS) for name in all_histogram_names() if name.startswith("4j2b_wjets")}
    hpath = write_synthetic_histograms(tmp_path / "histograms.root", overrides=overrides)
    with pytest.warns(inference.FitWarning, match="W\\+jets' has no events in region '4j2b SR'"):
        summary = inference.run_fit(hpath, tmp_path / "out")
    assert summary["dropped_samples"] == []
    spec = json.loads((tmp_path / "out" / "workspace.json").read_text())
    samples = {c["name"]: {s["name"] for s in c["samples"]} for c in spec["channels"]}
    assert "W+jets" in samples["4j1b CR"] and "W+jets" not in samples["4j2b SR"]
    assert np.isfinite(summary["ttbar_norm"]["value"])


def test_empty_ttbar_is_an_error(tmp_path):
    hpath = write_synthetic_histograms(tmp_path / "histograms.root", empty=("ttbar",))
    with pytest.raises(inference.FitError, match="ttbar sample has no events.*Fix"):
        inference.run_fit(hpath, tmp_path / "out")


def test_cli_fit_subcommand(tmp_path, capsys):
    import argparse

    from rdf_ttbar.cli import fit as fit_command

    hpath = write_synthetic_histograms(tmp_path / "histograms.root", mu=1.2)
    parser = fit_command.add_fit_arguments(argparse.ArgumentParser())
    args = parser.parse_args([str(hpath), "--no-plots"])
    assert args.output_dir is None and args.no_plots
    assert fit_command.fit_only_main(args) == 0
    out = capsys.readouterr().out
    assert "ttbar_norm = 1.2" in out
    assert (tmp_path / "fit_results.json").exists() and (tmp_path / "workspace.json").exists()

    args = parser.parse_args([str(tmp_path / "missing.root"), "--output-dir", str(tmp_path / "o")])
    assert fit_command.fit_only_main(args) == 2
    assert "does not exist" in capsys.readouterr().err
    # rdf_ttbar.cli's subcommand interface: add_arguments(parser), main(args)
    assert fit_command.add_arguments is fit_command.add_fit_arguments
    assert fit_command.main([str(tmp_path / "missing.root"), "--no-plots"]) == 2


def test_fit_error_is_a_user_error():
    from rdf_ttbar.errors import UserError

    assert issubclass(inference.FitError, UserError)


def test_empty_variation_modifier_is_removed(tmp_path):
    """A variation with no events where the nominal has some (few-event inputs) gives an
    ill-defined normsys (factor 0) and histosys (0/0): it is removed with a warning."""
    hpath = write_synthetic_histograms(
        tmp_path / "histograms.root", overrides={"4j1b_single_top_s_chan_btag_var_0_up": np.zeros(N_BINS)}
    )
    with pytest.warns(inference.FitWarning, match="b-tag NP 1.*single top, s-channel.*4j1b CR"):
        summary = inference.run_fit(hpath, tmp_path / "out")
    spec = json.loads((tmp_path / "out" / "workspace.json").read_text())
    for channel in spec["channels"]:
        for sample in channel["samples"]:
            names = {m["name"] for m in sample["modifiers"]}
            broken = channel["name"] == "4j1b CR" and sample["name"] == "single top, s-channel"
            assert ("b-tag NP 1" in names) == (not broken)
    assert summary["ttbar_norm"]["value"] == pytest.approx(1.2, rel=0.01)


def test_data_without_prediction_is_an_error(tmp_path):
    """Pseudo-data in a bin where every sample is empty: clear error instead of a failed fit."""

    def empty_last_bins(name, values):
        if name.startswith("4j2b_") and name != "4j2b_pseudodata":
            values = values.copy()
            values[-2:] = 0.0  # 510-550 GeV
        return values

    hpath = write_synthetic_histograms(tmp_path / "histograms.root", modify=empty_last_bins)
    with pytest.raises(inference.FitError, match=r"4j2b SR' bins \[510, 550\).*Fix"):
        inference.run_fit(hpath, tmp_path / "out")
