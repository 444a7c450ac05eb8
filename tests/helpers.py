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
    "nbtag >= N") with their observable (m_bjj where it calls trijet_mass, else HT). The oracle's algorithms stay
    its own; a definition it cannot describe is refused here."""
    import re

    import oracle

    regions = []
    for region in analysis.regions:
        match = re.fullmatch(r"nbtag\s*(==|>=)\s*(\d+)", region.condition.strip())
        assert match, f"the oracle knows regions by their b-tag count only, not {region.condition!r}"
        fewest = int(match.group(2))
        (h,) = [h for h in analysis.histograms if h.region == region.name]
        regions.append(
            (
                region.name,
                fewest,
                fewest if match.group(1) == "==" else None,
                "mbjj" if "trijet_mass" in h.observable else "ht",
            )
        )
    (binning,) = {h.binning for h in analysis.histograms}
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


def write_inputs(path: Path, files_by_sample: dict) -> Path:
    """An AGC-format input list: {(process, variation): [(file, nevts), ...]}."""
    content: dict = {}
    for (process, variation), files in files_by_sample.items():
        content.setdefault(process, {})[variation] = {"files": [{"path": str(f), "nevts": int(n)} for f, n in files]}
    path.write_text(json.dumps(content, indent=1))
    return path


def same_files_everywhere(path: Path, files: list) -> Path:
    """An input list using the same (file, nevts) list for all nine samples."""
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
