"""Shared test helpers (kept small).

- puts tests/ on sys.path so that ``import oracle`` / ``import edge_cases`` work
  whatever pytest's import mode or package layout;
- ``real_ttbar_file()``, ``real_rntuple_file()``, ``reference_json()``, ``branch_ratios_json()``: the real
  data in tests/data, shipped with the repository (tests/data/README.md). Missing data is a test FAILURE
  with a clear message, never a silent skip;
- the fixtures ``xrootd_server`` and ``dask_cluster`` (the servers of tests/servers.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

REAL_TTBAR_NAME = "nanoAOD_2015_CMS_Open_Data_ttbar.root"
REAL_RNTUPLE_NAME = "cmsopendata2015_ttbar_19980_NANOAOD_RNTupleImporter_rntuple_v1-0-0-1.root"


def data_dir() -> Path:
    """tests/data: the real data the tests read, shipped with the repository (tests/data/README.md)."""
    return TESTS_DIR / "data"


def _data_file(*parts: str) -> Path:
    path = data_dir().joinpath(*parts)
    if not path.is_file():
        pytest.fail(f"test data not found: {path} (it ships with the repository: restore tests/data)", pytrace=False)
    return path


def real_ttbar_file() -> Path:
    """The 200-event real ttbar NanoAOD file."""
    return _data_file(REAL_TTBAR_NAME)


def real_rntuple_file() -> Path:
    """10 real ttbar events stored as an RNTuple."""
    return _data_file(REAL_RNTUPLE_NAME)


def reference_json(n: str = "1", analysis: str = "v1") -> Path:
    """The AGC's coffea reference histograms on the first ``n`` files of every sample (v1: AGC v1.4.0)."""
    folder = "reference" if analysis == "v1" else "reference-v2"
    return _data_file(folder, f"histos_{n}_file_per_process.json")


def branch_ratios_json() -> Path:
    """Every branch's share of a real AGC NanoAOD file's size."""
    return _data_file("nanoaod_branch_ratios.json")


# a demo set shared by the tests of one session: 9 samples, several files each
DEMO_EVENTS_PER_SAMPLE = 60_000
DEMO_EVENTS_PER_FILE = 20_000
DEMO_SEED = 20261124


def generate_demo(
    out: Path, events_per_file: int = DEMO_EVENTS_PER_FILE, events_per_sample: int = DEMO_EVENTS_PER_SAMPLE
) -> Path:
    from helpers import run_cli

    run_cli(
        "generate",
        "--events-per-sample",
        events_per_sample,
        "--events-per-file",
        events_per_file,
        "--seed",
        DEMO_SEED,
        "--output-dir",
        out,
    )
    return out / "nanoaod_inputs.json"


@pytest.fixture(scope="session")
def demo_inputs(tmp_path_factory) -> Path:
    """The input list of a small demo set (several files per sample)."""
    return generate_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    """Every Dask process the suite starts keeps its scratch space in a session folder (not
    /tmp/dask-scratch-space); at the end, that folder must be empty (rdf_ttbar removes its own) and
    no folder the servers of tests/servers.py made may be left (xrootd's run as another user).
    Only paths of this session are checked: other sessions may be using /tmp at the same time."""
    import shutil
    import tempfile

    import servers

    scratch = Path(tempfile.mkdtemp(prefix="rdf_ttbar-tests-dask-"))
    previous = os.environ.get("DASK_TEMPORARY_DIRECTORY")
    os.environ["DASK_TEMPORARY_DIRECTORY"] = str(scratch)
    try:
        yield scratch
    finally:
        if previous is None:
            os.environ.pop("DASK_TEMPORARY_DIRECTORY", None)
        else:
            os.environ["DASK_TEMPORARY_DIRECTORY"] = previous
        left = sorted(str(p) for p in scratch.iterdir())
        shutil.rmtree(scratch, ignore_errors=True)
        left += [str(p) for p in servers.CREATED_PATHS if os.path.lexists(p)]
        for path in servers.CREATED_PATHS:
            shutil.rmtree(path, ignore_errors=True)
        assert not left, "the tests left these behind:\n" + "\n".join(left)


@pytest.fixture
def xrootd_server():
    """A running XRootD server with an empty export directory (``.add(file)`` fills it; tests/servers.py)."""
    from servers import XRootDServer

    server = XRootDServer().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def dask_cluster():
    """A real Dask scheduler with two worker processes on localhost (``.address``; tests/servers.py)."""
    from servers import DaskCluster

    cluster = DaskCluster(n_workers=2).start()
    try:
        yield cluster
    finally:
        cluster.stop()
