"""``generate --agc-layout``: the demo set split into as many files per sample as the AGC's file list.

The expected file counts are counted here from the packaged AGC list itself (rdf_ttbar/data/nanoaod_inputs.json),
the entries read back with uproot, and the events compared with the default layout's (the same events, split
differently); an analysis run on the 787 files gives the same histograms as on the default layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import uproot

from helpers import REPO, run_cli

EVENTS = 700  # per sample: 2 events per W+jets file (349 files), 233 or 234 per single-top tW file (3 files)
AGC_LIST = REPO / "rdf_ttbar" / "data" / "nanoaod_inputs.json"


def agc_counts() -> dict[tuple[str, str], int]:
    content = json.loads(AGC_LIST.read_text())
    return {(p, v): len(entry["files"]) for p, variations in content.items() for v, entry in variations.items()}


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("agc-layout")
    out = {}
    for name, extra in (("agc", ["--agc-layout"]), ("plain", [])):
        run_cli("generate", "--events-per-sample", EVENTS, "--output-dir", base / name, "--mt", 2, *extra)
        out[name] = base / name / "nanoaod_inputs.json"
    return out


def listed(inputs_json: Path) -> dict[tuple[str, str], list[dict]]:
    content = json.loads(inputs_json.read_text())
    return {(p, v): entry["files"] for p, variations in content.items() for v, entry in variations.items()}


def test_file_counts_per_sample_are_the_agc_lists(sets):
    expected = agc_counts()
    assert sum(expected.values()) == 787
    files = listed(sets["agc"])
    assert {sample: len(f) for sample, f in files.items()} == expected
    on_disk = sorted(p.name for p in sets["agc"].parent.glob("*.root"))
    assert len(on_disk) == 787
    assert sorted(Path(f["path"]).name for fs in files.values() for f in fs) == on_disk


def test_entries_add_up_and_are_split_evenly(sets):
    content = json.loads(sets["agc"].read_text())
    for (process, variation), files in listed(sets["agc"]).items():
        entries = [uproot.open(f["path"])["Events"].num_entries for f in files]
        assert entries == [f["nevts"] for f in files]
        assert sum(entries) == EVENTS == content[process][variation]["nevts_total"]
        assert max(entries) - min(entries) <= 1
    wjets = listed(sets["agc"])["wjets", "nominal"]
    assert [f["nevts"] for f in wjets] == [3] * 2 + [2] * 347  # 700 = 349 * 2 + 2


def read_sample(files: list[dict], branches: list[str]) -> dict[str, np.ndarray]:
    arrays = [uproot.open(f["path"])["Events"].arrays(branches, library="ak") for f in files]
    import awkward as ak

    return {b: ak.to_numpy(ak.flatten(ak.concatenate([a[b] for a in arrays]), axis=None)) for b in branches}


def test_same_events_as_the_default_layout(sets):
    agc, plain = listed(sets["agc"]), listed(sets["plain"])
    branches = ["event", "Jet_pt", "Muon_pt", "Electron_eta"]
    for sample in (("wjets", "nominal"), ("single_top_tW", "nominal")):
        a, b = read_sample(agc[sample], branches), read_sample(plain[sample], branches)
        for branch in branches:
            np.testing.assert_array_equal(a[branch], b[branch], err_msg=f"{sample} {branch}")


def test_analysis_on_the_agc_layout_matches_the_default_layout(sets, tmp_path):
    histograms = {}
    for name, inputs in sets.items():
        out = tmp_path / name
        run_cli("--inputs", inputs, "--no-fit", "--mt", 1, "--output-dir", out)
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["events_processed"] == 9 * EVENTS
        with uproot.open(out / "histograms.root") as f:
            histograms[name] = {k.split(";")[0]: (h.values(flow=True), h.variances(flow=True)) for k, h in f.items()}
    assert len(histograms["agc"]) == 124 and histograms["agc"].keys() == histograms["plain"].keys()
    assert sum(histograms["agc"]["4j1b_ttbar"][0]) > 0
    for key, (values, variances) in histograms["agc"].items():
        np.testing.assert_array_equal(values, histograms["plain"][key][0], err_msg=key)
        np.testing.assert_array_equal(variances, histograms["plain"][key][1], err_msg=key)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--events-per-file", "10"], "--agc-layout sets the files per sample: leave out --events-per-file"),
        (["--events-per-sample", "300"], "--events-per-sample must be >= "),
    ],
)
def test_agc_layout_errors(tmp_path, args, message):
    result = run_cli("generate", "--agc-layout", "--output-dir", tmp_path / "set", *args, check=False)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.startswith("rdf_ttbar: error: ")
    assert not (tmp_path / "set").exists()
