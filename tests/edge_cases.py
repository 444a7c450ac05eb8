"""Small NanoAOD-like files that hit the edges of the selection (written with uproot).

``write_edge_case_file(path)`` writes tree ``Events`` with every branch the spec
lists, with the spec's types, jagged arrays with counters ``nJet`` / ``nElectron``
/ ``nMuon``. One event per entry of ``EDGE_EVENTS``; each has a ``purpose``.

Type notes (checked against tests/data/nanoAOD_2015_CMS_Open_Data_ttbar.root):
- all float branches are ``float`` / ``float[]`` (Float_t) as in the real file;
- ``Jet_jetId``: ``int32_t[]`` (Int_t, real file); ``Electron_cutBased``: ``int32_t[]``;
  ``Muon_tightId``: ``bool[]``; ``run``/``luminosityBlock``: ``uint32_t``;
  ``event``: ``uint64_t``;
- DIFFERENCE: the counters ``nJet``/``nElectron``/``nMuon`` are ``int32_t`` (Int_t)
  here but ``uint32_t`` (UInt_t) in the real file: uproot 5.7's TTree writer
  hard-codes int32 counters (uproot/writing/_cascadetree.py). Code under test must
  therefore not assume UInt_t counters (the spec says other productions use other
  types).
- uproot >= 5.7 writes an RNTuple on ``file[name] = ...``; we use ``mktree`` to get a TTree.

Nothing here is computed by the oracle: ``EDGE_EVENTS_EXPECTED`` is written by
hand from the spec (see each entry).
"""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import uproot

# one jet: (pt, eta, phi, mass, btagCSVV2)
B, L = 0.9, 0.1  # b-tagged / light btagCSVV2 values
PI = math.pi


def _jets(pts, btags, eta=None, phi=None, mass=None):
    n = len(pts)
    eta = eta if eta is not None else [(-1.0) ** i * 0.3 * (i + 1) for i in range(n)]
    phi = phi if phi is not None else [((i * 1.7) % (2 * PI)) - PI for i in range(n)]
    mass = mass if mass is not None else [5.0 + i for i in range(n)]
    return [tuple(x) for x in zip(pts, eta, phi, mass, btags)]


def _jets4(pts, b_index=0):
    """Jets with one b-tag at b_index, the rest light."""
    return _jets(pts, [B if i == b_index else L for i in range(len(pts))])


