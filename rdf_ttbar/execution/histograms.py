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


def write_outputs(analysis, histograms: dict, folder: str | Path) -> list[Path]:
    """Write the histograms into the definition's files (``{output}.root``: histograms.root, and for the AGC v2
    histograms_ml.root); a histogram not of the definition goes to the first. Returns their paths."""
    main = analysis.outputs[0]
    parts: dict[str, dict] = {o: {} for o in analysis.outputs}
    outputs = analysis.outputs_by_name()
    for name, h in histograms.items():
        parts[outputs.get(name, main)][name] = h
    return [write(part, Path(folder) / f"{output}.root") for output, part in parts.items()]
