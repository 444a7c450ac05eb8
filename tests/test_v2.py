"""The AGC v2 analysis (``--analysis v2``: tighter objects, ML jet-parton assignment in 4j2b) against the
independent oracle ``tests/oracle_v2.py`` (uproot + awkward + numpy + xgboost, nothing of rdf_ttbar's analysis).

On a small synthetic demo set (9 samples x 20k events, two files per sample, Jet_qgl written by the generator):

- every histogram of histograms.root (124 HT / m_bjj) and histograms_ml.root (20 features x 62) equals the
  oracle's (sumw and sumw2, flow bins included, rtol 1e-6), except ``pt_res_up`` (rdf_ttbar's own smearing,
  not re-implemented there): those must exist and differ from the nominal ones;
- the compiled and the jitted analysis graph give bit-identical histograms, pt_res_up included;
- input files without Jet_qgl end in one clear error naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

import oracle
import oracle_v2
from conftest import generate_demo
from helpers import ALL_SAMPLES, run_cli, same_files_everywhere
from test_reliability import assert_one_error

EVENTS_PER_SAMPLE = 20_000
EVENTS_PER_FILE = 10_000
PREFIXES = (*oracle.REGIONS, *oracle_v2.ML_FEATURE_NAMES)
NOMINAL_PROCESSES = sorted({p for p, v in ALL_SAMPLES if v == "nominal"})


@pytest.fixture(scope="module")
def v2_inputs(tmp_path_factory) -> Path:
    return generate_demo(
        tmp_path_factory.mktemp("v2set"), events_per_file=EVENTS_PER_FILE, events_per_sample=EVENTS_PER_SAMPLE
    )


def run_v2(inputs: Path, out: Path, env: dict | None = None) -> tuple[dict, dict]:
    """A v2 run without the fit: ({name: Hist} of histograms.root, of histograms_ml.root), metrics."""
    run_cli("--analysis", "v2", "--inputs", inputs, "--mt", 2, "--no-fit", "--output-dir", out, env=env)
    files = {key: oracle.read_root_histograms(out / f"{key}.root") for key in ("histograms", "histograms_ml")}
    return files, json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def compiled_run(v2_inputs, tmp_path_factory):
    return run_v2(v2_inputs, tmp_path_factory.mktemp("v2compiled"))


@pytest.fixture(scope="module")
def expected(v2_inputs) -> dict:
    return oracle_v2.all_histograms(v2_inputs)


def pt_res_names() -> set[str]:
    return {oracle_v2.name(prefix, process, "pt_res_up") for prefix in PREFIXES for process in NOMINAL_PROCESSES}


def test_v2_histograms_match_the_oracle(compiled_run, expected):
    files, _ = compiled_run
    main, ml = files["histograms"], files["histograms_ml"]
    # the names: 124 HT / m_bjj, 20 x 62 ML; the oracle gives all but pt_res_up
    assert len(main) == 124 and len(ml) == 20 * 62
    assert not any(oracle_v2.is_ml(n) for n in main) and all(oracle_v2.is_ml(n) for n in ml)
    assert set(main) | set(ml) == set(expected) | pt_res_names()
    assert len(expected) == 124 + 20 * 62 - len(pt_res_names())

    # the comparison is not of empty histograms: every sample has 4j2b events, ttbar many
    assert expected["4j2b_ttbar"].sumw.sum() > 0 and expected["4j1b_wjets_scale_var_up"].sumw.sum() > 0
    for process, variation in ALL_SAMPLES:
        h = expected[oracle_v2.name("mass_w1w2btophad", process, variation)]
        assert h.sumw.sum() > 27 * oracle_v2.ML_OFFSET * 1.01, (process, variation)
    assert np.count_nonzero(expected["mass_w1w2btophad_ttbar"].sumw > 1e-3) >= 20

    actual = {n: h for n, h in {**main, **ml}.items() if n not in pt_res_names()}
    problems = oracle.compare(actual, expected, rtol=1e-6)
    assert not problems, f"{len(problems)} mismatches:\n" + "\n".join(problems[:40])


def test_v2_pt_res_up_exists_and_differs_from_nominal(compiled_run):
    files, _ = compiled_run
    histograms = {**files["histograms"], **files["histograms_ml"]}
    assert pt_res_names() <= set(histograms)
    for prefix in PREFIXES:
        for process in ("ttbar", "single_top_tW"):
            nominal = histograms[oracle_v2.name(prefix, process)]
            varied = histograms[oracle_v2.name(prefix, process, "pt_res_up")]
            assert nominal.sumw[1:-1].sum() > 1.0 and varied.sumw[1:-1].sum() > 1.0, (prefix, process)
            assert not np.array_equal(nominal.sumw, varied.sumw), (prefix, process)


def test_v2_compiled_and_jitted_graphs_are_identical(v2_inputs, compiled_run, tmp_path):
    compiled, compiled_metrics = compiled_run
    jitted, jitted_metrics = run_v2(v2_inputs, tmp_path / "jitted", {"RDF_TTBAR_GRAPH": "jitted"})
    assert (compiled_metrics["graph"], jitted_metrics["graph"]) == ("compiled", "jitted")
    for key in ("histograms", "histograms_ml"):
        assert len(compiled[key]) in (124, 1240)
        problems = oracle.compare(jitted[key], compiled[key], rtol=0, atol=0)
        assert not problems, f"{key}: {len(problems)} differences:\n" + "\n".join(problems[:40])


def without_jet_qgl(source: Path, target: Path, entries: int = 2000) -> Path:
    """A TTree copy of the first ``entries`` events of ``source`` with every branch but Jet_qgl."""
    tree = uproot.open(source)["Events"]
    names = [k for k in tree.keys() if k != "Jet_qgl" and not (k.startswith("n") and k[1:2].isupper())]
    arrays = tree.arrays(names, library="ak", entry_stop=entries)
    groups: dict = {}
    flat: dict = {}
    for field in arrays.fields:
        head, _, rest = field.partition("_")
        if head in ("Jet", "Electron", "Muon"):
            groups.setdefault(head, {})[rest] = arrays[field]
        else:
            flat[field] = arrays[field]
    data = {**flat, **{head: ak.zip(columns) for head, columns in groups.items()}}
    with uproot.recreate(target) as f:
        out = f.mktree("Events", {k: v.type.content for k, v in data.items()})  # nJet, Jet_pt, ...: NanoAOD names
        out.extend(data)
    return target


def test_v2_without_jet_qgl_is_one_error(v2_inputs, tmp_path):
    first = json.loads(v2_inputs.read_text())["ttbar"]["nominal"]["files"][0]["path"]
    path = without_jet_qgl(Path(first), tmp_path / "no_qgl.root")
    with uproot.open(path) as f:
        tree = f["Events"]
        assert tree.classname == "TTree" and "Jet_qgl" not in tree.keys() and "Jet_pt" in tree.keys()
    inputs = same_files_everywhere(tmp_path / "inputs.json", [(path, 2000)])
    result = run_cli(
        "--analysis", "v2", "--inputs", inputs, "--mt", 2, "--no-fit", "--output-dir", tmp_path / "out", check=False
    )
    assert_one_error(result, "Jet_qgl", str(path))
    lacking = [line for line in result.stderr.splitlines() if "lacks" in line]
    assert lacking and all("Jet_qgl" in line and "Jet_pt" not in line for line in lacking), result.stderr
    assert not (tmp_path / "out" / "histograms.root").exists()
