"""Independent correctness oracle for the AGC v2 analysis of rdf_ttbar (no ROOT: uproot + awkward + numpy + xgboost).

Re-implemented from the v2 physics of ``/work/shared/peers/coffea-v2/README.md`` ("The v2 physics exactly as the
code does it", "ML histogram binning", "Pseudo-data"), importing nothing from ``rdf_ttbar`` (only the AGC's two
xgboost model files, ``rdf_ttbar/data/models/model_{even,odd}.json``, are read). The v1 oracle (``oracle.py``)
gives the cross sections, the luminosity, the HT / m_bjj binning, ``Hist``, ``fill``, the m_bjj definition
(``_mbjj``, the same in v1 and v2) and the reading / comparison helpers.

What it computes, per sample of an AGC-format input list (``data`` skipped), weight xsec * 3378 / nevts:

- objects: electrons pT > 30, |eta| < 2.1, cutBased == 4, sip3d < 4; muons pT > 30, |eta| < 2.1, tightId,
  sip3d < 4, pfRelIso04_all < 0.15; jets pT > 30, |eta| < 2.4, (jetId & 4) != 0; b-tag btagCSVV2 > 0.5;
- regions: exactly one lepton, >= 4 jets, exactly 1 (4j1b) / >= 2 (4j2b) b-tagged jets; observables HT (4j1b) and
  m_bjj (4j2b) in float64;
- the ML jet-parton assignment of 4j2b events: the first min(njet, 6) selected jets, permutations
  ``[p for p in itertools.permutations(range(n), 4) if p[0] > p[1]]`` as (w1, w2, b_tophad, b_toplep), the 20
  features computed in float64 (Delta R with Delta phi not wrapped, masses of (pt, eta, phi, mass) 4-vectors),
  scores of xgboost on the features cast to float32 (even event number -> model_odd, odd -> model_even), first
  maximum; the chosen permutation's features are histogrammed (25 bins each, flow kept);
- passes: nominal and ``pt_scale_up`` (jet pT x 1.03 in float64; selection, observables and ML all recomputed) for
  nominal samples, weight variations ``btag_var_{0..3}_{up,down}`` (1 +- 0.075 pT_i / 50, pT_i the nominal pT of
  the i-th selected jet) and, for wjets, ``scale_var_{up,down}`` (1.025 / 0.975); the other ttbar samples get the
  nominal pass under their variation name. ``pt_res_up`` (rdf_ttbar's own smearing) is NOT computed;
- the ML histograms get +1e-6 in every bin (flow included) and +1e-12 in every variance; pseudo-data
  ``(ttbar ME_var + ttbar PS_var) / 2 + wjets nominal`` (sums of squared weights with squared coefficients) for the
  HT / m_bjj histograms and, from the offset histograms, for every feature.

Names: ``{region}_{process}[_{variation}]``, ``{feature}_{process}[_{variation}]``, ``{prefix}_pseudodata``.

Main entry points: ``all_histograms(inputs)``, ``sample_histograms(files, process, variation, weight)``,
``event_results(files, pt_variation)`` (per-event region, observable and chosen ML features).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import awkward as ak
import numpy as np
import uproot
import xgboost

from oracle import NFLOW, REGIONS, Hist, _mbjj, fill, weighted_samples

MODELS_DIR = Path(__file__).resolve().parents[1] / "rdf_ttbar" / "data" / "models"

# --------------------------------------------------------------------------- tables (re-stated from the README)
ELECTRON_PT_MIN, MUON_PT_MIN, LEPTON_ETA_MAX, SIP3D_MAX, MUON_ISO_MAX = 30.0, 30.0, 2.1, 4.0, 0.15
JET_PT_MIN, JET_ETA_MAX, JET_ID_BIT = 30.0, 2.4, 4
BTAG_WP = 0.5
PT_SCALE = 1.03  # float64 factor on the float64 jet pT
BTAG_VAR = 0.075
WJETS_SCALE_VAR = {"up": 1.025, "down": 0.975}
MAX_N_JETS = 6
ML_OFFSET = 1e-6
ML_NBINS = 25

# (name, low, high), in the models' input order
ML_FEATURES = (
    ("deltar_leptonbtoplep", 0.0, 6.0),
    ("deltar_w1w2", 0.0, 6.0),
    ("deltar_w1btophad", 0.0, 6.0),
    ("deltar_w2btophad", 0.0, 6.0),
    ("mass_leptonbtoplep", 50.0, 300.0),
    ("mass_w1w2", 50.0, 300.0),
    ("mass_w1w2btophad", 50.0, 550.0),
    ("pt_w1w2btophad", 50.0, 550.0),
    ("pt_w1", 25.0, 300.0),
    ("pt_w2", 25.0, 300.0),
    ("pt_btophad", 25.0, 300.0),
    ("pt_btoplep", 25.0, 300.0),
    ("btag_w1", 0.0, 1.0),
    ("btag_w2", 0.0, 1.0),
    ("btag_btophad", 0.0, 1.0),
    ("btag_btoplep", 0.0, 1.0),
    ("qgl_w1", -1.0, 1.0),
    ("qgl_w2", -1.0, 1.0),
    ("qgl_btophad", -1.0, 1.0),
    ("qgl_btoplep", -1.0, 1.0),
)
ML_FEATURE_NAMES = tuple(name for name, _, _ in ML_FEATURES)
N_FEATURES = len(ML_FEATURES)

PSEUDODATA = ((0.5, "ttbar", "ME_var"), (0.5, "ttbar", "PS_var"), (1.0, "wjets", "nominal"))

JET_PT_VARIATIONS = ("nominal", "pt_scale_up")  # pt_res_up is not computed here
SKIPPED_VARIATIONS = ("pt_res_up",)

BRANCHES = [
    "event",
    "Jet_pt",
    "Jet_eta",
    "Jet_phi",
    "Jet_mass",
    "Jet_btagCSVV2",
    "Jet_jetId",
    "Jet_qgl",
    "Electron_pt",
    "Electron_eta",
    "Electron_phi",
    "Electron_mass",
    "Electron_cutBased",
    "Electron_sip3d",
    "Muon_pt",
    "Muon_eta",
    "Muon_phi",
    "Muon_mass",
    "Muon_tightId",
    "Muon_sip3d",
    "Muon_pfRelIso04_all",
]
STEP_SIZE = 250_000


def permutations(n: int) -> np.ndarray:
    """(count, 4) int array of the (w1, w2, b_tophad, b_toplep) jet indices for n jets, in the models' order."""
    return np.array([p for p in itertools.permutations(range(n), 4) if p[0] > p[1]], dtype=np.int64)


