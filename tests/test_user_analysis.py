"""A physicist's own analysis file, kept outside the package (README "Your own analysis file").

``examples/my_analysis.py`` (another luminosity, a changed W+jets cross section, a tighter jet cut, an extra
fitted region) runs end to end with ``--analysis FILE.py`` on the compiled build, on a small demo set: its
weights, its histograms against the independent oracle given the example's numbers (tests/oracle.py, through
helpers.oracle_numbers), and the fit's workspace with its luminosity and processes. A broken definition file
gives one ``rdf_ttbar: error:`` line naming the file and the part; a new process with a known demo recipe
generates its own events.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

import oracle
from helpers import REPO, oracle_numbers, run_cli

EXAMPLE = REPO / "examples" / "my_analysis.py"
EVENTS = 20_000  # per sample: enough for the example's fit (its 4j3b region has four wide bins)
AGC_WJETS_PB = 61457 * 0.252  # the AGC's W+jets cross section (spec "Normalisation"), stated independently


def example():
    from rdf_ttbar.analysis import get

    return get(str(EXAMPLE))


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("user-demo")
    run_cli(
        "generate", "--events-per-sample", EVENTS, "--events-per-file", EVENTS // 2, "--seed", 7, "--output-dir", out
    )
    return out / "nanoaod_inputs.json"


@pytest.fixture(scope="module")
def example_run(small_demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("user-run")
    result = run_cli("--analysis", EXAMPLE, "--inputs", small_demo, "--output-dir", out, "--mt", "2")  # compiled
    return out, result


def test_the_example_changes_what_it_says_and_nothing_else():
    from rdf_ttbar.analysis import AGC_V1

    mine = example()
    assert mine.luminosity_pb == 2000.0 and AGC_V1.luminosity_pb == 3378.0
    assert mine.process("wjets").cross_section_pb == pytest.approx(1.1 * AGC_WJETS_PB, rel=1e-15)
    assert [(p.name, p.cross_section_pb) for p in mine.processes if p.name != "wjets"] == [
        (p.name, p.cross_section_pb) for p in AGC_V1.processes if p.name != "wjets"
    ]
    assert mine.parameters["jet_pt_min"] == 30.0 and mine.selection[1].expression.endswith("Jet_pt, 30.0f)")
    assert [(r.name, r.condition, r.fit_name) for r in mine.regions] == [
        ("4j1b", "nbtag == 1", "4j1b CR"),
        ("4j2b", "nbtag == 2", "4j2b SR"),
        ("4j3b", "nbtag >= 3", "4j3b SR"),
    ]
    assert mine.systematics == AGC_V1.systematics and mine.pseudodata == AGC_V1.pseudodata
    # 62 histograms per region (61 sample-variations and the pseudo-data), counted from the definition
    assert len(mine.histogram_names()) == 3 * 62


def test_config_yaml_and_the_api_name_a_file_or_a_module(tmp_path, monkeypatch):
    import rdf_ttbar
    from rdf_ttbar.analysis import of

    (tmp_path / "mine.py").write_text(EXAMPLE.read_text())
    (tmp_path / "config.yaml").write_text("analysis: mine.py\nmt: 1\n")
    monkeypatch.chdir(tmp_path)
    config = rdf_ttbar.configure("config.yaml")
    assert config.analysis == str(tmp_path / "mine.py") and of(config).luminosity_pb == 2000.0
    monkeypatch.syspath_prepend(str(tmp_path))
    assert of(rdf_ttbar.configure(analysis="mine")).luminosity_pb == 2000.0  # an importable module
    with pytest.raises(rdf_ttbar.UserError, match="the analysis file nothere.py does not exist"):
        rdf_ttbar.configure(analysis="nothere.py")


def test_its_samples_are_weighted_with_its_luminosity_and_cross_sections(small_demo):
    import rdf_ttbar
    from rdf_ttbar.execution import prepare

    config = rdf_ttbar.configure(analysis=str(EXAMPLE.relative_to(REPO)), inputs=str(small_demo))
    assert config.analysis == str(EXAMPLE)  # a file is named by its absolute path
    samples = prepare.resolve_samples(config)
    numbers = oracle_numbers(example())
    weights = {(p, v): w for p, v, _, w in oracle.weighted_samples(str(small_demo), numbers=numbers)}
    assert {(s.process, s.variation): s.weight for s in samples} == pytest.approx(weights, rel=1e-15)
    wjets = next(s for s in samples if s.process == "wjets")
    assert wjets.weight == pytest.approx(1.1 * AGC_WJETS_PB * 2000.0 / EVENTS, rel=1e-15)


def test_its_histograms_agree_with_the_oracle_given_its_numbers(example_run, small_demo):
    out, _ = example_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["graph"] == "compiled"
    actual = oracle.read_root_histograms(out / "histograms.root")
    expected = oracle.all_histograms(str(small_demo), numbers=oracle_numbers(example()))
    assert len(actual) == len(expected) == len(example().histogram_names())
    problems = oracle.compare(actual, expected, rtol=1e-6)
    assert not problems, "\n".join(problems)
    # not empty: the new region, and the tighter jet cut (fewer events than the AGC's 25 GeV selects)
    assert actual["4j3b_ttbar"].sumw.sum() > 0 and actual["4j3b_ttbar_pt_res_up"].sumw.sum() > 0
    agc = oracle.all_histograms(str(small_demo), numbers=oracle.SPEC)
    selected = sum(actual[f"{r}_ttbar"].sumw.sum() for r in ("4j1b", "4j2b", "4j3b"))
    assert selected < sum(agc[f"{r}_ttbar"].sumw.sum() for r in ("4j1b", "4j2b")) * 2000.0 / 3378.0
    assert {"stacked_4j3b.png", "data_mc_postfit_4j3b_SR.png"} <= {p.name for p in (out / "plots").iterdir()}


def test_the_fit_workspace_carries_its_luminosity_and_processes(example_run, small_demo):
    out, result = example_run
    workspace = json.loads((out / "workspace.json").read_text())
    assert [c["name"] for c in workspace["channels"]] == ["4j1b CR", "4j2b SR", "4j3b SR"]
    labels = {p.label: p.name for p in example().processes}
    expected = oracle.all_histograms(str(small_demo), numbers=oracle_numbers(example()))
    edges = np.linspace(50.0, 550.0, 26)
    for channel in workspace["channels"]:
        region = channel["name"].split()[0]
        fit_edges = next(h.fit_edges for h in example().histograms if h.region == region)
        positions = [int(np.flatnonzero(np.isclose(edges, e))[0]) + 1 for e in fit_edges]  # +1: the underflow bin
        assert {s["name"] for s in channel["samples"]} <= set(labels)
        for sample in channel["samples"]:
            contents = expected[oracle.histogram_name(region, labels[sample["name"]])].sumw
            merged = [contents[a:b].sum() for a, b in zip(positions[:-1], positions[1:])]
            np.testing.assert_allclose(sample["data"], merged, rtol=1e-9, err_msg=f"{region} {sample['name']}")
    wjets = next(s for s in workspace["channels"][0]["samples"] if s["name"] == "W+jets")
    assert sum(wjets["data"]) > 0
    summary = json.loads((out / "fit_results.json").read_text())
    assert summary["poi"] == "ttbar_norm" and np.isfinite(summary["ttbar_norm"]["value"])
    assert "rdf_ttbar: ttbar_norm = " in result.stdout


VARIANT = """
from dataclasses import replace

