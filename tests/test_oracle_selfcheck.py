"""Self-checks of the independent oracle (tests/oracle.py) against hand-derived values
and against a second, scalar pure-Python implementation of the recipe.

Nothing here uses rdf_ttbar or ROOT.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter

import numpy as np
import pytest
import uproot

import edge_cases
import oracle
from conftest import real_ttbar_file, reference_json
from edge_cases import EDGE_EVENTS, EDGE_EVENTS_EXPECTED
from helpers import N_HISTOGRAMS

REGION_CODE = {None: 0, "4j1b": 1, "4j2b": 2}
NAMES = edge_cases.edge_event_names()


# ------------------------------------------------------------- scalar reference code
MASK64 = 2**64 - 1


def splitmix64_scalar(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def resolution_factor_scalar(run: int, lumi: int, event: int, j: int) -> float:
    key = splitmix64_scalar(splitmix64_scalar(splitmix64_scalar(run) ^ lumi) ^ event)
    k1 = splitmix64_scalar(key ^ j)
    k2 = splitmix64_scalar(k1)
    u1 = ((k1 >> 11) + 0.5) * 2.0**-53
    u2 = ((k2 >> 11) + 0.5) * 2.0**-53
    return 1.0 + 0.05 * (math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2))


def f32(x) -> float:
    return float(np.float32(x))


def analyse_scalar(ev: dict, pts: list[float]):
    """Per-event brute force (Python loops): (region code, observable or None, selected pts)."""
    n_lep = sum(p > 25 for p in ev["ele"]) + sum(p > 25 for p in ev["mu"])
    sel = [(pt, j) for pt, j in zip(pts, ev["jets"]) if pt > 25]
    n_b = sum(j[4] > 0.5 for _, j in sel)
    if n_lep != 1 or len(sel) < 4 or n_b < 1:
        return 0, None, [pt for pt, _ in sel]
    if n_b == 1:
        ht = 0.0
        for pt, _ in sel:
            ht += pt
        return 1, ht, [pt for pt, _ in sel]
    best_pt, best_m = -1.0, None
    for combo in itertools.combinations(sel, 3):
        if not any(j[4] > 0.5 for _, j in combo):
            continue
        px = py = pz = e = 0.0
        for pt, (_, eta, phi, mass, _) in combo:
            jx, jy, jz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
            px, py, pz, e = px + jx, py + jy, pz + jz, e + math.sqrt(jx * jx + jy * jy + jz * jz + mass * mass)
        tpt = math.hypot(px, py)
        if tpt > best_pt:
            best_pt, best_m = tpt, math.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0))
    return 2, best_m, [pt for pt, _ in sel]


def random_events(n=400, seed=7):
    """Random NanoAOD-like events (all values float32-exact), many passing the selection."""
    rng = np.random.default_rng(seed)
    events = []
    for i in range(n):
        nj = int(rng.integers(0, 10))
        pt = np.float32(rng.choice([25.0, 24.5, 0.0], nj, p=[0.05, 0.05, 0.9]))
        pt = np.where(pt == 0, np.float32(18 + rng.exponential(45, nj)), pt).astype(np.float32)
        btag = rng.uniform(0, 1, nj).astype(np.float32)
        btag[rng.uniform(0, 1, nj) < 0.05] = 0.5
        eta = rng.uniform(-2.4, 2.4, nj).astype(np.float32)
        phi = rng.uniform(-math.pi, math.pi, nj).astype(np.float32)
        mass = rng.uniform(0, 20, nj).astype(np.float32)
        jets = [tuple(float(v) for v in t) for t in zip(pt, eta, phi, mass, btag)]

        def lep():
            return [f32(x) for x in rng.choice([25.0, 20.0, 40.0], int(rng.choice([0, 1, 1, 1, 2])))]

        ele, mu = (lep(), []) if rng.uniform() < 0.5 else ([], lep())
        ids = (int(rng.integers(1, 2**32)), int(rng.integers(1, 2**32)), int(rng.integers(0, 2**63)) * 2 + 1)
        events.append(dict(name=f"random_{i}", purpose="random", jets=jets, ele=ele, mu=mu, ids=ids))
    return events


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def edge_file(tmp_path_factory):
    return edge_cases.write_edge_case_file(tmp_path_factory.mktemp("edge") / "edge.root")


@pytest.fixture(scope="module")
def random_file(tmp_path_factory):
    events = random_events()
    path = edge_cases.write_events_file(tmp_path_factory.mktemp("rnd") / "random.root", events)
    return path, events


# ------------------------------------------------------------------- edge-case file
def test_edge_file_types_match_real_file(edge_file):
    real = uproot.open(real_ttbar_file())["Events"]
    edge = uproot.open(edge_file)["Events"]
    assert edge.num_entries == len(EDGE_EVENTS)
    for name in edge.keys():
        if name in ("nJet", "nElectron", "nMuon"):
            # uproot writes int32 counters; the real file has uint32 (documented in edge_cases)
            assert edge[name].typename == "int32_t" and real[name].typename == "uint32_t"
        else:
            assert edge[name].typename == real[name].typename, name
    for coll in ("Jet", "Electron", "Muon"):
        assert edge[f"{coll}_pt"].count_branch.name == f"n{coll}"


def test_edge_expectations_cover_every_event():
    assert set(EDGE_EVENTS_EXPECTED) == set(NAMES) and len(NAMES) == len(set(NAMES))


@pytest.mark.parametrize("variation,key", [("nominal", "region"), ("pt_scale_up", "region_pt_scale_up")])
def test_edge_regions(edge_file, variation, key):
    got = oracle.event_observables([edge_file], variation)["region"]
    expected = [REGION_CODE[EDGE_EVENTS_EXPECTED[n][key]] for n in NAMES]
    assert dict(zip(NAMES, got.tolist())) == dict(zip(NAMES, expected))


def test_edge_observables_and_bins(edge_file):
    res = oracle.event_observables([edge_file])
    for i, name in enumerate(NAMES):
        exp = EDGE_EVENTS_EXPECTED[name]
        if "sel_pt" in exp:
            lead = exp["sel_pt"][:4] + [math.nan] * (4 - len(exp["sel_pt"][:4]))
            np.testing.assert_array_equal(res["lead_pt"][i], lead, err_msg=name)
            assert res["n_jets"][i] == len(exp["sel_pt"]), name
        if "ht" in exp:
            assert res["observable"][i] == exp["ht"], name  # exact: float32-exact pts
        if "mbjj" in exp:
            assert res["observable"][i] == pytest.approx(exp["mbjj"], rel=1e-9, abs=1e-6), name
        if "bin" in exp:
            assert oracle.bin_index(res["observable"][i]) == exp["bin"], name
        if exp["region"] is None:
            assert math.isnan(res["observable"][i]), name


def test_bin_index_th1d_semantics():
    x = [-1.0, 49.999, 50.0, 69.999, 70.0, 110.0, 549.999, 550.0, 1e9, math.nan]
    assert oracle.bin_index(x).tolist() == [0, 0, 1, 1, 2, 4, 25, 26, 26, 26]


def test_edge_histograms_by_hand(edge_file):
    w = 2.5
    hists = oracle.sample_histograms([edge_file], "wjets", "nominal", w)
    suffixes = (
        ["", "_pt_scale_up", "_pt_res_up"]
        + [f"_btag_var_{i}_{d}" for i in range(4) for d in ("up", "down")]
        + ["_scale_var_up", "_scale_var_down"]
    )
    assert set(hists) == {f"{r}_wjets{s}" for r in ("4j1b", "4j2b") for s in suffixes}
    for region in ("4j1b", "4j2b"):
        evs = [e for e in EDGE_EVENTS_EXPECTED.values() if e["region"] == region]
        counts = Counter(e["bin"] for e in evs if "bin" in e)
        nominal = hists[f"{region}_wjets"]
        assert nominal.sumw.sum() == pytest.approx(w * len(evs))
        assert nominal.sumw2.sum() == pytest.approx(w * w * len(evs))
        for b, c in counts.items():
            assert nominal.sumw[b] >= w * c  # hand-binned events are there (others may share bins)
        for i in range(4):
            shifts = [0.075 * e["sel_pt"][i] / 50 for e in evs]
            up, down = hists[f"{region}_wjets_btag_var_{i}_up"], hists[f"{region}_wjets_btag_var_{i}_down"]
            assert up.sumw.sum() == pytest.approx(sum(w * (1 + s) for s in shifts), rel=1e-12)
            assert down.sumw.sum() == pytest.approx(sum(w * (1 - s) for s in shifts), rel=1e-12)
            assert up.sumw2.sum() == pytest.approx(sum((w * (1 + s)) ** 2 for s in shifts), rel=1e-12)
        for d, f in (("up", 1.025), ("down", 0.975)):
            np.testing.assert_allclose(hists[f"{region}_wjets_scale_var_{d}"].sumw, f * nominal.sumw, rtol=1e-14)
        n_scale = sum(e["region_pt_scale_up"] == region for e in EDGE_EVENTS_EXPECTED.values())
        assert hists[f"{region}_wjets_pt_scale_up"].sumw.sum() == pytest.approx(w * n_scale)
    # 4j1b: hand bins are all the 4j1b events, so the nominal histogram is fully determined
    evs = [e for e in EDGE_EVENTS_EXPECTED.values() if e["region"] == "4j1b"]
    expected = np.zeros(27)
    for e in evs:
        expected[e["bin"]] += w
    np.testing.assert_array_equal(hists["4j1b_wjets"].sumw, expected)


def test_sample_kinds_and_robust_inputs(edge_file, tmp_path):
    ttbar = oracle.sample_histograms([edge_file], "ttbar", "nominal", 1.0)
    assert len(ttbar) == 22 and "4j2b_ttbar_btag_var_3_down" in ttbar and "4j1b_ttbar_scale_var_up" not in ttbar
    ps = oracle.sample_histograms([edge_file], "ttbar", "PS_var", 1.0)
    assert set(ps) == {"4j1b_ttbar_PS_var", "4j2b_ttbar_PS_var"}
    np.testing.assert_array_equal(ps["4j1b_ttbar_PS_var"].sumw, ttbar["4j1b_ttbar"].sumw)
    # missing optional branches change nothing
    path = edge_cases.write_missing_branch_file(tmp_path / "miss.root")
    assert oracle.compare(oracle.sample_histograms([path], "ttbar", "nominal", 1.0), ttbar) == []
    # a zero-event file gives all histograms, empty
    empty = oracle.sample_histograms([edge_cases.write_empty_file(tmp_path / "empty.root")], "wjets", "nominal", 1.0)
    assert len(empty) == 26 and all(h.sumw.sum() == 0 and h.sumw.shape == (27,) for h in empty.values())


# ------------------------------------------------------------ second implementation
def test_oracle_matches_scalar_bruteforce(random_file):
    path, events = random_file
    scale = np.float32(1.03)
    variants = {
        "nominal": lambda ev, j, pt: pt,
        "pt_scale_up": lambda ev, j, pt: f32(np.float32(pt) * scale),
        "pt_res_up": lambda ev, j, pt: f32(pt * resolution_factor_scalar(*ev["ids"], j)),
    }
    for variation, vary in variants.items():
        res = oracle.event_observables([path], variation)
        n_pass = 0
        for i, ev in enumerate(events):
            pts = [vary(ev, j, jet[0]) for j, jet in enumerate(ev["jets"])]
            code, obs, sel = analyse_scalar(ev, pts)
            assert res["region"][i] == code, (variation, i)
            if code:
                n_pass += 1
                assert res["observable"][i] == pytest.approx(obs, rel=1e-12, abs=1e-9), (variation, i)
                np.testing.assert_array_equal(res["lead_pt"][i], sel[:4])
        assert n_pass > 40, variation  # the comparison is not vacuous
    assert Counter(oracle.event_observables([path])["region"].tolist())[2] > 20


def test_trijet_mass_nine_jets_bruteforce(edge_file):
    i = NAMES.index("nine_jets_4j2b")
    ev = EDGE_EVENTS[i]
    _, expected, _ = analyse_scalar(ev, [f32(j[0]) for j in ev["jets"]])
    # the jets' float32-rounded eta/phi/mass are what the file holds
    ev32 = dict(ev, jets=[tuple(f32(v) for v in j) for j in ev["jets"]])
    _, expected32, _ = analyse_scalar(ev32, [j[0] for j in ev32["jets"]])
    got = oracle.event_observables([edge_file])["observable"][i]
    assert got == pytest.approx(expected32, rel=1e-12)
    assert got == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------- resolution factors
def test_splitmix64_known_vectors():
    # SplitMix64 seeded with 0: first two outputs (Vigna's reference generator)
    assert splitmix64_scalar(0) == 0xE220A8397B1DCDAF
    assert splitmix64_scalar(0x9E3779B97F4A7C15) == 0x6E789E6AA1B965F4
    xs = np.random.default_rng(1).integers(0, 2**64, 1000, dtype=np.uint64, endpoint=False)
    vec = oracle._splitmix64(xs)
    assert [int(v) for v in vec] == [splitmix64_scalar(int(x)) for x in xs]


def test_resolution_factor_equals_scalar_implementation():
    keys = [
        (1, 1, 0),
        (1, 7, 2**63 + 12345),
        (2**32 - 1, 2**32 - 1, 2**64 - 1),
        (297050, 123, 987654321),
        (0, 0, 0),
        (260431, 5, 12),
    ]
    counts = [3, 9, 2, 5, 1, 12]
    got = oracle.resolution_factors([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], counts)
    expected = [resolution_factor_scalar(*k, j) for k, c in zip(keys, counts) for j in range(c)]
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)


def test_resolution_factor_statistics_and_determinism():
    rng = np.random.default_rng(3)
    n_ev = 20_000
    run = rng.integers(1, 2**32, n_ev).astype(np.uint32)
    lumi = rng.integers(1, 2**32, n_ev).astype(np.uint32)
    event = rng.integers(0, 2**63, n_ev).astype(np.uint64) * np.uint64(2)
    counts = np.full(n_ev, 5)
    f = oracle.resolution_factors(run, lumi, event, counts)
    assert f.shape == (100_000,) and f.dtype == np.float64
    assert abs(f.mean() - 1.0) < 1e-3  # 5 sigma of the mean
    assert abs(f.std() - 0.05) < 1e-3
    z = (f - 1) / 0.05
    assert abs(np.mean(np.abs(z) < 1) - 0.6827) < 0.01
    # deterministic, independent of the chunking
    np.testing.assert_array_equal(f, oracle.resolution_factors(run, lumi, event, counts))
    half = n_ev // 2
    parts = np.concatenate(
        [
            oracle.resolution_factors(run[:half], lumi[:half], event[:half], counts[:half]),
            oracle.resolution_factors(run[half:], lumi[half:], event[half:], counts[half:]),
        ]
    )
    np.testing.assert_array_equal(f, parts)
    # depends on run, lumi, event and the jet index
    base = oracle.resolution_factors([1], [2], [3], [4])
    assert len(set(base.tolist())) == 4
    for other in ([2], [2], [3]), ([1], [3], [3]), ([1], [2], [4]):
        assert not np.any(oracle.resolution_factors(*other, [4]) == base)


# ----------------------------------------------------------------------- full runs
def _inputs(path, nevts=1000, files=1):
    samples = {
        "ttbar": ["nominal", "scaledown", "scaleup", "ME_var", "PS_var"],
        "single_top_s_chan": ["nominal"],
        "single_top_t_chan": ["nominal"],
        "single_top_tW": ["nominal"],
        "wjets": ["nominal"],
    }
    inputs = {p: {v: {"files": [{"path": str(path), "nevts": nevts}] * files} for v in vs} for p, vs in samples.items()}
    inputs["data"] = {"nominal": {"files": [{"path": "/nonexistent.root", "nevts": 1}]}}
    return inputs


def test_all_histograms_names_weights_pseudodata(edge_file):
    reference = json.loads(reference_json().read_text())
    hists = oracle.all_histograms(_inputs(edge_file, nevts=1000, files=2), n_files=1)
    assert len(hists) == N_HISTOGRAMS and set(hists) == set(reference)
    assert all(len(h["contents"]) == 27 for h in reference.values())
    n1 = sum(e["region"] == "4j1b" for e in EDGE_EVENTS_EXPECTED.values())
    # weight uses the nevts of the files processed only (n_files=1 -> 1000, not 2000)
    w_ttbar = (396.87 + 332.97) * 3378 / 1000
    assert hists["4j1b_ttbar"].sumw.sum() == pytest.approx(n1 * w_ttbar, rel=1e-12)
    w_wjets = 61457 * 0.252 * 3378 / 1000
    assert hists["4j1b_wjets"].sumw.sum() == pytest.approx(n1 * w_wjets, rel=1e-12)
    for region in ("4j1b", "4j2b"):
        me, ps, wj, tc = (
            hists[f"{region}_{n}"] for n in ("ttbar_ME_var", "ttbar_PS_var", "wjets", "single_top_t_chan")
        )
        pd = hists[f"{region}_pseudodata"]
        assert tc.sumw.sum() > 0  # the t-channel term is really tested
        np.testing.assert_allclose(pd.sumw, 0.5 * me.sumw + 0.5 * ps.sumw + wj.sumw + tc.sumw, rtol=1e-14)
        np.testing.assert_allclose(pd.sumw2, 0.25 * me.sumw2 + 0.25 * ps.sumw2 + wj.sumw2 + tc.sumw2, rtol=1e-14)


def test_pseudodata_definition_matches_agc_v140_reference():
    """The AGC v1.4.0 reference JSONs hold pseudo-data = 0.5 ME_var + 0.5 PS_var + wjets + t-channel."""
    for n in ("1", "5", "all"):
        ref = json.loads(reference_json(n).read_text())
        for region in ("4j1b", "4j2b"):
            expected = sum(
                c * np.asarray(ref[oracle.histogram_name(region, p, v)]["contents"]) for c, p, v in oracle.PSEUDODATA
            )
            np.testing.assert_allclose(ref[f"{region}_pseudodata"]["contents"], expected, rtol=1e-12)


def test_real_file_selects_a_plausible_handful():
    stats = oracle.region_stats([real_ttbar_file()])
    n_sel = stats["n_4j1b"] + stats["n_4j2b"]
    assert stats["events"] == 200 and 2 <= n_sel <= 10, stats
    if stats["n_4j1b"]:
        assert 150 < stats["mean_ht_4j1b"] < 550, stats
    w = 0.123
    hists = oracle.sample_histograms([real_ttbar_file()], "ttbar", "nominal", w)
    assert hists["4j1b_ttbar"].sumw.sum() + hists["4j2b_ttbar"].sumw.sum() == pytest.approx(n_sel * w)


# --------------------------------------------------------------- reading / compare
def test_read_root_histograms_and_compare(tmp_path):
    import hist

    rng = np.random.default_rng(5)
    hists = {}
    with uproot.recreate(tmp_path / "h.root") as f:
        for name in ("4j1b_ttbar", "4j2b_wjets_scale_var_down"):
            h = hist.Hist(hist.axis.Regular(25, 50, 550), storage=hist.storage.Weight())
            view = h.view(flow=True)
            view.value = rng.uniform(0, 10, 27)
            view.variance = rng.uniform(0, 1, 27)
            view.value[3] = view.variance[3] = 0.0  # an empty bin
            f[name] = h
            hists[name] = oracle.Hist(view.value.copy(), view.variance.copy())
    back = oracle.read_root_histograms(tmp_path / "h.root")
    assert oracle.compare(back, hists) == []
    bad = dict(back)
    bad["4j1b_ttbar"] = oracle.Hist(back["4j1b_ttbar"].sumw + np.eye(27)[7] * 1e-3, back["4j1b_ttbar"].sumw2)
    msgs = oracle.compare(bad, hists)
    assert len(msgs) == 1 and "4j1b_ttbar sumw bin 7" in msgs[0]
    # empty bin compared (nearly) exactly; missing and unexpected names reported
    bad["4j1b_ttbar"] = oracle.Hist(back["4j1b_ttbar"].sumw + np.eye(27)[3] * 1e-6, back["4j1b_ttbar"].sumw2)
    assert any("bin 3" in m for m in oracle.compare(bad, hists))
    del bad["4j2b_wjets_scale_var_down"]
    bad["extra"] = hists["4j1b_ttbar"]
    msgs = oracle.compare(bad, hists)
    assert "missing histogram 4j2b_wjets_scale_var_down" in msgs and "unexpected histogram extra" in msgs
    # reference JSON: contents only
    ref = oracle.read_json_histograms(reference_json())
    assert len(ref) == N_HISTOGRAMS and ref["4j1b_ttbar"].sumw2 is None and oracle.compare(ref, ref) == []
