"""Other NanoAOD productions' column types (issue 14 item 2).

Double jet and lepton kinematics are analysed (histograms against the
independent oracle); a column of a type the analysis cannot read is refused
before any event loop, with one message naming the column and its type.
"""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
import uproot

import edge_cases
import oracle
from helpers import N_HISTOGRAMS, oracle_numbers, run_cli, same_files_everywhere

KINEMATICS = ("Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "Jet_btagCSVV2", "Electron_pt", "Muon_pt")
COLLECTIONS = ("Jet", "Electron", "Muon")


def write_retyped(path, dtypes: dict):
    """The edge-case events with the branches of ``dtypes`` stored in another type (uproot)."""
    source = edge_cases.write_edge_case_file(path.with_name("float_" + path.name))
    with uproot.open(source) as f:
        arrays = f["Events"].arrays()
    data = {}
    for coll in COLLECTIONS:
        fields = [k for k in arrays.fields if k.startswith(coll + "_")]
        data[coll] = ak.zip(
            {
                k[len(coll) + 1 :]: ak.values_astype(arrays[k], dtypes.get(k, arrays[k].layout.content.dtype))
                for k in fields
            }
        )
    for k in arrays.fields:
        if not k.startswith(tuple(c + "_" for c in COLLECTIONS)) and k not in ("nJet", "nElectron", "nMuon"):
            data[k] = arrays[k].to_numpy().astype(dtypes.get(k, arrays[k].to_numpy().dtype))
    with uproot.recreate(path) as f:
        f.mktree("Events", data)
    return path


def test_double_kinematics_agree_with_the_oracle(tmp_path):
    path = write_retyped(tmp_path / "double.root", {k: np.float64 for k in KINEMATICS})
    with uproot.open(path) as f:  # the file really holds doubles
        assert {f["Events"][k].typename for k in KINEMATICS} == {"double[]"}
    inputs = same_files_everywhere(tmp_path / "inputs.json", [(path, len(edge_cases.EDGE_EVENTS))])
    run_cli("--inputs", inputs, "--output-dir", tmp_path / "out", "--no-fit", "--mt", "1")
    # the compiled graph is built for float kinematics: these samples take the jitted one, without a note
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["graph"] == "jitted"
    actual = oracle.read_root_histograms(tmp_path / "out" / "histograms.root")
    expected = oracle.all_histograms(str(inputs), numbers=oracle_numbers())  # the definition's numbers
    assert len(actual) == N_HISTOGRAMS  # counted from the definition; the oracle has its AGC histograms
    problems = oracle.compare(actual, expected, rtol=1e-6, allow_extra=True)
    assert not problems, "\n".join(problems)
    # both regions, the overflow bin and a jet-pT variation are filled: the comparison is not empty
    assert actual["4j1b_wjets"].sumw[-1] > 0 and actual["4j2b_wjets"].sumw.sum() > 0
    assert not np.array_equal(actual["4j1b_wjets_pt_scale_up"].sumw, actual["4j1b_wjets"].sumw)


@pytest.mark.parametrize(
    "column, dtype, type_name",
    [
        ("Jet_pt", np.int32, "ROOT::VecOps::RVec<Int_t>"),
        ("event", np.float64, "Double_t"),
    ],
)
def test_unsupported_column_type_is_refused_up_front(tmp_path, column, dtype, type_name):
    path = write_retyped(tmp_path / "retyped.root", {column: dtype})
    inputs = same_files_everywhere(tmp_path / "inputs.json", [(path, len(edge_cases.EDGE_EVENTS))])
    out = tmp_path / "out"
    result = run_cli("--inputs", inputs, "--output-dir", out, "--no-fit", "--mt", "1", check=False, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("rdf_ttbar: error:")]
    assert len(lines) == 1, result.stderr
    assert f"sample ttbar/nominal ({path}): the column(s) '{column}' is {type_name}" in lines[0]
    assert "use files that store them so" in result.stderr
    assert "event loop failed" not in result.stderr
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []
