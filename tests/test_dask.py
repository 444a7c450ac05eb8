"""Distributed event loops on Dask: the same histograms as the multi-threaded run.

Inputs: the hand-made edge-case file and the real 200-event AGC file, used for
all nine samples. The reference is ``--scheduler mt`` on the same files.

- ``dask-local --ncores 2 --npartitions 3``: a LocalCluster of two worker
  processes; three partitions on two workers make a worker run two tasks of
  the same graph, where ROOT reuses the graph (the case that crashed workers);
- ``dask-remote``: a real ``dask scheduler`` with two ``dask worker``
  processes started by tests/servers.py; their Python path does not include
  the repository, so the C++ helpers reach them only as the files the tasks'
  set-up (execution/workers.py, sent by value) writes there (right histograms =
  the helpers and the set-up were there);
- a helper that does not compile on the workers ends the run with an error
  that names it (the compiler's messages are in the worker's log);
- ``dask-remote --npartitions 3`` with root:// inputs from a real XRootD
  server, so the workers also read remote files;
- no worker may crash on the way (Dask would hide a crash by re-running the
  task elsewhere): their logs must have no crash report;
- a scheduler address where nobody listens gives one clear error, quickly.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import edge_cases
import oracle
from conftest import real_ttbar_file
from helpers import N_HISTOGRAMS, REPO, compare_with_oracle, oracle_histograms, run_cli, same_files_everywhere
from servers import free_port

RTOL = 1e-9
# "within seconds" for a run that fails at once (vs. a client that waits for ever), on a 2-core machine with a
# load of 5-13 (another test suite running): the 10 s connection time-out plus a slowed start of two processes
LOADED_MACHINE_LIMIT_S = 90
N_EDGE = len(edge_cases.EDGE_EVENTS)
CRASH_MARKS = ("*** Break ***", "Restarting worker", "KilledWorker", "Worker stream died")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list:
    base = tmp_path_factory.mktemp("dask_inputs")
    return [(edge_cases.write_edge_case_file(base / "edges.root"), N_EDGE), (real_ttbar_file(), 200)]


@pytest.fixture(scope="module")
def inputs(files, tmp_path_factory) -> Path:
    return same_files_everywhere(tmp_path_factory.mktemp("dask_list") / "inputs.json", files)


@pytest.fixture(scope="module")
def mt_histograms(inputs, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("dask_mt")
    run_cli("--inputs", inputs, "--output-dir", out, "--no-fit", "--scheduler", "mt", "--mt", "2")
    hists = oracle.read_root_histograms(out / "histograms.root")
    assert len(hists) == N_HISTOGRAMS
    return hists


def run_dask(inputs: Path, out: Path, *options, cluster=None) -> str:
    """The analysis on Dask; its stderr (where LocalCluster workers also write). A failure shows the logs of
    ``cluster``'s workers (what they compiled and read happens there)."""
    try:
        result = run_cli("--inputs", inputs, "--output-dir", out, "--no-fit", *options)
    except AssertionError as err:
        if cluster is None:
            raise
        raise AssertionError(f"{err}\nthe Dask workers' logs:\n{cluster.logs()}") from None
    metrics = (out / "metrics.json").read_text()
    assert '"scheduler": "dask' in metrics
    return result.stderr


def assert_same(out: Path, expected: dict):
    actual = oracle.read_root_histograms(out / "histograms.root")
    assert sorted(actual) == sorted(expected) and len(actual) == N_HISTOGRAMS
    problems = oracle.compare(actual, expected, rtol=RTOL)
    assert not problems, "\n".join(problems)


def assert_no_crash(log: str, where: str):
    marks = [m for m in CRASH_MARKS if m in log]
    assert not marks, f"Dask workers crashed ({', '.join(marks)}) in {where}:\n{log[-4000:]}"


def test_dask_local(inputs, mt_histograms, tmp_path):
    stderr = run_dask(inputs, tmp_path, "--scheduler", "dask-local", "--ncores", "2", "--npartitions", "3")
    assert_same(tmp_path, mt_histograms)
    assert_no_crash(stderr, "the LocalCluster")


def test_dask_remote(inputs, mt_histograms, tmp_path, dask_cluster):
    run_dask(
        inputs,
        tmp_path,
        "--scheduler",
        "dask-remote",
        "--scheduler-address",
        dask_cluster.address,
        cluster=dask_cluster,
    )
    assert_same(tmp_path, mt_histograms)
    assert_no_crash(dask_cluster.logs(full=True), "the dask worker logs")


def test_dask_remote_partitions_and_remote_files(files, mt_histograms, tmp_path, dask_cluster, xrootd_server):
    urls = [(xrootd_server.add(path, name), n) for (path, n), name in zip(files, ("edges.root", "real.root"))]
    remote_inputs = same_files_everywhere(tmp_path / "remote.json", urls)
    run_dask(
        remote_inputs,
        tmp_path / "out",
        "--scheduler",
        "dask-remote",
        "--scheduler-address",
        dask_cluster.address,
        "--npartitions",
        "3",
        cluster=dask_cluster,
    )
    assert_same(tmp_path / "out", mt_histograms)
    assert_no_crash(dask_cluster.logs(full=True), "the dask worker logs")