MU30 = [30.0]
# Each event: name, purpose, jets, electrons (pt list), muons (pt list).
# (run, luminosityBlock, event) default to (1, 1 + index // 10, index + 1); "ids" overrides.
EDGE_EVENTS = [
    dict(
        name="exactly_4_jets_1b",
        purpose="exactly 4 selected jets, 1 b -> 4j1b, HT 280",
        jets=_jets4([100, 80, 60, 40]),
        ele=[],
        mu=MU30,
    ),
    dict(
        name="jet_at_exactly_25",
        purpose="a jet at exactly 25 GeV is not selected (strict >); after *1.03 it is (5 jets)",
        jets=_jets4([120, 70, 50, 25.0, 30]),
        ele=[],
        mu=MU30,
    ),
    dict(
        name="btag_exactly_0p5",
        purpose="btagCSVV2 == 0.5 is not a b-tag (strict >): 4j1b, not 4j2b",
        jets=_jets([60, 50, 40, 30], [B, 0.5, L, L]),
        ele=[],
        mu=MU30,
    ),
    dict(
        name="only_btag_is_0p5",
        purpose="the only 'b' has btag exactly 0.5 -> no b-tag -> rejected",
        jets=_jets([60, 50, 40, 30], [0.5, L, L, L]),
        ele=[],
        mu=MU30,
    ),
    dict(
        name="jet_24p5_crosses_after_scale",
        purpose="3 jets + 24.5 GeV jet: rejected at nominal, 24.5f*1.03f = 25.235 > 25 so 4j1b under pt_scale_up",
        jets=_jets4([100, 80, 60, 24.5]),
        ele=[],
        mu=MU30,
    ),
    dict(
        name="two_leptons_e_mu",
        purpose="one electron + one muon above 25 -> rejected",
        jets=_jets4([100, 80, 60, 40]),
        ele=[30.0],
        mu=MU30,
    ),
    dict(
        name="zero_jets", purpose="nJet = 0 with a good lepton -> rejected (empty jet arrays)", jets=[], ele=[], mu=MU30
    ),
    dict(
        name="all_empty",
        purpose="no jets, no electrons, no muons; max run and event ids",
        jets=[],
        ele=[],
        mu=[],
        ids=(2**32 - 1, 2**32 - 1, 2**64 - 1),
    ),
    dict(
        name="nine_jets_4j2b",
        purpose="9 selected jets, b-tags on jets 2 and 6 -> 4j2b (84 combinations); event id above 2**63",
        jets=_jets([150, 120, 100, 90, 80, 70, 60, 50, 40], [L, L, B, L, L, L, B, L, L]),
        ele=[],
        mu=[35.0],
        ids=(1, 7, 2**63 + 12345),
    ),
    dict(name="ht_overflow", purpose="HT = 650 -> overflow bin 26", jets=_jets4([300, 200, 100, 50]), ele=[], mu=MU30),
    dict(
        name="ht_exactly_550",
        purpose="HT = 550 exactly -> overflow (x >= 550)",
        jets=_jets4([250, 150, 100, 50]),
        ele=[],
        mu=MU30,
    ),
    dict(
        name="ht_exactly_110",
        purpose="HT = 4 * 27.5 = 110 exactly, a bin edge -> bin 4 [110, 130)",
        jets=_jets4([27.5, 27.5, 27.5, 27.5]),
        ele=[],
        mu=MU30,
    ),
    dict(
        name="mbjj_underflow_collinear",
        purpose="4 massless collinear jets (eta 0, phi 0), 2 b -> m_bjj = 0 -> underflow bin 0",
        jets=_jets([30, 30, 30, 30], [B, B, L, L], eta=[0.0] * 4, phi=[0.0] * 4, mass=[0.0] * 4),
        ele=[],
        mu=MU30,
    ),
    dict(
        name="mbjj_overflow_tie",
        purpose="4 massless jets at phi 0 (eta 2.5, -2.5, 0, 0), b on 2 "
        "and 3: all 4 trijets have pt exactly 300 (tie); the first, (0,1,2), wins: m = 1292.09 -> "
        "overflow (the last, (1,2,3), would give 453.1)",
        jets=_jets([100, 100, 100, 100], [L, L, B, B], eta=[2.5, -2.5, 0.0, 0.0], phi=[0.0] * 4, mass=[0.0] * 4),
        ele=[],
        mu=MU30,
    ),
    dict(
        name="one_electron_zero_muons",
        purpose="1 electron, 0 muons -> passes, 4j1b HT 280",
        jets=_jets4([100, 80, 60, 40]),
        ele=[30.0],
        mu=[],
    ),
    dict(
        name="electron_exactly_25_plus_muon",
        purpose="electron at 25 not selected, muon 30 -> 1 lepton -> 4j1b HT 270",
        jets=_jets4([90, 80, 60, 40]),
        ele=[25.0],
        mu=MU30,
    ),
    dict(
        name="electron_exactly_25_only",
        purpose="only an electron at exactly 25 -> 0 leptons -> rejected",
        jets=_jets4([100, 80, 60, 40]),
        ele=[25.0],
        mu=[],
    ),
    dict(
        name="muon_exactly_25_plus_muon",
        purpose="muons 25 (not selected) and 40 -> 1 lepton -> 4j1b HT 275",
        jets=_jets4([100, 75, 60, 40]),
        ele=[],
        mu=[25.0, 40.0],
    ),
    dict(
        name="two_muons",
        purpose="two muons above 25 -> rejected",
        jets=_jets4([100, 80, 60, 40]),
        ele=[],
        mu=[30.0, 40.0],
    ),
    dict(
        name="btag_on_unselected_jet",
        purpose="the only b-tagged jet has pt 20 (not selected) -> nbtag 0 -> rejected",
        jets=_jets([100, 80, 60, 40, 20], [L, L, L, L, B]),
        ele=[],
        mu=MU30,
    ),
    dict(
        name="second_btag_on_unselected_jet",
        purpose="2 b-tags, one on a 20 GeV jet -> nbtag 1 -> 4j1b (not 4j2b), HT 280",
        jets=_jets([100, 80, 60, 40, 20], [B, L, L, L, B]),
        ele=[],
        mu=MU30,
    ),
    dict(
        name="first_stored_jet_unselected",
        purpose="stored jet 0 has pt 20: btag_var_0 must use the first SELECTED jet (100), HT 280",
        jets=_jets([20, 100, 80, 60, 40], [L, B, L, L, L]),
        ele=[],
        mu=MU30,
    ),
    dict(
        name="mbjj_hand_5jets",
        purpose="eta 0, massless: jets 100, 100, 80 (light) at phi 0 and "
        "50, 30 (b) at phi pi. The b-less trijet (0,1,2) has the largest pt (280) but is excluded; "
        "best is (0,1,4): pt 170, E 230, m = sqrt(24000) = 154.919",
        jets=_jets([100, 100, 80, 50, 30], [L, L, L, B, B], eta=[0.0] * 5, phi=[0.0, 0.0, 0.0, PI, PI], mass=[0.0] * 5),
        ele=[],
        mu=MU30,
    ),
    dict(
        name="btag_jet_at_25",
        purpose="light jets 100, 80, 60, 40 + b jet at exactly 25: nominal "
        "nbtag 0 -> rejected; pt_scale_up: 25.75 selected -> 4j1b",
        jets=_jets([100, 80, 60, 40, 25.0], [L, L, L, L, B]),
        ele=[],
        mu=MU30,
    ),
]

