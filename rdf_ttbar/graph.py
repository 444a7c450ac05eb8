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


def float_kinematics(sample: Sample, dataframe):
    """Check the types of the columns the analysis reads; double kinematics become float columns.

    Raises UserError naming the column and its type for anything else,
    before any event loop.
    """
    problems = []
    for column in FLOAT_COLUMNS + ID_COLUMNS:
        column_type = str(dataframe.GetColumnType(column))
        if column in ID_COLUMNS:
            if column_type not in ID_TYPES:
                problems.append(f"'{column}' is {column_type}, not an integer type (NanoAOD: UInt_t / ULong64_t)")
        elif column_type in DOUBLE_TYPES:
            dataframe = dataframe.Redefine(column, f"rdf_ttbar::as_floats({column})")
        elif column_type not in FLOAT_TYPES:
            problems.append(f"'{column}' is {column_type}, not an array of float or double "
                            "(NanoAOD: ROOT::VecOps::RVec<Float_t>)")
    if problems:
        raise UserError(f"sample {sample.process}/{sample.variation} ({sample.files[0]}): the column(s) "
                        f"{'; '.join(problems)}. rdf_ttbar reads NanoAOD-like files: float or double jet and "
                        "lepton kinematics, integer run/luminosityBlock/event; use files that store them so.")
    return dataframe


def book_sample(sample: Sample, dataframe) -> BookedSample:
    """Build the graph of one sample on its (local or distributed) RDataFrame.

    Nothing runs until the event loop starts.
    """
    import ROOT

    cpp.declare()
    booked = BookedSample(sample, dataframe, dataframe.Count())
    systs = sy.booked_systematics(sample.process, sample.variation)

    df = (
        float_kinematics(sample, dataframe).Define("weight", f"double({sample.weight!r})")
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
    edges = array.array("d", sy.BTAG_BIN_EDGES)
    model = ROOT.RDF.TH2DModel(f"observable_nbtag_{sample.name}", "", sy.N_BINS, sy.X_MIN, sy.X_MAX,
                               len(edges) - 1, edges)
    booked.histogram = (
        df.Define("observable", f"nbtag == 1 ? {one_btag} : {more_btags}")
        .Histo2D(model, "observable", "nbtag", "weight")
    )
    return booked


def book_variations(booked: list[BookedSample]) -> None:
    """VariationsFor on every histogram, once all graphs are booked.

    VariationsFor jits the pending code of the graphs; calling it after all
    graphs are built lets ROOT compile the code of all samples in one go.
    """
    import ROOT

    for b in booked:
        b.variations = ROOT.RDF.Experimental.VariationsFor(b.histogram)


def variation_suffix(key: str, sample: Sample) -> str:
    """AGC variation name of a VariationsFor key: 'nominal' -> the sample's, 'btag_var_0:up' -> 'btag_var_0_up'."""
    if key == "nominal":
        return sample.variation
    return key.replace(":", "_")
