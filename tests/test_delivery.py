"""The deliver stage: skimmed files give the same 124 histograms as the inputs, resume and redelivery."""

from __future__ import annotations

import json

import pytest

import oracle
from helpers import run_cli, run_histograms


@pytest.fixture(scope="module")
def direct(demo_inputs, tmp_path_factory):
    return oracle.read_root_histograms(run_histograms(demo_inputs, tmp_path_factory.mktemp("direct")))


@pytest.mark.parametrize("fmt", ["ttree", "rntuple"])
def test_delivered_files_give_identical_histograms(demo_inputs, direct, tmp_path, fmt):
    out = tmp_path / "delivered"
    result = run_cli("deliver", "--inputs", demo_inputs, "--output-dir", out, "--format", fmt, "--mt", "2")
    assert "delivered 27 of 27 file(s)" in result.stdout
    listing = json.loads((out / "nanoaod_inputs.json").read_text())
    original = json.loads(demo_inputs.read_text())
    kept = 0
    for process, variations in original.items():
        for variation, entry in variations.items():
            files = listing[process][variation]["files"]
            # normalisation unchanged: the original event counts
            assert [f["nevts"] for f in files] == [f["nevts"] for f in entry["files"]]
            kept += sum(f["nevts_delivered"] for f in files)
    assert 0 < kept < 0.5 * sum(f["nevts"] for v in original.values() for e in v.values() for f in e["files"])
    hists = oracle.read_root_histograms(run_histograms(out / "nanoaod_inputs.json", tmp_path / "analysed"))
    assert len(hists) == 124
    assert oracle.compare(hists, direct, rtol=1e-12, atol=0) == []

    # a re-run delivers nothing; a damaged delivered file is delivered again
    assert "delivered 0 of 27 file(s)" in run_cli("deliver", "--inputs", demo_inputs, "--output-dir", out,
                                                  "--format", fmt).stdout
    victim = sorted((out / "files").glob("*.root"))[0]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    assert "delivered 1 of 27 file(s)" in run_cli("deliver", "--inputs", demo_inputs, "--output-dir", out,
                                                  "--format", fmt).stdout
    hists = oracle.read_root_histograms(run_histograms(out / "nanoaod_inputs.json", tmp_path / "again"))
    assert oracle.compare(hists, direct, rtol=1e-12, atol=0) == []


def test_deliver_cache_on_the_main_command(demo_inputs, direct, tmp_path):
    cache = tmp_path / "cache"
    first = run_cli("--inputs", demo_inputs, "--output-dir", tmp_path / "a", "--no-fit", "--deliver-cache", cache)
    assert "delivered 27 of 27" in first.stderr
    assert oracle.compare(oracle.read_root_histograms(tmp_path / "a" / "histograms.root"), direct,
                          rtol=1e-12, atol=0) == []
    second = run_cli("--inputs", demo_inputs, "--output-dir", tmp_path / "b", "--no-fit", "--deliver-cache", cache)
    assert "delivered" not in second.stderr
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["events_processed"] < 0.5 * 9 * 60_000
