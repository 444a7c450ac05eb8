"""The analysis tables: samples, regions and systematics.

One table drives everything that depends on the list of variations: which
variations the graph books (``kind`` "jet_pt" and "weight"), the histogram
names (``{region}_{process}`` / ``{region}_{process}_{variation}``) and the
cabinetry fit configuration (``fit_name``, ``kind`` "sample" and "norm").
"""

from __future__ import annotations

from dataclasses import dataclass

LUMI_PB = 3378.0  # integrated luminosity [/pb]

# cross sections [pb], spec "Inputs"
XSEC_PB = {
    "ttbar": 396.87 + 332.97,
    "single_top_s_chan": 2.0268 + 1.2676,
    "single_top_t_chan": (36.993 + 22.175) / 0.252,
    "single_top_tW": 37.936 + 37.906,
    "wjets": 61457 * 0.252,
}
PROCESSES = tuple(XSEC_PB)

# sample names in the fit (the AGC's cabinetry names) and in plot legends
SAMPLE_LABELS = {
    "ttbar": "ttbar",
    "single_top_s_chan": "single top, s-channel",
    "single_top_t_chan": "single top, t-channel",
    "single_top_tW": "tW",
    "wjets": "W+jets",
}

# alternative ttbar samples: only their nominal histogram, named after the sample
TTBAR_ALTERNATIVES = ("scaledown", "scaleup", "ME_var", "PS_var")

# (process, variation) of the nine samples, in the AGC order
SAMPLES = (
    [("ttbar", "nominal")]
    + [("ttbar", alt) for alt in TTBAR_ALTERNATIVES]
    + [(p, "nominal") for p in PROCESSES if p != "ttbar"]
)


@dataclass(frozen=True)
class Region:
    name: str  # AGC region name, prefix of the histogram names
    fit_name: str  # region name in the cabinetry configuration
    observable: str  # what is histogrammed
    label: str  # axis label for plots


REGIONS = (
    Region("4j1b", "4j1b CR", "HT", r"$H_T$ [GeV]"),
    Region("4j2b", "4j2b SR", "m_bjj", r"$m_{bjj}$ [GeV]"),
)

# histogram binning, spec "Regions and observables"
N_BINS, X_MIN, X_MAX = 25, 50.0, 550.0
# The graph fills one 2D histogram per sample: the observable on x, the number of b-tagged jets on y,
# binned so that y bin i + 1 is REGIONS[i]: [1, 2) -> 4j1b, [2, 100) -> 4j2b (no event has 100 jets).
BTAG_BIN_EDGES = (1.0, 2.0, 100.0)
# fit binning: start at 110 GeV, merge bins by two
FIT_BIN_EDGES = tuple(110.0 + 40.0 * i for i in range(12))

BTAG_THRESHOLD = 0.5
LEPTON_PT_MIN = 25.0
JET_PT_MIN = 25.0
MIN_JETS = 4


@dataclass(frozen=True)
class Systematic:
    """One systematic uncertainty.

    kind:
      "jet_pt"  a jet-pT variation booked with RDataFrame's Vary (histograms
                ``{region}_{process}_{name}_{direction}``)
      "weight"  an event-weight variation booked with Vary (same naming)
      "sample"  an alternative ttbar sample (``up``/``down`` name the sample)
      "norm"    a normalisation uncertainty (``norm`` is the relative size)
    processes: the processes it applies to (None: all processes)
    """

    name: str
    fit_name: str
    kind: str
    directions: tuple = ("up", "down")
    processes: tuple | None = None
    symmetrize: bool = False
    up: str | None = None  # "sample" kind: sample providing the up variation
    down: str | None = None
    norm: float | None = None  # "norm" kind
    # "jet_pt": C++ expression of the varied Jet_pt (one per direction);
    # "weight": C++ expression of the varied weights {up, down}
    expression: str | None = None

    def histogram_suffixes(self) -> list[str]:
        """Variation names of the booked histograms, e.g. ['btag_var_0_up', ...]."""
        if self.kind not in ("jet_pt", "weight"):
            return []
        return [f"{self.name}_{d}" for d in self.directions]

    def applies_to(self, process: str) -> bool:
        return self.processes is None or process in self.processes


SYSTEMATICS = (
    Systematic("ME_var", "ME variation", "sample", ("up",), ("ttbar",), True, up="ME_var"),
    Systematic("PS_var", "PS variation", "sample", ("up",), ("ttbar",), True, up="PS_var"),
    Systematic("scale", "tt scale variations", "sample", ("up", "down"), ("ttbar",),
               up="scaleup", down="scaledown"),
    Systematic("pt_scale", "Jet energy scale", "jet_pt", ("up",), symmetrize=True,
               expression="rdf_ttbar::jet_energy_scale_up(Jet_pt)"),
    Systematic("pt_res", "Jet energy resolution", "jet_pt", ("up",), symmetrize=True,
               expression="rdf_ttbar::pt_resolution_varied(Jet_pt, run, luminosityBlock, event)"),
    *(Systematic(f"btag_var_{i}", f"b-tag NP {i + 1}", "weight",
                 expression=f"rdf_ttbar::btag_weights(weight, jets, Jet_pt, {i})") for i in range(4)),
    Systematic("scale_var", "W+jets scale variation", "weight", processes=("wjets",),
               expression="rdf_ttbar::wjets_scale_weights(weight)"),
    Systematic("Lumi", "Luminosity", "norm", norm=0.03),
)


def booked_systematics(process: str, variation: str) -> list[Systematic]:
    """The Vary-booked systematics for one sample (only nominal samples have them)."""
    if variation != "nominal":
        return []
    return [s for s in SYSTEMATICS if s.kind in ("jet_pt", "weight") and s.applies_to(process)]


def histogram_name(region: str, process: str, variation: str = "nominal") -> str:
    """AGC histogram name: ``{region}_{process}`` or ``{region}_{process}_{variation}``."""
    return f"{region}_{process}" if variation == "nominal" else f"{region}_{process}_{variation}"


def sample_histogram_names(process: str, variation: str) -> list[str]:
    """All histogram names one sample produces (nominal samples include their variations)."""
    suffixes = ["nominal"] if variation == "nominal" else [variation]
    for syst in booked_systematics(process, variation):
        suffixes += syst.histogram_suffixes()
    return [histogram_name(r.name, process, s) for r in REGIONS for s in suffixes]


def pseudodata_name(region: str) -> str:
    return f"{region}_pseudodata"


# pseudo-data (AGC v1.4.0) = sum of coefficient * histogram of (process, variation);
# sumw2 adds up with squared coefficients. (AGC v1.2.0 left out the t-channel.)
PSEUDODATA = ((0.5, "ttbar", "ME_var"), (0.5, "ttbar", "PS_var"), (1.0, "wjets", "nominal"),
              (1.0, "single_top_t_chan", "nominal"))


def all_histogram_names() -> list[str]:
    """The 124 histogram names of a full run, pseudo-data included."""
    names = [n for p, v in SAMPLES for n in sample_histogram_names(p, v)]
    return names + [pseudodata_name(r.name) for r in REGIONS]
