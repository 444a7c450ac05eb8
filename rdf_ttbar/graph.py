"""The analysis graph: one RDataFrame per sample, systematics booked with Vary.

For each sample the graph is

    lepton selection -> jet pT (nominal, Vary: pt_scale_up, pt_res_up)
    -> jet selection (>= 4 jets, >= 1 b-tag) -> weight (Vary: b-tag, scale_var)
    -> observable (1 b-tag: HT, >= 2 b-tags: m_bjj)
    -> one Histo2D (observable x number of b-tags) -> VariationsFor

The two regions are the two y bins of the 2D histogram (``BTAG_BIN_EDGES``):
one action per variation instead of a filter, a define and a histogram per
region, which makes the event loop cheaper; histograms.collect projects the
regions out. Everything listed in ``systematics.SYSTEMATICS`` with kind
"jet_pt" or "weight" is booked from its C++ expression; histogram names
follow from the same table.

The same graph comes in two builds: compiled ahead of time (cpp/graph.cxx, loaded by native.py; no jitting,
the faster event loop) for local runs on NanoAOD column types, and booked from C++ strings (jitted by ROOT)
for Dask, whose graphs are Python proxies, and for any other column types. Both give bit-identical
histograms (tests/test_compiled_graph.py).
"""

from __future__ import annotations

import array
from dataclasses import dataclass

from . import cpp, systematics as sy
from .errors import UserError
from .inputs import Sample


@dataclass
class BookedSample:
    """The lazy results of one sample's graph."""

    sample: Sample
    dataframe: object  # the sample's ROOT.RDataFrame
    count: object  # RResultPtr<ULong64_t>: events processed
    histogram: object = None  # nominal RResultPtr<TH2D>: observable x number of b-tagged jets
    variations: object = None  # its RResultMap (after VariationsFor): variation name -> TH2D
    compiled: object = None  # the compiled graph's rdf_ttbar::BookedGraph (owns the three results above)

    def handles(self) -> list:
        return [self.count, self.histogram]


# the observable of each region, from the selected jets and their (varied) pT
OBSERVABLES = {
    "4j1b": "rdf_ttbar::ht(jets, Jet_pt)",
    "4j2b": f"rdf_ttbar::trijet_mass(jets, Jet_pt, Jet_eta, Jet_phi, Jet_mass, Jet_btagCSVV2, {sy.BTAG_THRESHOLD}f)",
}


