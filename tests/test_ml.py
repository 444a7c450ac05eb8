"""The v2 ML jet-parton assignment in C++ (cpp/ml.h) against xgboost and an independent numpy version.

- the forest evaluator: probabilities identical (bit for bit) to xgboost's on float32 inputs,
  for both shipped models, on random vectors over the features' ranges with NaN, -10 (btag),
  -1 (qgl) and values exactly at (and one ulp beside) the models' split conditions;
- the permutations: the AGC's (w1, w2, b_tophad, b_toplep) with w1 > w2, lexicographic;
- whole events: features, scores, the even/odd model choice and the first maximum, against
  the features computed here in float64 (plain px, py, pz, E) and scored by xgboost;
- the shipped models' sha256.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from rdf_ttbar.analysis import forest

xgboost = pytest.importorskip("xgboost")

REPO = Path(__file__).resolve().parents[1]
HEADER = REPO / "cpp" / "ml.h"
MODELS = REPO / "rdf_ttbar" / "data" / "models"
MODEL_EVEN = str(MODELS / "model_even.json")
MODEL_ODD = str(MODELS / "model_odd.json")
KEYS = {MODEL_EVEN: forest.model_key(MODEL_EVEN), MODEL_ODD: forest.model_key(MODEL_ODD)}  # what ml.h knows them by

# the README's 12 permutations for 4 jets: (w1, w2, b_tophad, b_toplep)
README_PERMUTATIONS_4 = [
    (1, 0, 2, 3),
    (1, 0, 3, 2),
    (2, 0, 1, 3),
    (2, 0, 3, 1),
    (2, 1, 0, 3),
    (2, 1, 3, 0),
    (3, 0, 1, 2),
    (3, 0, 2, 1),
    (3, 1, 0, 2),
    (3, 1, 2, 0),
    (3, 2, 0, 1),
    (3, 2, 1, 0),
]


@pytest.fixture(scope="module")
def ml():
    import ROOT

    assert ROOT.gInterpreter.Declare(f'#include "{HEADER}"')
    for path, key in KEYS.items():  # read in Python, handed to C++ as arrays (as a run does)
        forest.register(key, path)
    return ROOT.rdf_ttbar.ml


@pytest.fixture(scope="module")
def boosters():
    out = {}
    for name, path in (("even", MODEL_EVEN), ("odd", MODEL_ODD)):
        b = xgboost.Booster()
        b.load_model(path)
        out[name] = b
    return out


def rvec(a):
    import ROOT

    return ROOT.VecOps.AsRVec(np.ascontiguousarray(a))


def xgb_proba(booster, x):
    """P(class 1) as XGBClassifier.predict_proba(x)[:, 1] computes it (inplace_predict on float32)."""
    return booster.inplace_predict(np.ascontiguousarray(x, dtype=np.float32))


# ---------------------------------------------------------------------------
# the evaluator
# ---------------------------------------------------------------------------
def split_conditions(path):
    """{feature: float32 split conditions} of a model, read with the json module."""
    trees = json.load(open(path))["learner"]["gradient_booster"]["model"]["trees"]
    out = {}
    for t in trees:
        for left, feature, cond in zip(t["left_children"], t["split_indices"], t["split_conditions"]):
            if left != -1:
                out.setdefault(feature, []).append(cond)
    return {k: np.unique(np.array(v, dtype=np.float32)) for k, v in out.items()}


def random_features(n, rng, conditions):
    """n vectors over the features' ranges (and beyond), with the special values the inputs have."""
    x = np.empty((n, 20), dtype=np.float32)
    x[:, 0:4] = rng.uniform(0, 7, (n, 4))  # Delta R (unwrapped phi: up to ~2 pi and more)
    x[:, 4:6] = rng.uniform(0, 400, (n, 2))  # masses
    x[:, 6:8] = rng.uniform(0, 800, (n, 2))
    x[:, 8:12] = rng.exponential(60, (n, 4)) + 25  # jet pT
    x[:, 12:16] = rng.uniform(0, 1, (n, 4))  # btag
    x[:, 16:20] = rng.uniform(0, 1, (n, 4))  # qgl
    x[:, 12:16][rng.random((n, 4)) < 0.05] = -10  # no secondary vertex
    x[:, 16:20][rng.random((n, 4)) < 0.05] = -1  # undefined qgl
    # values exactly at a split condition, and one float32 ulp below / above it
    for f, conds in conditions.items():
        at = rng.random(n) < 0.15
        v = conds[rng.integers(0, len(conds), at.sum())]
        step = rng.integers(-1, 2, at.sum())
        v = np.where(
            step < 0, np.nextafter(v, np.float32(-np.inf)), np.where(step > 0, np.nextafter(v, np.float32(np.inf)), v)
        )
        x[at, f] = v
    x[rng.random((n, 20)) < 0.02] = np.nan  # missing values
    x[rng.random(n) < 0.01] = np.nan  # all missing
    return x


