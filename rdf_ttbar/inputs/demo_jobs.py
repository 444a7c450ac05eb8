"""The demo set's C++ generator (cpp/demo_generator.h) driven from Python: its recipes (the samples it can make, and
those of a definition), its declaration, options and jobs, run on their own threads while this thread reports
progress (and stops them on a signal), and the conversion of its files to RNTuple. Used by
:mod:`rdf_ttbar.inputs.demo`."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from .. import cpp, interrupts
from ..analysis import Analysis
from ..errors import UserError
from . import branch_lists

# ZSTD level 1: as small as ZLIB level 1, several times faster to write
COMPRESSION = 501

# the generator's recipes (cpp/demo_generator.h, config_for) and the variations each knows: a process of a
# definition names one with ``Process.demo`` (default: its own name)
RECIPES: dict[str, tuple[str, ...]] = {
    "ttbar": ("nominal", "scaledown", "scaleup", "ME_var", "PS_var"),
    "single_top_s_chan": ("nominal",),
    "single_top_t_chan": ("nominal",),
    "single_top_tW": ("nominal",),
    "wjets": ("nominal",),
}
# every sample the generator knows, as (process, variation, recipe): the demo set of the AGC's definitions
REPERTOIRE = tuple((recipe, v, recipe) for recipe, variations in RECIPES.items() for v in variations)

DemoSamples = Sequence[tuple[str, str, str]]  # (process, variation, recipe) of each sample of a set


def demo_samples(analysis: Analysis) -> DemoSamples:
    """The demo set of a definition: each of its samples, with the generator's recipe of its process
    (``Process.demo``, default its name; ``demo_jobs.RECIPES``). A recipe the generator does not know is one
    UserError."""
    problems = []
    for process in analysis.processes:
        known = RECIPES.get(process.recipe)
        if known is None:
            problems.append(
                f"process '{process.name}' has no demo recipe '{process.recipe}' (known: {', '.join(RECIPES)}): "
                f"set Process(..., demo=RECIPE) to one of them, or pass your own input list with --inputs FILE.json"
            )
        elif set(process.variations) - set(known):
            unknown = sorted(set(process.variations) - set(known))
            problems.append(
                f"process '{process.name}': the demo recipe '{process.recipe}' has no variation(s) "
                f"{', '.join(unknown)} (it has {', '.join(known)}): pass your own input list with --inputs FILE.json"
            )
    if problems:
        raise UserError(f"the demo set of the analysis {analysis.name} cannot be generated: " + "; ".join(problems))
    return tuple((p.name, v, p.recipe) for p in analysis.processes for v in p.variations)


def samples_key(samples: DemoSamples | None) -> str:
    """'' for the generator's whole repertoire (the AGC's samples), else a short key of the samples."""
    if samples is None or tuple(map(tuple, samples)) == REPERTOIRE:
        return ""
    return hashlib.sha256(json.dumps([list(s) for s in samples]).encode()).hexdigest()[:10]


# branches of ``branch_lists.EXTRA_BRANCHES`` that the generator writes with physics content itself (not noise)
GENERATED_EXTRA_BRANCHES = frozenset({"Jet_qgl"})

_declared = False


def _generator():
    """The C++ namespace ``rdf_ttbar::demo``, declared to ROOT's interpreter once per process."""
    global _declared
    import ROOT

    if not _declared:
        header = cpp.cpp_dir() / "demo_generator.h"
        if not ROOT.gInterpreter.Declare(f'#include "{header}"'):
            raise RuntimeError(f"ROOT could not compile {header}")
        ROOT.rdf_ttbar.demo.run_jobs.__release_gil__ = True  # lets Python report progress meanwhile
        _declared = True
    return ROOT.rdf_ttbar.demo


