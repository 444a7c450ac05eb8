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

_IO_2_7 = ["Jet_pt", "Jet_eta", "Jet_phi", "Jet_btagCSVV2", "Jet_mass", "Muon_pt", "Electron_pt"]
_IO_4 = ["Electron_phi", "Electron_eta", "Electron_mass", "Muon_phi", "Muon_eta", "Muon_mass",
         "Photon_pt", "Photon_eta", "Photon_mass", "Jet_jetId"]
_IO_15 = ["Jet_nConstituents", "Jet_electronIdx1", "Jet_electronIdx2", "Jet_muonIdx1", "Jet_muonIdx2",
          "Jet_chHEF", "Jet_area", "Jet_puId", "Jet_qgl", "Jet_btagDeepB", "Jet_btagDeepCvB",
          "Jet_btagDeepCvL", "Jet_btagDeepFlavB", "Jet_btagDeepFlavCvB", "Jet_btagDeepFlavCvL",
          "Jet_btagDeepFlavQG", "Jet_chEmEF", "Jet_chFPV0EF", "Jet_muEF", "Jet_muonSubtrFactor",
          "Jet_neEmEF", "Jet_neHEF", "Jet_puIdDisc"]
_IO_25 = ["Jet_rawFactor", "Jet_bRegCorr", "Jet_bRegRes", "Jet_cRegCorr", "Jet_cRegRes", "Jet_nElectrons",
          "Jet_nMuons", "GenJet_pt", "GenJet_eta", "GenJet_phi", "GenJet_mass", "Tau_pt", "Tau_eta", "Tau_mass",
          "Tau_phi", "Muon_dxy", "Muon_dxyErr", "Muon_dxybs", "Muon_dz", "Muon_dzErr", "Electron_dxy",
          "Electron_dxyErr", "Electron_dz", "Electron_dzErr", "Electron_eInvMinusPInv", "Electron_energyErr",
          "Electron_hoe", "Electron_ip3d", "Electron_jetPtRelv2", "Electron_jetRelIso",
          "Electron_miniPFRelIso_all", "Electron_miniPFRelIso_chg", "Electron_mvaFall17V2Iso",
          "Electron_mvaFall17V2noIso", "Electron_pfRelIso03_all", "Electron_pfRelIso03_chg", "Electron_r9",
          "Electron_scEtOverPt", "Electron_sieie", "Electron_sip3d", "Electron_mvaTTH", "Electron_charge",
          "Electron_cutBased", "Electron_jetIdx", "Electron_pdgId", "Electron_photonIdx", "Electron_tightCharge"]
_IO_50 = ["GenPart_pt", "GenPart_eta", "GenPart_phi", "GenPart_mass", "GenPart_genPartIdxMother",
          "GenPart_pdgId", "GenPart_status", "GenPart_statusFlags"]

BRANCHES_BY_PERCENT = {
    2.7: _IO_2_7,
    4: _IO_2_7 + _IO_4,
    15: _IO_2_7 + _IO_4 + _IO_15,
    25: _IO_2_7 + _IO_4 + _IO_15 + _IO_25,
    50: _IO_2_7 + _IO_4 + _IO_15 + _IO_25 + _IO_50,
}
ANALYSIS = "analysis"  # --io-percent analysis: exactly the columns of this analysis (inputs.REQUIRED_BRANCHES)
IO_PERCENT_CHOICES = ", ".join(str(p) for p in BRANCHES_BY_PERCENT) + f" or {ANALYSIS}"