@pytest.mark.parametrize("which", ["even", "odd"])
def test_probabilities_identical_to_xgboost(ml, boosters, which):
    path = MODEL_EVEN if which == "even" else MODEL_ODD
    rng = np.random.default_rng(2026 + (which == "odd"))
    x = random_features(60_000, rng, split_conditions(path))
    mine = np.asarray(ml.predict(KEYS[path], rvec(x.ravel()))).copy()
    theirs = xgb_proba(boosters[which], x)
    assert theirs.dtype == np.float32 and mine.dtype == np.float32
    np.testing.assert_array_equal(mine, theirs)
    # the DMatrix path (crosscheck_ml.py's) gives the same, and so does the scikit-learn wrapper the AGC calls
    np.testing.assert_array_equal(boosters[which].predict(xgboost.DMatrix(x)), theirs)
    try:
        import sklearn  # noqa: F401  (XGBClassifier needs it; not a test dependency)
    except ImportError:
        pass
    else:
        clf = xgboost.XGBClassifier()
        clf.load_model(path)
        np.testing.assert_array_equal(clf.predict_proba(x)[:, 1], mine)
    assert np.isnan(x).any() and (x[:, 12:16] == -10).any() and (x[:, 16:20] == -1).any()
    assert 0.001 < np.mean(mine > 0.5) < 0.999  # both classes occur: the vectors reach both sides of the splits


def ROOT_address(obj):
    import ROOT

    return ROOT.AddressOf(obj)[0]


