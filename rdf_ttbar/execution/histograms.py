"""Write the histograms of a run ({AGC name: hist.Hist}) to a ROOT file, complete or not at all."""

from __future__ import annotations

from pathlib import Path

from .. import atomic


def write(histograms: dict, path: str | Path) -> Path:
    """Write the histograms as TH1D (uproot's conversion of hist.Hist: flow bins and sums of squared weights),
    via a temporary name so that no half-written file remains."""
    import uproot

    path = Path(path)
    with atomic.replacing(path) as tmp:
        with uproot.recreate(tmp) as f:
            for name in sorted(histograms):
                f[name] = histograms[name]
    return path
