"""Write the histograms of a run ({AGC name: hist.Hist}) to a ROOT file, complete or not at all."""

from __future__ import annotations

from pathlib import Path

from .. import atomic
from ..errors import UserError


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


def read_th1(path: str | Path, wanted=None, error: type[UserError] = UserError) -> dict:
    """The TH1 of a ROOT file (top level; ``wanted``: only these names) as {name: uproot TH1}, read once.

    A missing or unreadable file raises ``error`` (a UserError) that names the file and the fix.
    """
    import uproot

    path = Path(path)
    if not path.is_file():
        raise error(
            f"histograms file {path} does not exist. Fix: run the analysis first "
            f"(python -m rdf_ttbar writes OUTPUT_DIR/histograms.root) and pass that file."
        )
    try:
        with uproot.open(path) as f:
            names = {key.rsplit(";", 1)[0]: cls for key, cls in f.classnames(recursive=False).items()}
            return {
                name: f[name]
                for name, cls in names.items()
                if cls.startswith("TH1") and (wanted is None or name in wanted)
            }
    except Exception as exc:  # uproot raises many kinds of errors on bad files
        raise error(
            f"cannot read histograms file {path} ({type(exc).__name__}: {exc}). Fix: pass the histograms.root "
            f"written by the analysis; rerun it if the file is truncated or damaged."
        ) from exc