from rdf_ttbar.analysis import agc_v1
from rdf_ttbar.analysis.model import Region

base = agc_v1.make(jet_pt_min=35.0, btag_threshold=0.6)
ANALYSIS = replace(
    base,
    luminosity_pb=5000.0,
    processes=tuple(replace(p, cross_section_pb=800.0) if p.name == "ttbar" else p for p in base.processes),
    regions=base.regions + (Region("4j3b", "nbtag >= 3"),),
    histograms=base.histograms + (replace(base.histograms[0], region="4j3b", fit_edges=()),),
)
"""


def test_another_b_tag_threshold_and_an_overlapping_region_on_the_jitted_build(small_demo, tmp_path):
    """The b-tag working point reaches the b-tag count and m_bjj's b-jet choice; an added region that overlaps 4j2b
    gets its events too (the oracle books every region on its own)."""
    from rdf_ttbar.analysis import get

    path = tmp_path / "variant.py"
    path.write_text(VARIANT)
    variant = get(str(path))
    assert variant.parameters["btag_threshold"] == 0.6 and "Jet_btagCSVV2, 0.6f)" in variant.histograms[1].observable
    out = tmp_path / "out"
    run_cli(
        *("--analysis", path, "--inputs", small_demo, "--output-dir", out, "--no-fit", "--mt", "2"),
        env={"RDF_TTBAR_GRAPH": "jitted"},
    )
    actual = oracle.read_root_histograms(out / "histograms.root")
    expected = oracle.all_histograms(str(small_demo), numbers=oracle_numbers(variant))
    assert len(actual) == len(expected) == len(variant.histogram_names())
    problems = oracle.compare(actual, expected, rtol=1e-6)
    assert not problems, "\n".join(problems)
    assert actual["4j3b_ttbar"].sumw.sum() > 0  # events of 4j2b too


BROKEN = {
    "syntax.py": ("ANALYSIS = (\n", "syntax error at line 1"),
    "column.py": (
        """
        from dataclasses import replace
        from rdf_ttbar.analysis.agc_v1 import ANALYSIS as V1, BINNING
        from rdf_ttbar.analysis.model import Histogram
        BAD = Histogram("4j1b", "rdf_ttbar::ht(jets, Jet_ptt)", BINNING, name="bad")
        ANALYSIS = replace(V1, histograms=V1.histograms + (BAD,))
        """,
        "histogram 'bad' observable reads the unknown column(s) Jet_ptt",
    ),
    "process.py": (
        """
        from dataclasses import replace
        from rdf_ttbar.analysis.agc_v1 import ANALYSIS as V1
        from rdf_ttbar.analysis.model import Systematic
        ZZ = Systematic("zz", "ZZ", "norm", norm=0.1, processes=("tt",))
        ANALYSIS = replace(V1, systematics=V1.systematics + (ZZ,))
        """,
        "systematic 'zz' names unknown processes ['tt']",
    ),
    "none.py": ("X = 1\n", "must define ANALYSIS, an rdf_ttbar.analysis.model.Analysis (it defines nothing"),
    "recipe.py": (
        """
        from dataclasses import replace
        from rdf_ttbar.analysis.agc_v1 import ANALYSIS as V1
        from rdf_ttbar.analysis.model import Process
        ANALYSIS = replace(V1, processes=V1.processes + (Process("zjets", 100.0, "Z+jets"),))
        """,
        "process 'zjets' has no demo recipe 'zjets' (known: ttbar, single_top_s_chan,",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_definition_file_is_one_line_naming_the_file_and_the_part(tmp_path, name):
    text, message = BROKEN[name]
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    cache = tmp_path / "cache"
    result = run_cli("--analysis", path, "--events-per-sample", 100, "--demo-cache-dir", cache, check=False)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("rdf_ttbar: error: ") and message in line
    if name != "recipe.py":
        assert f"analysis file {path}" in line
    assert not cache.exists()  # nothing generated


def test_a_new_process_with_a_known_recipe_generates_its_own_events(tmp_path):
    path = tmp_path / "alt.py"
    path.write_text(
        textwrap.dedent(
            """
            from dataclasses import replace
            from rdf_ttbar.analysis.agc_v1 import ANALYSIS as V1
            from rdf_ttbar.analysis.model import Process
            ANALYSIS = replace(V1, processes=V1.processes + (Process("ttbar_alt", 100.0, "ttbar alt", demo="ttbar"),))
            """
        )
    )
    out = tmp_path / "out"
    run_cli(
        *("--analysis", path, "--events-per-sample", 3000, "--demo-cache-dir", tmp_path / "cache"),
        *("--output-dir", out, "--no-fit", "--mt", "1"),
        env={"RDF_TTBAR_GRAPH": "jitted"},
    )
    (listing,) = (tmp_path / "cache").glob("demo-*/nanoaod_inputs.json")
    inputs = json.loads(listing.read_text())
    assert set(inputs) == {"ttbar", "single_top_s_chan", "single_top_t_chan", "single_top_tW", "wjets", "ttbar_alt"}
    actual = oracle.read_root_histograms(out / "histograms.root")
    alt, ttbar = actual["4j1b_ttbar_alt"].sumw, actual["4j1b_ttbar"].sumw
    assert alt.sum() > 0 and not np.allclose(alt / alt.sum(), ttbar / ttbar.sum())  # its own events, ttbar-like
    numbers = oracle.Numbers(xsec={**oracle.XSEC, "ttbar_alt": 100.0})
    expected = oracle.all_histograms(str(listing), numbers=numbers)
    problems = oracle.compare({k: actual[k] for k in expected}, expected, rtol=1e-6)
    assert not problems, "\n".join(problems)
