"""The demo set's columns for the AGC v2 analysis: Jet_qgl, the v2 lepton and jet identification, and the
demo-only truth column Jet_truthParton (rdf_ttbar.inputs.demo, cpp/demo_generator.h).

Checked with uproot/awkward on a small set (20k events per sample, about 2 s to write).
"""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from conftest import reference_json
from rdf_ttbar.analysis import DEFAULT as ANALYSIS
from rdf_ttbar.inputs import demo

SAMPLES = [demo.sample_name(p, v) for p, v in ANALYSIS.samples]
TTBAR = [s for s in SAMPLES if s.startswith("ttbar__")]
N = 20_000

# AGC v2 over AGC v1 event count per region in the real samples, from the coffea references (sums of the 4j1b /
# 4j2b histograms with under- and overflow, same weight per event in both versions:
# reference-v2/histos_1_file_per_process.json over reference/histos_1_file_per_process.json). In the 2015 open-data
# NanoAOD files Muon_tightId is false for every muon (also looseId: 0 of 21 prompt muons with pT > 30 in the 200-event
# real file), so the real v2 selection keeps electron events only: these are electron-only ratios.
REAL_V2_OVER_V1_ELECTRON_ONLY = {
    "ttbar__nominal": (0.092, 0.104),
    "ttbar__scaledown": (0.090, 0.101),
    "ttbar__scaleup": (0.092, 0.104),
    "ttbar__ME_var": (0.113, 0.119),
    "ttbar__PS_var": (0.097, 0.105),
    "single_top_tW__nominal": (0.059, 0.084),
}


@pytest.fixture(scope="module")
def v2_set(tmp_path_factory) -> Path:
    return demo.generate(tmp_path_factory.mktemp("v2cols") / "set", N, progress=False, threads=2)


def read(inputs_json: Path, sample: str, branches=None) -> ak.Array:
    process, variation = sample.split("__")
    files = json.loads(inputs_json.read_text())[process][variation]["files"]
    return uproot.concatenate([f["path"] + ":Events" for f in files], branches, library="ak")


@pytest.fixture(scope="module")
def arrays(v2_set) -> dict[str, ak.Array]:
    return {sample: read(v2_set, sample) for sample in SAMPLES}


def v2_jets(a: ak.Array) -> ak.Array:
    """Mask of the AGC v2 jets: pT > 30, |eta| < 2.4, tightLepVeto ((jetId & 4) != 0)."""
    return (a.Jet_pt > 30) & (abs(a.Jet_eta) < 2.4) & ((a.Jet_jetId & 4) != 0)


def v2_leptons(a: ak.Array) -> tuple[ak.Array, ak.Array]:
    """Masks of the AGC v2 electrons and muons."""
    ele = (a.Electron_pt > 30) & (abs(a.Electron_eta) < 2.1) & (a.Electron_cutBased == 4) & (a.Electron_sip3d < 4)
    mu = (
        (a.Muon_pt > 30)
        & (abs(a.Muon_eta) < 2.1)
        & a.Muon_tightId
        & (a.Muon_sip3d < 4)
        & (a.Muon_pfRelIso04_all < 0.15)
    )
    return ele, mu


def region_counts(a: ak.Array) -> dict[str, int]:
    """Events in 4j1b / 4j2b: v1 (lepton and jet pT > 25, no ID) and v2 (both lepton flavours, electrons only)."""
    jets1 = a.Jet_pt > 25
    nb1 = ak.sum(jets1 & (a.Jet_btagCSVV2 > 0.5), axis=1)
    base1 = (ak.sum(a.Electron_pt > 25, axis=1) + ak.sum(a.Muon_pt > 25, axis=1) == 1) & (ak.sum(jets1, axis=1) >= 4)
    jets2 = v2_jets(a)
    nb2 = ak.sum(jets2 & (a.Jet_btagCSVV2 > 0.5), axis=1)
    ele, mu = v2_leptons(a)
    n_e, n_mu = ak.sum(ele, axis=1), ak.sum(mu, axis=1)
    four = ak.sum(jets2, axis=1) >= 4
    out = {}
    for region, in1, in2 in (("4j1b", nb1 == 1, nb2 == 1), ("4j2b", nb1 >= 2, nb2 >= 2)):
        out[f"v1_{region}"] = int(ak.sum(base1 & in1))
        out[f"v2_{region}"] = int(ak.sum((n_e + n_mu == 1) & four & in2))
        out[f"v2e_{region}"] = int(ak.sum((n_e == 1) & four & in2))
    return out


