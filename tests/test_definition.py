"""The analysis definition (rdf_ttbar.analysis): names, binning, both builds of its graph, and a definition
extended by a test (a new observable and a new weight systematic with their own C++ helper)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import oracle
from helpers import ALL_SAMPLES, REPO
from rdf_ttbar.analysis import AGC_V1, graph, nodes
from rdf_ttbar.analysis.checks import DefinitionError
from rdf_ttbar.analysis.model import Binning, Histogram, Systematic

EXTRA_HEADER = REPO / "tests" / "data" / "extra_helpers.h"


def test_histogram_names_are_the_independent_oracles():
    expected = {
        oracle.histogram_name(r, p, s)
        for r in ("4j1b", "4j2b")
        for p, v in ALL_SAMPLES
        for s in oracle.sample_variation_names(p, v)
    } | {"4j1b_pseudodata", "4j2b_pseudodata"}
    names = AGC_V1.histogram_names()
    assert len(names) == len(set(names)) == 124 and set(names) == expected


def test_histogram_axis_puts_values_in_the_bin_th1_fill_chooses():
    import ROOT

    graph.Builds(AGC_V1, compiled=False)  # declares the helpers
    axis = ROOT.rdf_ttbar.HistogramAxis(27, 25, 50.0, 550.0)
    h = ROOT.TH1D("axis_check", "", 25, 50.0, 550.0)
    values = [
        -1e300,
        49.999999,
        50.0,
        70.0,
        89.99999999999999,
        90.0,
        549.9999999,
        550.0,
        1e9,
        float("nan"),
        float("inf"),
        -float("inf"),
    ] + list(np.random.default_rng(3).uniform(0, 600, 2000))
    for x in values:
        assert int(axis.position(x) - 0.5) == 27 + h.FindFixBin(x), x


def test_definition_mistakes_are_named():
    with pytest.raises(DefinitionError, match="booked in the unknown region 'nowhere'"):
        dataclasses.replace(AGC_V1, histograms=AGC_V1.histograms + (Histogram("nowhere", "1.0", Binning(1, 0, 1)),))
    with pytest.raises(DefinitionError, match="varies the unknown column 'Jet_ptt'"):
        dataclasses.replace(AGC_V1, systematics=(Systematic("x", "x", "vary", "Jet_ptt", "Jet_ptt"),))


def test_preselection_is_the_selection_ored_over_the_jet_pt_variations():
    steps = nodes.preselection(AGC_V1)
    last = steps[-1]
    assert last.expression == "((nbtag >= 1)) || ((nbtag__pt_scale_up >= 1)) || ((nbtag__pt_res_up >= 1))"
    assert steps[0].name == "exactly one lepton"  # reads no varied column: applied as it is
    defined = {s.name: s.expression for s in steps if type(s).__name__ == "Define"}
    assert defined["jets__pt_res_up"] == "rdf_ttbar::select_jets(Jet_pt__pt_res_up, 25.0f)"


# ------------------------------------------------------------------------------------- both builds
class Sample:
    def __init__(self, process="wjets", variation="nominal", weight=0.25):
        self.process, self.variation, self.weight = process, variation, weight
        self.name, self.files = process, ["memory"]


def in_memory_events(n=2000):
    """NanoAOD-typed columns made by ROOT (TTree types: run UInt_t, event ULong64_t)."""
    import ROOT

    df = ROOT.RDataFrame(n)
    values = "rdf_ttbar_test::random_floats(rdfentry_, {}, {}, {}, {})"
    columns = [
        ("Jet_pt", 6, 15, 160),
        ("Jet_eta", 6, -2.4, 2.4),
        ("Jet_phi", 6, -3.1, 3.1),
        ("Jet_mass", 6, 2, 20),
        ("Jet_btagCSVV2", 6, 0, 0.8),
        ("Electron_pt", 1, 26, 60),
        ("Muon_pt", 1, 10, 24),
    ]
    for i, (column, n, low, high) in enumerate(columns):
        df = df.Define(column, values.format(i, n, float(low), float(high)))
    return (
        df.Define("run", "(UInt_t)1")
        .Define("luminosityBlock", "(UInt_t)(rdfentry_ / 100)")
        .Define("event", "(ULong64_t)rdfentry_")
    )


def extended_definition():
    """AGC v1 plus the leading selected jet's pT in 4j1b (its own binning) and a weight systematic."""
    return dataclasses.replace(
        AGC_V1,
        name="AGC v1 + test additions",
        headers=AGC_V1.headers + (str(EXTRA_HEADER),),
        histograms=AGC_V1.histograms
        + (
            Histogram(
                "4j1b",
                "rdf_ttbar_test::leading_pt(jets, Jet_pt)",
                Binning(20, 25.0, 425.0),
                "leading jet $p_T$ [GeV]",
                name="leadjet",
            ),
        ),
        systematics=AGC_V1.systematics
        + (Systematic("toy_weight", "toy weight", "vary", "weight", "rdf_ttbar_test::toy_weights(weight)"),),
    )