def io_percent_key(value) -> float | int | str | None:
    """The --io-percent / io_percent choice that ``value`` names (2.7, '4', 15.0, 'analysis', ...); None if none.

    The one place where that choice is parsed: the command line, config.yaml and the I/O-only mode use it.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lower() == ANALYSIS:
        return ANALYSIS
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return next((key for key in BRANCHES_BY_PERCENT if abs(number - key) < 1e-9), None)

REAL_BYTES_PER_EVENT = 22.9e9 / 10_455_719

# share of the real file size (nanoaod_branch_ratios.json)
REAL_SHARE = {
    "nJet": 4.24e-4, "nElectron": 2.97e-4, "nMuon": 2.19e-4,
    "nPhoton": 3.07e-4, "nTau": 2.78e-4, "nGenJet": 4.23e-4, "nGenPart": 6.44e-4,
    "Jet_pt": 7.34e-3, "Jet_eta": 8.59e-3, "Jet_phi": 8.47e-3, "Jet_mass": 7.30e-3, "Jet_btagCSVV2": 6.41e-3,
    "Jet_jetId": 1.75e-3, "Electron_pt": 2.11e-3, "Electron_eta": 1.75e-3, "Electron_phi": 1.75e-3,
    "Electron_mass": 1.67e-3, "Electron_sip3d": 1.64e-3, "Electron_pfRelIso03_all": 2.01e-3,
    "Electron_cutBased": 7.69e-4, "Muon_pt": 9.40e-4, "Muon_eta": 8.20e-4, "Muon_phi": 8.20e-4,
    "Muon_mass": 3.90e-4,
    "Photon_pt": 2.36e-3, "Photon_eta": 1.98e-3, "Photon_mass": 1.44e-3,
    "Jet_nConstituents": 2.90e-3, "Jet_electronIdx1": 2.06e-3, "Jet_electronIdx2": 1.11e-3,
    "Jet_muonIdx1": 1.52e-3, "Jet_muonIdx2": 1.05e-3, "Jet_chHEF": 5.63e-3, "Jet_area": 4.21e-3,
    "Jet_puId": 2.20e-3, "Jet_qgl": 6.59e-3, "Jet_btagDeepB": 1.03e-3, "Jet_btagDeepCvB": 1.03e-3,
    "Jet_btagDeepCvL": 1.03e-3, "Jet_btagDeepFlavB": 1.03e-3, "Jet_btagDeepFlavCvB": 1.03e-3,
    "Jet_btagDeepFlavCvL": 1.03e-3, "Jet_btagDeepFlavQG": 1.03e-3, "Jet_chEmEF": 2.25e-3,
    "Jet_chFPV0EF": 5.53e-3, "Jet_muEF": 2.08e-3, "Jet_muonSubtrFactor": 6.56e-3, "Jet_neEmEF": 6.07e-3,
    "Jet_neHEF": 5.63e-3, "Jet_puIdDisc": 6.43e-3,
    "Jet_rawFactor": 6.05e-3, "Jet_bRegCorr": 6.27e-3, "Jet_bRegRes": 5.61e-3, "Jet_cRegCorr": 6.33e-3,
    "Jet_cRegRes": 5.66e-3, "Jet_nElectrons": 1.92e-3, "Jet_nMuons": 1.50e-3, "GenJet_pt": 1.10e-2,
    "GenJet_eta": 8.80e-3, "GenJet_phi": 8.67e-3, "GenJet_mass": 7.59e-3, "Tau_pt": 1.73e-3,
    "Tau_eta": 1.52e-3, "Tau_mass": 1.10e-3, "Tau_phi": 1.51e-3, "Muon_dxy": 8.06e-4, "Muon_dxyErr": 6.15e-4,
    "Muon_dxybs": 8.02e-4, "Muon_dz": 8.00e-4, "Muon_dzErr": 6.25e-4, "Electron_dxy": 1.70e-3,
    "Electron_dxyErr": 1.33e-3, "Electron_dz": 1.70e-3, "Electron_dzErr": 1.35e-3,
    "Electron_eInvMinusPInv": 1.69e-3, "Electron_energyErr": 1.43e-3, "Electron_hoe": 1.31e-3,
    "Electron_ip3d": 1.65e-3, "Electron_jetPtRelv2": 1.49e-3, "Electron_jetRelIso": 1.53e-3,
    "Electron_miniPFRelIso_all": 2.10e-3, "Electron_miniPFRelIso_chg": 2.10e-3,
    "Electron_mvaFall17V2Iso": 1.77e-3, "Electron_mvaFall17V2noIso": 1.82e-3,
    "Electron_pfRelIso03_chg": 1.92e-3, "Electron_r9": 1.51e-3, "Electron_scEtOverPt": 1.54e-3,
    "Electron_sieie": 1.55e-3, "Electron_mvaTTH": 1.56e-3, "Electron_charge": 7.73e-4,
    "Electron_jetIdx": 9.47e-4, "Electron_pdgId": 7.69e-4, "Electron_photonIdx": 8.68e-4,
    "Electron_tightCharge": 7.35e-4,
    "GenPart_pt": 4.49e-2, "GenPart_eta": 4.47e-2, "GenPart_phi": 4.35e-2, "GenPart_mass": 1.52e-2,
    "GenPart_genPartIdxMother": 1.94e-2, "GenPart_pdgId": 2.32e-2, "GenPart_status": 1.10e-2,
    "GenPart_statusFlags": 1.57e-2,
}

# The I/O-benchmark branches that the default demo set does not have, as the
# full set writes them: type ("F" float, "I" int32, "b" uint8), value range
# [lo, hi], mantissa bits kept (float; NanoAOD's precision) or random bits
# (int: values lo, lo + 1, ... lo + 2^bits - 1), and the fraction of entries
# holding a default value instead. Precision, default fractions and defaults
# are those of the real file (nanoAOD_2015_CMS_Open_Data_ttbar.root); the
# values themselves are noise.
EXTRA_BRANCHES = {
    # name: (type, lo, hi, bits, default_fraction, default)
    "Photon_pt": ("F", 10.0, 70.0, 23, 0.0, 0.0),
    "Photon_eta": ("F", -2.6, 2.6, 12, 0.0, 0.0),
    "Photon_mass": ("F", -4e-6, 4e-6, 10, 0.13, 0.0),
    "Jet_nConstituents": ("b", 1, 38, 5, 0.09, 12),
    "Jet_electronIdx1": ("I", 0, 1, 1, 0.88, -1),
    "Jet_electronIdx2": ("I", 0, 1, 1, 0.99, -1),
    "Jet_muonIdx1": ("I", 0, 1, 1, 0.93, -1),
    "Jet_muonIdx2": ("I", 0, 1, 1, 0.99, -1),
    "Jet_chHEF": ("F", 0.0, 1.0, 6, 0.33, 0.0),
    "Jet_area": ("F", 0.35, 0.62, 10, 0.18, 0.5087890625),
    "Jet_puId": ("I", 0, 6, 2, 0.69, 7),
    "Jet_qgl": ("F", 0.0, 1.0, 10, 0.54, -1.0),
    "Jet_btagDeepB": ("F", -1.0, -1.0, 0, 1.0, -1.0),
    "Jet_btagDeepCvB": ("F", -1.0, -1.0, 0, 1.0, -1.0),
    "Jet_btagDeepCvL": ("F", -1.0, -1.0, 0, 1.0, -1.0),
    "Jet_btagDeepFlavB": ("F", -3000.0, -3000.0, 0, 1.0, -3000.0),
    "Jet_btagDeepFlavCvB": ("F", -1.0, -1.0, 0, 1.0, -1.0),
    "Jet_btagDeepFlavCvL": ("F", -1.0, -1.0, 0, 1.0, -1.0),
    "Jet_btagDeepFlavQG": ("F", -1.0, -1.0, 0, 1.0, -1.0),
    "Jet_chEmEF": ("F", 0.0, 1.0, 6, 0.88, 0.0),
    "Jet_chFPV0EF": ("F", 0.0, 0.7, 6, 0.42, 0.0),
    "Jet_muEF": ("F", 0.0, 1.0, 6, 0.91, 0.0),
    "Jet_muonSubtrFactor": ("F", 0.0, 0.96, 6, 0.0, 0.0),
    "Jet_neEmEF": ("F", 0.0, 0.8, 6, 0.1, 0.0),
    "Jet_neHEF": ("F", 0.0, 1.0, 6, 0.24, 0.0),
    "Jet_puIdDisc": ("F", -0.96, 1.0, 10, 0.0, 0.0),
    "Jet_rawFactor": ("F", -0.2, 0.26, 6, 0.0, 0.0),
    "Jet_bRegCorr": ("F", 0.83, 1.5, 10, 0.0, 0.0),
    "Jet_bRegRes": ("F", 0.08, 0.38, 6, 0.0, 0.0),
    "Jet_cRegCorr": ("F", 0.74, 1.56, 10, 0.0, 0.0),
    "Jet_cRegRes": ("F", 0.07, 0.33, 6, 0.0, 0.0),
    "Jet_nElectrons": ("I", 1, 2, 1, 0.88, 0),
    "Jet_nMuons": ("I", 1, 1, 0, 0.93, 0),
    "GenJet_pt": ("F", 10.0, 90.0, 23, 0.0, 0.0),
    "GenJet_eta": ("F", -4.4, 4.4, 12, 0.0, 0.0),
    "GenJet_phi": ("F", -3.1416, 3.1416, 12, 0.0, 0.0),
    "GenJet_mass": ("F", 0.0, 14.0, 10, 0.0, 0.0),
    "Tau_pt": ("F", 19.0, 86.0, 23, 0.0, 0.0),
    "Tau_eta": ("F", -2.35, 2.3, 12, 0.0, 0.0),
    "Tau_mass": ("F", 0.44, 1.74, 10, 0.84, 0.1395263671875),
    "Tau_phi": ("F", -3.1416, 3.1416, 12, 0.0, 0.0),
    "Muon_dxy": ("F", -0.0065, 0.0077, 10, 0.0, 0.0),
    "Muon_dxyErr": ("F", 0.0011, 0.1, 6, 0.07, 0.00152587890625),
    "Muon_dxybs": ("F", -0.009, 0.007, 10, 0.0, 0.0),
    "Muon_dz": ("F", -1.4, 1.3, 10, 0.0, 0.0),
    "Muon_dzErr": ("F", 0.003, 5.3, 6, 0.0, 0.0),
    "Electron_dxy": ("F", -0.28, 0.1, 10, 0.0, 0.0),
    "Electron_dxyErr": ("F", 0.002, 0.2, 6, 0.0, 0.0),
    "Electron_dz": ("F", -2.2, 10.0, 10, 0.0, 0.0),
    "Electron_dzErr": ("F", 0.0024, 0.7, 6, 0.0, 0.0),
    "Electron_eInvMinusPInv": ("F", -0.09, 0.04, 10, 0.0, 0.0),
    "Electron_energyErr": ("F", 0.14, 1000.0, 6, 0.0, 0.0),
    "Electron_hoe": ("F", 0.0, 2.1, 8, 0.51, 0.0),
    "Electron_ip3d": ("F", 0.0006, 4.5, 10, 0.0, 0.0),
    "Electron_jetPtRelv2": ("F", 0.0, 68.0, 8, 0.0, 0.0),
    "Electron_jetRelIso": ("F", -0.02, 4.3, 8, 0.0, 0.0),
    "Electron_miniPFRelIso_all": ("F", 0.0, 5.0, 23, 0.0, 0.0),
    "Electron_miniPFRelIso_chg": ("F", 0.0, 1.7, 23, 0.0, 0.0),
    "Electron_mvaFall17V2Iso": ("F", -1.0, 1.0, 23, 0.06, 0.9999998807907104),
    "Electron_mvaFall17V2noIso": ("F", -1.0, 1.0, 23, 0.0, 0.0),
    "Electron_pfRelIso03_chg": ("F", 0.005, 2.6, 23, 0.54, 0.0),
    "Electron_r9": ("F", 0.25, 1.02, 10, 0.0, 0.0),
    "Electron_scEtOverPt": ("F", -0.64, 0.055, 8, 0.0, 0.0),
    "Electron_sieie": ("F", 0.0083, 0.043, 10, 0.0, 0.0),
    "Electron_mvaTTH": ("F", -1.0, 0.19, 14, 0.0, 0.0),
    "Electron_charge": ("I", -1, -1, 0, 0.58, 1),
    "Electron_jetIdx": ("I", -1, 5, 2, 0.62, 0),
    "Electron_pdgId": ("I", 11, 11, 0, 0.58, -11),
    "Electron_photonIdx": ("I", -1, 2, 1, 0.7, 0),
    "Electron_tightCharge": ("I", 0, 1, 1, 0.81, 2),
    "GenPart_pt": ("F", 0.0, 89.0, 8, 0.12, 0.0),
    "GenPart_eta": ("F", -6.0, 6.0, 8, 0.0, 0.0),
    "GenPart_phi": ("F", -3.1416, 3.1416, 8, 0.12, 0.0),
    "GenPart_mass": ("F", 2.0, 87.0, 8, 0.71, 0.0),
    "GenPart_genPartIdxMother": ("I", 0, 70, 5, 0.23, -1),
    "GenPart_pdgId": ("I", -25, 25, 5, 0.14, 24),
    "GenPart_status": ("I", 2, 74, 3, 0.28, 1),
    "GenPart_statusFlags": ("I", 1, 31105, 4, 0.15, 257),
}
# the counters of the extra collections, with the mean multiplicity and maximum the full set uses
EXTRA_COUNTERS = {"nPhoton": (1.0, 16), "nTau": (0.75, 16), "nGenJet": (6.5, 64), "nGenPart": (45.0, 256)}
TYPENAMES = {"F": "float[]", "I": "int32_t[]", "b": "uint8_t[]"}
