"""The AGC CMS Open Data ttbar analysis, version 1 (``../shared/spec/ANALYSIS.md``): the whole definition.

Change the analysis here and in its C++ helpers (``cpp/analysis.h``); both builds of the graph, the
delivery preselection, the histogram names, the cabinetry configuration, the variation plots and the
tests follow. README "Changing the analysis" adds an observable and a systematic as an example.

Public and kept stable for your own definition files (README "Your own analysis file"): ``ANALYSIS``, ``make``
(the definition with other cut values), ``BINNING``, ``FIT_EDGES`` and the cut values ``LEPTON_PT_MIN``,
``JET_PT_MIN``, ``MIN_JETS``, ``BTAG_THRESHOLD``.
"""

from __future__ import annotations

from .model import Analysis, Binning, Define, Filter, Histogram, Process, Region, Systematic, VariationPlot

LEPTON_PT_MIN = 25.0
JET_PT_MIN = 25.0
MIN_JETS = 4
BTAG_THRESHOLD = 0.5

# 25 bins from 50 to 550 GeV; the fit starts at 110 GeV and merges bins by two
BINNING = Binning(25, 50.0, 550.0)
FIT_EDGES = tuple(110.0 + 40.0 * i for i in range(12))


def make(
    *,
    lepton_pt_min: float = LEPTON_PT_MIN,
    jet_pt_min: float = JET_PT_MIN,
    min_jets: int = MIN_JETS,
    btag_threshold: float = BTAG_THRESHOLD,
) -> Analysis:
    """The AGC v1 with these cut values (lepton and jet pT in GeV, the b-tag working point of btagCSVV2); they are
    written into its C++ expressions (float literals: the columns are float) and recorded in ``parameters``."""
    lepton_pt_min, jet_pt_min, btag_threshold = float(lepton_pt_min), float(jet_pt_min), float(btag_threshold)
    return Analysis(
        name="AGC ttbar v1",
        version="v1",
        luminosity_pb=3378.0,
        processes=(
            Process(
                "ttbar",
                396.87 + 332.97,
                "ttbar",
                ("nominal", "scaledown", "scaleup", "ME_var", "PS_var"),
                color="#e42536",
                legend=r"$t\bar{t}$",
            ),
            Process("single_top_s_chan", 2.0268 + 1.2676, "single top, s-channel", color="#92dadd"),
            Process("single_top_t_chan", (36.993 + 22.175) / 0.252, "single top, t-channel", color="#5790fc"),
            Process("single_top_tW", 37.936 + 37.906, "tW", color="#964a8b"),
            Process("wjets", 61457 * 0.252, "W+jets", color="#f89c20"),
        ),
        norm_process="ttbar",
        norm_factor="ttbar_norm",
        stack_order=("single_top_s_chan", "single_top_t_chan", "single_top_tW", "wjets", "ttbar"),
        parameters={
            "lepton_pt_min": lepton_pt_min,
            "jet_pt_min": jet_pt_min,
            "min_jets": min_jets,
            "btag_threshold": btag_threshold,
        },
        inputs={
            "Jet_pt": "ROOT::RVecF",
            "Jet_eta": "ROOT::RVecF",
            "Jet_phi": "ROOT::RVecF",
            "Jet_mass": "ROOT::RVecF",
            "Jet_btagCSVV2": "ROOT::RVecF",
            "Electron_pt": "ROOT::RVecF",
            "Muon_pt": "ROOT::RVecF",
            "run": "UInt_t",
            "luminosityBlock": "UInt_t",
            "event": "ULong64_t",
        },
        selection=(
            Filter(
                "exactly one lepton",
                f"rdf_ttbar::count_above(Electron_pt, {lepton_pt_min}) + "
                f"rdf_ttbar::count_above(Muon_pt, {lepton_pt_min}) == 1",
            ),
            Define("jets", f"rdf_ttbar::select_jets(Jet_pt, {jet_pt_min}f)"),
            # b-tagged jets among the selected ones; 0 when there are fewer than MIN_JETS jets
            Define(
                "nbtag",
                f"jets.size() >= {min_jets} ? rdf_ttbar::count_btagged(jets, Jet_btagCSVV2, {btag_threshold}f) : 0",
            ),
            Filter(f">= {min_jets} jets, >= 1 b-tag", "nbtag >= 1"),
        ),
        regions=(
            Region("4j1b", "nbtag == 1", "4j1b CR"),
            Region("4j2b", "nbtag >= 2", "4j2b SR"),
        ),
        histograms=(
            Histogram("4j1b", "rdf_ttbar::ht(jets, Jet_pt)", BINNING, r"$H_T$ [GeV]", fit_edges=FIT_EDGES),
            Histogram(
                "4j2b",
                f"rdf_ttbar::trijet_mass(jets, Jet_pt, Jet_eta, Jet_phi, Jet_mass, Jet_btagCSVV2, {btag_threshold}f)",
                BINNING,
                r"$m_{bjj}$ [GeV]",
                fit_edges=FIT_EDGES,
            ),
        ),
        systematics=(
            Systematic(
                "ME_var",
                "ME variation",
                "sample",
                directions=("up",),
                processes=("ttbar",),
                symmetrize=True,
                up="ME_var",
            ),
            Systematic(
                "PS_var",
                "PS variation",
                "sample",
                directions=("up",),
                processes=("ttbar",),
                symmetrize=True,
                up="PS_var",
            ),
            Systematic("scale", "tt scale variations", "sample", processes=("ttbar",), up="scaleup", down="scaledown"),
            Systematic(
                "pt_scale",
                "Jet energy scale",
                "vary",
                "Jet_pt",
                "rdf_ttbar::jet_energy_scale_up(Jet_pt)",
                ("up",),
                single=True,
                symmetrize=True,
            ),
            Systematic(
                "pt_res",
                "Jet energy resolution",
                "vary",
                "Jet_pt",
                "rdf_ttbar::pt_resolution_varied(Jet_pt, run, luminosityBlock, event)",
                ("up",),
                single=True,
                symmetrize=True,
                random=True,
            ),
            *(
                Systematic(
                    f"btag_var_{i}",
                    f"b-tag NP {i + 1}",
                    "vary",
                    "weight",
                    f"rdf_ttbar::btag_weights(weight, jets, Jet_pt, {i})",
                )
                for i in range(4)
            ),
            Systematic(
                "scale_var",
                "W+jets scale variation",
                "vary",
                "weight",
                "rdf_ttbar::wjets_scale_weights(weight)",
                processes=("wjets",),
            ),
            Systematic("Lumi", "Luminosity", "norm", norm=0.03),
        ),
        # AGC v1.4.0: 0.5 ttbar_ME_var + 0.5 ttbar_PS_var + wjets + single_top_t_chan (v1.2.0 left out the t-channel)
        pseudodata=(
            (0.5, "ttbar", "ME_var"),
            (0.5, "ttbar", "PS_var"),
            (1.0, "wjets", "nominal"),
            (1.0, "single_top_t_chan", "nominal"),
        ),
        variation_plots=(
            VariationPlot("btag_variations", "4j1b", "ttbar", tuple(f"btag_var_{i}" for i in range(4))),
            VariationPlot("jet_energy_variations", "4j2b", "ttbar", ("pt_scale", "pt_res")),
        ),
    )


ANALYSIS = make()