_PERMUTATIONS = {n: permutations(n) for n in range(4, MAX_N_JETS + 1)}


# --------------------------------------------------------------------------- the models
_MODELS: dict = {}


def models(models_dir: Path = MODELS_DIR) -> dict:
    """{"even": Booster, "odd": Booster} (the files model_even.json / model_odd.json), loaded once."""
    key = str(Path(models_dir).resolve())
    if key not in _MODELS:
        loaded = {}
        for parity in ("even", "odd"):
            booster = xgboost.Booster()
            booster.load_model(str(Path(models_dir) / f"model_{parity}.json"))
            loaded[parity] = booster
        _MODELS[key] = loaded
    return _MODELS[key]


def scores(booster, features: np.ndarray) -> np.ndarray:
    """P(correct assignment) of each row of ``features`` (..., 20), as xgboost computes it on float32 input."""
    shape = features.shape[:-1]
    x = np.ascontiguousarray(features.reshape(-1, N_FEATURES), dtype=np.float32)
    if x.shape[0] == 0:
        return np.zeros(shape, dtype=np.float32)
    out = booster.predict(xgboost.DMatrix(x))  # binary:logistic: the probability, float32
    return np.asarray(out, dtype=np.float32).reshape(shape)


# --------------------------------------------------------------------------- kinematics (float64)
def _four_vector(pt, eta, phi, mass):
    px = pt * np.cos(phi)
    py = pt * np.sin(phi)
    pz = pt * np.sinh(eta)
    e = np.sqrt(px * px + py * py + pz * pz + mass * mass)
    return px, py, pz, e


def _mass(px, py, pz, e):
    return np.sqrt(np.maximum(e * e - (px * px + py * py + pz * pz), 0.0))


def _delta_r(eta1, phi1, eta2, phi2):
    """Delta R with Delta phi NOT wrapped into [-pi, pi] (as the AGC's code)."""
    return np.sqrt((eta1 - eta2) ** 2 + (phi1 - phi2) ** 2)