# ---------------------------------------------------------------------------
# format
# ---------------------------------------------------------------------------
def test_new_branches_follow_the_jet_branches_with_their_types(v2_set):
    process, variation = TTBAR[0].split("__")
    path = json.loads(v2_set.read_text())[process][variation]["files"][0]["path"]
    with uproot.open(path) as f:
        tree = f["Events"]
        names = tree.keys()
        assert names[names.index("Jet_jetId") + 1 : names.index("Jet_jetId") + 3] == ["Jet_qgl", "Jet_truthParton"]
        assert tree["Jet_qgl"].typename == "float[]" and tree["Jet_truthParton"].typename == "int32_t[]"
        assert tree["Jet_qgl"].title == "Jet_qgl[nJet]/F"
    assert demo.TRUTH_BRANCHES == ("Jet_truthParton",)


def test_full_set_writes_jet_qgl_once_with_physics_content(tmp_path):
    inputs = demo.generate(tmp_path / "full", 300, full=True, threads=1, progress=False)
    a = read(inputs, "ttbar__nominal", ["Jet_qgl", "Jet_pt"])
    with uproot.open(json.loads(inputs.read_text())["ttbar"]["nominal"]["files"][0]["path"]) as f:
        assert f["Events"].keys().count("Jet_qgl") == 1
    # the generator's values (-1 below 20 GeV), not the full set's noise
    assert ak.all(a.Jet_qgl[a.Jet_pt < 20] == -1)


# ---------------------------------------------------------------------------
# Jet_qgl
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("sample", SAMPLES)
def test_qgl_is_a_likelihood_or_undefined(arrays, sample):
    a = arrays[sample]
    qgl, pt = ak.flatten(a.Jet_qgl).to_numpy(), ak.flatten(a.Jet_pt).to_numpy()
    assert np.all((qgl == -1) | ((qgl >= 0) & (qgl <= 1)))
    assert np.all(qgl[pt < 20] == -1)  # as in the real files: no QGL below 20 GeV
    undefined = np.mean(qgl[pt >= 20] == -1)
    assert 0.005 < undefined < 0.03  # 1.5% by construction
    defined = qgl[qgl >= 0]
    assert defined.std() > 0.2 and len(np.unique(defined)) > 500  # a spread, not a constant


def qgl_by_role(a: ak.Array) -> dict[str, np.ndarray]:
    """Defined qgl values of the v2 jets of lepton+jets ttbar events (those with a truth role), per truth role;
    "other": jets without a role and not b-tagged (radiation, mostly gluons)."""
    lepton_jets = ak.any(a.Jet_truthParton > 0, axis=1)
    jets = v2_jets(a) & (a.Jet_qgl >= 0) & lepton_jets
    role, qgl = a.Jet_truthParton, a.Jet_qgl
    picks = {
        "w": role == 1,
        "b_had": role == 2,
        "b_lep": role == 3,
        "other": (role == 0) & (a.Jet_btagCSVV2 < 0.5),
    }
    return {k: ak.flatten(qgl[jets & m]).to_numpy() for k, m in picks.items()}


@pytest.mark.parametrize("sample", TTBAR)
def test_qgl_shapes_differ_for_w_quarks_b_jets_and_radiation(arrays, sample):
    q = qgl_by_role(arrays[sample])
    mean = {k: v.mean() for k, v in q.items()}
    # measured on 9 x 100k events: W quarks 0.67, b (both) 0.49, other 0.44-0.45; standard errors here < 0.01
    assert mean["w"] > 0.6
    assert mean["w"] - mean["b_had"] > 0.12 and mean["w"] - mean["b_lep"] > 0.12
    assert abs(mean["b_had"] - mean["b_lep"]) < 0.04  # the same b shape for both tops
    b = np.concatenate([q["b_had"], q["b_lep"]])
    assert b.mean() - mean["other"] > 0.02
    # gluon-like: low values several times more frequent in radiation jets than in W-quark jets (0.17 vs 0.06)
    assert np.mean(q["other"] < 0.2) > 2 * np.mean(q["w"] < 0.2)
    # quark-like: W jets pile up at high values (41% above 0.8), b jets are flat-ish (14%)
    assert np.mean(q["w"] > 0.8) > 2 * np.mean(b > 0.8)


