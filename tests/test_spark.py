"""Distributed event loops on Spark: the same histograms as on Dask and in the multi-threaded run.

Inputs: a demo set of 9 samples x 10k events (one file each). One run per scheduler, shared by the module
(Spark's start-up, a JVM, costs tens of seconds):

- ``spark-local`` (ncores 2, npartitions 2, through the API: v1 and v2 in one process), ``--scheduler
  dask-local --ncores 2 --npartitions 2`` and ``--mt 2``: all 124 v1 histograms agree within 1e-12
  relative (``pt_res_up`` among them), Spark's and Dask's to the last bit, and all 1364 v2 histograms of
  Spark and mt within 1e-12;
- the real AGC RNTuple file over root:// from a real XRootD server, on Spark: the independent oracle's
  histograms;
- failed tasks on Spark workers: a C++ helper that does not compile there is named; a worker process
  killed (SIGKILL) during its task ends the event loop with one line saying so;
- the failures that must end with one ``rdf_ttbar: error:`` line, exit 2 and nothing written, without
  starting Spark: a ``spark://`` address where nothing listens, pyspark missing, Java missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import oracle
from conftest import generate_demo, real_ttbar_file
from helpers import N_HISTOGRAMS, REPO, run_cli, same_files_everywhere
from servers import free_port

RTOL = 1e-12
N_V2_HISTOGRAMS = 1364  # histograms.root and histograms_ml.root of v2
EVENTS = 10_000  # per sample, one file each
FAST_S = 60  # a failure that needs no Spark start, on a loaded 2-core machine


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return generate_demo(tmp_path_factory.mktemp("spark_demo"), events_per_file=EVENTS, events_per_sample=EVENTS)


def histograms_and_metrics(out: Path) -> dict:
    """A run's histograms (and its metrics under the key ``None``)."""
    hists = oracle.read_root_histograms(out / "histograms.root")
    assert len(hists) == N_HISTOGRAMS
    return {**hists, None: json.loads((out / "metrics.json").read_text())}


def run(demo: Path, out: Path, *options) -> dict:
    """The analysis without the fit; its histograms and metrics."""
    run_cli("--inputs", demo, "--output-dir", out, "--no-fit", *options)
    return histograms_and_metrics(out)


@pytest.fixture(scope="module")
def runs(demo, tmp_path_factory) -> dict:
    options = {
        "mt": ("--mt", "2"),
        "dask-local": ("--scheduler", "dask-local", "--ncores", "2", "--npartitions", "2"),
    }
    return {name: run(demo, tmp_path_factory.mktemp(name), *opts) for name, opts in options.items()}


# In one process (one JVM; each run starts and stops its context): v1 and then v2 on Spark through the API, then
# two event loops whose tasks fail on the workers: a helper that does not compile there, and one whose
# declaration kills the worker process (SIGKILL); each failure's one-line reason is printed
SPARK_API_RUNS = """
import sys
import rdf_ttbar
from rdf_ttbar.execution.executor import Executor, event_loop_errors
demo, v1, v2, data_file, *headers = sys.argv[1:]
for analysis, out in (("v1", v1), ("v2", v2)):
    rdf_ttbar.run_job(inputs=demo, analysis=analysis, output_dir=out, fit=False,
                      scheduler="spark-local", ncores=2, npartitions=2)
for header in headers:
    executor = Executor("spark-local", 2, headers=(header,))
    try:
        with event_loop_errors(executor):
            executor.dataframe([data_file], "Events").Count().GetValue()
        print("no error")
    except rdf_ttbar.UserError as err:
        print("error:", str(err).splitlines()[0])
"""
BROKEN_HELPER = "inline int rdf_ttbar_broken_helper() { return rdf_ttbar_undefined_name; }\n"
KILLING_HELPER = "#include <csignal>\nnamespace { const int rdf_ttbar_killed = (std::raise(SIGKILL), 0); }\n"


@pytest.fixture(scope="module")
def spark_runs(demo, tmp_path_factory) -> dict:
    out = {analysis: tmp_path_factory.mktemp(f"spark_{analysis}") for analysis in ("v1", "v2")}
    helpers = tmp_path_factory.mktemp("spark_helpers")
    (helpers / "broken_helper.h").write_text(BROKEN_HELPER)
    (helpers / "killing_helper.h").write_text(KILLING_HELPER)
    result = subprocess.run(
        [sys.executable, "-c", SPARK_API_RUNS, demo, out["v1"], out["v2"], real_ttbar_file()]
        + [helpers / "broken_helper.h", helpers / "killing_helper.h"],
        capture_output=True,
        text=True,
        timeout=1500,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-5000:]
    return {**out, "faults": result.stdout.splitlines(), "stderr": result.stderr}


# Dask and Spark with 2 partitions per sample add the same two partial histograms: to the last bit (README)
@pytest.mark.parametrize("other, rtol", [("mt", RTOL), ("dask-local", 0.0)])
def test_spark_local_gives_the_histograms_of(runs, spark_runs, other, rtol):
    spark, expected = histograms_and_metrics(spark_runs["v1"]), dict(runs[other])
    spark_metrics, _ = spark.pop(None), expected.pop(None)
    assert "4j1b_ttbar_pt_res_up" in spark
    problems = oracle.compare(spark, expected, rtol=rtol, atol=0.0 if rtol == 0 else None)
    assert not problems, "\n".join(problems[:20])
    assert spark_metrics["scheduler"] == "spark-local" and spark_metrics["cores"] == 2
    assert spark_metrics["events_processed"] == 9 * EVENTS
    assert spark_metrics["graph"] == "jitted"


