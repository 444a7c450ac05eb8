"""The read-ahead stager (rdf_ttbar/inputs/staging.py, cpp/stage.h) against a real XRootD server.

The tests' demo set (nine samples, three files each) is served by xrootd and read with ``--remote-read stage`` (the
default); the reference is the same run reading the local files:

- the histograms are bit-identical to the local run's, and so are the bytes the event loops read; every remote byte
  is copied once (``bytes_downloaded``); with a budget of one byte every copy is made only when a loop opens its
  file and deleted once closed (and copied again if opened again): still bit-identical;
- the temporary copies are gone after the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import uproot

from helpers import run_cli


def served_inputs(server, demo_inputs: Path, tmp_path: Path) -> tuple[Path, list[Path]]:
    """The demo set's files on ``server``: the input list of their root:// URLs, and the local files."""
    content = json.loads(demo_inputs.read_text())
    local = []
    for variations in content.values():
        for entry in variations.values():
            for f in entry["files"]:
                path = Path(f["path"]) if Path(f["path"]).is_absolute() else demo_inputs.parent / f["path"]
                local.append(path)
                f["path"] = server.add(path)
    listing = tmp_path / "remote.json"
    listing.write_text(json.dumps(content))
    return listing, local


def histograms(path: Path) -> dict:
    with uproot.open(path) as f:
        return {k.split(";")[0]: (h.values(flow=True), h.variances(flow=True)) for k, h in f.items()}


def assert_bit_identical(a: Path, b: Path) -> None:
    ha, hb = histograms(a), histograms(b)
    assert sorted(ha) == sorted(hb)
    differ = [k for k in ha if not (np.array_equal(ha[k][0], hb[k][0]) and np.array_equal(ha[k][1], hb[k][1]))]
    assert not differ, f"{len(differ)} of {len(ha)} histograms differ, e.g. {differ[:3]}"


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, demo_inputs) -> Path:
    """The output folder of the local run of the demo set (--mt 2)."""
    out = tmp_path_factory.mktemp("staging_local") / "out"
    run_cli("--inputs", demo_inputs, "--output-dir", out, "--no-fit", "--mt", 2)
    return out


@pytest.mark.parametrize("budget", ["", "1"])
def test_staged_reading_is_bit_identical_to_local_reading(tmp_path, xrootd_server, demo_inputs, local_run, budget):
    listing, local = served_inputs(xrootd_server, demo_inputs, tmp_path)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp), "RDF_TTBAR_STAGE_BUDGET": budget}
    out = tmp_path / "out"
    run_cli("--inputs", listing, "--output-dir", out, "--no-fit", "--mt", 2, env=env)
    assert_bit_identical(out / "histograms.root", local_run / "histograms.root")
    metrics, reference = (json.loads((d / "metrics.json").read_text()) for d in (out, local_run))
    # the loops read the same bytes, from the copies (the copies' own reads are not counted; opening a copy through
    # the plug-in counts a few hundred bytes of its header less)
    assert metrics["bytes_read"] == pytest.approx(reference["bytes_read"], rel=1e-3)
    size = sum(p.stat().st_size for p in local)
    if budget:  # copied when opened, deleted when closed: a file opened again is copied again
        assert metrics["bytes_downloaded"] >= size - 3 * max(p.stat().st_size for p in local)
    else:  # the copies of the first files may be complete before the loops start; none is made twice
        assert 0 < metrics["bytes_downloaded"] <= size
    assert list(tmp.iterdir()) == [], "the temporary copies were left behind"
