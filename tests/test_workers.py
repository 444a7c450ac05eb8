"""The distributed workers' set-up as code (rdf_ttbar/execution/workers.py) and the ROOT workarounds' guards
(rdf_ttbar/root_fixes.py), without a cluster (tests/test_dask.py and tests/test_spark.py run them on one).

- the call that ``remote_call`` pickles runs in a Python process that cannot import rdf_ttbar;
- the headers arrive as files with their exact bytes, side by side (one includes the other by name), in one
  folder per set of contents, written once;
- each workaround leaves a ROOT outside its version range untouched.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from types import SimpleNamespace

from rdf_ttbar import root_fixes
from rdf_ttbar.execution import workers

HEADERS = (
    ("first.h", b"#pragma once\ninline int rdf_ttbar_first() { return 1; }\n"),
    ("second.h", b'#include "first.h"\ninline int rdf_ttbar_second() { return rdf_ttbar_first() + 1; }\n'),
)
# a process in which ``import rdf_ttbar`` fails, as on a worker without it, loading a pickle from stdin
WITHOUT_RDF_TTBAR = """
import pickle, sys
sys.modules["rdf_ttbar"] = None
loads, data = pickle.loads(sys.stdin.buffer.read())
print(loads(data))
"""


def run_without_rdf_ttbar(call: tuple, tmp_path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_RDF_TTBAR],
        input=pickle.dumps(call),
        capture_output=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().strip()


def test_the_shipped_call_runs_where_rdf_ttbar_cannot_be_imported(tmp_path):
    folder = run_without_rdf_ttbar(workers.remote_call("dask", workers.header_folder, tmp_path, HEADERS), tmp_path)
    assert folder.startswith(str(tmp_path / "rdf_ttbar-headers-"))
    for name, text in HEADERS:
        assert (tmp_path / folder / name).read_bytes() == text  # the files as they are, not rewritten


def test_headers_are_written_once_per_contents(tmp_path):
    first = workers.header_folder(tmp_path, HEADERS)
    again = workers.header_folder(tmp_path, HEADERS)
    changed = workers.header_folder(tmp_path, HEADERS[:1])
    assert first == again != changed
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, changed.name])  # no temporaries left
    assert sorted(p.name for p in first.iterdir()) == ["first.h", "second.h"]


def test_outside_a_worker_the_task_setup_does_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("RDF_TTBAR_DATA_PATH", raising=False)
    spec = workers.TaskSetup("dask", (("RDF_TTBAR_TEST_ONLY", "1"),), HEADERS)
    workers.setup_task(spec)  # ROOT's initialize runs it in the client too
    assert "RDF_TTBAR_TEST_ONLY" not in os.environ and "RDF_TTBAR_DATA_PATH" not in os.environ


def fake_root(version: int) -> SimpleNamespace:
    """A ROOT with only a version: a workaround that touches anything else raises AttributeError."""
    return SimpleNamespace(gROOT=SimpleNamespace(GetVersionInt=lambda: version))


def test_the_workarounds_leave_other_root_versions_alone():
    assert root_fixes.root_version(fake_root(64000)) == (6, 40)
    old = fake_root(63806)
    root_fixes.http_plugin(old)
    root_fixes.vector_classes_first(old)
    assert not root_fixes.affects(root_fixes.HTTP_PLUGIN, old)
    assert root_fixes.affects(root_fixes.HTTP_PLUGIN, fake_root(64002))
    assert not root_fixes.affects(((6, 30), (6, 42)), fake_root(64200))
    assert root_fixes.affects(((6, 30), (6, 42)), fake_root(63000))
