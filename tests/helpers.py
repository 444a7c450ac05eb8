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
