"""The files of a demo set (used by :mod:`rdf_ttbar.inputs.demo`): one generator job per file, in the default
layout (``--events-per-file`` events each) or the AGC's (``generate --agc-layout``: as many files per sample as the
AGC's file list, ``rdf_ttbar/data/nanoaod_inputs.json``, 787 in all, each sample's events split evenly over them),
and the set's ``nanoaod_inputs.json``."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from ..errors import UserError
from .demo_jobs import DemoSamples
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


def sample_name(process: str, variation: str) -> str:
    """The generator's name of a sample, e.g. ``ttbar__PS_var``."""
    return f"{process}__{variation}"


def layout(
    final_dir: Path, events_per_sample: int, events_per_file: int, samples: DemoSamples, agc_layout: bool = False
) -> list[dict]:
    """One job per file: {process, variation, sample, recipe, path (final location), first, count}."""
    jobs = []
    agc = agc_files_per_sample() if agc_layout else {}
    for process, variation, recipe in samples:
        name = sample_name(process, variation)
        if agc_layout:
            split = agc_split(events_per_sample, agc[process, variation])
        else:
            split = [
                (f, min(events_per_file, events_per_sample - f)) for f in range(0, events_per_sample, events_per_file)
            ]
        for k, (first, count) in enumerate(split):
            jobs.append(
                {
                    "process": process,
                    "variation": variation,
                    "sample": name,
                    "recipe": sample_name(recipe, variation),
                    "path": final_dir / f"{name}__{k:04d}.root",
                    "first": first,
                    "count": count,
                }
            )
    return jobs


def inputs_json(jobs: list[dict]) -> dict:
    """The AGC ``nanoaod_inputs.json`` content of the set (absolute paths, true event counts)."""
    content: dict = {}
    for job in jobs:
        entry = content.setdefault(job["process"], {}).setdefault(job["variation"], {"nevts_total": 0, "files": []})
        entry["files"].append({"path": str(job["path"]), "nevts": job["count"]})
        entry["nevts_total"] += job["count"]
    return content
