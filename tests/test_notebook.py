"""notebooks/ttbar_analysis.ipynb runs top to bottom (nbclient, a kernel on this interpreter) and shows ttbar_norm."""

from __future__ import annotations

import re

import nbformat
from nbclient import NotebookClient

from helpers import REPO


def test_notebook_runs_and_shows_the_fit(tmp_path):
    notebook = nbformat.read(REPO / "notebooks" / "ttbar_analysis.ipynb", as_version=4)
    # kernel "python3": ipykernel's own kernel spec, which starts this interpreter (sys.executable)
    client = NotebookClient(notebook, kernel_name="python3", timeout=900, allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError if any cell fails
    text = "\n".join(output.get("text", "") + "".join(output.get("data", {}).get("text/plain", ""))
                     for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs)
    match = re.search(r"ttbar_norm = (\d+\.\d+) \+- (\d+\.\d+)", text)
    assert match, text
    value, uncertainty = map(float, match.groups())
    assert 0.5 < value < 1.5 and 0 < uncertainty < 0.5, (value, uncertainty)
    images = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs
              if "image/png" in o.get("data", {})]
    assert len(images) >= 4 + 4  # the histogram plots and the fit plots, shown inline
    assert "second run" in text
    assert sorted(p.name for p in (tmp_path / "plots").iterdir())  # written beside the notebook
