"""notebooks/ttbar_analysis.ipynb runs top to bottom as the README runs it (``jupyter execute``, a kernel on this
interpreter): the terminal shows ttbar_norm and where the outputs went, the cells show it and the plots, and the
outputs are in the folder the notebook names."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import nbformat

from helpers import REPO


def test_notebook_runs_and_shows_the_fit(tmp_path):
    notebook = tmp_path / "ttbar_analysis.ipynb"  # a copy: its outputs go beside it, in tmp_path
    shutil.copy(REPO / "notebooks" / "ttbar_analysis.ipynb", notebook)
    # --output keeps the executed cells (beside the input): a plain 'jupyter execute' discards them
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", "execute", "--timeout=900", "--output=executed", notebook.name],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=1200,
        env={k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"},
    )  # (a user's)
    assert result.returncode == 0, result.stderr[-5000:]

    # on the terminal: where the outputs go and the result
    outputs = tmp_path.resolve() / "ttbar_analysis_outputs"
    terminal = result.stdout
    assert f"ttbar_analysis.ipynb: this notebook writes its plots and fit results into {outputs}" in terminal, terminal
    match = re.search(r"ttbar_analysis.ipynb: ttbar_norm = (\d+\.\d+) \+- (\d+\.\d+) \(fit results in (.+)\)", terminal)
    assert match, terminal
    assert match.group(3) == str(outputs / "fit_results.json")
    assert re.search(r"ttbar_analysis.ipynb: \d+ histogram plots in " + re.escape(str(outputs / "plots")), terminal)

    # in the cells
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    text = "\n".join(
        output.get("text", "") + "".join(output.get("data", {}).get("text/plain", ""))
        for cell in cells
        for output in cell.outputs
    )
    match = re.search(r"ttbar_norm = (\d+\.\d+) \+- (\d+\.\d+)", text)
    assert match, text
    value, uncertainty = map(float, match.groups())
    assert 0.5 < value < 1.5 and 0 < uncertainty < 0.5, (value, uncertainty)
    images = [o for cell in cells[:-1] for o in cell.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4 + 4  # the histogram plots and the fit plots, shown inline
    # the last cell: AGC v2, its 1364 histograms, the plots of its 20 features among them, two shown
    assert re.search(r"ttbar_analysis.ipynb: AGC v2: 1364 histograms, 24 plots in ", terminal), terminal
    assert len([o for o in cells[-1].outputs if "image/png" in o.get("data", {})]) == 2
    assert (outputs / "plots-v2" / "stacked_mass_w1w2btophad.png").is_file()
    assert "second run" in text
    assert "ttbar_analysis.ipynb:" not in text  # the terminal's copy does not show in the cells

    # in the folder it named, and nowhere else
    assert len(list((outputs / "plots").glob("*.png"))) == len(images)
    assert {"fit_results.json", "workspace.json"} <= {p.name for p in outputs.iterdir()}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "executed.ipynb",
        "ttbar_analysis.ipynb",
        "ttbar_analysis_outputs",
    ]
