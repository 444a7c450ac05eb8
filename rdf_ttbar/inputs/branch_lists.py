"""Branch lists of the AGC I/O-only benchmark, and what the full demo set needs to mimic them.

``BRANCHES_BY_PERCENT``: the branches the AGC coffea notebook reads when its
I/O-only mode is on (``DISABLE_PROCESSING = True``) for ``IO_FILE_PERCENT`` =
2.7, 4, 15, 25 or 50, from the notebook's ``TtbarAnalysis.only_do_IO``
(iris-hep/analysis-grand-challenge, analyses/cms-open-data-ttbar, AGC v1
era). As there, each list contains the previous ones. The keys are the
notebook's labels: with the branch sizes of the AGC's
``nanoaod_branch_ratios.json`` the lists hold 4.1, 5.6, 12.5, 24.4 and 46.1%
of a real file (later AGC versions relabelled 2.7 as 4.1).

``REAL_SHARE``: share of a real file's size of each of those branches and of
their counters (``nanoaod_branch_ratios.json``). ``REAL_BYTES_PER_EVENT``: size of a real
file per event, 22.9 GB / 10,455,719 events (first file of the nine samples,
AGC notebook table), so that ``REAL_SHARE[b] * REAL_BYTES_PER_EVENT`` is the
compressed size of branch ``b`` per event.

``EXTRA_BRANCHES`` / ``EXTRA_COUNTERS``: how the full demo set writes the
branches of these lists that the default set does not have.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import IO_ANALYSIS, IO_PERCENTS

DATA_DIR = Path(__file__).resolve().parents[1] / "data"  # rdf_ttbar/data

_IO_2_7 = ["Jet_pt", "Jet_eta", "Jet_phi", "Jet_btagCSVV2", "Jet_mass", "Muon_pt", "Electron_pt"]
_IO_4 = [
    "Electron_phi",
    "Electron_eta",
    "Electron_mass",
    "Muon_phi",
    "Muon_eta",
    "Muon_mass",
    "Photon_pt",
    "Photon_eta",
    "Photon_mass",
    "Jet_jetId",
]
_IO_15 = [
    "Jet_nConstituents",
    "Jet_electronIdx1",
    "Jet_electronIdx2",
    "Jet_muonIdx1",
    "Jet_muonIdx2",
    "Jet_chHEF",
    "Jet_area",
    "Jet_puId",
    "Jet_qgl",
    "Jet_btagDeepB",
    "Jet_btagDeepCvB",
    "Jet_btagDeepCvL",
    "Jet_btagDeepFlavB",
    "Jet_btagDeepFlavCvB",
    "Jet_btagDeepFlavCvL",
    "Jet_btagDeepFlavQG",
    "Jet_chEmEF",
    "Jet_chFPV0EF",
    "Jet_muEF",
    "Jet_muonSubtrFactor",
    "Jet_neEmEF",
    "Jet_neHEF",
    "Jet_puIdDisc",
]
_IO_25 = [
    "Jet_rawFactor",
    "Jet_bRegCorr",
    "Jet_bRegRes",
    "Jet_cRegCorr",
    "Jet_cRegRes",
    "Jet_nElectrons",
    "Jet_nMuons",
    "GenJet_pt",
    "GenJet_eta",
    "GenJet_phi",
    "GenJet_mass",
    "Tau_pt",
    "Tau_eta",
    "Tau_mass",
    "Tau_phi",
    "Muon_dxy",
    "Muon_dxyErr",
    "Muon_dxybs",
    "Muon_dz",
    "Muon_dzErr",
    "Electron_dxy",
    "Electron_dxyErr",
    "Electron_dz",
    "Electron_dzErr",
    "Electron_eInvMinusPInv",
    "Electron_energyErr",
    "Electron_hoe",
    "Electron_ip3d",
    "Electron_jetPtRelv2",
    "Electron_jetRelIso",
    "Electron_miniPFRelIso_all",
    "Electron_miniPFRelIso_chg",
    "Electron_mvaFall17V2Iso",
    "Electron_mvaFall17V2noIso",
    "Electron_pfRelIso03_all",
    "Electron_pfRelIso03_chg",
    "Electron_r9",
    "Electron_scEtOverPt",
    "Electron_sieie",
    "Electron_sip3d",
    "Electron_mvaTTH",
    "Electron_charge",
    "Electron_cutBased",
    "Electron_jetIdx",
    "Electron_pdgId",
    "Electron_photonIdx",
    "Electron_tightCharge",
]
_IO_50 = [
    "GenPart_pt",
    "GenPart_eta",
    "GenPart_phi",
    "GenPart_mass",
    "GenPart_genPartIdxMother",
    "GenPart_pdgId",
    "GenPart_status",
    "GenPart_statusFlags",
]

# keyed by the --io-percent values (config.IO_PERCENTS)
BRANCHES_BY_PERCENT = dict(
    zip(
        IO_PERCENTS,
        (
            _IO_2_7,
            _IO_2_7 + _IO_4,
            _IO_2_7 + _IO_4 + _IO_15,
            _IO_2_7 + _IO_4 + _IO_15 + _IO_25,
            _IO_2_7 + _IO_4 + _IO_15 + _IO_25 + _IO_50,
        ),
        strict=True,
    )
)
ANALYSIS = IO_ANALYSIS  # --io-percent analysis: exactly the columns of this analysis (Analysis.columns_read())

REAL_BYTES_PER_EVENT = 22.9e9 / 10_455_719

# share of the real file size (nanoaod_branch_ratios.json)
REAL_SHARE = json.loads((DATA_DIR / "real_branch_shares.json").read_text())["shares"]

# The I/O-benchmark branches that the default demo set does not have, as the
# full set writes them: type ("F" float, "I" int32, "b" uint8), value range
# [lo, hi], mantissa bits kept (float; NanoAOD's precision) or random bits
# (int: values lo, lo + 1, ... lo + 2^bits - 1), and the fraction of entries
# holding a default value instead. Precision, default fractions and defaults
# are those of the real file (nanoAOD_2015_CMS_Open_Data_ttbar.root); the
# values themselves are noise.
EXTRA_BRANCHES = {
    name: tuple(spec)
    for name, spec in json.loads((DATA_DIR / "demo_extra_branches.json").read_text())["branches"].items()
}
# the counters of the extra collections, with the mean multiplicity and maximum the full set uses
EXTRA_COUNTERS = {"nPhoton": (1.0, 16), "nTau": (0.75, 16), "nGenJet": (6.5, 64), "nGenPart": (45.0, 256)}
TYPENAMES = {"F": "float[]", "I": "int32_t[]", "b": "uint8_t[]"}