def run_both(definition, sample):
    import ROOT

    ROOT.gInterpreter.Declare(f'#include "{EXTRA_HEADER}"')
    booked = []
    for compiled in (True, False):
        builds = graph.Builds(definition, compiled=compiled)
        booked.append(builds.book(sample, in_memory_events()))
        assert (booked[-1].compiled is not None) == compiled
    graph.book_variations(booked)
    ROOT.RDF.RunGraphs([h for b in booked for h in b.handles()])
    return booked


def assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name].values(flow=True), b[name].values(flow=True), err_msg=name)
        np.testing.assert_array_equal(a[name].variances(flow=True), b[name].variances(flow=True), err_msg=name)


def test_both_builds_book_the_same_graph_and_fill_the_same_histograms():
    import ROOT

    compiled, jitted = run_both(AGC_V1, Sample())
    assert ROOT.RDF.SaveGraph(compiled.histogram) == ROOT.RDF.SaveGraph(jitted.histogram)
    a, b = (graph.collect(AGC_V1, [x]) for x in (compiled, jitted))
    assert set(a) == set(AGC_V1.sample_histogram_names("wjets", "nominal"))
    assert a["4j1b_wjets"].values().sum() > 0 and a["4j2b_wjets_pt_res_up"].values().sum() > 0
    assert_same(a, b)


def test_an_added_observable_and_systematic_are_booked_by_both_builds():
    definition = extended_definition()
    compiled, jitted = run_both(definition, Sample())
    a, b = (graph.collect(definition, [x]) for x in (compiled, jitted))
    assert_same(a, b)
    new = {n for n in a if n.startswith("leadjet_") or "toy_weight" in n}
    assert {"leadjet_wjets", "leadjet_wjets_toy_weight_up", "4j2b_wjets_toy_weight_down"} <= new
    assert a["leadjet_wjets"].axes[0].edges[0] == 25.0 and len(a["leadjet_wjets"].axes[0].edges) == 21
    # the new weight systematic scales every weight by 1.1 / 0.9 (its helper): checked against the nominal
    for region in ("4j1b", "4j2b", "leadjet"):
        nominal = a[f"{region}_wjets"].values(flow=True)
        assert nominal.sum() > 0
        np.testing.assert_allclose(a[f"{region}_wjets_toy_weight_up"].values(flow=True), 1.1 * nominal, rtol=1e-12)
        np.testing.assert_allclose(a[f"{region}_wjets_toy_weight_down"].values(flow=True), 0.9 * nominal, rtol=1e-12)
    # the new observable fills only 4j1b events: as many entries (weight sum) as the 4j1b histogram
    assert a["leadjet_wjets"].values(flow=True).sum() == pytest.approx(a["4j1b_wjets"].values(flow=True).sum())