def test_wjets_extra_jets_are_more_quark_like_than_ttbar_radiation(arrays):
    # W + jets: qg -> Wq dominates (quark jets); ttbar's extra jets are mostly gluons
    a = arrays["wjets__nominal"]
    wjets = ak.flatten(a.Jet_qgl[v2_jets(a) & (a.Jet_qgl >= 0) & (a.Jet_btagCSVV2 < 0.5)]).to_numpy()
    ttbar_other = qgl_by_role(arrays["ttbar__nominal"])["other"]
    assert wjets.mean() - ttbar_other.mean() > 0.04  # measured 0.53 vs 0.44


# ---------------------------------------------------------------------------
# Jet_truthParton
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("sample", SAMPLES)
def test_truth_roles_per_event(arrays, sample):
    role = arrays[sample].Jet_truthParton
    assert set(np.unique(ak.flatten(role).to_numpy())) <= {0, 1, 2, 3}
    if not sample.startswith("ttbar__"):
        assert ak.all(role == 0)
        return
    n1, n2, n3 = (ak.sum(role == k, axis=1) for k in (1, 2, 3))
    assert ak.max(n1) == 2 and ak.max(n2) == 1 and ak.max(n3) == 1
    # roles in lepton+jets events only: BR 2 x 0.324 x 0.676 = 0.438
    assert 0.41 < ak.mean(ak.any(role > 0, axis=1)) < 0.47
    # most lepton+jets events have a jet for each b (their jets can merge or fall below 15 GeV)
    lepton_jets = ak.any(role > 0, axis=1)
    assert ak.mean((n2 == 1)[lepton_jets]) > 0.85 and ak.mean((n3 == 1)[lepton_jets]) > 0.85


def test_truth_roles_are_the_top_decay_jets(arrays):
    a = arrays["ttbar__nominal"]
    role = a.Jet_truthParton
    pt, eta, phi, m = (ak.values_astype(a[f"Jet_{k}"], np.float64) for k in ("pt", "eta", "phi", "mass"))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)

    def mass(mask, events):
        s = [ak.sum(x[mask], axis=1)[events].to_numpy() for x in (px, py, pz, e)]
        return np.sqrt(np.maximum(s[3] ** 2 - s[0] ** 2 - s[1] ** 2 - s[2] ** 2, 0))

    two_w = ak.sum(role == 1, axis=1) == 2
    m_w = mass(role == 1, two_w)
    m_t = mass((role == 1) | (role == 2), two_w & (ak.sum(role == 2, axis=1) == 1))
    # measured: median 79 GeV, 81% in 60-100; top: median 165 GeV, 76% in 140-200
    assert 74 < np.median(m_w) < 84 and np.mean((m_w > 60) & (m_w < 100)) > 0.7
    assert 155 < np.median(m_t) < 175 and np.mean((m_t > 140) & (m_t < 200)) > 0.65
    # b-tag rates: b jets as b_tag_eff (0.85 inside the tracker, less -10 scores), W jets a light/charm mix
    central = abs(a.Jet_eta) < 2.4
    tagged = a.Jet_btagCSVV2 > 0.5
    for k, lo, hi in ((1, 0.08, 0.25), (2, 0.7, 0.9), (3, 0.7, 0.9)):
        assert lo < ak.sum(tagged & central & (role == k)) / ak.sum(central & (role == k)) < hi, k


def test_truth_partons_are_mostly_among_the_first_six_jets_of_4j2b(arrays):
    a = arrays["ttbar__nominal"]
    jets = v2_jets(a)
    ele, mu = v2_leptons(a)
    in_2b = (
        (ak.sum(ele, axis=1) + ak.sum(mu, axis=1) == 1)
        & (ak.sum(jets, axis=1) >= 4)
        & (ak.sum(jets & (a.Jet_btagCSVV2 > 0.5), axis=1) >= 2)
    )
    first6 = a.Jet_truthParton[jets][in_2b][:, :6]
    complete = (
        (ak.sum(first6 == 1, axis=1) == 2) & (ak.sum(first6 == 2, axis=1) == 1) & (ak.sum(first6 == 3, axis=1) == 1)
    )
    # measured 0.50 (9 x 100k): what a perfect jet-parton assignment (the AGC v2 ML) could at best find
    assert 0.4 < ak.mean(complete) < 0.62


