"""The AGC CMS Open Data ttbar analysis, version 2: v1's samples, regions and systematics with the tighter
object selection and the ML jet-parton assignment of 4j2b events, whose 20 features are histogrammed.

As the AGC's v2 coffea processor does it (``../shared/peers/coffea-v2/README.md``, "The v2 physics exactly
as the code does it"); C++ helpers in ``cpp/agc_v2.h`` (selection, jet pT) and ``cpp/ml.h`` (the xgboost
models, read by ``forest.py`` and evaluated in the event loop). The jet pT is a double column, ``jet_pt``,
varied by the jet energy scale and resolution: the whole selection and the assignment follow each variation, and the
weight variations reuse the nominal ones (RDataFrame's Vary).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..errors import UserError
from .agc_v1 import ANALYSIS as V1
from .forest import model_key
from .model import Analysis, Binning, Define, Filter, Histogram, rename

MODELS_DIR = Path(__file__).resolve().parents[1] / "data" / "models"  # the AGC's two xgboost models, sha256 beside
ML_OFFSET = 1e-6  # the AGC adds it to every bin of the ML histograms (utils/file_output.py, add_offset=True)

# the 20 features of the best assignment, in the models' order: name, range of its 25 bins (the AGC's
# utils/config.py), plot label
_FEATURE_TABLE = r"""
deltar_leptonbtoplep  0  6    $\Delta R$ between the $b_{top-lep}$ jet and the lepton
deltar_w1w2           0  6    $\Delta R$ between the two W jets
deltar_w1btophad      0  6    $\Delta R$ between the first W jet and the $b_{top-had}$ jet
deltar_w2btophad      0  6    $\Delta R$ between the second W jet and the $b_{top-had}$ jet
mass_leptonbtoplep    50 300  Combined mass of the $b_{top-lep}$ jet and the lepton [GeV]
mass_w1w2             50 300  Combined mass of the two W jets [GeV]
mass_w1w2btophad      50 550  Combined mass of the $b_{top-had}$ jet and the two W jets [GeV]
pt_w1w2btophad        50 550  Combined $p_T$ of the $b_{top-had}$ jet and the two W jets [GeV]
"""
_JETS = {"w1": "the first W jet", "w2": "the second W jet", "btophad": "the $b_{top-had}$ jet"}
_JETS["btoplep"] = "the $b_{top-lep}$ jet"
_PER_JET = (
    ("pt", 25, 300, "$p_T$ of {} [GeV]"),
    ("btag", 0, 1, "btagCSVV2 of {}"),
    ("qgl", -1, 1, "Quark-gluon likelihood of {}"),
)
FEATURES: tuple[tuple[str, str, float, float], ...] = tuple(
    (name, label, float(low), float(high))
    for name, low, high, label in (line.split(maxsplit=3) for line in _FEATURE_TABLE.strip().splitlines())
) + tuple(
    (f"{kind}_{jet}", label.format(text), low, high)
    for kind, low, high, label in _PER_JET
    for jet, text in _JETS.items()
)
FEATURE_NAMES = tuple(name for name, *_ in FEATURES)
# the features drawn pre- and post-fit with the main fit's parameters (the AGC's cabinetry_config_ml)
POSTFIT_FEATURES = tuple(FEATURE_NAMES[i] for i in (0, 1, 2, 4, 5, 6, 7))


@dataclass(frozen=True)
class V2Cuts:
    """The v2 object selection's cut values (the AGC's), passed to the C++ helpers of ``cpp/agc_v2.h``; the float
    ones as float literals (coffea compares float32 values), the jet pT in double."""

    electron_pt_min: float = 30.0
    electron_eta_max: float = 2.1
    electron_cut_based: int = 4  # cutBased == 4: tight
    electron_sip3d_max: float = 4.0
    muon_pt_min: float = 30.0
    muon_eta_max: float = 2.1
    muon_sip3d_max: float = 4.0
    muon_iso_max: float = 0.15  # pfRelIso04_all
    jet_pt_min: float = 30.0
    jet_eta_max: float = 2.4
    jet_id_bits: int = 4  # (jetId & 4) != 0: the tight lepton veto

    def electrons(self) -> str:
        cuts = f"{_f(self.electron_pt_min)}, {_f(self.electron_eta_max)}, {int(self.electron_cut_based)}, "
        return (
            "rdf_ttbar::v2::tight_electrons(Electron_pt, Electron_eta, Electron_cutBased, Electron_sip3d, "
            f"{cuts}{_f(self.electron_sip3d_max)})"
        )

    def muons(self) -> str:
        cuts = ", ".join(_f(x) for x in (self.muon_pt_min, self.muon_eta_max, self.muon_sip3d_max, self.muon_iso_max))
        return f"rdf_ttbar::v2::tight_muons(Muon_pt, Muon_eta, Muon_tightId, Muon_sip3d, Muon_pfRelIso04_all, {cuts})"

    def jets(self) -> str:
        cuts = f"{float(self.jet_pt_min)!r}, {_f(self.jet_eta_max)}, {int(self.jet_id_bits)}"
        return f"rdf_ttbar::v2::select_jets(jet_pt, Jet_eta, Jet_jetId, {cuts})"


def _f(x: float) -> str:
    """A C++ float literal (coffea compares float32 values with Python numbers cast to float32: 2.1 -> 2.1f)."""
    return f"{float(x)!r}f"


CUTS = V2Cuts()


def make(models_dir: Path = MODELS_DIR, cuts: V2Cuts = CUTS) -> Analysis:
    """The v2 definition with the xgboost models of ``models_dir`` (model_even.json, model_odd.json) and the object
    selection's cut values ``cuts`` (e.g. ``make(cuts=dataclasses.replace(CUTS, jet_pt_min=40.0))``)."""
    even, odd = (str(Path(models_dir, f"model_{parity}.json").resolve()) for parity in ("even", "odd"))
    missing = [p for p in (even, odd) if not Path(p).is_file()]
    if missing:
        raise UserError(
            f"the xgboost model(s) {', '.join(missing)} do not exist: --ml-models names a folder with "
            "model_even.json (trained on even event numbers) and model_odd.json, in xgboost's JSON format"
        )
    models = tuple((model_key(path), path) for path in (even, odd))
    assignment = Define(
        "ml_features",
        f'rdf_ttbar::v2::best_features("{models[0][0]}", "{models[1][0]}", event, jets, jet_pt, Jet_eta, Jet_phi, '
        "Jet_mass, Jet_btagCSVV2, Jet_qgl, lepton)",
    )
    v1 = V1
    jet_systematics = {
        "pt_scale": "rdf_ttbar::v2::scaled(jet_pt, 1.03)",
        "pt_res": "rdf_ttbar::pt_resolution_varied(jet_pt, run, luminosityBlock, event)",
    }
    systematics = tuple(
        replace(s, column="jet_pt", expression=jet_systematics[s.name]) if s.name in jet_systematics else s
        for s in v1.systematics
    )
    assert all(s.column != "Jet_pt" for s in systematics if s.kind == "vary")
    return Analysis(
        name="AGC ttbar v2",
        version="v2",
        luminosity_pb=v1.luminosity_pb,
        processes=v1.processes,
        norm_process=v1.norm_process,
        norm_factor=v1.norm_factor,
        stack_order=v1.stack_order,
        inputs={  # v1's, and the columns of the v2 object selection and of the assignment
            **v1.inputs,
            "Jet_jetId": "ROOT::RVecI",
            "Jet_qgl": "ROOT::RVecF",
            **{f"Electron_{c}": "ROOT::RVecF" for c in ("eta", "phi", "mass", "sip3d")},
            "Electron_cutBased": "ROOT::RVecI",
            **{f"Muon_{c}": "ROOT::RVecF" for c in ("eta", "phi", "mass", "sip3d", "pfRelIso04_all")},
            "Muon_tightId": "ROOT::RVec<bool>",
        },
        selection=(
            Define("electrons", cuts.electrons()),
            Define("muons", cuts.muons()),
            Filter("exactly one lepton", "rdf_ttbar::v2::count(electrons) + rdf_ttbar::v2::count(muons) == 1"),
            Define(
                "lepton",
                "rdf_ttbar::v2::lepton(electrons, Electron_pt, Electron_eta, Electron_phi, Electron_mass, "
                "muons, Muon_pt, Muon_eta, Muon_phi, Muon_mass)",
            ),
            Define("jet_pt", "rdf_ttbar::v2::as_double(Jet_pt)"),
            Define("jets", cuts.jets()),
            *V1.selection[2:],  # v1's b-tag count and its filter, on v2's jets
        ),
        regions=tuple(replace(r, defines=(assignment,)) if r.name == "4j2b" else r for r in V1.regions),
        histograms=(
            # v1's HT and m_bjj, of v2's jet pT
            *(replace(h, observable=rename(h.observable, {"Jet_pt": "jet_pt"})) for h in V1.histograms),
            *(
                Histogram(
                    "4j2b",
                    f"ml_features[{i}]",
                    Binning(25, float(low), float(high)),
                    label,
                    name=name,
                    output="histograms_ml",
                    offset=ML_OFFSET,
                    postfit_plot=name in POSTFIT_FEATURES,
                )
                for i, (name, label, low, high) in enumerate(FEATURES)
            ),
        ),
        systematics=systematics,
        # the AGC's code (utils/file_output.py): (ttbar ME_var + ttbar PS_var) / 2 + wjets
        pseudodata=((0.5, "ttbar", "ME_var"), (0.5, "ttbar", "PS_var"), (1.0, "wjets", "nominal")),
        variation_plots=v1.variation_plots,
        parameters={k: float(v) for k, v in asdict(cuts).items()},
        headers=("analysis.h", "ml.h", "agc_v2.h"),
        files=(even, odd),  # on Dask workers without this installation: their uploaded copies (forest.py)
        models=models,
    )


ANALYSIS = make()
