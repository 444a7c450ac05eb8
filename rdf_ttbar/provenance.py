"""Provenance: what made a result (versions, options, command, inputs, definition, host), as metrics.json,
fit_results.json and report.html record it.

Cheap by design: the versions come from the installed packages' metadata (nothing is imported for them), ROOT's
from its headers, and the input list from what the up-front check of the files already found (no file is
opened again).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shlex
from pathlib import Path
from typing import Any

from . import __version__

PACKAGES = ("cabinetry", "pyhf", "iminuit", "numpy")  # besides rdf_ttbar and ROOT
PROG = "python -m rdf_ttbar"

_command: list[str] | None = None  # the command line of this process, when it is python -m rdf_ttbar


def set_command(argv: list[str]) -> None:
    """Record the arguments of ``python -m rdf_ttbar`` (the command line calls this; the API does not)."""
    global _command
    _command = [str(a) for a in argv]


def command(call: str) -> str:
    """The command line of this run, or ``call`` (the API call that made it) when it did not come from one."""
    if _command is None:
        return call
    return f"{PROG} {shlex.join(_command)}".rstrip()


def root_version() -> str:
    """ROOT's version without importing ROOT (which takes a while): from its headers, else the package's."""
    spec = importlib.util.find_spec("ROOT")
    if spec is None:
        return "not installed"
    for folder in spec.submodule_search_locations or []:
        header = Path(folder) / "include" / "ROOT" / "RVersion.hxx"
        if header.is_file():
            numbers = dict(re.findall(r"#define ROOT_VERSION_(MAJOR|MINOR|PATCH) (\d+)", header.read_text()))
            if len(numbers) == 3:
                return f"{numbers['MAJOR']}.{int(numbers['MINOR']):02d}.{int(numbers['PATCH']):02d}"
    try:
        return f"package {importlib.metadata.version('root')}"
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def versions() -> dict[str, str]:
    """The versions of rdf_ttbar, ROOT, cabinetry, pyhf, iminuit and numpy (and Python)."""
    out = {"rdf_ttbar": __version__, "ROOT": root_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["python"] = platform.python_version()
    return out


def input_list(samples) -> dict[str, Any]:
    """Files, events and bytes per sample, and a checksum (SHA-256) of the list: every file's sample, path, entries
    and size as the up-front check found them. ``samples``: ``rdf_ttbar.inputs.Sample`` (``file_bytes`` filled in
    by the check; -1 where a size is not known)."""
    rows, per_sample = [], {}
    for s in samples:
        sizes = tuple(s.file_bytes) or (-1,) * len(s.files)
        entries = tuple(s.file_nevts) or (-1,) * len(s.files)
        rows += [[s.name, path, n, size] for path, n, size in zip(s.files, entries, sizes)]
        per_sample[s.name] = {
            "files": len(s.files),
            "nevts": s.nevts,  # the input list's count, which normalises the sample
            "entries": sum(entries) if -1 not in entries else None,
            "bytes": sum(sizes) if -1 not in sizes else None,
        }
    text = json.dumps(rows, separators=(",", ":"))
    return {
        "files": len(rows),
        "bytes": sum(r[3] for r in rows) if all(r[3] >= 0 for r in rows) else None,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "checksum_of": "JSON of [sample, path, entries, bytes] of every file, in the order read",
        "samples": per_sample,
        "paths": [r[1] for r in rows],
    }


def make(
    *, call: str, config=None, analysis=None, samples=None, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The provenance record of a run or a fit.

    Args:
        call: the API call that made it, used as its command when it did not come from the command line.
        config: the :class:`rdf_ttbar.RunConfig` of the run (recorded in full).
        analysis: the definition (``rdf_ttbar.analysis.Analysis``): its name and version.
        samples: the checked input samples (:func:`input_list`).
        options: other options (a fit's: the histograms it read, its output folder).
    """
    out: dict[str, Any] = {"versions": versions(), "command": command(call)}
    if config is not None:
        out["config"] = config.as_dict()
    if options:
        out["options"] = options
    if analysis is not None:
        out["definition"] = {"name": analysis.name, "version": analysis.version}
    if samples is not None:
        out["inputs"] = input_list(samples)
    out["host"] = {"cores": os.cpu_count(), "platform": platform.platform(terse=True)}
    return out