def permutation_features(jets: dict, lepton: dict, n: int) -> np.ndarray:
    """Features (N, count, 20) of every permutation of events with exactly n (<= 6) jets used.

    jets: {"pt", "eta", "phi", "mass", "btag", "qgl"} -> (N, >= n) float64; lepton: {"pt", "eta", "phi", "mass"}
    -> (N,) float64.
    """
    perm = _PERMUTATIONS[n]
    # role arrays (N, count): jets[k][:, perm[:, r]]
    role = {r: {k: v[:, perm[:, i]] for k, v in jets.items()} for i, r in enumerate(("w1", "w2", "bhad", "blep"))}
    lep = {k: v[:, np.newaxis] for k, v in lepton.items()}
    w1, w2, bh, bl = role["w1"], role["w2"], role["bhad"], role["blep"]

    def p4(j):
        return _four_vector(j["pt"], j["eta"], j["phi"], j["mass"])

    v_lep, v_w1, v_w2, v_bh, v_bl = p4(lep), p4(w1), p4(w2), p4(bh), p4(bl)
    lep_bl = [a + b for a, b in zip(v_lep, v_bl)]
    w1w2 = [a + b for a, b in zip(v_w1, v_w2)]
    w1w2bh = [a + b for a, b in zip(w1w2, v_bh)]
    columns = [
        _delta_r(lep["eta"], lep["phi"], bl["eta"], bl["phi"]),
        _delta_r(w1["eta"], w1["phi"], w2["eta"], w2["phi"]),
        _delta_r(w1["eta"], w1["phi"], bh["eta"], bh["phi"]),
        _delta_r(w2["eta"], w2["phi"], bh["eta"], bh["phi"]),
        _mass(*lep_bl),
        _mass(*w1w2),
        _mass(*w1w2bh),
        np.hypot(w1w2bh[0], w1w2bh[1]),
        w1["pt"],
        w2["pt"],
        bh["pt"],
        bl["pt"],
        w1["btag"],
        w2["btag"],
        bh["btag"],
        bl["btag"],
        w1["qgl"],
        w2["qgl"],
        bh["qgl"],
        bl["qgl"],
    ]
    shape = perm.shape[:1]
    return np.stack([np.broadcast_to(c, (len(lepton["pt"]), *shape)) for c in columns], axis=-1)


def best_features(event, jets: dict, lepton: dict, njet: np.ndarray, models_dir: Path = MODELS_DIR):
    """Chosen features (N, 20) float64 and permutation index (N,) of 4j2b events.

    event: (N,) event numbers; jets: (N, 6) float64 arrays (NaN-padded) of the first six selected jets;
    njet: (N,) number of selected jets (>= 4).
    """
    boosters = models(models_dir)
    n_events = len(njet)
    chosen = np.full((n_events, N_FEATURES), np.nan)
    index = np.full(n_events, -1, dtype=np.int64)
    used = np.minimum(njet, MAX_N_JETS)
    odd_event = (np.asarray(event, dtype=np.uint64) % np.uint64(2)) == 1
    for n in range(4, MAX_N_JETS + 1):
        for parity_is_odd, model in ((False, "odd"), (True, "even")):  # even events -> model_odd, odd -> model_even
            rows = np.flatnonzero((used == n) & (odd_event == parity_is_odd))
            if rows.size == 0:
                continue
            feats = permutation_features(
                {k: v[rows, :n] for k, v in jets.items()}, {k: v[rows] for k, v in lepton.items()}, n
            )
            s = scores(boosters[model], feats)
            best = np.argmax(s, axis=1)  # first maximum
            chosen[rows] = feats[np.arange(rows.size), best]
            index[rows] = best
    return chosen, index


