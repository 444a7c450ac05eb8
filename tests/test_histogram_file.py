"""histograms.root as rdf_ttbar writes it (with ROOT, rdf_ttbar/execution/histograms.py) against uproot's writing of
the same hist.Hist objects: the same TH1D, member for member; a full disk: an OSError and no file left."""

from __future__ import annotations

import errno
import os

import hist
import numpy as np
import pytest
import uproot

from rdf_ttbar.execution import histograms as written_by


def some_histograms(n: int = 30) -> dict:
    rng = np.random.default_rng(11)
    out = {}
    for i in range(n):  # as a run makes them: 25 regular bins, flow bins filled, Weight storage
        h = hist.Hist(
            hist.axis.Regular(25, 50.0, 550.0, name="observable", label="$H_T$ [GeV]"), storage=hist.storage.Weight()
        )
        h.fill(rng.uniform(0.0, 600.0, 500), weight=rng.uniform(0.1, 2.0, 500))
        out[f"4j1b_sample_{i}"] = h
    variable = hist.Hist(hist.axis.Variable([0.0, 1.0, 3.0, 7.0], label="x"), storage=hist.storage.Weight())
    variable.fill([-1.0, 0.5, 2.0, 5.0, 9.0], weight=[1.0, 2.0, 3.0, 4.0, 5.0])
    out["variable"] = variable
    return out


def test_the_same_th1d_as_uproot_writes(tmp_path):
    histograms = some_histograms()
    mine = written_by.write(histograms, tmp_path / "mine.root")
    with uproot.recreate(tmp_path / "uproot.root") as f:
        for name, h in histograms.items():
            f[name] = h
    with uproot.open(mine) as a, uproot.open(tmp_path / "uproot.root") as b:
        assert sorted(a.keys()) == sorted(b.keys()) and len(b.keys()) == 31
        assert set(a.classnames().values()) == {"TH1D"}
        for key in b.keys():
            x, y = a[key], b[key]
            np.testing.assert_array_equal(x.values(flow=True), y.values(flow=True))
            np.testing.assert_array_equal(x.variances(flow=True), y.variances(flow=True))
            np.testing.assert_array_equal(x.axis().edges(), y.axis().edges())
            for member in ("fName", "fTitle", "fEntries", "fTsumw", "fTsumw2", "fTsumwx", "fTsumwx2"):
                assert x.member(member) == y.member(member), (key, member)
            assert x.member("fXaxis").member("fTitle") == y.member("fXaxis").member("fTitle") != ""
            assert len(x.member("fXaxis").member("fXbins")) == len(y.member("fXaxis").member("fXbins"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.root", "uproot.root"]  # no temporary left


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a small tmpfs (test_cli_errors does it too)")
def test_a_full_disk_is_an_oserror_and_leaves_nothing(tmp_path):
    from test_cli_errors import mounted_tmpfs

    with mounted_tmpfs(tmp_path / "full", "size=16k") as full:
        with pytest.raises(OSError) as err:
            written_by.write(some_histograms(400), full / "histograms.root")
        assert err.value.errno == errno.ENOSPC
        assert list(full.iterdir()) == []