# ---------------------------------------------------------------------------
# the v2 lepton and jet identification
# ---------------------------------------------------------------------------
def test_real_ratios_are_those_of_the_references():
    v1 = json.loads(reference_json().read_text())
    v2 = json.loads(reference_json("1", "v2").read_text())
    for sample, ratios in REAL_V2_OVER_V1_ELECTRON_ONLY.items():
        name = sample.replace("__nominal", "").replace("__", "_")
        for region, ratio in zip(("4j1b", "4j2b"), ratios, strict=True):
            key = f"{region}_{name}"
            assert sum(v2[key]["contents"]) / sum(v1[key]["contents"]) == pytest.approx(ratio, abs=0.0015), key


@pytest.mark.parametrize("sample", list(REAL_V2_OVER_V1_ELECTRON_ONLY))
def test_v2_over_v1_like_the_real_samples(arrays, sample):
    counts = region_counts(arrays[sample])
    for region, real in zip(("4j1b", "4j2b"), REAL_V2_OVER_V1_ELECTRON_ONLY[sample], strict=True):
        v1, v2e, v2 = counts[f"v1_{region}"], counts[f"v2e_{region}"], counts[f"v2_{region}"]
        # electron events: as in the real files (measured 0.85-1.13 times the real ratio with 100k events per
        # sample; generator version 2 gave 0.55-0.6: jetId and cutBased too often failing); 3 sigma on ~150 events
        assert 0.7 < (v2e / v1) / real < 1.4, (region, v2e / v1, real)
        # both flavours: a working muon ID (CMS: tight ID ~98%, isolation ~95%) about doubles it
        assert 1.6 < v2 / v2e < 3.0, (region, v2, v2e)


def test_v2_lepton_id_keeps_most_ttbar_events_with_a_prompt_lepton(arrays):
    a = arrays["ttbar__nominal"]
    jets1 = a.Jet_pt > 25
    v1 = (
        (ak.sum(a.Electron_pt > 25, axis=1) + ak.sum(a.Muon_pt > 25, axis=1) == 1)
        & (ak.sum(jets1, axis=1) >= 4)
        & (ak.sum(jets1 & (a.Jet_btagCSVV2 > 0.5), axis=1) >= 1)
    )
    b = a[v1]
    electron = ak.sum(b.Electron_pt > 25, axis=1) == 1
    eb, mb = b[electron], b[~electron]
    # the v1 lepton; prompt: isolation < 0.1 (the generator gives non-prompt leptons 0.1 and more, prompt ones
    # less than 0.1 in 94% of cases)
    e_sel, m_sel = eb.Electron_pt > 25, mb.Muon_pt > 25
    e_iso = ak.firsts(eb.Electron_pfRelIso03_all[e_sel])
    e_id = ak.firsts(((eb.Electron_cutBased == 4) & (eb.Electron_sip3d < 4))[e_sel])
    m_iso = ak.firsts(mb.Muon_pfRelIso04_all[m_sel])
    m_id = ak.firsts((mb.Muon_tightId & (mb.Muon_sip3d < 4) & (mb.Muon_pfRelIso04_all < 0.15))[m_sel])
    assert ak.sum(e_iso < 0.1) > 1000 and ak.sum(m_iso < 0.1) > 1000
    e_eff, m_eff = ak.mean(e_id[e_iso < 0.1]), ak.mean(m_id[m_iso < 0.1])
    # measured: electrons 0.74 (CMS tight cut-based ID ~70-80%; real file: 24 of 32 prompt electrons with pT > 20
    # have cutBased 4), muons 0.93 (tight ID x sip3d x isolation)
    assert 0.65 < e_eff < 0.85 and 0.88 < m_eff < 0.98
    both = (ak.sum(e_id[e_iso < 0.1]) + ak.sum(m_id[m_iso < 0.1])) / (ak.sum(e_iso < 0.1) + ak.sum(m_iso < 0.1))
    assert both > 0.75  # most prompt-lepton events pass the lepton ID


def test_v2_jet_id_keeps_nearly_all_jets_not_made_of_a_lepton(arrays):
    # NanoAOD jets are not cleaned of leptons: jets made of a prompt lepton have jetId 2 or 0 (fail tightLepVeto);
    # real file: 97% of the central jets whose leading lepton carries less than half the pT have jetId 6
    a = arrays["ttbar__nominal"]
    central = (a.Jet_pt > 30) & (abs(a.Jet_eta) < 2.4)
    with_role = central & (a.Jet_truthParton > 0)  # quark jets of the top decays: never a lepton
    assert 0.95 < ak.sum(with_role & ((a.Jet_jetId & 4) != 0)) / ak.sum(with_role) < 0.99
