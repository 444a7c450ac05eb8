"""The synthetic demo set (rdf_ttbar.inputs.demo): format, reproducibility, realism, caching, atomicity.

Realism is checked with a small independent uproot/awkward implementation of
the selection (spec "Selection", "Regions and observables") against the
spec's table of real region fractions and observable means.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from conftest import branch_ratios_json, real_ttbar_file
from rdf_ttbar.analysis import DEFAULT as ANALYSIS
from rdf_ttbar.cli import generate
from rdf_ttbar.errors import UserError
from rdf_ttbar.inputs import branch_lists, demo

SAMPLES = [demo.sample_name(p, v) for p, v in ANALYSIS.samples]
# spec table: fraction [%] in 4j1b, in 4j2b, mean HT (4j1b), mean m_bjj (4j2b), means over 50-550 GeV
REAL = {
    "ttbar__nominal": (10.4, 20.6, 329, 219),
    "ttbar__scaledown": (10.2, 19.4, 326, 218),
    "ttbar__scaleup": (10.4, 21.4, 331, 220),
    "ttbar__ME_var": (10.9, 21.3, 343, 225),
    "ttbar__PS_var": (10.9, 19.4, 323, 211),
    "single_top_s_chan__nominal": (4.2, 7.2, 287, 210),
    "single_top_t_chan__nominal": (5.3, 5.8, 282, 255),
    "single_top_tW__nominal": (11.9, 11.0, 302, 226),
    "wjets__nominal": (0.53, 0.14, 247, 239),
}


def make_set(path: Path, n: int, **kwargs) -> Path:
    return demo.generate(path, n, progress=False, **kwargs)


def sample_files(inputs_json: Path, sample: str) -> list[str]:
    process, variation = sample.split("__")
    return [f["path"] for f in json.loads(inputs_json.read_text())[process][variation]["files"]]


def read(inputs_json: Path, sample: str, branches=None) -> ak.Array:
    return uproot.concatenate([f + ":Events" for f in sample_files(inputs_json, sample)], branches, library="ak")


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    """20k events per sample in files of 8k events, 2 threads."""
    return make_set(tmp_path_factory.mktemp("small") / "set", 20_000, events_per_file=8_000, threads=2)


@pytest.fixture(scope="module")
def realism_set(tmp_path_factory) -> Path:
    return make_set(tmp_path_factory.mktemp("realism") / "set", 60_000, threads=2)


# ---------------------------------------------------------------------------
# format
# ---------------------------------------------------------------------------
def test_inputs_json_lists_every_file_with_its_true_event_count(small_set):
    content = json.loads(small_set.read_text())
    assert {(p, v) for p in content for v in content[p]} == set(ANALYSIS.samples)
    for process, variations in content.items():
        for variation, entry in variations.items():
            files = entry["files"]
            assert len(files) == 3  # 8k + 8k + 4k
            for f in files:
                assert Path(f["path"]).is_absolute() and Path(f["path"]).parent == small_set.parent
                assert uproot.open(f["path"])["Events"].num_entries == f["nevts"]
            assert sum(f["nevts"] for f in files) == entry["nevts_total"] == 20_000


def test_branch_types_are_those_of_the_real_files(small_set):
    real = uproot.open(real_ttbar_file())["Events"]
    demo_tree = uproot.open(sample_files(small_set, "ttbar__nominal")[0])["Events"]
    nanoaod = [name for name in demo_tree.keys() if name not in demo.TRUTH_BRANCHES]  # truth: demo only
    assert set(nanoaod) <= set(real.keys()) and "Jet_qgl" in nanoaod
    assert set(demo.TRUTH_BRANCHES) <= set(demo_tree.keys()) and not set(demo.TRUTH_BRANCHES) & set(real.keys())
    for name in nanoaod:
        assert demo_tree[name].typename == real[name].typename, name
    expected = {
        "nJet": "uint32_t",
        "Jet_pt": "float[]",
        "Jet_jetId": "int32_t[]",
        "Jet_qgl": "float[]",
        "Jet_truthParton": "int32_t[]",
        "Muon_tightId": "bool[]",
        "Electron_cutBased": "int32_t[]",
        "MET_pt": "float",
        "genWeight": "float",
        "run": "uint32_t",
        "luminosityBlock": "uint32_t",
        "event": "uint64_t",
    }
    assert {k: demo_tree[k].typename for k in expected} == expected


def test_root_reads_the_files_with_nanoaod_column_types(small_set):
    import ROOT

    df = ROOT.RDataFrame("Events", sample_files(small_set, "ttbar__nominal"))
    columns = ("nJet", "Jet_pt", "Jet_jetId", "Jet_qgl", "Jet_truthParton", "Muon_tightId", "event")
    types = {c: df.GetColumnType(c) for c in columns}
    assert types == {
        "nJet": "UInt_t",
        "Jet_pt": "ROOT::VecOps::RVec<Float_t>",
        "Jet_jetId": "ROOT::VecOps::RVec<Int_t>",
        "Jet_qgl": "ROOT::VecOps::RVec<Float_t>",
        "Jet_truthParton": "ROOT::VecOps::RVec<Int_t>",
        "Muon_tightId": "ROOT::VecOps::RVec<Bool_t>",
        "event": "ULong64_t",
    }
    n_jets = df.Sum("nJet")
    check = df.Filter("Jet_pt.size() == nJet && Jet_qgl.size() == nJet && Jet_truthParton.size() == nJet").Count()
    assert check.GetValue() == df.Count().GetValue() == 20_000
    assert n_jets.GetValue() > 20_000 * 4


def test_files_are_split_into_clusters_of_10k_events(realism_set):
    # RDataFrame's threads split the input by cluster: one cluster per file would leave cores idle
    (path,) = sample_files(realism_set, "ttbar__nominal")
    with uproot.open(path) as f:
        assert f["Events"].common_entry_offsets() == list(range(0, 60_001, 10_000))


def test_events_are_unique_and_jets_sorted(small_set):
    for sample in ("ttbar__nominal", "wjets__nominal"):
        a = read(small_set, sample, ["event", "Jet_pt"])
        assert len(np.unique(a.event.to_numpy())) == 20_000
        assert ak.all(a.Jet_pt[:, :-1] >= a.Jet_pt[:, 1:])
        assert ak.all(a.Jet_pt >= 15)


# ---------------------------------------------------------------------------
# reproducibility
# ---------------------------------------------------------------------------
def _content(inputs_json: Path, sample: str) -> ak.Array:
    return read(inputs_json, sample)


def test_same_content_whatever_threads_and_file_split(small_set, tmp_path):
    other = make_set(tmp_path / "one-thread", 20_000, events_per_file=20_000, threads=1)
    for sample in SAMPLES:
        a, b = _content(small_set, sample), _content(other, sample)
        assert a.fields == b.fields
        for field in a.fields:
            assert ak.all(a[field] == b[field]), (sample, field)


def test_seed_changes_content_and_same_seed_repeats_it(small_set, tmp_path):
    again = make_set(tmp_path / "again", 2_000, threads=1)
    other = make_set(tmp_path / "other", 2_000, seed=2, threads=1)
    first = _content(small_set, "ttbar__nominal")[:2_000]
    assert ak.all(_content(again, "ttbar__nominal").Jet_pt == first.Jet_pt)
    assert not ak.all(ak.num(_content(other, "ttbar__nominal").Jet_pt) == ak.num(first.Jet_pt))


# ---------------------------------------------------------------------------
# realism: an independent implementation of the selection
# ---------------------------------------------------------------------------
def regions(a: ak.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Masks of 4j1b / 4j2b events, HT in 4j1b, m_bjj in 4j2b (nominal jet pT)."""
    n_lep = ak.sum(a.Electron_pt > 25, axis=1) + ak.sum(a.Muon_pt > 25, axis=1)
    jets = ak.zip({k: a[f"Jet_{k}"] for k in ("pt", "eta", "phi", "mass", "btagCSVV2")})
    jets = jets[jets.pt > 25]
    n_b = ak.sum(jets.btagCSVV2 > 0.5, axis=1)
    base = (n_lep == 1) & (ak.num(jets) >= 4)
    in_1b, in_2b = (base & (n_b == 1)).to_numpy(), (base & (n_b >= 2)).to_numpy()
    ht = ak.sum(ak.values_astype(jets.pt[in_1b], np.float64), axis=1).to_numpy()
    j = jets[in_2b]
    pt, eta, phi, m = (ak.values_astype(j[k], np.float64) for k in ("pt", "eta", "phi", "mass"))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    c = ak.argcombinations(pt, 3)
    tri = [(x[c["0"]] + x[c["1"]] + x[c["2"]]) for x in (px, py, pz, e)]
    tagged = j.btagCSVV2 > 0.5
    has_b = tagged[c["0"]] | tagged[c["1"]] | tagged[c["2"]]
    best = ak.argmax(ak.where(has_b, np.hypot(tri[0], tri[1]), -1.0), axis=1, keepdims=True)
    mass2 = tri[3] ** 2 - tri[0] ** 2 - tri[1] ** 2 - tri[2] ** 2
    mbjj = ak.flatten(np.sqrt(np.maximum(mass2, 0))[best]).to_numpy()
    return in_1b, in_2b, ht, mbjj