def test_model_is_handed_over_once_and_checked(ml, tmp_path):
    a = ml.model(KEYS[MODEL_EVEN])
    forest.register(KEYS[MODEL_EVEN], MODEL_EVEN)  # a second time: the same forest
    assert int(ROOT_address(ml.model(KEYS[MODEL_EVEN]))) == int(ROOT_address(a))
    assert a.num_feature == 20 and a.roots.size() == 251 and a.base_margin == 0.0
    assert int(ROOT_address(ml.model(KEYS[MODEL_ODD]))) != int(ROOT_address(a))
    assert KEYS[MODEL_EVEN] != KEYS[MODEL_ODD] and KEYS[MODEL_EVEN].startswith("xgboost-")
    with pytest.raises(Exception, match="no model 'xgboost-0000'"):
        ml.model("xgboost-0000")
    with pytest.raises(ValueError, match="cannot read the model file"):
        forest.register("other", str(MODELS / "no_such_model.json"))
    doc = json.loads(Path(MODEL_ODD).read_text())
    doc["learner"]["objective"]["name"] = "multi:softprob"
    (tmp_path / "multi.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="objective multi:softprob .only binary:logistic is supported"):
        forest.register("multi", str(tmp_path / "multi.json"))
    assert not ml.has_forest("multi")


def test_a_model_missing_at_its_path_is_read_from_the_data_path(ml, tmp_path, monkeypatch):
    """Dask workers without the client's installation: the Executor uploads the models into each worker's folder,
    which the worker set-up puts in $RDF_TTBAR_DATA_PATH; a model whose path is missing is read from there."""
    import shutil

    copies = tmp_path / "worker-folder"
    copies.mkdir()
    shutil.copy(MODEL_ODD, copies / "model_odd.json")
    monkeypatch.setenv("RDF_TTBAR_DATA_PATH", f"{tmp_path / 'not-there'}:{copies}")
    moved = str(tmp_path / "client-installation" / "model_odd.json")
    assert forest.find_file(moved) == str(copies / "model_odd.json")
    assert forest.read(forest.find_file(moved)) == forest.read(MODEL_ODD)
    forest.register("moved-odd", moved)
    rows = rvec(random_features(2_000, np.random.default_rng(7), split_conditions(MODEL_ODD)).ravel())
    moved_scores = np.asarray(ml.predict("moved-odd", rows))
    np.testing.assert_array_equal(moved_scores, np.asarray(ml.predict(KEYS[MODEL_ODD], rows)))
    with pytest.raises(ValueError, match=r"cannot read the model file .* \(nor a file of its name in \$RDF_TTBAR_DATA"):
        forest.register("moved-even", str(tmp_path / "client-installation" / "model_even.json"))  # no copy of it


def test_sigmoid_and_base_margin_are_xgboosts(ml):
    # xgboost: 1 / (expf(min(-x, 88.7f)) + 1 + 1e-16f) in float32
    import ctypes

    expf = ctypes.CDLL("libm.so.6").expf
    expf.restype, expf.argtypes = ctypes.c_float, [ctypes.c_float]
    for x in np.float32([-100.0, -88.7, -20.5, -1.25, -1e-7, 0.0, 1e-7, 0.3, 2.0, 17.0, 89.0, 200.0]):
        e = np.float32(expf(min(-x, np.float32(88.7))))
        want = np.float32(1.0) / (e + np.float32(1.0) + np.float32(1e-16))
        assert np.float32(ml.sigmoid(float(x))) == want


# ---------------------------------------------------------------------------
# permutations
# ---------------------------------------------------------------------------
def test_permutations(ml):
    got4 = [tuple(p) for p in ml.permutations(4)]
    assert got4 == README_PERMUTATIONS_4
    for n, count in ((4, 12), (5, 60), (6, 180)):
        expected = [p for p in itertools.permutations(range(n), 4) if p[0] > p[1]]
        got = [tuple(p) for p in ml.permutations(n)]
        assert got == expected and len(got) == count
    assert [tuple(p) for p in ml.permutations(9)] == [tuple(p) for p in ml.permutations(6)]  # at most 6 jets


# ---------------------------------------------------------------------------
# whole events, against an independent numpy version
# ---------------------------------------------------------------------------
def p4(pt, eta, phi, m):
    pt, eta, phi, m = (np.asarray(v, dtype=np.float64) for v in (pt, eta, phi, m))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.stack([px, py, pz, np.sqrt(px * px + py * py + pz * pz + m * m)], axis=-1)


def inv_mass(v):
    return np.sqrt(np.maximum(v[..., 3] ** 2 - v[..., 0] ** 2 - v[..., 1] ** 2 - v[..., 2] ** 2, 0.0))


def reference_features(jets, lep):
    """(n_perm, 20) float64 features of an event's first min(n, 6) jets (dict of arrays, file order)."""
    n = min(len(jets["pt"]), 6)
    perms = np.array([p for p in itertools.permutations(range(n), 4) if p[0] > p[1]])
    j = {k: np.asarray(v, dtype=np.float64)[:n][perms] for k, v in jets.items()}  # (n_perm, 4)
    jv = p4(j["pt"], j["eta"], j["phi"], j["mass"])  # (n_perm, 4, 4)
    lv = p4(lep["pt"], lep["eta"], lep["phi"], lep["mass"])

    def dr(eta1, phi1, eta2, phi2):  # Delta phi not wrapped, as the models were trained
        return np.sqrt((eta1 - eta2) ** 2 + (phi1 - phi2) ** 2)

    f = np.empty((len(perms), 20))
    f[:, 0] = dr(lep["eta"], lep["phi"], j["eta"][:, 3], j["phi"][:, 3])
    f[:, 1] = dr(j["eta"][:, 0], j["phi"][:, 0], j["eta"][:, 1], j["phi"][:, 1])
    f[:, 2] = dr(j["eta"][:, 0], j["phi"][:, 0], j["eta"][:, 2], j["phi"][:, 2])
    f[:, 3] = dr(j["eta"][:, 1], j["phi"][:, 1], j["eta"][:, 2], j["phi"][:, 2])
    f[:, 4] = inv_mass(lv + jv[:, 3])
    f[:, 5] = inv_mass(jv[:, 0] + jv[:, 1])
    had = jv[:, 0] + jv[:, 1] + jv[:, 2]
    f[:, 6] = inv_mass(had)
    f[:, 7] = np.hypot(had[:, 0], had[:, 1])
    f[:, 8:12], f[:, 12:16], f[:, 16:20] = j["pt"], j["btag"], j["qgl"]
    return perms, f


def make_event(rng, n_all):
    """An event's Jet arrays (n_all jets, pT ordered) and which of them are selected (file order)."""
    pt = np.sort(rng.exponential(50, n_all) + 25)[::-1]
    jets = dict(
        pt=pt.astype(np.float32),
        eta=rng.uniform(-2.4, 2.4, n_all).astype(np.float32),
        phi=rng.uniform(-np.pi, np.pi, n_all).astype(np.float32),
        mass=rng.uniform(2, 30, n_all).astype(np.float32),
        btag=np.where(rng.random(n_all) < 0.1, -10, rng.uniform(0, 1, n_all)).astype(np.float32),
        qgl=np.where(rng.random(n_all) < 0.1, -1, rng.uniform(0, 1, n_all)).astype(np.float32),
    )
    n_sel = rng.integers(4, n_all + 1)
    selected = np.sort(rng.choice(n_all, n_sel, replace=False)).astype(np.int32)
    lep = dict(
        pt=np.float32(rng.uniform(30, 200)),
        eta=np.float32(rng.uniform(-2.1, 2.1)),
        phi=np.float32(rng.uniform(-np.pi, np.pi)),
        mass=np.float32(rng.choice([0.000511, 0.10566])),
    )
    return jets, selected, lep


def run_cpp(ml, event, jets, selected, lep, pt_dtype):
    a = ml.assign(
        KEYS[MODEL_EVEN],
        KEYS[MODEL_ODD],
        event,
        rvec(selected),
        rvec(jets["pt"].astype(pt_dtype)),
        rvec(jets["eta"]),
        rvec(jets["phi"]),
        rvec(jets["mass"]),
        rvec(jets["btag"]),
        rvec(jets["qgl"]),
        float(lep["pt"]),
        float(lep["eta"]),
        float(lep["phi"]),
        float(lep["mass"]),
        True,
    )
    scores = np.asarray(a.scores).copy()
    return (a.best, scores, np.asarray(a.features).copy(), np.asarray(a.all_features).copy().reshape(len(scores), 20))


def first_max(scores):
    return int(np.argmax(scores))  # numpy's argmax: the first maximum


def check_event(ml, boosters, event, jets, selected, lep, pt_dtype, stats):
    booster = boosters["odd"] if event % 2 == 0 else boosters["even"]  # even events: the model trained on odd ones
    best, scores, chosen, allf = run_cpp(ml, event, jets, selected, lep, pt_dtype)
    sel = {k: v[selected] for k, v in jets.items()}
    perms, ref = reference_features(sel, lep)
    assert len(scores) == len(perms) == {4: 12, 5: 60}.get(min(len(selected), 6), 180)
    # the C++ scores are xgboost's on the C++ features; the best is their first maximum
    np.testing.assert_array_equal(scores, xgb_proba(booster, allf))
    assert best == first_max(scores)
    np.testing.assert_array_equal(chosen, allf[best])
    # the features against the float64 ones computed here
    np.testing.assert_array_equal(allf[:, 8:20], ref[:, 8:20])  # pT, btag, qgl: as read
    np.testing.assert_allclose(allf[:, 0:4], ref[:, 0:4], rtol=1e-6, atol=1e-6)  # float32 Delta R
    rel = np.max(np.abs(allf[:, 4:8] - ref[:, 4:8]) / ref[:, 4:8])
    stats["max_rel"] = max(stats["max_rel"], rel)
    assert rel < 1e-3
    # the choice against xgboost on the float64 features (cast to float32)
    ref_scores = xgb_proba(booster, ref)
    ref_best = first_max(ref_scores)
    if ref_best != best:  # allowed only for a near tie, which the features' last bits can tip
        top = np.sort(ref_scores)[-2:]
        assert top[1] - top[0] < 1e-4, (event, best, ref_best)
        stats["near_ties"] += 1
    else:
        stats["same"] += 1
    return best, scores, allf


@pytest.mark.parametrize("pt_dtype", [np.float32, np.float64], ids=["float32-pt", "float64-pt"])
def test_events_against_numpy(ml, boosters, pt_dtype):
    rng = np.random.default_rng(7)
    stats = dict(max_rel=0.0, near_ties=0, same=0)
    n_perm_seen = set()
    for i in range(60):
        jets, selected, lep = make_event(rng, int(rng.integers(4, 10)))
        event = int(rng.integers(1, 2**40))
        check_event(ml, boosters, event, jets, selected, lep, pt_dtype, stats)
        n_perm_seen.add(min(len(selected), 6))
    assert n_perm_seen == {4, 5, 6}
    assert stats["same"] >= 58, stats
    # masses and pT sums: float32 arithmetic (float32 pT), or float64 with coffea's float32 cos(phi),
    # sinh(eta), exp(-eta) of the float32 branches (float64 pT): both ~1e-4 from float64 (mass cancellation)
    print(pt_dtype.__name__, stats)
    assert stats["max_rel"] < 1e-3, stats


def test_even_odd_model_choice(ml, boosters):
    rng = np.random.default_rng(11)
    jets, selected, lep = make_event(rng, 6)
    for event, model in ((1000, "odd"), (1001, "even")):
        _, scores, _, allf = run_cpp(ml, event, jets, selected, lep, np.float32)
        np.testing.assert_array_equal(scores, xgb_proba(boosters[model], allf))
        other = xgb_proba(boosters["even" if model == "odd" else "odd"], allf)
        assert not np.array_equal(scores, other)


def test_first_maximum_on_a_tie(ml, boosters):
    """Two identical jets: swapping them gives identical features and scores; the first wins."""
    rng = np.random.default_rng(3)
    ties = 0
    for i in range(40):
        jets, _, lep = make_event(rng, 5)
        for k in jets:
            jets[k][3] = jets[k][2]  # jets 2 and 3 identical (file order kept: same pT)
        selected = np.arange(5, dtype=np.int32)
        event = 2 * i + (i % 2)
        best, scores, allf = check_event(
            ml, boosters, event, jets, selected, lep, np.float32, dict(max_rel=0.0, near_ties=0, same=0)
        )
        top = np.flatnonzero(scores == scores.max())
        if len(top) > 1:
            ties += 1
            assert best == top[0]
            for t in top[1:]:  # a tie of the two identical jets: the same features
                np.testing.assert_array_equal(allf[t], allf[top[0]])
    assert ties >= 5


def test_fewer_than_four_jets(ml):
    jets, _, lep = make_event(np.random.default_rng(1), 5)
    best, scores, chosen, _ = run_cpp(ml, 4, jets, np.arange(3, dtype=np.int32), lep, np.float32)
    assert best == -1 and len(scores) == 0 and len(chosen) == 0


def test_best_features_and_scores_entry_points(ml):
    rng = np.random.default_rng(5)
    jets, selected, lep = make_event(rng, 8)
    args = (
        KEYS[MODEL_EVEN],
        KEYS[MODEL_ODD],
        77,
        rvec(selected),
        rvec(jets["pt"].astype(np.float64)),
        rvec(jets["eta"]),
        rvec(jets["phi"]),
        rvec(jets["mass"]),
        rvec(jets["btag"]),
        rvec(jets["qgl"]),
        float(lep["pt"]),
        float(lep["eta"]),
        float(lep["phi"]),
        float(lep["mass"]),
    )
    best, scores, chosen, _ = run_cpp(ml, 77, jets, selected, lep, np.float64)
    np.testing.assert_array_equal(np.asarray(ml.best_features(*args)), chosen)
    np.testing.assert_array_equal(np.asarray(ml.scores(*args)), scores)
    # the selected jets are indices into the Jet arrays: the same jets as separate arrays give the same
    sub = {k: v[selected] for k, v in jets.items()}
    b2, s2, c2, _ = run_cpp(ml, 77, sub, np.arange(len(selected), dtype=np.int32), lep, np.float64)
    assert b2 == best
    np.testing.assert_array_equal(s2, scores)


# ---------------------------------------------------------------------------
# the shipped models
# ---------------------------------------------------------------------------
def test_shipped_models_sha256():
    lines = (MODELS / "SHA256SUMS").read_text().split("\n")
    sums = dict(reversed(line.split()) for line in lines if line.strip())
    assert set(sums) == {"model_even.json", "model_odd.json"}
    for name, digest in sums.items():
        assert hashlib.sha256((MODELS / name).read_bytes()).hexdigest() == digest, name