# The column types the analysis reads (as RDataFrame names them). NanoAOD stores the jet and lepton
# kinematics as Float_t; other productions use double, which the graph converts to float first.
FLOAT_COLUMNS = ("Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "Jet_btagCSVV2", "Electron_pt", "Muon_pt")
FLOAT_TYPES = {"ROOT::VecOps::RVec<Float_t>", "ROOT::VecOps::RVec<float>"}
DOUBLE_TYPES = {"ROOT::VecOps::RVec<Double_t>", "ROOT::VecOps::RVec<double>"}
ID_COLUMNS = ("run", "luminosityBlock", "event")  # the resolution factors' event key
ID_TYPES = {f"{u}{t}" for t in ("Char_t", "Short_t", "Int_t", "Long_t", "Long64_t") for u in ("", "U")} | {
    "int", "unsigned int", "long", "unsigned long", "long long", "unsigned long long",
    "std::int32_t", "std::uint32_t", "std::int64_t", "std::uint64_t"}


# The compiled graph's column types (cpp/graph.cxx): NanoAOD's in a TTree and in an RNTuple
COMPILED_RUN_TYPES = {"UInt_t", "unsigned int", "std::uint32_t"}  # run, luminosityBlock
COMPILED_EVENT_TYPES = {"ULong64_t": "unsigned long long", "unsigned long long": "unsigned long long",
                        "std::uint64_t": "unsigned long", "unsigned long": "unsigned long"}


def column_types(sample: Sample, dataframe) -> dict[str, str]:
    """The types of the columns the analysis reads.

    Raises UserError naming the column and its type for one the analysis cannot read, before any event loop.
    """
    types = {column: str(dataframe.GetColumnType(column)) for column in FLOAT_COLUMNS + ID_COLUMNS}
    problems = []
    for column, column_type in types.items():
        if column in ID_COLUMNS:
            if column_type not in ID_TYPES:
                problems.append(f"'{column}' is {column_type}, not an integer type (NanoAOD: UInt_t / ULong64_t)")
        elif column_type not in FLOAT_TYPES | DOUBLE_TYPES:
            problems.append(f"'{column}' is {column_type}, not an array of float or double "
                            "(NanoAOD: ROOT::VecOps::RVec<Float_t>)")
    if problems:
        raise UserError(f"sample {sample.process}/{sample.variation} ({sample.files[0]}): the column(s) "
                        f"{'; '.join(problems)}. rdf_ttbar reads NanoAOD-like files: float or double jet and "
                        "lepton kinematics, integer run/luminosityBlock/event; use files that store them so.")
    return types


def fits_compiled_graph(types: dict[str, str], systs: list) -> bool:
    """Whether the compiled graph was built for these column types and has every variation's expression."""
    import ROOT

    return (all(types[c] in FLOAT_TYPES for c in FLOAT_COLUMNS)
            and types["run"] in COMPILED_RUN_TYPES and types["luminosityBlock"] in COMPILED_RUN_TYPES
            and types["event"] in COMPILED_EVENT_TYPES
            and all(ROOT.rdf_ttbar.knows_expression(s.expression) for s in systs))


def histogram_model(sample: Sample):
    import ROOT

    edges = array.array("d", sy.BTAG_BIN_EDGES)
    return ROOT.RDF.TH2DModel(f"observable_nbtag_{sample.name}", "", sy.N_BINS, sy.X_MIN, sy.X_MAX,
                              len(edges) - 1, edges)


def book_sample(sample: Sample, dataframe, compiled: bool = False) -> BookedSample:
    """Build the graph of one sample on its (local or distributed) RDataFrame.

    ``compiled``: the compiled graph is loaded (native.load()); it is booked where it fits the columns.
    Nothing runs until the event loop starts.
    """
    cpp.declare()
    types = column_types(sample, dataframe)
    systs = sy.booked_systematics(sample.process, sample.variation)
    if compiled and fits_compiled_graph(types, systs):
        return book_compiled(sample, dataframe, types, systs)
    return book_jitted(sample, dataframe, types, systs)


def book_compiled(sample: Sample, dataframe, types: dict[str, str], systs: list) -> BookedSample:
    """The compiled graph (cpp/graph.cxx), VariationsFor included."""
    import ROOT

    graph = ROOT.rdf_ttbar.SampleGraph()
    graph.weight, graph.lepton_pt_min = sample.weight, sy.LEPTON_PT_MIN
    graph.jet_pt_min, graph.btag_threshold, graph.min_jets = sy.JET_PT_MIN, sy.BTAG_THRESHOLD, sy.MIN_JETS
    graph.event_type = COMPILED_EVENT_TYPES[types["event"]]
    for syst in systs:
        varied = ROOT.rdf_ttbar.VariedColumn()
        varied.column = "Jet_pt" if syst.kind == "jet_pt" else "weight"
        varied.expression, varied.name = syst.expression, syst.name
        varied.directions = ROOT.std.vector[ROOT.std.string](list(syst.directions))
        graph.variations.push_back(varied)
    result = ROOT.rdf_ttbar.book_graph(ROOT.RDF.AsRNode(dataframe), graph, histogram_model(sample))
    return BookedSample(sample, dataframe, result.count, result.histogram, result.variations, compiled=result)


def book_jitted(sample: Sample, dataframe, types: dict[str, str], systs: list) -> BookedSample:
    """The graph from C++ strings, jitted by ROOT (VariationsFor: book_variations); double kinematics
    become float columns first."""
    booked = BookedSample(sample, dataframe, dataframe.Count())
    for column in FLOAT_COLUMNS:
        if types[column] in DOUBLE_TYPES:
            dataframe = dataframe.Redefine(column, f"rdf_ttbar::as_floats({column})")
    df = (
        dataframe.Define("weight", f"double({sample.weight!r})")
        .Filter(f"rdf_ttbar::count_above(Electron_pt, {sy.LEPTON_PT_MIN}) + "
                f"rdf_ttbar::count_above(Muon_pt, {sy.LEPTON_PT_MIN}) == 1", "exactly one lepton")
    )
    for syst in systs:
        if syst.kind == "jet_pt":
            df = df.Vary("Jet_pt", f"ROOT::RVec<ROOT::RVecF>{{{syst.expression}}}", list(syst.directions), syst.name)
    df = (
        df.Define("jets", f"rdf_ttbar::select_jets(Jet_pt, {sy.JET_PT_MIN}f)")
        # b-tagged jets among the selected ones; 0 when there are fewer than MIN_JETS jets
        .Define("nbtag", f"jets.size() >= {sy.MIN_JETS} ? "
                         f"rdf_ttbar::count_btagged(jets, Jet_btagCSVV2, {sy.BTAG_THRESHOLD}f) : 0")
        .Filter("nbtag >= 1", f">= {sy.MIN_JETS} jets, >= 1 b-tag")
    )
    for syst in systs:
        if syst.kind == "weight":
            df = df.Vary("weight", syst.expression, list(syst.directions), syst.name)

    one_btag, more_btags = (OBSERVABLES[r.name] for r in sy.REGIONS)
    booked.histogram = (
        df.Define("observable", f"nbtag == 1 ? {one_btag} : {more_btags}")
        .Histo2D(histogram_model(sample), "observable", "nbtag", "weight")
    )
    return booked


def book_variations(booked: list[BookedSample]) -> None:
    """VariationsFor on every histogram, once all graphs are booked.

    VariationsFor jits the pending code of the graphs; calling it after all
    graphs are built lets ROOT compile the code of all samples in one go.
    """
    import ROOT

    for b in booked:
        if b.variations is None:  # the compiled graph has its own
            b.variations = ROOT.RDF.Experimental.VariationsFor(b.histogram)


def variation_suffix(key: str, sample: Sample) -> str:
    """AGC variation name of a VariationsFor key: 'nominal' -> the sample's, 'btag_var_0:up' -> 'btag_var_0_up'."""
    if key == "nominal":
        return sample.variation
    return key.replace(":", "_")