# ---------------------------------------------------------------------------------------
# Hand-derived expectations (from the spec, by reading each event above; NOT computed).
# region: None / "4j1b" / "4j2b" at nominal pT; region_pt_scale_up: same under *1.03.
# sel_pt: pt of the selected jets in stored order (nominal); ht: HT for 4j1b (exact in
# double since all pts are exactly representable); bin: TH1D bin index (0 under, 26 over);
# mbjj: hand value where the configuration is simple.
EDGE_EVENTS_EXPECTED = {
    "exactly_4_jets_1b": dict(
        region="4j1b", region_pt_scale_up="4j1b", sel_pt=[100, 80, 60, 40], ht=280.0, bin=12
    ),  # (280-50)/20 = 11.5 -> bin 12 [270, 290)
    "jet_at_exactly_25": dict(
        region="4j1b", region_pt_scale_up="4j1b", sel_pt=[120, 70, 50, 30], ht=270.0, bin=12
    ),  # 270 is the low edge of bin 12
    "btag_exactly_0p5": dict(
        region="4j1b", region_pt_scale_up="4j1b", sel_pt=[60, 50, 40, 30], ht=180.0, bin=7
    ),  # [170, 190)
    "only_btag_is_0p5": dict(region=None, region_pt_scale_up=None),
    "jet_24p5_crosses_after_scale": dict(region=None, region_pt_scale_up="4j1b"),
    "two_leptons_e_mu": dict(region=None, region_pt_scale_up=None),
    "zero_jets": dict(region=None, region_pt_scale_up=None),
    "all_empty": dict(region=None, region_pt_scale_up=None),
    "nine_jets_4j2b": dict(region="4j2b", region_pt_scale_up="4j2b", sel_pt=[150, 120, 100, 90, 80, 70, 60, 50, 40]),
    "ht_overflow": dict(region="4j1b", region_pt_scale_up="4j1b", sel_pt=[300, 200, 100, 50], ht=650.0, bin=26),
    "ht_exactly_550": dict(region="4j1b", region_pt_scale_up="4j1b", sel_pt=[250, 150, 100, 50], ht=550.0, bin=26),
    "ht_exactly_110": dict(region="4j1b", region_pt_scale_up="4j1b", sel_pt=[27.5] * 4, ht=110.0, bin=4),
    "mbjj_underflow_collinear": dict(region="4j2b", region_pt_scale_up="4j2b", sel_pt=[30] * 4, mbjj=0.0, bin=0),
    # m^2 = 2*100*100*(cosh 5 - 1) + 2 * 2*100*100*(cosh 2.5 - 1) for massless jets
    "mbjj_overflow_tie": dict(
        region="4j2b",
        region_pt_scale_up="4j2b",
        sel_pt=[100] * 4,
        mbjj=math.sqrt(2e4 * (math.cosh(5.0) - 1) + 4e4 * (math.cosh(2.5) - 1)),
        bin=26,
    ),
    "one_electron_zero_muons": dict(
        region="4j1b", region_pt_scale_up="4j1b", sel_pt=[100, 80, 60, 40], ht=280.0, bin=12
    ),
    "electron_exactly_25_plus_muon": dict(
        region="4j1b", region_pt_scale_up="4j1b", sel_pt=[90, 80, 60, 40], ht=270.0, bin=12
    ),
    "electron_exactly_25_only": dict(region=None, region_pt_scale_up=None),
    "muon_exactly_25_plus_muon": dict(
        region="4j1b", region_pt_scale_up="4j1b", sel_pt=[100, 75, 60, 40], ht=275.0, bin=12
    ),
    "two_muons": dict(region=None, region_pt_scale_up=None),
    "btag_on_unselected_jet": dict(region=None, region_pt_scale_up=None),
    "second_btag_on_unselected_jet": dict(
        region="4j1b", region_pt_scale_up="4j1b", sel_pt=[100, 80, 60, 40], ht=280.0, bin=12
    ),
    "first_stored_jet_unselected": dict(
        region="4j1b", region_pt_scale_up="4j1b", sel_pt=[100, 80, 60, 40], ht=280.0, bin=12
    ),
    # (100 + 100 + 30)^2 - (100 + 100 - 30)^2 = 52900 - 28900
    "mbjj_hand_5jets": dict(
        region="4j2b", region_pt_scale_up="4j2b", sel_pt=[100, 100, 80, 50, 30], mbjj=math.sqrt(24000.0), bin=6
    ),  # [150, 170)
    "btag_jet_at_25": dict(region=None, region_pt_scale_up="4j1b"),
}

