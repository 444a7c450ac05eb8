"""What a delivery leaves for the analysis: the samples reading the delivered files, their AGC-format file list
(``DIR/nanoaod_inputs.json``), the one-line summary, and ``--deliver-cache`` (deliver what is missing, then read
the delivered files). The delivering itself: :mod:`rdf_ttbar.execution.delivery`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .. import atomic, inputs
from ..errors import UserError
from .delivery import FILES_DIR, Report, deliver
from .delivery_stamps import delivered_name
from .outputs import problem


def delivered_samples(samples: list[inputs.Sample], output_dir: Path) -> list[inputs.Sample]:
    """The samples reading their delivered files (same normalisation: ``nevts`` unchanged)."""
    return [
        dataclasses.replace(
            s, files=[str(output_dir / FILES_DIR / delivered_name(f)) for f in s.files], file_nevts=()
        )  # entries checked by deliver itself
        for s in samples
    ]


def write_file_list(samples: list[inputs.Sample], report: Report, output_dir: Path) -> Path:
    """``DIR/nanoaod_inputs.json`` in the AGC format (relative paths, so DIR can move).

    Each file's ``nevts`` is its ORIGINAL event count (normalisation unchanged) and
    ``nevts_delivered`` the events kept (the reader ignores it); a file the input list shares between samples on
    purpose keeps its ``"shared_files_ok": true``.
    """
    content: dict = {}
    for s in samples:
        files = [
            {
                "path": f"{FILES_DIR}/{delivered_name(f)}",
                "nevts": report.stamps[f]["entries_in"],
                "nevts_delivered": report.stamps[f]["entries_out"],
                **({"shared_files_ok": True} if shared_ok else {}),
            }
            for f, shared_ok in zip(s.files, s.shared_ok or (False,) * len(s.files), strict=True)
        ]
        counted = sum(f["nevts"] for f in files)
        if counted != s.nevts:
            raise UserError(
                f"the input list gives {s.nevts} events for {s.name}, but its files hold {counted}: "
                'fix the "nevts" of the list (the delivered list must keep the normalisation)'
            )
        content.setdefault(s.process, {})[s.variation] = {"files": files}
    path = output_dir / "nanoaod_inputs.json"
    try:
        return atomic.write_text(path, json.dumps(content, indent=1) + "\n")
    except OSError as err:  # a full disk: one message, no half-written list
        raise problem(err, output_dir) from None


def summary(report: Report, output_dir: Path) -> str:
    kept = report.events_out / report.events_in if report.events_in else 0.0
    smaller = report.bytes_in / report.bytes_out if report.bytes_out else float("inf")
    return (
        f"delivered {report.delivered} of {report.files} file(s) into {output_dir} "
        f"({report.files - report.delivered} up to date) in {report.seconds:.1f} s: "
        f"{report.events_in:,} -> {report.events_out:,} events ({100 * kept:.1f}% kept), "
        f"{report.bytes_in / 1e6:,.1f} -> {report.bytes_out / 1e6:,.1f} MB ({smaller:,.1f}x smaller)"
    )


def deliver_cache(
    samples: list[inputs.Sample], cache_dir: Path, *, tree: str, executor=None, analysis=None
) -> tuple[list[inputs.Sample], Report]:
    """``--deliver-cache``: deliver what is missing into ``cache_dir`` (for ``analysis``, default v1); the samples
    reading the delivered files.

    The samples keep their ``nevts`` (normalisation unchanged); nothing is re-read from a file
    delivered before.
    """
    cache_dir = Path(cache_dir).expanduser()
    report = deliver(samples, cache_dir, tree=tree, executor=executor, analysis=analysis)
    return delivered_samples(samples, cache_dir), report