# --------------------------------------------------------------------------- per-event analysis
def _analyse(events, pt: ak.Array, models_dir: Path = MODELS_DIR) -> dict:
    """Selection, observables and ML for one float64 jagged jet pT.

    Returns numpy arrays, one entry per event: region (0 none, 1 4j1b, 2 4j2b), observable (HT / m_bjj, NaN
    otherwise), lead_pt (n, 4) pT of the first four selected jets (NaN-padded), features (n, 20) (NaN outside 4j2b).
    """
    n = len(pt)
    ele = (
        (events.Electron_pt > ELECTRON_PT_MIN)
        & (abs(events.Electron_eta) < LEPTON_ETA_MAX)
        & (events.Electron_cutBased == 4)
        & (events.Electron_sip3d < SIP3D_MAX)
    )
    mu = (
        (events.Muon_pt > MUON_PT_MIN)
        & (abs(events.Muon_eta) < LEPTON_ETA_MAX)
        & events.Muon_tightId
        & (events.Muon_sip3d < SIP3D_MAX)
        & (events.Muon_pfRelIso04_all < MUON_ISO_MAX)
    )
    n_lep = (ak.sum(ele, axis=1) + ak.sum(mu, axis=1)).to_numpy()
    jet_sel = (pt > JET_PT_MIN) & (abs(events.Jet_eta) < JET_ETA_MAX) & ((events.Jet_jetId & JET_ID_BIT) != 0)
    isb = events.Jet_btagCSVV2 > BTAG_WP
    n_jets = ak.sum(jet_sel, axis=1).to_numpy()
    n_btag = ak.sum(jet_sel & isb, axis=1).to_numpy()
    base = (n_lep == 1) & (n_jets >= 4) & (n_btag >= 1)
    region = np.zeros(n, dtype=np.int8)
    region[base & (n_btag == 1)] = 1
    region[base & (n_btag >= 2)] = 2

    sel_pt = pt[jet_sel]
    observable = np.full(n, np.nan)
    features = np.full((n, N_FEATURES), np.nan)
    in1 = region == 1
    if in1.any():
        observable[in1] = ak.sum(sel_pt[in1], axis=1).to_numpy()
    in2 = region == 2
    if in2.any():

        def selected(column):
            return ak.values_astype(column[jet_sel][in2], np.float64)

        eta, phi, mass = selected(events.Jet_eta), selected(events.Jet_phi), selected(events.Jet_mass)
        observable[in2] = _mbjj(sel_pt[in2], eta, phi, mass, isb[jet_sel][in2])

        def first6(column):
            padded = ak.pad_none(column[:, :MAX_N_JETS], MAX_N_JETS, axis=1, clip=True)
            return ak.to_numpy(ak.fill_none(padded, np.nan)).astype(np.float64).reshape(-1, MAX_N_JETS)

        jets = {
            "pt": first6(sel_pt[in2]),
            "eta": first6(eta),
            "phi": first6(phi),
            "mass": first6(mass),
            "btag": first6(selected(events.Jet_btagCSVV2)),
            "qgl": first6(selected(events.Jet_qgl)),
        }
        lepton = {}
        for key in ("pt", "eta", "phi", "mass"):
            both = ak.concatenate(
                [events[f"Electron_{key}"][ele][in2], events[f"Muon_{key}"][mu][in2]], axis=1
            )  # exactly one lepton per event
            lepton[key] = ak.to_numpy(ak.flatten(both)).astype(np.float64)
        features[in2], _ = best_features(events.event[in2].to_numpy(), jets, lepton, n_jets[in2], models_dir)
    padded = ak.pad_none(sel_pt[:, :4], 4, axis=1, clip=True)
    lead_pt = ak.to_numpy(ak.fill_none(padded, np.nan)).astype(np.float64).reshape(n, 4)
    return {"region": region, "observable": observable, "lead_pt": lead_pt, "features": features}


def _jet_pt(events, variation: str) -> ak.Array:
    """Float64 jagged jet pT of one pass."""
    pt = ak.values_astype(events.Jet_pt, np.float64)
    if variation == "nominal":
        return pt
    if variation == "pt_scale_up":
        return pt * PT_SCALE
    raise ValueError(f"jet pT variation {variation!r} is not computed by this oracle")


def _iterate(files, tree: str = "Events"):
    for f in files:
        path = f["path"] if isinstance(f, dict) else f
        yield from uproot.iterate({str(path): tree}, BRANCHES, step_size=STEP_SIZE, library="ak")


def event_results(files, pt_variation: str = "nominal", tree: str = "Events", models_dir: Path = MODELS_DIR) -> dict:
    """Per-event results (see ``_analyse``, plus ``event``) concatenated over all files."""
    parts = []
    for events in _iterate(files, tree):
        res = _analyse(events, _jet_pt(events, pt_variation), models_dir)
        res["event"] = events.event.to_numpy()
        parts.append(res)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}


# --------------------------------------------------------------------------- histograms
def ml_edges(low: float, high: float) -> np.ndarray:
    return np.linspace(low, high, ML_NBINS + 1)


_ML_EDGES = [ml_edges(low, high) for _, low, high in ML_FEATURES]