def test_unreachable_scheduler(inputs, tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    start = time.monotonic()
    result = run_cli(
        "--inputs",
        inputs,
        "--output-dir",
        tmp_path / "out",
        "--no-fit",
        "--scheduler",
        "dask-remote",
        "--scheduler-address",
        address,
        check=False,
    )
    seconds = time.monotonic() - start
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.count("rdf_ttbar: error:") == 1 and address in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # sized for a loaded 2-core machine (start-up alone takes 10-20 s there); distributed.Client waits for ever
    assert seconds < LOADED_MACHINE_LIMIT_S, f"the unreachable scheduler took {seconds:.0f} s to report"
    print(f"unreachable scheduler reported after {seconds:.1f} s")


def test_scheduler_address_of_the_wrong_kind(inputs, tmp_path):
    """Something answers at --scheduler-address, but not a Dask scheduler (a web server; a listener that
    accepts and never says a word): one message naming the address, exit 2, within seconds
    (distributed.Client alone waits for ever). Both cases run at the same time."""
    import http.server
    import socket
    import subprocess
    import sys
    import threading

    from helpers import REPO

    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    addresses = {
        "web server": f"tcp://127.0.0.1:{web.server_address[1]}",
        "silent listener": f"tcp://127.0.0.1:{silent.getsockname()[1]}",
    }
    try:
        start = time.monotonic()
        procs = {
            kind: subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "rdf_ttbar",
                    "--inputs",
                    str(inputs),
                    "--output-dir",
                    str(tmp_path / kind),
                    "--no-fit",
                    "--scheduler",
                    "dask-remote",
                    "--scheduler-address",
                    address,
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=REPO,
            )
            for kind, address in addresses.items()
        }
        results = {
            kind: (*p.communicate(timeout=120), p.returncode, time.monotonic() - start) for kind, p in procs.items()
        }
    finally:
        web.shutdown()
        silent.close()
    for kind, (_, err, rc, seconds) in results.items():
        address = addresses[kind]
        assert rc == 2, (kind, err[-3000:])
        errors = [line for line in err.splitlines() if line.startswith("rdf_ttbar: error:")]
        assert len(errors) == 1 and address in errors[0], (kind, err[-3000:])
        assert "Dask" in errors[0] and "--scheduler-address" in errors[0]
        assert "Traceback" not in err
        assert not (tmp_path / kind).exists() or not any((tmp_path / kind).iterdir())
        assert seconds < LOADED_MACHINE_LIMIT_S, f"the {kind} took {seconds:.0f} s to report"


def test_dask_remote_rntuple_input(tmp_path, dask_cluster):
    """The real AGC RNTuple file as every sample, on the Dask workers: the independent oracle's histograms."""
    from test_rntuple import real_rntuple_file

    inputs = same_files_everywhere(tmp_path / "rntuple.json", [(real_rntuple_file(), 10)])
    run_dask(
        inputs,
        tmp_path / "out",
        "--scheduler",
        "dask-remote",
        "--scheduler-address",
        dask_cluster.address,
        cluster=dask_cluster,
    )
    actual = oracle.read_root_histograms(tmp_path / "out" / "histograms.root")
    assert len(actual) == N_HISTOGRAMS
    problems = compare_with_oracle(actual, oracle_histograms(str(inputs)), rtol=RTOL)
    assert not problems, "\n".join(problems)
    assert_no_crash(dask_cluster.logs(full=True), "the dask worker logs")


BROKEN_HELPER_RUN = """
import sys
from rdf_ttbar.execution.executor import Executor
executor = Executor("dask-remote", address=sys.argv[1], headers=(sys.argv[2],))
try:
    executor.dataframe([sys.argv[3]], "Events").Count().GetValue()
    print("no error")
except Exception as err:
    print("error:", err)
finally:
    executor.close()
"""


def test_a_helper_that_does_not_compile_on_the_workers_is_named(tmp_path, files, dask_cluster):
    """Last in this module: the failed declaration stays in the workers' interpreters."""
    helper = tmp_path / "broken_helper.h"
    helper.write_text("inline int rdf_ttbar_broken_helper() { return rdf_ttbar_undefined_name; }\n")
    result = subprocess.run(
        [sys.executable, "-c", BROKEN_HELPER_RUN, dask_cluster.address, str(helper), str(files[1][0])],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert "rdf_ttbar's C++ helper broken_helper.h did not compile on this Dask worker" in result.stdout, (
        result.stdout + result.stderr
    )
    assert "rdf_ttbar_undefined_name" in dask_cluster.logs(full=True)  # the compiler's message, where it was said
