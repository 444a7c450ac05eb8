"""The analysis graph compiled ahead of time (generated from the definition, rdf_ttbar/analysis/native.py) against the
jitted one.

Both builds must give bit-identical histograms (contents and sums of squared weights, flow bins included);
the jitted one is itself checked against the independent oracle (test_against_oracle, test_dask, ...).
The library is built in a fresh cache folder once here, as a first run on a new machine does; a compiler
that fails or is missing makes the run fall back to the jitted graph with one message, and a failed build
is not tried again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import oracle
from helpers import N_HISTOGRAMS, REPO, run_cli

histograms = oracle.read_root_histograms


def assert_identical(actual: dict, expected: dict):
    """The same names, every bin equal: no tolerance at all."""
    assert len(expected) == N_HISTOGRAMS
    problems = oracle.compare(actual, expected, rtol=0, atol=0)
    assert not problems, "\n".join(problems)


def run(inputs, out, env=None, *extra):
    result = run_cli("--inputs", inputs, "--output-dir", out, "--no-fit", "--mt", "1", *extra, env=env)
    return result, json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def jitted_run(demo_inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("jitted")
    result, metrics = run(demo_inputs, out, {"RDF_TTBAR_GRAPH": "jitted"})
    assert metrics["graph"] == "jitted" and "jitted instead" not in result.stderr  # asked for: no note
    assert metrics["wall_time_s"]["jitting"] > 0
    return histograms(out / "histograms.root")


def test_a_first_run_builds_the_library_and_gives_the_jitted_histograms(demo_inputs, jitted_run, tmp_path):
    cache = tmp_path / "cache"
    env = {"RDF_TTBAR_CACHE": str(cache)}
    first, metrics = run(demo_inputs, tmp_path / "first", env)
    assert "compiling the analysis graph" in first.stderr and str(cache) in first.stderr
    assert metrics["graph"] == "compiled" and metrics["wall_time_s"]["jitting"] == 0
    assert [p.suffix for p in cache.iterdir() if p.name.startswith("graph-")].count(".so") == 1
    assert not list(cache.glob(".graph-*"))  # no temporary left
    assert_identical(histograms(tmp_path / "first" / "histograms.root"), jitted_run)
    # a second run loads it: nothing compiled, nothing said
    second, metrics = run(demo_inputs, tmp_path / "second", env)
    assert "compiling" not in second.stderr and "jitted" not in second.stderr and metrics["graph"] == "compiled"
    # the histograms are really filled (the comparison is not of empty histograms)
    filled = histograms(tmp_path / "second" / "histograms.root")
    assert filled["4j2b_ttbar"].sumw.sum() > 0 and filled["4j1b_wjets_scale_var_up"].sumw.sum() > 0
    assert not np.array_equal(filled["4j2b_ttbar_pt_res_up"].sumw, filled["4j2b_ttbar"].sumw)
    # a damaged library (here: truncated to half) is not loaded (ROOT would crash): it is named and built again
    library = next(cache.glob("graph-*.so"))
    library.write_bytes(library.read_bytes()[: library.stat().st_size // 2])
    third, metrics = run(demo_inputs, tmp_path / "third", env)
    assert f"the compiled analysis graph {library} is damaged" in third.stderr and "building it again" in third.stderr
    assert metrics["graph"] == "compiled" and "Traceback" not in third.stderr
    assert_identical(histograms(tmp_path / "third" / "histograms.root"), jitted_run)
    # another copy of the package with the same headers, in another folder (an installation, another worktree):
    # the same library, nothing compiled
    copy = tmp_path / "elsewhere"
    for part in ("rdf_ttbar", "cpp"):
        shutil.copytree(REPO / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "from-a-copy"
    elsewhere = subprocess.run(
        [sys.executable, "-m", "rdf_ttbar", "--inputs", demo_inputs, "--output-dir", out, "--no-fit", "--mt", "1"],
        cwd=copy,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert "compiling" not in elsewhere.stderr and "jitted" not in elsewhere.stderr, elsewhere.stderr
    assert json.loads((out / "metrics.json").read_text())["graph"] == "compiled"
    assert [p.name for p in cache.glob("graph-*.so")] == [library.name]
    assert_identical(histograms(out / "histograms.root"), jitted_run)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_generated_source_names_no_folder(version):
    """Headers by name, models by content hash: the source and the library's name do not depend on where the
    package lies."""
    from rdf_ttbar import cpp
    from rdf_ttbar.analysis import compiled, get

    analysis = get(version)
    source, header = compiled.sources(analysis, "graph_x")
    for text in (source, header):
        assert str(cpp.cpp_dir()) not in text and str(REPO) not in text and ".json" not in text
    assert '#include "graph.h"' in source and all(f'#include "{h}"' in source for h in analysis.headers)
    assert compiled.include_dirs(analysis) == [str(cpp.cpp_dir())]


def test_rntuple_inputs_give_the_jitted_histograms(tmp_path):
    """RNTuple's event column is std::uint64_t, not ULong64_t: the library's other instantiation."""
    run_cli(
        "generate", "--events-per-sample", 20_000, "--seed", 7, "--format", "rntuple", "--output-dir", tmp_path / "set"
    )
    inputs = tmp_path / "set" / "nanoaod_inputs.json"
    _, compiled = run(inputs, tmp_path / "compiled")
    _, jitted = run(inputs, tmp_path / "jitted", {"RDF_TTBAR_GRAPH": "jitted"})
    assert (compiled["graph"], jitted["graph"]) == ("compiled", "jitted")
    assert_identical(
        histograms(tmp_path / "compiled" / "histograms.root"), histograms(tmp_path / "jitted" / "histograms.root")
    )


def test_a_failing_compiler_falls_back_to_the_jitted_graph_once(demo_inputs, jitted_run, tmp_path):
    env = {"RDF_TTBAR_CACHE": str(tmp_path / "cache"), "CXX": "false"}
    first, metrics = run(demo_inputs, tmp_path / "first", env)
    failed = list((tmp_path / "cache").glob("graph-*.failed"))
    assert len(failed) == 1 and "false" in failed[0].read_text()  # the command line is kept
    assert (
        f"the analysis graph is jitted instead of compiled ahead of time: the compiler failed "
        f"(its messages: {failed[0]}; delete that file to try again)"
    ) in first.stderr
    assert metrics["graph"] == "jitted"
    assert_identical(histograms(tmp_path / "first" / "histograms.root"), jitted_run)
    second, metrics = run(demo_inputs, tmp_path / "second", env)
    assert (
        "compiling" not in second.stderr
        and f"building it failed before (the compiler's messages: {failed[0]}" in second.stderr
        and metrics["graph"] == "jitted"
    )


def test_no_compiler_on_path_is_one_line(demo_inputs, tmp_path):
    """Without any C++ compiler on PATH ROOT's interpreter would print its 5-line "cannot extract standard
    library include paths" block at start-up: the run says it in one line instead."""
    import os
    import shutil
    import sys

    bin_dir = tmp_path / "bin"  # this machine's programs, without the compilers
    bin_dir.mkdir()
    compilers = ("c++", "g++", "gcc", "cc", "cpp", "clang", "clang++")
    for entry in os.scandir("/usr/bin"):
        if not any(
            entry.name == c
            or entry.name.startswith(c + "-")
            or entry.name.endswith("-" + c)
            or "-linux-gnu-g" in entry.name
            for c in compilers
        ):
            (bin_dir / entry.name).symlink_to(entry.path)
    env = {"PATH": f"{os.path.dirname(sys.executable)}:{bin_dir}", "RDF_TTBAR_CACHE": str(tmp_path / "cache")}
    assert shutil.which("c++", path=env["PATH"]) is None
    result, metrics = run(demo_inputs, tmp_path / "out", env, "--files-per-sample", "1")
    assert "cannot extract standard library include paths" not in result.stderr
    assert [line for line in result.stderr.splitlines() if "warning" in line] == [
        "rdf_ttbar: warning: the analysis graph is jitted instead of compiled ahead of time: no C++ compiler 'c++' "
        "(install g++ or clang++, or set CXX)"
    ]
    assert metrics["graph"] == "jitted"


def test_no_compiler_and_a_wrong_choice(demo_inputs, tmp_path):
    env = {"RDF_TTBAR_CACHE": str(tmp_path / "cache"), "CXX": "no-such-compiler++"}
    result, metrics = run(demo_inputs, tmp_path / "out", env, "--files-per-sample", "1")
    assert (
        "the analysis graph is jitted instead of compiled ahead of time: no C++ compiler "
        "'no-such-compiler++' (install g++ or clang++, or set CXX)"
    ) in result.stderr
    assert metrics["graph"] == "jitted" and not list((tmp_path / "cache").glob("graph-*"))
    wrong = run_cli(
        "--inputs",
        demo_inputs,
        "--output-dir",
        tmp_path / "wrong",
        "--no-fit",
        check=False,
        env={"RDF_TTBAR_GRAPH": "fast"},
    )
    assert wrong.returncode == 2
    assert "RDF_TTBAR_GRAPH='fast': choose 'compiled' (the default) or 'jitted'" in wrong.stderr
    assert "Traceback" not in wrong.stderr