JET_FIELDS = ("pt", "eta", "phi", "mass", "btagCSVV2", "jetId")
ELECTRON_FIELDS = ("pt", "eta", "phi", "mass", "sip3d", "pfRelIso03_all", "cutBased")
MUON_FIELDS = ("pt", "eta", "phi", "mass", "sip3d", "pfRelIso04_all", "tightId")
OPTIONAL_DROP = ("genWeight", "Electron_sip3d")


def _event_ids(i, ev):
    return ev.get("ids", (1, 1 + i // 10, i + 1))


def _branch_arrays(events) -> dict:
    """Flat dict branch name -> (values, counts or None)."""
    jet_id_dtype = np.dtype("int32")
    n = len(events)
    njet = np.array([len(e["jets"]) for e in events], dtype=np.int64)
    nele = np.array([len(e["ele"]) for e in events], dtype=np.int64)
    nmu = np.array([len(e["mu"]) for e in events], dtype=np.int64)
    jets = [j for e in events for j in e["jets"]]
    ele = [p for e in events for p in e["ele"]]
    mu = [p for e in events for p in e["mu"]]
    f32 = np.float32
    out = {
        "Jet_pt": (np.array([j[0] for j in jets], f32), njet),
        "Jet_eta": (np.array([j[1] for j in jets], f32), njet),
        "Jet_phi": (np.array([j[2] for j in jets], f32), njet),
        "Jet_mass": (np.array([j[3] for j in jets], f32), njet),
        "Jet_btagCSVV2": (np.array([j[4] for j in jets], f32), njet),
        # jetId is not used by the AGC v1 selection: values 0..6 on purpose (0 = "bad" jet, still used)
        "Jet_jetId": (np.arange(len(jets)).astype(jet_id_dtype) % jet_id_dtype.type(7), njet),
        "Electron_pt": (np.array(ele, f32), nele),
        "Electron_eta": (np.full(len(ele), 0.5, f32), nele),
        "Electron_phi": (np.full(len(ele), 1.0, f32), nele),
        "Electron_mass": (np.full(len(ele), 0.000511, f32), nele),
        # isolation / ID / sip3d are not used by AGC v1: deliberately "bad" values
        "Electron_sip3d": (np.full(len(ele), 10.0, f32), nele),
        "Electron_pfRelIso03_all": (np.full(len(ele), 0.9, f32), nele),
        "Electron_cutBased": (np.zeros(len(ele), np.int32), nele),
        "Muon_pt": (np.array(mu, f32), nmu),
        "Muon_eta": (np.full(len(mu), -0.5, f32), nmu),
        "Muon_phi": (np.full(len(mu), -1.0, f32), nmu),
        "Muon_mass": (np.full(len(mu), 0.1057, f32), nmu),
        "Muon_sip3d": (np.full(len(mu), 10.0, f32), nmu),
        "Muon_pfRelIso04_all": (np.full(len(mu), 0.9, f32), nmu),
        "Muon_tightId": (np.zeros(len(mu), bool), nmu),
        "MET_pt": (np.linspace(10.0, 100.0, n).astype(f32), None),
        # genWeight is NOT used (AGC v1): alternate signs so that using it would be noticed
        "genWeight": (np.where(np.arange(n) % 2 == 0, 1.0, -1.0).astype(f32) * f32(1234.5), None),
        "run": (np.array([_event_ids(i, e)[0] for i, e in enumerate(events)], np.uint32), None),
        "luminosityBlock": (np.array([_event_ids(i, e)[1] for i, e in enumerate(events)], np.uint32), None),
        "event": (np.array([_event_ids(i, e)[2] for i, e in enumerate(events)], np.uint64), None),
    }
    return out


def write_events_file(path, events, drop=(), tree="Events"):
    """Write ``events`` (list of dicts like EDGE_EVENTS) to a ROOT TTree with uproot."""
    arrays = {k: v for k, v in _branch_arrays(events).items() if k not in drop}
    data = {}
    for coll, fields in (("Jet", JET_FIELDS), ("Electron", ELECTRON_FIELDS), ("Muon", MUON_FIELDS)):
        present = {f: arrays.pop(f"{coll}_{f}") for f in fields if f"{coll}_{f}" in arrays}
        # ak.zip of equal-count jagged arrays under key "Jet" -> counter nJet + branches Jet_<field>
        data[coll] = ak.zip({f: ak.unflatten(v, c) for f, (v, c) in present.items()})
    for k, (v, _) in arrays.items():
        data[k] = v
    with uproot.recreate(path) as f:
        f.mktree(tree, data)  # mktree: a TTree (plain assignment would write an RNTuple)
    return path


def write_edge_case_file(path, drop=()):
    """The edge-case file (one event per EDGE_EVENTS entry)."""
    return write_events_file(path, EDGE_EVENTS, drop=drop)


def write_empty_file(path):
    """A file with tree Events, all branches, zero entries."""
    return write_events_file(path, [])


def write_missing_branch_file(path, missing=OPTIONAL_DROP):
    """The edge-case events without the branches in ``missing`` (default: genWeight, Electron_sip3d)."""
    return write_events_file(path, EDGE_EVENTS, drop=missing)


def edge_event_names():
    return [e["name"] for e in EDGE_EVENTS]
