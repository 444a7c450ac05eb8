"""Provenance (metrics.json, fit_results.json), report.html and the HEPData record of a run on the tests' demo
set, and of ``fit`` on an existing histograms.root; checked against what the test reads itself (the input list,
the files' sizes, the packages' own versions, the workspace through cabinetry)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from helpers import run_cli


@pytest.fixture(scope="module")
def job(demo_inputs, tmp_path_factory) -> Path:
    """The whole job on the demo set (fit included) with a HEPData record; its output folder."""
    out = tmp_path_factory.mktemp("report") / "out"
    run_cli("--inputs", demo_inputs, "--mt", "2", "--output-dir", out)
    return out


def test_provenance_of_a_run(job, demo_inputs):
    import cabinetry
    import iminuit
    import numpy
    import pyhf
    import ROOT

    import rdf_ttbar

    metrics = json.loads((job / "metrics.json").read_text())
    record = metrics["provenance"]
    assert json.loads((job / "fit_results.json").read_text())["provenance"] == record
    versions = record["versions"]
    assert versions["rdf_ttbar"] == rdf_ttbar.__version__
    assert versions["cabinetry"] == cabinetry.__version__
    assert versions["pyhf"] == pyhf.__version__
    assert versions["iminuit"] == iminuit.__version__
    assert versions["numpy"] == numpy.__version__
    assert versions["ROOT"] == ROOT.gROOT.GetVersion().replace("/", ".")
    assert record["command"] == f"python -m rdf_ttbar --inputs {demo_inputs} --mt 2 --output-dir {job}"
    assert record["config"]["inputs"] == str(demo_inputs)
    assert record["config"]["mt"] == 2 and record["config"]["fit"] is True
    assert record["config"]["output_dir"] == str(job) and record["config"]["demo"]["seed"] == 1
    assert record["definition"] == {"name": "AGC ttbar v1", "version": "v1"}
    assert record["host"]["cores"] == os.cpu_count()
    # the input list, read here: files, events and bytes per sample, and the checksum of its documented recipe
    listed = json.loads(demo_inputs.read_text())
    rows, expected = [], {}
    for process, variations in listed.items():
        for variation, entry in variations.items():
            name = process if variation == "nominal" else f"{process}_{variation}"
            files = [(str((demo_inputs.parent / f["path"]).resolve()), f["nevts"]) for f in entry["files"]]
            sizes = [os.path.getsize(path) for path, _ in files]
            rows += [[name, path, n, size] for (path, n), size in zip(files, sizes)]
            events = sum(n for _, n in files)
            expected[name] = {"files": len(files), "nevts": events, "entries": events, "bytes": sum(sizes)}
    inputs = record["inputs"]
    assert inputs["samples"] == expected
    assert inputs["files"] == len(rows) == metrics["files"]
    assert inputs["bytes"] == sum(r[3] for r in rows)
    assert inputs["paths"] == [r[1] for r in rows]
    assert inputs["sha256"] == hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()