def _noise_specs(gen):
    """The extra branches of the full set (``branch_lists.EXTRA_BRANCHES``, less those the generator writes) as
    C++ specs."""
    import ROOT

    specs = ROOT.std.vector[gen.NoiseSpec]()
    for name, (kind, lo, hi, bits, default_fraction, default) in branch_lists.EXTRA_BRANCHES.items():
        if name in GENERATED_EXTRA_BRANCHES:
            continue
        spec = gen.NoiseSpec()
        spec.name, spec.type, spec.counter = name, kind, "n" + name.split("_")[0]
        spec.lo, spec.hi, spec.bits = lo, hi, bits
        spec.default_fraction, spec.default_value = default_fraction, default
        specs.push_back(spec)
    return specs


def _cpp_options(gen, seed: int, full: bool, threads: int):
    """``RunOptions``: seed, compression, threads, and the extra branches of the full set."""
    options = gen.RunOptions()
    options.seed, options.compression, options.nthreads = seed, COMPRESSION, threads
    if full:
        options.noise = _noise_specs(gen)
        for name, (mean, maximum) in branch_lists.EXTRA_COUNTERS.items():
            counter = gen.ExtraCounter()
            counter.name, counter.mean, counter.max = name, mean, maximum
            options.counters.push_back(counter)
    return options


def run_jobs(jobs: list[dict], seed: int, full: bool, threads: int, progress: bool) -> None:
    """Write the files of ``jobs`` (path, sample, recipe, first, count) with ``threads`` threads.

    The C++ loop runs in a helper thread (it releases the GIL) while this one
    shows the progress on a terminal.
    """
    import ROOT

    gen = _generator()
    cpp_jobs = ROOT.std.vector[gen.FileJob]()
    for job in jobs:
        j = gen.FileJob()
        j.path, j.sample, j.first, j.count = str(job["path"]), job["recipe"], job["first"], job["count"]
        j.stream = job["sample"]
        cpp_jobs.push_back(j)
    options = _cpp_options(gen, seed, full, threads)
    interrupts.check()
    outcome: dict = {}

    def work():
        try:
            outcome["error"] = str(gen.run_jobs(cpp_jobs, options))
        except Exception as err:  # re-raised by the calling thread
            outcome["exception"] = err

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    show = progress and sys.stderr.isatty()
    total = sum(job["count"] for job in jobs)
    shown = time.monotonic()
    while worker.is_alive():
        worker.join(0.1)
        if (
            interrupts.requested()
        ):  # a signal: the C++ threads stop first (asked again until they do), then it is raised
            gen.request_stop()
        if show and time.monotonic() - shown >= 0.5:
            shown = time.monotonic()
            sys.stderr.write(f"\r  {100 * int(gen.events_done()) // total:3d}% of {total} events")
            sys.stderr.flush()
    if show:
        sys.stderr.write("\r" + " " * 40 + "\r")
        sys.stderr.flush()
    interrupts.check()
    if "exception" in outcome:
        raise outcome["exception"]
    if outcome["error"]:
        raise RuntimeError(f"demo generation failed: {outcome['error']}")


def to_rntuple(paths: list[Path], name: str = "Events", compression: int = COMPRESSION) -> None:
    """Convert each TTree file ``paths`` into a file holding an RNTuple ``name`` with the same columns, in place."""
    import ROOT

    options = ROOT.RDF.RSnapshotOptions()
    options.fOutputFormat = ROOT.RDF.ESnapshotOutputFormat.kRNTuple
    options.fCompressionAlgorithm = compression // 100
    options.fCompressionLevel = compression % 100
    options.fLazy = True  # all files in one RunGraphs: one just-in-time compilation
    pending = [(path, path.with_name(path.name + ".rntuple")) for path in paths]
    frames = [ROOT.RDataFrame(name, str(path)) for path, _ in pending]
    snapshots = [frame.Snapshot(name, str(tmp), "", options) for frame, (_, tmp) in zip(frames, pending)]
    ROOT.RDF.RunGraphs(snapshots)
    del snapshots, frames
    for path, tmp in pending:
        os.replace(tmp, path)
