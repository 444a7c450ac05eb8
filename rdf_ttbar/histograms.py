"""Histograms: collect the booked results under the AGC names, add pseudo-data, write them."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from . import atomic, systematics as sy
from .graph import BookedSample, variation_suffix


def collect(booked: list[BookedSample]) -> dict:
    """All filled histograms as {AGC name: TH1D}, pseudo-data included when its samples are there.

    Each region is one y bin of the sample's 2D histograms (graph.py): its x projection, flow bins and
    sums of squared weights included, is the region's histogram.
    """
    histograms = {}
    for b in booked:
        for key in b.variations.GetKeys():
            h2 = b.variations[key]
            for ybin, region in enumerate(sy.REGIONS, start=1):
                name = sy.histogram_name(region.name, b.sample.process, variation_suffix(str(key), b.sample))
                h = h2.ProjectionX(name, ybin, ybin, "e")
                h.SetDirectory(0)
                h.SetTitle(name)
                histograms[name] = h
    histograms.update(pseudodata(histograms))
    return histograms


def pseudodata(histograms: dict) -> dict:
    """{region}_pseudodata = 0.5 ttbar_ME_var + 0.5 ttbar_PS_var + wjets + single_top_t_chan (AGC v1.4.0,
    ``systematics.PSEUDODATA``); {} if a part is missing."""
    out = {}
    for region in sy.REGIONS:
        parts = [(c, sy.histogram_name(region.name, p, v)) for c, p, v in sy.PSEUDODATA]
        if not all(name in histograms for _, name in parts):
            continue
        name = sy.pseudodata_name(region.name)
        h = histograms[parts[0][1]].Clone(name)
        h.SetDirectory(0)
        h.SetTitle(name)
        h.Reset()
        for coefficient, part in parts:
            h.Add(histograms[part], coefficient)
        out[name] = h
    return out


def write(histograms: dict, path: str | Path) -> Path:
    """Write the histograms to a ROOT file, via a temporary name so that no half-written file remains."""
    import ROOT

    path = Path(path)
    with atomic.replacing(path) as tmp:
        f = ROOT.TFile.Open(str(tmp), "RECREATE")
        if not f or f.IsZombie():
            raise OSError(f"cannot write {tmp}")
        try:
            for name in sorted(histograms):
                f.WriteObject(histograms[name], name)
        finally:
            f.Close()
        if f.TestBit(ROOT.TFile.kWriteError):  # ROOT reports a failed write (e.g. a full disk) only by this bit
            full = shutil.disk_usage(path.parent).free < 1 << 20
            raise OSError(errno.ENOSPC if full else errno.EIO, f"ROOT could not write {path}")
    return path
