"""Running rdf_ttbar as a user does (a subprocess) and writing input lists for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from rdf_ttbar.analysis import DEFAULT as ANALYSIS  # noqa: E402

N_HISTOGRAMS = len(ANALYSIS.histogram_names())  # every histogram of a full run (124 for the AGC v1)


def oracle_numbers(analysis=ANALYSIS):
    """The numbers of a definition for the independent oracle (``oracle.Numbers``): luminosity, cross sections,
    cut values (``Analysis.parameters``), binning, and its regions by their b-tag count ("nbtag == N",
    "nbtag >= N") with their AGC observable (m_bjj where it calls trijet_mass, else HT). The oracle's algorithms
    stay its own: it computes the AGC's histograms of the definition (HT / m_bjj, the AGC's variations), not
    observables or systematics added to it (compare with ``allow_extra=True``, count from the definition)."""
    import re

    import oracle

    regions, binnings = [], set()
    for region in analysis.regions:
        match = re.fullmatch(r"nbtag\s*(==|>=)\s*(\d+)", region.condition.strip())
        assert match, f"the oracle knows regions by their b-tag count only, not {region.condition!r}"
        fewest = int(match.group(2))
        agc = [
            h
            for h in analysis.histograms
            if h.region == region.name and re.search(r"::(ht|trijet_mass)\(", h.observable)
        ]
        assert agc, f"region {region.name} has no HT or m_bjj histogram, the oracle's observables"
        observable = "mbjj" if "trijet_mass" in agc[0].observable else "ht"
        regions.append((region.name, fewest, fewest if match.group(1) == "==" else None, observable))
        binnings.add(agc[0].binning)
    (binning,) = binnings
    cuts = analysis.parameters
    return oracle.Numbers(
        luminosity=analysis.luminosity_pb,
        xsec={p.name: p.cross_section_pb for p in analysis.processes},
        lepton_pt_min=cuts["lepton_pt_min"],
        jet_pt_min=cuts["jet_pt_min"],
        min_jets=int(cuts["min_jets"]),
        btag_wp=cuts["btag_threshold"],
        nbins=binning.bins,
        xmin=binning.low,
        xmax=binning.high,
        regions=tuple(regions),
    )


def oracle_histograms(inputs, n_files=None, tree: str = "Events", analysis=ANALYSIS) -> dict:
    """The oracle's histograms of AGC-format inputs with the definition's numbers (:func:`oracle_numbers`)."""
    import oracle

    return oracle.all_histograms(inputs, n_files, tree, numbers=oracle_numbers(analysis))


def compare_with_oracle(actual: dict, expected: dict, analysis=ANALYSIS, **kwargs) -> list[str]:
    """``oracle.compare`` of a run's histograms with the oracle's: every histogram the oracle computes must agree;
    one it does not compute is expected only where the definition writes it (an observable or a systematic added
    to the AGC's)."""
    import oracle

    written = set(analysis.histogram_names())
    unexpected = [f"unexpected histogram {name}" for name in sorted(set(actual) - set(expected) - written)]
    return unexpected + oracle.compare(actual, expected, allow_extra=True, **kwargs)


ALL_SAMPLES = (
    ("ttbar", "nominal"),
    ("ttbar", "scaledown"),
    ("ttbar", "scaleup"),
    ("ttbar", "ME_var"),
    ("ttbar", "PS_var"),
    ("single_top_s_chan", "nominal"),
    ("single_top_t_chan", "nominal"),
    ("single_top_tW", "nominal"),
    ("wjets", "nominal"),
)


def write_inputs(path: Path, files_by_sample: dict, mark_shared: bool = True) -> Path:
    """An AGC-format input list: {(process, variation): [(file, nevts), ...]}.

    With ``mark_shared``, a sample that shares a file with another sample says that is intended
    (``"shared_files_ok": true``: many tests use one file for several samples)."""
    samples_of: dict = {}
    for sample, files in files_by_sample.items():
        for f, _ in files:
            samples_of.setdefault(str(f), set()).add(sample)
    content: dict = {}
    for (process, variation), files in files_by_sample.items():
        entry: dict = {"files": [{"path": str(f), "nevts": int(n)} for f, n in files]}
        if mark_shared and any(len(samples_of[str(f)]) > 1 for f, _ in files):
            entry["shared_files_ok"] = True
        content.setdefault(process, {})[variation] = entry
    path.write_text(json.dumps(content, indent=1))
    return path


def same_files_everywhere(path: Path, files: list) -> Path:
    """An input list using the same (file, nevts) list for all nine samples (marked as intended)."""
    return write_inputs(path, {s: files for s in ALL_SAMPLES})


def run_cli(*args, check: bool = True, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m rdf_ttbar ARGS`` in a fresh process, output captured."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "rdf_ttbar", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=REPO,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"rdf_ttbar {' '.join(map(str, args))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def run_histograms(inputs: Path, out: Path, *extra) -> Path:
    """Run the analysis without the fit; the path of its histograms.root."""
    run_cli("--inputs", inputs, "--output-dir", out, "--no-fit", *extra)
    return out / "histograms.root"
