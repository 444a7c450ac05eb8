"""The ML jet-parton assignment against the demo set's truth (Jet_truthParton, demo only).

Among the v2 4j2b ttbar events (nominal sample) whose four partons' jets are all among the first six selected
jets, how often does the assignment (xgboost models, cpp/ml.h) pick exactly them in their roles (the two W
jets, the hadronic top's b, the leptonic top's b)? A random choice among the 12-180 permutations is right in
1/12 to 1/180 of the events; the assignment must do far better. ``pytest -s`` prints the efficiency (README
"AGC v2").
"""

from __future__ import annotations

import json

from conftest import generate_demo
from helpers import REPO

TRUTH_HEADER = REPO / "tests" / "data" / "v2_truth.h"


def test_assignment_finds_the_ttbar_jets_far_more_often_than_chance(tmp_path):
    import ROOT

    from rdf_ttbar import cpp
    from rdf_ttbar.analysis import AGC_V2, agc_v2
    from rdf_ttbar.analysis.graph import register_models
    from rdf_ttbar.analysis.model import Define

    inputs = json.loads(generate_demo(tmp_path, events_per_file=100_000, events_per_sample=100_000).read_text())
    files = [f["path"] for f in inputs["ttbar"]["nominal"]["files"]]
    cpp.declare(AGC_V2.headers)
    assert ROOT.gInterpreter.Declare(f'#include "{TRUTH_HEADER}"')
    df = ROOT.RDataFrame("Events", files)
    for step in AGC_V2.selection:
        df = df.Define(step.name, step.expression) if isinstance(step, Define) else df.Filter(step.expression)
    (even, _), (odd, _) = AGC_V2.models  # the keys of the shipped models, handed to the C++ here as a run does
    assert [path for _, path in AGC_V2.models] == [str(agc_v2.MODELS_DIR / f"model_{p}.json") for p in ("even", "odd")]
    register_models(AGC_V2)
    df = df.Filter("nbtag >= 2").Define(
        "truth",
        f'rdf_ttbar_test::assignment_truth("{even}", "{odd}", event, jets, Jet_pt, Jet_eta, Jet_phi, Jet_mass, '
        "Jet_btagCSVV2, Jet_qgl, lepton, Jet_truthParton)",
    )
    df = df.Define(
        "permutations", "float(std::min<std::size_t>(jets.size(), 6) == 4 ? 12 : jets.size() == 5 ? 60 : 180)"
    )
    events = df.Count()
    matchable = df.Filter("truth > 0")
    right = matchable.Filter("truth == 2").Count()
    chance = matchable.Define("p", "1.f / permutations").Sum("p")
    n_matchable = matchable.Count()
    n, m, r, c = events.GetValue(), n_matchable.GetValue(), right.GetValue(), chance.GetValue()
    efficiency, chance_rate = r / m, c / m
    print(
        f"\nAGC v2 assignment on the demo set (ttbar, 4j2b, 100k events): {n} events, {m} with all four partons' "
        f"jets among the first six ({m / n:.1%}); right assignment in {r} = {efficiency:.1%} of those "
        f"({r / n:.1%} of all), a random choice {chance_rate:.1%}"
    )
    assert n > 1000 and m > 300
    assert efficiency > 5 * chance_rate and efficiency > 0.25
