"""RNTuple inputs: the real AGC RNTuple file and a demo set written in both formats, against the oracle;
the up-front checks (wrong name, missing fields, "nevts" that disagree, a sample mixing formats)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import uproot

import oracle
from conftest import real_rntuple_file, real_ttbar_file
from helpers import (
    N_HISTOGRAMS,
    compare_with_oracle,
    oracle_histograms,
    run_cli,
    run_histograms,
    same_files_everywhere,
    write_inputs,
)

RTOL = 1e-6


def assert_matches_oracle(histograms_root, inputs_json):
    actual = oracle.read_root_histograms(histograms_root)
    expected = oracle_histograms(str(inputs_json))
    assert len(actual) == N_HISTOGRAMS
    problems = compare_with_oracle(actual, expected, rtol=RTOL)
    assert not problems, "\n".join(problems)
    return actual


def refused(*args) -> str:
    """Run the analysis, expect exit 2 with one error and no traceback; the error output."""
    result = run_cli(*args, check=False, timeout=300)
    err = result.stderr
    assert result.returncode == 2, f"exit {result.returncode}:\n{err[-3000:]}"
    assert err.count("rdf_ttbar: error:") == 1 and "Traceback" not in err, err[-3000:]
    return err


def test_real_agc_rntuple_file_matches_the_oracle(tmp_path):
    path = real_rntuple_file()
    assert uproot.open(path).classnames() == {"Events;1": "ROOT::RNTuple"}  # really an RNTuple
    inputs = same_files_everywhere(tmp_path / "in.json", [(path, 10)])
    actual = assert_matches_oracle(run_histograms(inputs, tmp_path / "out", "--mt", "2"), inputs)
    # the 10 events fill a few bins: the comparison is not empty
    assert sum(h.sumw.sum() for h in actual.values()) > 0


@pytest.fixture(scope="module")
def both_formats(tmp_path_factory):
    """A small demo set generated as TTree and as RNTuple (same seed and size)."""
    base = tmp_path_factory.mktemp("formats")
    lists = {}
    for fmt in ("ttree", "rntuple"):
        run_cli(
            "generate",
            "--events-per-sample",
            6000,
            "--events-per-file",
            3000,
            "--seed",
            7,
            "--output-dir",
            base / fmt,
            "--format",
            fmt,
            "--mt",
            2,
        )
        lists[fmt] = base / fmt / "nanoaod_inputs.json"
    return lists


def test_demo_set_in_both_formats_gives_identical_histograms(both_formats, tmp_path):
    for fmt, inputs in both_formats.items():
        paths = [
            f["path"] for entry in json.loads(inputs.read_text()).values() for v in entry.values() for f in v["files"]
        ]
        kinds = {uproot.open(p).classnames()["Events;1"] for p in paths}
        assert kinds == {"ROOT::RNTuple" if fmt == "rntuple" else "TTree"}
    hists = {
        fmt: oracle.read_root_histograms(run_histograms(inputs, tmp_path / fmt, "--mt", "1"))
        for fmt, inputs in both_formats.items()
    }
    assert len(hists["ttree"]) == N_HISTOGRAMS and hists["ttree"].keys() == hists["rntuple"].keys()
    for name, h in hists["ttree"].items():  # the same events in the same order: bit-identical
        assert np.array_equal(h.sumw, hists["rntuple"][name].sumw), name
        assert np.array_equal(h.sumw2, hists["rntuple"][name].sumw2), name
    assert hists["ttree"]["4j2b_ttbar"].sumw.sum() > 0
    problems = compare_with_oracle(hists["rntuple"], oracle_histograms(str(both_formats["rntuple"])), rtol=RTOL)
    assert not problems, "\n".join(problems)
    # bytes read: counted for TTree inputs; ROOT's counter does not see RNTuple's reads, so null rather than 0
    metrics = {fmt: json.loads((tmp_path / fmt / "metrics.json").read_text()) for fmt in both_formats}
    assert metrics["ttree"]["bytes_read"] > 0
    assert metrics["rntuple"]["bytes_read"] is None


def test_wrong_name_says_what_the_file_holds(tmp_path):
    inputs = same_files_everywhere(tmp_path / "in.json", [(real_rntuple_file(), 10)])
    err = refused("--inputs", inputs, "--output-dir", tmp_path / "out", "--no-fit", "--tree", "Tree")
    assert f"{real_rntuple_file()}: has no TTree or RNTuple 'Tree' (it holds: Events (ROOT::RNTuple))" in err
    assert "--tree" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_rntuple_without_some_fields(tmp_path):
    import ROOT

    path = tmp_path / "no_event.root"
    options = ROOT.RDF.RSnapshotOptions()
    options.fOutputFormat = ROOT.RDF.ESnapshotOutputFormat.kRNTuple
    columns = ["Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "Jet_btagCSVV2", "Electron_pt", "Muon_pt", "luminosityBlock"]
    ROOT.RDataFrame("Events", str(real_ttbar_file())).Snapshot("Events", str(path), columns, options)
    inputs = same_files_everywhere(tmp_path / "in.json", [(path, 200)])
    err = refused("--inputs", inputs, "--output-dir", tmp_path / "out", "--no-fit")
    assert f"{path}: RNTuple 'Events' lacks the branches run, event" in err


def test_nevts_that_disagree_with_the_files(tmp_path):
    files = {
        ("ttbar", "nominal"): [(real_ttbar_file(), 199)],
        ("wjets", "nominal"): [(real_rntuple_file(), 12)],
        ("single_top_tW", "nominal"): [(real_ttbar_file(), 200)],
    }
    inputs = write_inputs(tmp_path / "in.json", files)
    err = refused("--inputs", inputs, "--output-dir", tmp_path / "out", "--no-fit")
    assert f'{real_ttbar_file()}: the input list gives "nevts": 199 but the file\'s TTree holds 200 events' in err
    assert f'{real_rntuple_file()}: the input list gives "nevts": 12 but the file\'s RNTuple holds 10 events' in err
    assert "2 input file(s) cannot be used" in err  # the right count (200) is no problem


def test_sample_mixing_ttree_and_rntuple_is_refused(tmp_path):
    files = {
        ("ttbar", "nominal"): [(real_ttbar_file(), 200), (real_rntuple_file(), 10)],
        ("wjets", "nominal"): [(real_rntuple_file(), 10)],
    }
    inputs = write_inputs(tmp_path / "in.json", files)
    err = refused("--inputs", inputs, "--output-dir", tmp_path / "out", "--no-fit")
    assert (
        f"sample ttbar mixes TTree and RNTuple files, which one event loop cannot read "
        f"(RNTuple: {real_rntuple_file()}; TTree: {real_ttbar_file()})"
    ) in err
    assert "sample wjets" not in err
