"""The same histograms whatever the threads, the file order or the file splitting."""

from __future__ import annotations

import json

import numpy as np

import oracle
from helpers import N_HISTOGRAMS, run_histograms

RTOL = 1e-9


def assert_identical(a: dict, b: dict):
    assert a.keys() == b.keys() and len(a) == N_HISTOGRAMS
    for name in a:
        for field in ("sumw", "sumw2"):
            np.testing.assert_allclose(
                getattr(a[name], field), getattr(b[name], field), rtol=RTOL, atol=0, err_msg=f"{name} {field}"
            )


def histograms(inputs, out, *extra):
    return oracle.read_root_histograms(run_histograms(inputs, out, *extra))


def test_threads_and_file_order(demo_inputs, tmp_path):
    one = histograms(demo_inputs, tmp_path / "mt1", "--mt", "1")
    two = histograms(demo_inputs, tmp_path / "mt2", "--mt", "2")
    assert_identical(one, two)

    content = json.loads(demo_inputs.read_text())
    for process in content.values():
        for entry in process.values():
            assert len(entry["files"]) > 1  # the reversal changes something
            entry["files"].reverse()
    reversed_inputs = tmp_path / "reversed.json"
    reversed_inputs.write_text(json.dumps(content))
    assert_identical(one, histograms(reversed_inputs, tmp_path / "rev", "--mt", "2"))
    # the comparison is not between empty histograms
    assert one["4j2b_ttbar_pt_res_up"].sumw.sum() > 0


def merge(files: list[str], target) -> None:
    """One file with the events of ``files`` (ROOT's TFileMerger, as hadd does)."""
    import ROOT

    merger = ROOT.TFileMerger(False)
    merger.OutputFile(str(target), "RECREATE")
    for f in files:
        assert merger.AddFile(f)
    assert merger.Merge()


def test_one_file_versus_several(demo_inputs, tmp_path):
    content = json.loads(demo_inputs.read_text())
    for process, variations in content.items():
        for variation, entry in variations.items():
            target = tmp_path / f"{process}_{variation}.root"
            merge([f["path"] for f in entry["files"]], target)
            entry["files"] = [{"path": str(target), "nevts": sum(f["nevts"] for f in entry["files"])}]
    single = tmp_path / "single.json"
    single.write_text(json.dumps(content))
    assert_identical(
        histograms(demo_inputs, tmp_path / "split", "--mt", "2"), histograms(single, tmp_path / "one", "--mt", "2")
    )


def test_concurrent_runs_give_bit_identical_histograms(demo_inputs, tmp_path):
    """Two --mt 2 runs started together (their threads interleave differently): every histogram identical to
    the last bit (rdf_ttbar::OrderedFill adds each task's partial sums in entry order)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda name: histograms(demo_inputs, tmp_path / name, "--mt", "2"), ("a", "b")))
    assert runs[0].keys() == runs[1].keys() and len(runs[0]) == N_HISTOGRAMS
    for name in runs[0]:
        for field in ("sumw", "sumw2"):
            np.testing.assert_array_equal(
                getattr(runs[0][name], field), getattr(runs[1][name], field), err_msg=f"{name} {field}"
            )
    assert runs[0]["4j2b_ttbar_pt_res_up"].sumw.sum() > 0