def test_spark_local_gives_the_v2_histograms_of_mt(demo, spark_runs, tmp_path):
    run_cli("--analysis", "v2", "--inputs", demo, "--output-dir", tmp_path, "--no-fit", "--mt", "2")
    for name in ("histograms.root", "histograms_ml.root"):
        spark = oracle.read_root_histograms(spark_runs["v2"] / name)
        expected = oracle.read_root_histograms(tmp_path / name)
        assert sorted(spark) == sorted(expected)
        problems = oracle.compare(spark, expected, rtol=RTOL)
        assert not problems, "\n".join(problems[:20])
    assert len(spark) + len(oracle.read_root_histograms(tmp_path / "histograms.root")) == N_V2_HISTOGRAMS


def test_a_helper_that_does_not_compile_on_a_spark_worker_is_named(spark_runs):
    broken = spark_runs["faults"][0]
    assert broken.startswith(
        "error: the event loop failed: RuntimeError: rdf_ttbar's C++ helper broken_helper.h did "
        "not compile on this Spark worker"
    ), spark_runs["faults"]
    assert "rdf_ttbar_undefined_name" in spark_runs["stderr"]  # the compiler's message, where it was said


def test_a_spark_worker_killed_during_its_task_ends_the_run_with_one_line(spark_runs):
    assert spark_runs["faults"][1] == "error: the event loop failed: Python worker exited unexpectedly (crashed).", (
        spark_runs["faults"]
    )
    assert "Exception in task" not in spark_runs["stderr"]  # Spark's own report of it is not shown


def test_spark_local_reads_rntuple_over_xrootd(tmp_path, xrootd_server):
    """The real AGC RNTuple file as every sample, read by the Spark workers from a real XRootD server: the
    independent oracle's histograms (of the local file)."""
    from test_rntuple import real_rntuple_file

    local = same_files_everywhere(tmp_path / "local.json", [(real_rntuple_file(), 10)])
    remote = same_files_everywhere(tmp_path / "remote.json", [(xrootd_server.add(real_rntuple_file()), 10)])
    run_cli(
        "--inputs", remote, "--output-dir", tmp_path / "out", "--no-fit", "--scheduler", "spark-local", "--ncores", "2"
    )
    expected = oracle.all_histograms(str(local))
    assert len(expected) == N_HISTOGRAMS
    problems = oracle.compare(oracle.read_root_histograms(tmp_path / "out" / "histograms.root"), expected, rtol=1e-9)
    assert not problems, "\n".join(problems[:20])


def refused(demo: Path, out: Path, *options, env: dict | None = None) -> str:
    """The run ends at once with exit 2, one error line (returned) and nothing written."""
    start = time.monotonic()
    result = run_cli("--inputs", demo, "--output-dir", out, "--no-fit", *options, check=False, env=env)
    seconds = time.monotonic() - start
    errors = [line for line in result.stderr.splitlines() if line.startswith("rdf_ttbar: error:")]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert not out.exists() or not any(out.iterdir())
    assert seconds < FAST_S, f"took {seconds:.0f} s to report"
    return errors[0]


def test_a_spark_master_where_nothing_listens(demo, tmp_path):
    address = f"spark://127.0.0.1:{free_port()}"
    line = refused(demo, tmp_path / "out", "--scheduler", "spark-remote", "--scheduler-address", address)
    assert f"cannot reach the Spark master at {address}" in line and "--scheduler-address" in line


def test_a_spark_remote_run_needs_an_address(demo, tmp_path):
    line = refused(demo, tmp_path / "out", "--scheduler", "spark-remote")
    assert "--scheduler spark-remote needs --scheduler-address spark://HOST:PORT" in line


def test_without_pyspark_one_line_says_how_to_install_it(demo, tmp_path):
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "pyspark.py").write_text("raise ImportError('hidden by the test')\n")
    line = refused(demo, tmp_path / "out", "--scheduler", "spark-local", env={"PYTHONPATH": str(hide)})
    assert "needs pyspark, which is not installed: pip install pyspark" in line


def test_without_java_one_line_says_how_to_install_it(demo, tmp_path):
    line = refused(demo, tmp_path / "out", "--scheduler", "spark-local", env={"JAVA_HOME": str(tmp_path / "no-java")})
    assert f"Spark needs Java (JAVA_HOME={tmp_path / 'no-java'} has no bin/java)" in line
    assert "apt-get install openjdk-17-jre-headless" in line


def test_deliver_on_spark_is_refused_with_what_to_do(demo, tmp_path):
    result = run_cli(
        "deliver", "--inputs", demo, "--output-dir", tmp_path / "out", "--scheduler", "spark-local", check=False
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("rdf_ttbar: error:")]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-3000:]
    assert "deliver runs with --scheduler mt, dask-local or dask-remote, not spark-local" in errors[0]
    assert "analyse the delivered files with --scheduler spark-local" in errors[0]
    assert not (tmp_path / "out").exists()
