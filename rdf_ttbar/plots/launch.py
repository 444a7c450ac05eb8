"""How a plot worker process (``python -m rdf_ttbar.plots.worker``) is started: the one place for its
command line and environment, used by
:class:`rdf_ttbar.plots.painters.Painters`."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def command_and_env(*args: str) -> tuple[list[str], dict]:
    """The command line of a worker process and its environment (rdf_ttbar importable from where it is)."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])  # the folder holding rdf_ttbar/
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return [sys.executable, "-m", "rdf_ttbar.plots.worker", *args], env
