"""The AGC's published reference histograms (JSON) as fit inputs, with exact variances.

An AGC reference file (``histos_N_file_per_process.json``: ``{name: {"edges", "contents"}}``, contents
with the flow bins) has no variances. Every simulated event of a sample has the same weight
``w = xsec * 3378 / nevts_total`` (spec, "Normalisation"), with ``nevts_total`` the events of the first N
files of that sample in the AGC file list, so ``sumw2 = w * sumw`` exactly for the nominal and alternative
samples (and, for the jet-pT variations, of the nominal sample's weight); the pseudo-data's follows with
squared coefficients. (For the b-tag and W+jets-scale weight variations it is an approximation; pyhf takes
statistical uncertainties from the nominal templates only, so the fit does not use them.)

Copies of the AGC v1.4.0 reference files and of the AGC file list ship in ``rdf_ttbar/data``, the AGC v2
reference files (its main branch's ``reference/``) in ``rdf_ttbar/data/reference-v2``.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np

from ..analysis import Analysis, histogram_name
from ..errors import UserError, require_file

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parents[1] / "data"  # rdf_ttbar/data
FILE_LIST = DATA_DIR / "nanoaod_inputs.json"
_NAME = re.compile(r"histos_(\d+|all)_file_per_process\.json$")


REFERENCE_DIRS = {"v1": DATA_DIR, "v2": DATA_DIR / "reference-v2"}  # the packaged references of each version


def resolve_path(reference: str, version: str = "v1") -> Path:
    """A reference file: a path, or N / 'all' for the packaged ``histos_N_file_per_process.json`` of the
    analysis ``version``."""
    if re.fullmatch(r"\d+|all", reference):
        if version not in REFERENCE_DIRS:
            raise UserError(
                f"the AGC's references are packaged for --analysis {' and '.join(REFERENCE_DIRS)} only, not for your "
                f"definition: pass the path of a reference JSON in the AGC format instead of {reference}"
            )
        folder = REFERENCE_DIRS[version]
        path = folder / f"histos_{reference}_file_per_process.json"
        if not path.is_file():
            shipped = sorted(p.name for p in folder.glob("histos_*_file_per_process.json"))
            raise UserError(
                f"no packaged AGC reference for {reference} files per sample; shipped: "
                f"{', '.join(shipped)}. Fix: pass one of those numbers or the path of a reference JSON."
            )
        return path
    return require_file(
        reference,
        "reference file {path} does not exist. Fix: pass the path of an AGC reference JSON "
        "(histos_N_file_per_process.json) or just N, e.g. --reference 5.",
    )


def files_per_sample_of(path: Path) -> int | None:
    """N of ``histos_N_file_per_process.json`` (None for 'all'); UserError when the name does not say."""
    match = _NAME.search(path.name)
    if not match:
        raise UserError(
            f"cannot tell from the name of {path} how many files per sample it was made from. "
            f"Fix: add -n N (or -n 0 for all files)."
        )
    return None if match.group(1) == "all" else int(match.group(1))


def sample_nevts(file_list: Path, files_per_sample: int | None) -> dict[tuple[str, str], int]:
    """Events of the first N files (all: None) of every (process, variation) in the AGC file list."""
    try:
        content = json.loads(Path(file_list).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(
            f"cannot read the AGC file list {file_list} ({exc}). Fix: pass the AGC nanoaod_inputs.json with --agc-list."
        ) from exc
    return {
        (process, variation): sum(int(f["nevts"]) for f in entry["files"][:files_per_sample])
        for process, variations in content.items()
        if process != "data"
        for variation, entry in variations.items()
    }


def _sample_of(name: str, analysis) -> tuple[str, str, str]:
    """(region, process, sample variation) of an AGC histogram name."""
    region, _, rest = name.partition("_")
    for process in sorted(analysis.process_names, key=len, reverse=True):
        if rest == process or rest.startswith(process + "_"):
            suffix = rest[len(process) + 1 :]
            variation = suffix if suffix in analysis.process(process).variations[1:] else "nominal"
            return region, process, variation
    raise KeyError(name)


def read(reference: str, files_per_sample: int | None = -1, file_list: str | Path | None = None, *, analysis: Analysis):
    """The reference histograms as {AGC name: hist.Hist} with exact variances.

    ``files_per_sample``: -1 (default) reads N from the file name; None means all files. ``analysis``: the
    definition whose packaged references N names, and whose pseudo-data the file holds.
    """
    import hist

    path = resolve_path(str(reference), analysis.version)
    n = files_per_sample_of(path) if files_per_sample == -1 else files_per_sample
    named = _NAME.search(path.name)
    if files_per_sample != -1 and named and named.group(1) != ("all" if n is None else str(n)):
        log.warning(
            "%s was made from %s files per sample (its name says), but -n %s is given: the variances "
            "come from the event counts of %s files per sample and do not match the histograms; "
            "drop -n unless the name is wrong",
            path.name,
            named.group(1),
            0 if n is None else n,
            "all" if n is None else n,
        )
    nevts = sample_nevts(Path(file_list) if file_list else FILE_LIST, n)
    fix = "Fix: pass a histos_N_file_per_process.json of the AGC."
    try:
        content = json.loads(path.read_text())
        if not isinstance(content, dict):
            raise TypeError(
                f'expected {{name: {{"edges": [...], "contents": [...]}}}}, got a '
                f"{type(content).__name__} at the top level"
            )
        arrays = {
            name: (np.asarray(h["edges"], dtype=float), np.asarray(h["contents"], dtype=float))
            for name, h in content.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"{path} is not an AGC reference histogram JSON ({exc}). {fix}") from None
    for name, (edges, contents) in arrays.items():
        bad = np.flatnonzero(~np.isfinite(contents))
        if bad.size:
            i = int(bad[0])  # contents with the flow bins: 0 is the underflow
            where = (
                "underflow"
                if i == 0
                else "overflow"
                if i == len(contents) - 1
                else f"bin {i} [{edges[i - 1]:g}, {edges[i]:g})"
                if i < len(edges)
                else f"bin {i}"
            )
            raise UserError(
                f"{path}: histogram {name} has a non-finite content ({contents[i]}) in its {where}"
                + (f" and {bad.size - 1} more bin(s)" if bad.size > 1 else "")
                + f"; the fit cannot use it. {fix}"
            )

    def weight(process, variation):
        key = (process, variation)
        if not nevts.get(key):
            raise UserError(f"the AGC file list has no events for {process}/{variation}")
        return analysis.weight(process, nevts[key])

    pseudodata = set(analysis.pseudodata_names())
    out = {}
    for name, (edges, contents) in arrays.items():
        if name in pseudodata:
            region = name.split("_")[0]
            sumw2 = sum(
                c * c * weight(p, v) * arrays[histogram_name(region, p, v)][1] for c, p, v in analysis.pseudodata
            )
        else:
            _, process, variation = _sample_of(name, analysis)
            sumw2 = weight(process, variation) * contents
        h = hist.Hist(hist.axis.Variable(edges, name="x"), storage=hist.storage.Weight())
        view = h.view(flow=True)
        view.value = contents
        view.variance = sumw2
        out[name] = h
    return out


def write_histograms_root(histograms: dict, path: Path) -> Path:
    """The histograms as TH1D in a ROOT file (uproot), the input format of the fit."""
    import uproot

    with uproot.recreate(path) as f:
        for name, h in histograms.items():
            f[name] = h
    return path
