"""The analysis graph: one RDataFrame per sample, systematics booked with Vary.

For each sample the graph is

    lepton selection -> jet pT (nominal, Vary: pt_scale_up, pt_res_up)
    -> jet selection (>= 4 jets, >= 1 b-tag) -> weight (Vary: b-tag, scale_var)
    -> 4j1b: HT, 4j2b: m_bjj -> Histo1D -> VariationsFor

Everything listed in ``systematics.SYSTEMATICS`` with kind "jet_pt" or
"weight" is booked from its C++ expression; histogram names follow from the
same table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import cpp, systematics as sy
from .inputs import Sample


@dataclass
class BookedSample:
    """The lazy results of one sample's graph."""

    sample: Sample
    dataframe: object  # the sample's ROOT.RDataFrame
    count: object  # RResultPtr<ULong64_t>: events processed
    histograms: dict = field(default_factory=dict)  # region name -> nominal RResultPtr<TH1D>
    variations: dict = field(default_factory=dict)  # region name -> RResultMap (after VariationsFor)

    def handles(self) -> list:
        return [self.count, *self.histograms.values()]


def book_sample(sample: Sample, dataframe) -> BookedSample:
    """Build the graph of one sample on its (local or distributed) RDataFrame.

    Nothing runs until the event loop starts.
    """
    import ROOT

    cpp.declare()
    booked = BookedSample(sample, dataframe, dataframe.Count())
    systs = sy.booked_systematics(sample.process, sample.variation)

    df = (
        dataframe.Define("weight", f"double({sample.weight!r})")
        .Filter(f"rdf_ttbar::count_above(Electron_pt, {sy.LEPTON_PT_MIN}) + "
                f"rdf_ttbar::count_above(Muon_pt, {sy.LEPTON_PT_MIN}) == 1", "exactly one lepton")
        .Define("jet_pt", "Jet_pt")
    )
    for syst in systs:
        if syst.kind == "jet_pt":
            df = df.Vary("jet_pt", f"ROOT::RVec<ROOT::RVecF>{{{syst.expression}}}", list(syst.directions), syst.name)
    df = (
        df.Define("jets", f"rdf_ttbar::select_jets(jet_pt, {sy.JET_PT_MIN}f)")
        .Filter("jets.size() >= 4", ">= 4 jets")
        .Define("nbtag", f"rdf_ttbar::count_btagged(jets, Jet_btagCSVV2, {sy.BTAG_THRESHOLD}f)")
        .Filter("nbtag >= 1", ">= 1 b-tag")
    )
    for syst in systs:
        if syst.kind == "weight":
            df = df.Vary("weight", syst.expression, list(syst.directions), syst.name)

    observables = {
        "4j1b": ("nbtag == 1", "rdf_ttbar::ht(jets, jet_pt)"),
        "4j2b": ("nbtag >= 2", "rdf_ttbar::trijet_mass(jets, jet_pt, Jet_eta, Jet_phi, Jet_mass, "
                               f"Jet_btagCSVV2, {sy.BTAG_THRESHOLD}f)"),
    }
    for region in sy.REGIONS:
        cut, expression = observables[region.name]
        model = ROOT.RDF.TH1DModel(f"{region.name}_{sample.name}", "", sy.N_BINS, sy.X_MIN, sy.X_MAX)
        histogram = (
            df.Filter(cut, region.name)
            .Define("observable", expression)
            .Histo1D(model, "observable", "weight")
        )
        booked.histograms[region.name] = histogram
    return booked


def book_variations(booked: list[BookedSample]) -> None:
    """VariationsFor on every histogram, once all graphs are booked.

    VariationsFor jits the pending code of the graphs; calling it after all
    graphs are built lets ROOT compile the code of all samples in one go.
    """
    import ROOT

    for b in booked:
        for region, histogram in b.histograms.items():
            b.variations[region] = ROOT.RDF.Experimental.VariationsFor(histogram)


def variation_suffix(key: str, sample: Sample) -> str:
    """AGC variation name of a VariationsFor key: 'nominal' -> the sample's, 'btag_var_0:up' -> 'btag_var_0_up'."""
    if key == "nominal":
        return sample.variation
    return key.replace(":", "_")
