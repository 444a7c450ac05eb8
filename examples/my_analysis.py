"""My own variant of the AGC ttbar analysis, kept outside the package: ``python -m rdf_ttbar --analysis
examples/my_analysis.py``.

It extends the AGC v1 definition (``rdf_ttbar.analysis.agc_v1``) with:

- another luminosity (2.0 fb^-1 instead of 3.378 fb^-1),
- one changed cross section (W+jets, 10% higher),
- a tighter jet cut (pT > 30 GeV instead of 25 GeV),
- an extra fitted region, 4j3b (three or more b-tagged jets, with its HT in four wide fit bins: it has few events),
  split off 4j2b (now exactly two).

Everything else (samples, systematics, pseudo-data, the fit of ttbar_norm) is the AGC v1's. A file like this
defines ``ANALYSIS``; it may import only the public API (README "Your own analysis file").
"""

from dataclasses import replace

from rdf_ttbar.analysis import agc_v1
from rdf_ttbar.analysis.model import Region

LUMINOSITY_PB = 2000.0
WJETS_CROSS_SECTION_PB = 1.1 * agc_v1.ANALYSIS.process("wjets").cross_section_pb
JET_PT_MIN = 30.0

base = agc_v1.make(jet_pt_min=JET_PT_MIN)  # the AGC v1 with the tighter jet cut in its selection
ht_4j1b = next(h for h in base.histograms if h.region == "4j1b")

ANALYSIS = replace(
    base,
    name="my ttbar analysis",
    luminosity_pb=LUMINOSITY_PB,
    processes=tuple(
        replace(p, cross_section_pb=WJETS_CROSS_SECTION_PB) if p.name == "wjets" else p for p in base.processes
    ),
    regions=(
        base.region("4j1b"),
        replace(base.region("4j2b"), condition="nbtag == 2"),
        Region("4j3b", "nbtag >= 3", "4j3b SR"),
    ),
    histograms=base.histograms + (replace(ht_4j1b, region="4j3b", fit_edges=(110.0, 230.0, 350.0, 550.0)),),
)
