"""The AGC layout of the demo set (``generate --agc-layout``): as many files per sample as the AGC's file list
(``rdf_ttbar/data/nanoaod_inputs.json``, 787 in all), each sample's events split evenly over them. Used by
:mod:`rdf_ttbar.inputs.demo`."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from ..errors import UserError
from .reference import FILE_LIST


def agc_files_per_sample(file_list: Path = FILE_LIST) -> dict[tuple[str, str], int]:
    """How many files the AGC's file list holds for each sample, by (process, variation): 787 in all."""
    content = json.loads(Path(file_list).read_text())
    return {(p, v): len(e["files"]) for p, variations in content.items() for v, e in variations.items()}


def agc_split(events: int, files: int) -> list[tuple[int, int]]:
    """(first, count) of each of ``files`` files holding ``events`` events, as even as can be."""
    if events < files:
        raise UserError(f"--agc-layout writes {files} files for a sample: --events-per-sample must be >= {files}")
    q, r = divmod(events, files)
    counts = [q + 1] * r + [q] * (files - r)
    return list(zip(itertools.accumulate(counts, initial=0), counts))