@pytest.fixture(scope="module")
def measured(realism_set) -> dict:
    """Per sample: (frac 4j1b %, frac 4j2b %, mean HT, mean m_bjj, n_1b, n_2b, m_bjj values)."""
    out = {}
    for sample in SAMPLES:
        a = read(
            realism_set, sample, ["Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "Jet_btagCSVV2", "Electron_pt", "Muon_pt"]
        )
        in_1b, in_2b, ht, mbjj = regions(a)
        ht, window = ht[(ht >= 50) & (ht < 550)], mbjj[(mbjj >= 50) & (mbjj < 550)]
        out[sample] = (100 * in_1b.mean(), 100 * in_2b.mean(), ht.mean(), window.mean(), in_1b.sum(), in_2b.sum(), mbjj)
    return out


@pytest.mark.parametrize("sample", SAMPLES)
def test_region_fractions_and_means_near_the_real_samples(measured, sample):
    f1, f2, ht, mbjj, n1, n2, _ = measured[sample]
    r1, r2, rht, rmbjj = REAL[sample]
    # spec targets (25% on fractions, 15% on means) widened by 3 standard deviations of the demo statistics
    assert abs(f1 / r1 - 1) < 0.25 + 3 / np.sqrt(n1)
    assert abs(f2 / r2 - 1) < 0.25 + 3 / np.sqrt(n2)
    assert abs(ht / rht - 1) < 0.15 + 3 * 0.4 / np.sqrt(n1)
    assert abs(mbjj / rmbjj - 1) < 0.15 + 3 * 0.5 / np.sqrt(n2)


def test_ttbar_mbjj_peaks_at_the_top_mass(measured):
    counts, edges = np.histogram(measured["ttbar__nominal"][6], bins=25, range=(50, 550))
    peak = edges[np.argmax(counts)] + 10
    assert 150 <= peak <= 200


def test_ttbar_variations_move_like_the_real_ones(measured):
    nominal = measured["ttbar__nominal"]
    # the larger shifts of the spec table: PS_var softer m_bjj and fewer 4j2b, ME_var harder HT
    assert measured["ttbar__PS_var"][3] < nominal[3]
    assert measured["ttbar__PS_var"][1] < nominal[1]
    assert measured["ttbar__PS_var"][0] > nominal[0]
    assert measured["ttbar__ME_var"][2] > nominal[2]
    assert measured["ttbar__scaledown"][1] < nominal[1] < measured["ttbar__scaleup"][1]


# ---------------------------------------------------------------------------
# --full: the branches of the AGC I/O-only benchmark
# ---------------------------------------------------------------------------
def test_real_shares_match_the_agc_branch_ratios():
    ratios = json.loads(branch_ratios_json().read_text())
    for name, share in branch_lists.REAL_SHARE.items():
        assert share == pytest.approx(ratios[name], rel=0.01), name
    assert branch_lists.BRANCHES_BY_PERCENT[2.7] == [
        "Jet_pt",
        "Jet_eta",
        "Jet_phi",
        "Jet_btagCSVV2",
        "Jet_mass",
        "Muon_pt",
        "Electron_pt",
    ]


def test_full_set_has_the_io_branches_with_their_real_types_and_sizes(tmp_path):
    inputs = make_set(tmp_path / "full", 5_000, full=True, threads=2)
    tree = uproot.open(sample_files(inputs, "ttbar__nominal")[0])["Events"]
    real = uproot.open(real_ttbar_file())["Events"]
    for name in branch_lists.BRANCHES_BY_PERCENT[50] + list(branch_lists.EXTRA_COUNTERS):
        assert tree[name].typename == real[name].typename, name
    for percent, names in branch_lists.BRANCHES_BY_PERCENT.items():
        demo_bytes = sum(tree[b].compressed_bytes for b in names) / tree.num_entries
        real_bytes = sum(branch_lists.REAL_SHARE[b] for b in names) * branch_lists.REAL_BYTES_PER_EVENT
        assert 0.75 < demo_bytes / real_bytes < 1.5, percent


# ---------------------------------------------------------------------------
# the cache, atomicity, command line
# ---------------------------------------------------------------------------
def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("RDF_TTBAR_CACHE", str(tmp_path / "c"))
    assert demo.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RDF_TTBAR_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert demo.default_cache_dir() == tmp_path / "x" / "rdf_ttbar"


def test_ensure_demo_set_reuses_and_regenerates_on_version_change(monkeypatch, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="rdf_ttbar.inputs.demo"):
        first = demo.ensure_demo_set(tmp_path, 500, seed=3, progress=False)
    assert first.parent.name == f"demo-v{demo.GENERATOR_VERSION}-s3-n500" and first.is_file()
    assert "generating" in caplog.text

    def no_generation(*args, **kwargs):
        raise AssertionError("regenerated a complete set")

    with monkeypatch.context() as m:
        m.setattr(demo, "_generate", no_generation)
        assert demo.ensure_demo_set(tmp_path, 500, seed=3, progress=False) == first
        # a set written with another split into files is good too, unless a split is asked for
        assert (
            demo.ensure_demo_set(tmp_path, 500, seed=3, events_per_file=demo.DEFAULT_EVENTS_PER_FILE, progress=False)
            == first
        )
    assert demo.ensure_demo_set(tmp_path, 500, seed=3, events_per_file=250, progress=False) == first
    assert len(json.loads(first.read_text())["ttbar"]["nominal"]["files"]) == 2
    with monkeypatch.context() as m:
        m.setattr(demo, "_generate", no_generation)
        assert demo.ensure_demo_set(tmp_path, 500, seed=3, progress=False) == first

    monkeypatch.setattr(demo, "GENERATOR_VERSION", demo.GENERATOR_VERSION + 1)
    second = demo.ensure_demo_set(tmp_path, 500, seed=3, progress=False)
    assert second.parent.name == f"demo-v{demo.GENERATOR_VERSION}-s3-n500" and second.is_file()
    assert not first.parent.exists()  # the old version was removed


def test_failed_generation_leaves_nothing_that_looks_complete(monkeypatch, tmp_path):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "inputs_json", fail)  # after the ROOT files are written
    with pytest.raises(RuntimeError, match="disk full"):
        make_set(tmp_path / "set", 500, threads=1)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="disk full"):
        demo.ensure_demo_set(tmp_path / "cache", 500, progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


def test_existing_folder_that_is_not_a_demo_set_is_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(UserError, match="not a demo set"):
        make_set(tmp_path / "mine", 100)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_command_line_generates_into_output_dir(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    generate.add_arguments(parser)
    args = parser.parse_args(
        [
            "--output-dir",
            str(tmp_path / "cli"),
            "--events-per-sample",
            "300",
            "--events-per-file",
            "100",
            "--seed",
            "5",
            "--mt",
            "1",
        ]
    )
    assert generate.main(args) == 0
    inputs = tmp_path / "cli" / demo.INPUTS_JSON
    assert str(inputs) in capsys.readouterr().out
    assert len(json.loads(inputs.read_text())["wjets"]["nominal"]["files"]) == 3
    # an earlier demo set in the output folder is replaced
    assert generate.main(parser.parse_args(["--output-dir", str(tmp_path / "cli"), "--events-per-sample", "200"])) == 0
    assert json.loads(inputs.read_text())["wjets"]["nominal"]["nevts_total"] == 200
