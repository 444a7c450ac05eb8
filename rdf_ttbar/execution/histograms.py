"""Write the histograms of a run ({AGC name: hist.Hist}) to a ROOT file, complete or not at all."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .. import atomic
from ..errors import UserError


def write(histograms: dict, path: str | Path) -> Path:
    """Write the histograms as TH1D (flow bins and sums of squared weights, as uproot converts hist.Hist), via a
    temporary name so that no half-written file remains. One-dimensional histograms with Weight storage (what
    a run makes) are written with ROOT, which the run has started anyway (uproot's import and conversion cost
    ~1.4 CPU-seconds); any other kind with uproot."""
    path = Path(path)
    with atomic.replacing(path) as tmp:
        if all(_plain(h) for h in histograms.values()):
            _write_with_root(histograms, tmp)
        else:
            import uproot

            with uproot.recreate(tmp) as f:
                for name in sorted(histograms):
                    f[name] = histograms[name]
    return path


def _plain(h) -> bool:
    """A one-dimensional hist.Hist with Weight storage (sums of weights and of squared weights)."""
    try:
        return h.ndim == 1 and h.view(flow=True).dtype.names == ("value", "variance")
    except AttributeError:
        return False


def _write_with_root(histograms: dict, tmp: Path) -> None:
    import boost_histogram
    import numpy as np

    from ..quiet import import_root

    ROOT = import_root()
    tmp.write_bytes(b"")  # a folder that cannot be written: the OSError of the system, with its errno
    ignored, attach = ROOT.gErrorIgnoreLevel, ROOT.TH1.AddDirectoryStatus()
    ROOT.gErrorIgnoreLevel = ROOT.kFatal  # a write error is raised below instead of ROOT's messages
    ROOT.TH1.AddDirectory(False)
    try:
        out = ROOT.TFile(str(tmp), "RECREATE")
        written = not out.IsZombie()
        for name in sorted(histograms) if written else ():
            h = histograms[name]
            axis = h.axes[0]
            edges = np.asarray(axis.edges, dtype=np.float64)
            if isinstance(axis, boost_histogram.axis.Regular):
                th1 = ROOT.TH1D(name, "", len(axis), float(edges[0]), float(edges[-1]))
            else:
                th1 = ROOT.TH1D(name, "", len(axis), edges)
            view = h.view(flow=True)
            values = np.ascontiguousarray(view["value"], dtype=np.float64)
            variances = np.ascontiguousarray(view["variance"], dtype=np.float64)
            th1.SetContent(values)
            th1.Sumw2()
            th1.GetSumw2().Set(len(variances), variances)
            centers, inner = 0.5 * (edges[1:] + edges[:-1]), values[1:-1]
            # the statistics as uproot writes them (its fTsumw2 is the sum of weights too): files as before
            sums = [inner.sum(), inner.sum(), (inner * centers).sum(), (inner * centers**2).sum()]
            th1.PutStats(np.array(sums, dtype=np.float64))
            th1.SetEntries(float(values.sum()))  # as uproot: the sum of the contents, flow bins included
            th1.GetXaxis().SetTitle(axis.label or "")
            written = out.WriteObject(th1, name) > 0
            if not written:
                break
        out.Close()
        if not written or out.TestBit(ROOT.TFile.kWriteError):
            free = os.statvfs(tmp.parent).f_bavail * os.statvfs(tmp.parent).f_frsize
            code = errno.ENOSPC if free < 1 << 20 else errno.EIO
            raise OSError(code, os.strerror(code), str(tmp))
    finally:
        ROOT.gErrorIgnoreLevel = ignored
        ROOT.TH1.AddDirectory(attach)


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