def ml_fill(feature: int, x, w) -> Hist:
    """Histogram (27 bins with flow) of feature number ``feature`` (values x, weights w)."""
    idx = np.searchsorted(_ML_EDGES[feature], np.asarray(x, dtype=np.float64), side="right")
    w = np.broadcast_to(np.asarray(w, dtype=np.float64), idx.shape)
    return Hist(
        np.bincount(idx, weights=w, minlength=ML_NBINS + 2), np.bincount(idx, weights=w * w, minlength=ML_NBINS + 2)
    )


def name(prefix: str, process: str, variation: str = "nominal") -> str:
    return f"{prefix}_{process}" if variation == "nominal" else f"{prefix}_{process}_{variation}"


def variation_names(process: str, variation: str) -> list[str]:
    """The suffixes this oracle computes for one sample (pt_res_up excluded)."""
    if variation != "nominal":
        return [variation]
    names = ["nominal", "pt_scale_up"] + [f"btag_var_{i}_{d}" for i in range(4) for d in ("up", "down")]
    if process == "wjets":
        names += ["scale_var_up", "scale_var_down"]
    return names


def is_ml(histogram: str) -> bool:
    return histogram.split("_")[0] not in ("4j1b", "4j2b")


def sample_histograms(
    files, process: str, variation: str, weight: float, tree: str = "Events", models_dir: Path = MODELS_DIR
) -> dict[str, Hist]:
    """All histograms of one sample (HT / m_bjj and ML, the ML ones without the offset)."""
    suffixes = variation_names(process, variation)
    prefixes = list(REGIONS) + list(ML_FEATURE_NAMES)
    acc = {name(p, process, v): [np.zeros(NFLOW), np.zeros(NFLOW)] for p in prefixes for v in suffixes}

    def add(suffix, res, factor):
        for code, region in enumerate(REGIONS, start=1):
            mask = res["region"] == code
            w = weight * factor[mask] if np.ndim(factor) else np.full(int(mask.sum()), weight * factor)
            h = fill(res["observable"][mask], w)
            acc[name(region, process, suffix)][0] += h.sumw
            acc[name(region, process, suffix)][1] += h.sumw2
            if region == "4j2b":
                for i, feature in enumerate(ML_FEATURE_NAMES):
                    h = ml_fill(i, res["features"][mask, i], w)
                    acc[name(feature, process, suffix)][0] += h.sumw
                    acc[name(feature, process, suffix)][1] += h.sumw2

    passes = JET_PT_VARIATIONS if variation == "nominal" else ("nominal",)
    for events in _iterate(files, tree):
        for ptvar in passes:
            res = _analyse(events, _jet_pt(events, ptvar), models_dir)
            if ptvar != "nominal":
                add(ptvar, res, 1.0)
                continue
            add(variation, res, 1.0)
            if variation != "nominal":
                continue
            for i in range(4):
                shift = BTAG_VAR * res["lead_pt"][:, i] / 50.0
                add(f"btag_var_{i}_up", res, 1.0 + shift)
                add(f"btag_var_{i}_down", res, 1.0 - shift)
            if process == "wjets":
                for d, f in WJETS_SCALE_VAR.items():
                    add(f"scale_var_{d}", res, f)
    return {k: Hist(v[0], v[1]) for k, v in acc.items()}


def all_histograms(
    inputs, n_files: int | None = None, tree: str = "Events", models_dir: Path = MODELS_DIR
) -> dict[str, Hist]:
    """Every histogram of a v2 run (both files, pt_res_up excepted) for AGC-format inputs (a dict or JSON path).

    The ML histograms carry the +1e-6 offset (1e-12 in the variances); pseudo-data is added when its three parts
    are present (the ML ones built from the offset histograms).
    """
    out: dict[str, Hist] = {}
    for process, variation, files, weight in weighted_samples(inputs, n_files):
        out.update(sample_histograms(files, process, variation, weight, tree, models_dir))
    for key, h in out.items():
        if is_ml(key):
            out[key] = Hist(h.sumw + ML_OFFSET, h.sumw2 + ML_OFFSET * ML_OFFSET)
    for prefix in list(REGIONS) + list(ML_FEATURE_NAMES):
        parts = [(c, name(prefix, p, v)) for c, p, v in PSEUDODATA]
        if all(n in out for _, n in parts):
            out[f"{prefix}_pseudodata"] = Hist(
                sum(c * out[n].sumw for c, n in parts), sum(c * c * out[n].sumw2 for c, n in parts)
            )
    return out
