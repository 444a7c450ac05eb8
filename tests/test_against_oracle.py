"""Every histogram, bin by bin, against the independent uproot/awkward oracle."""

from __future__ import annotations

import numpy as np

import edge_cases
import oracle
from conftest import real_ttbar_file
from helpers import N_HISTOGRAMS, oracle_numbers, run_histograms, same_files_everywhere

RTOL = 1e-6


def assert_matches_oracle(histograms_root, inputs_json, expected_names=N_HISTOGRAMS):
    """The histograms of a run against the oracle's, given the definition's numbers (helpers.oracle_numbers): as
    many as the definition writes (``expected_names``), and every one the oracle computes equal."""
    actual = oracle.read_root_histograms(histograms_root)
    expected = oracle.all_histograms(str(inputs_json), numbers=oracle_numbers())
    assert len(actual) == expected_names
    problems = oracle.compare(actual, expected, rtol=RTOL, allow_extra=True)
    assert not problems, "\n".join(problems)
    return actual, expected


def test_real_agc_events_as_every_sample(tmp_path):
    inputs = same_files_everywhere(tmp_path / "inputs.json", [(real_ttbar_file(), 200)])
    actual, _ = assert_matches_oracle(run_histograms(inputs, tmp_path / "out", "--mt", "2"), inputs)
    # the real file has a handful of selected events: the comparison is not empty
    assert actual["4j1b_ttbar"].sumw.sum() > 0


def test_hand_made_edge_cases(tmp_path):
    path = tmp_path / "edges.root"
    edge_cases.write_edge_case_file(path)
    n = len(edge_cases.EDGE_EVENTS)
    inputs = same_files_everywhere(tmp_path / "inputs.json", [(path, n)])
    actual, _ = assert_matches_oracle(run_histograms(inputs, tmp_path / "out", "--mt", "1"), inputs)
    # the edge file fills both regions, the flow bins and the jet-pT-only variations
    assert actual["4j1b_wjets"].sumw[-1] > 0 and actual["4j2b_wjets"].sumw.sum() > 0
    assert not np.array_equal(actual["4j1b_wjets_pt_scale_up"].sumw, actual["4j1b_wjets"].sumw)


def test_demo_set(demo_inputs, tmp_path):
    actual, _ = assert_matches_oracle(run_histograms(demo_inputs, tmp_path / "out", "--mt", "2"), demo_inputs)
    selected = {name: h.sumw.sum() for name, h in actual.items()}
    assert selected["4j2b_ttbar"] > 0 and selected["4j1b_wjets"] > 0
