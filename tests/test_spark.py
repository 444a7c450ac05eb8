"""Distributed event loops on Spark: the same histograms as on Dask and in the multi-threaded run.

Inputs: a demo set of 9 samples x 10k events (one file each). One run per scheduler, shared by the module
(Spark's start-up, a JVM, costs tens of seconds):

- ``--scheduler spark-local --ncores 2 --npartitions 2``, ``dask-local --ncores 2 --npartitions 2`` and
  ``--mt 2``: all histograms agree within 1e-12 relative (``pt_res_up`` among them);
- the failures that must end with one ``rdf_ttbar: error:`` line, exit 2 and nothing written, without
  starting Spark: a ``spark://`` address where nothing listens, pyspark missing, Java missing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import oracle
from conftest import generate_demo
from helpers import N_HISTOGRAMS, run_cli
from servers import free_port

RTOL = 1e-12
EVENTS = 10_000  # per sample, one file each
FAST_S = 60  # a failure that needs no Spark start, on a loaded 2-core machine


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return generate_demo(tmp_path_factory.mktemp("spark_demo"), events_per_file=EVENTS, events_per_sample=EVENTS)


def run(demo: Path, out: Path, *options) -> dict:
    """The analysis without the fit; its histograms (and the metrics under the key ``None``)."""
    run_cli("--inputs", demo, "--output-dir", out, "--no-fit", *options)
    hists = oracle.read_root_histograms(out / "histograms.root")
    assert len(hists) == N_HISTOGRAMS
    return {**hists, None: json.loads((out / "metrics.json").read_text())}


@pytest.fixture(scope="module")
def runs(demo, tmp_path_factory) -> dict:
    options = {
        "mt": ("--mt", "2"),
        "dask-local": ("--scheduler", "dask-local", "--ncores", "2", "--npartitions", "2"),
        "spark-local": ("--scheduler", "spark-local", "--ncores", "2", "--npartitions", "2"),
    }
    return {name: run(demo, tmp_path_factory.mktemp(name), *opts) for name, opts in options.items()}


@pytest.mark.parametrize("other", ["mt", "dask-local"])
def test_spark_local_gives_the_histograms_of(runs, other):
    spark, expected = dict(runs["spark-local"]), dict(runs[other])
    spark_metrics, _ = spark.pop(None), expected.pop(None)
    assert "4j1b_ttbar_pt_res_up" in spark
    problems = oracle.compare(spark, expected, rtol=RTOL)
    assert not problems, "\n".join(problems[:20])
    assert spark_metrics["scheduler"] == "spark-local" and spark_metrics["cores"] == 2
    assert spark_metrics["events_processed"] == 9 * EVENTS
    assert spark_metrics["graph"] == "jitted"


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
