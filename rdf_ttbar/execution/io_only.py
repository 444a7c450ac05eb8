"""I/O-only mode (``--io-only``): read the branches of the AGC I/O benchmark and do nothing else.

The AGC notebook's ``DISABLE_PROCESSING`` / ``IO_FILE_PERCENT`` mode: for
every sample, read the branches of ``branch_lists.BRANCHES_BY_PERCENT[p]``
(default 2.7: the columns of the AGC's analysis), or with ``analysis`` exactly
the columns the run's definition reads (``Analysis.columns_read()``; the AGC v1's: the 2.7%
list and run, luminosityBlock, event for the jet pT resolution factors), and measure how fast the event
loop goes when it only reads. No histograms, no fit: the only output is
``metrics.json`` (``"mode": "io_only"``), staged like the other outputs.

Every event, one compiled C++ call receives all the columns: RDataFrame's
column readers load (read and decompress) the baskets of each branch to hand
the values over, and the call only adds up the collection sizes. One jitted
expression per sample whatever the number of branches, instead of one action
per branch (one ``Sum`` per branch jits twice as long for the 50% list and
loops 1.6x slower).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from .. import cpp, inputs, interrupts, provenance
from ..analysis import Analysis
from ..analysis import of as definition
from ..config import IO_PERCENT_CHOICES, RunConfig, io_percent_key
from ..errors import UserError
from ..inputs import branch_lists
from . import prepare
from .outputs import OutputFolder, write_errors

PERCENTS = tuple(branch_lists.BRANCHES_BY_PERCENT)  # 2.7, 4, 15, 25, 50
ANALYSIS = branch_lists.ANALYSIS  # the columns of this analysis
DEFAULT_PERCENT = 2.7

HELPER = "io_only.h"  # the per-event call (cpp/io_only.h): receives every column, adds up their sizes


def normalize_percent(value) -> float | int | str:
    """The key of ``BRANCHES_BY_PERCENT`` for ``value`` (2.7, 4, '15', 25.0, ...) or 'analysis'; UserError if none."""
    key = io_percent_key(value)
    if key is None:
        raise UserError(
            f"--io-percent must be one of {IO_PERCENT_CHOICES} (the AGC IO_FILE_PERCENT "
            f"values, or the columns of this analysis), got {value!r}"
        )
    return key


def branches_for(percent, analysis: Analysis) -> list[str]:
    percent = normalize_percent(percent)
    if percent == ANALYSIS:
        return list(analysis.columns_read())
    return list(branch_lists.BRANCHES_BY_PERCENT[percent])


def resolve_samples(config: RunConfig, percent, analysis: Analysis) -> list[inputs.Sample]:
    """The samples to read. ``--inputs demo`` beyond 2.7%: the cached ``--full`` demo set of the same size."""
    if config.inputs != "demo" or percent in (DEFAULT_PERCENT, ANALYSIS):
        return prepare.resolve_samples(config, analysis=analysis)
    from ..inputs import demo

    d = config.demo
    directory = demo.demo_set_dir(d.cache_dir, d.events_per_sample, d.seed, full=True)
    if not (directory / demo.STAMP).is_file():
        raise UserError(
            f"--io-percent {percent} reads branches that only the full demo set has, and there is no full demo set "
            f"of {d.events_per_sample} events per sample (seed {d.seed}) in the cache: write it with "
            f"'python -m rdf_ttbar generate --full --events-per-sample {d.events_per_sample} --seed {d.seed}' "
            "(or use --io-percent 2.7)"
        )
    path = demo.ensure_demo_set(d.cache_dir, d.events_per_sample, d.seed, full=True)
    return inputs.read_file_list(path, analysis, config.files_per_sample)


def missing_branches_hint(percent, branches: list[str]) -> str:
    """The end of the message for input files that lack some of the branches to read (inputs.check_files)."""
    lower = [str(p) for p in PERCENTS if percent != ANALYSIS and p < percent]
    return (
        f"--io-only --io-percent {percent} reads {len(branches)} branches, and the files above miss some of "
        "them. The default demo set has only the analysis branches: write a set with all of them with "
        "'python -m rdf_ttbar generate --full' (then --inputs demo, or --inputs DIR/nanoaod_inputs.json for a "
        "set written with --output-dir DIR)"
        + (f", or use a lower --io-percent ({', '.join(lower)})" if lower else "")
        + "."
    )


def declare_helper(executor=None) -> None:
    """Declare the per-event call (cpp/io_only.h) to ROOT (and to the Dask workers when distributed)."""
    import ROOT

    if executor is not None and executor.distributed:
        ROOT.RDF.Distributed.DistributeCppCode(cpp.read_template(HELPER))
    cpp.declare_header(HELPER)


@dataclass
class BookedRead:
    """The lazy result of one sample's read: events counted after every column was loaded."""

    sample: inputs.Sample
    dataframe: object
    count: object

    def handles(self) -> list:
        return [self.count]


def book_read(sample: inputs.Sample, dataframe, branches: list[str]) -> BookedRead:
    touched = dataframe.Filter(f"rdf_ttbar::io_only::touch({', '.join(branches)})", "read all columns")
    return BookedRead(sample, dataframe, touched.Count())


def run(config: RunConfig) -> dict:
    """Read the branches of every sample; returns the metrics, also written to OUTPUT/metrics.json (the only
    output; outputs of an earlier run in that folder are removed)."""
    start = prepare.run_start()
    percent = normalize_percent(config.io_percent)
    analysis = definition(config)
    branches = branches_for(percent, analysis)
    with OutputFolder(config.output_dir) as out:
        samples, preparation_s = prepare.prepare_inputs(
            config,
            lambda config: resolve_samples(config, percent, analysis),
            branches,
            missing_branches_hint(percent, branches),
            analysis=analysis,
        )
        from . import executor as execution

        execution.configure_threads(config.mt)
        executor = execution.Executor(config.scheduler, config.ncores, config.scheduler_address, config.npartitions)
        with execution.RDFTiming() as timing, execution.event_loop_errors(executor):
            declare_helper(executor)
            booked = [book_read(s, executor.dataframe(s.files, config.tree), branches) for s in samples]
            setup_s = time.perf_counter() - start - timing.jit_s - preparation_s
            interrupts.check()  # (signals are acted on between ROOT's calls: interrupts.py)
            stats = execution.run_graphs(booked, timing, executor)
            n_cores = executor.cores
        metrics = make_metrics(samples, booked, stats, n_cores, setup_s, config.scheduler, percent, branches, start)
        metrics["wall_time_s"]["input_preparation"] = round(preparation_s, 3)
        metrics["provenance"] = provenance.make(call="rdf_ttbar.run_job(config)", config=config, samples=samples)
        interrupts.check()
        with write_errors(out.final):
            (out.staging / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        metrics["outputs"] = [str(p) for p in out.publish()]
    return metrics


def make_metrics(samples, booked, stats, n_cores, setup_s, scheduler, percent, branches, start: float) -> dict:
    loop = stats.event_loop_s
    return {
        "mode": "io_only",
        "io_percent": percent,
        "branches": branches,
        "wall_time_s": {
            "setup": round(setup_s, 3),
            "jitting": round(stats.jit_s, 3),
            "event_loop": round(loop, 3),
            "total": round(time.perf_counter() - start, 3),
        },
        "events_processed": stats.events,
        "event_rate_hz": stats.events / loop if loop else None,
        "event_rate_per_core_hz": stats.events / loop / n_cores if loop else None,
        "event_rate_incl_jitting_hz": stats.events / (loop + stats.jit_s) if loop + stats.jit_s else None,
        "cores": n_cores,
        "scheduler": scheduler,
        "bytes_read": stats.bytes_read,
        "read_rate_mb_s": stats.bytes_read / loop / 1e6 if loop and stats.bytes_read is not None else None,
        "files": sum(len(s.files) for s in samples),
        "samples": {b.sample.name: int(b.count.GetValue()) for b in booked},
    }


def summary_lines(metrics: dict) -> list[str]:
    """What the command line prints at the end of an I/O-only run."""
    t = metrics["wall_time_s"]
    rate = metrics["event_rate_hz"] or 0.0
    which = "the analysis columns" if metrics["io_percent"] == ANALYSIS else f"{metrics['io_percent']}%"
    lines = [
        f"I/O only ({which}: {len(metrics['branches'])} branches): read "
        f"{metrics['events_processed']:,} events from {metrics['files']} files in {t['event_loop']:.2f} s "
        f"({rate / 1e3:,.1f} kHz, {(metrics['event_rate_per_core_hz'] or 0.0) / 1e3:,.1f} kHz per core on "
        f"{metrics['cores']} cores; jitting {t['jitting']:.1f} s, set-up {t['setup']:.1f} s, "
        f"total {t['total']:.1f} s)"
    ]
    if metrics["bytes_read"] is not None:
        lines.append(f"read {metrics['bytes_read'] / 1e6:,.1f} MB ({metrics['read_rate_mb_s'] or 0.0:,.1f} MB/s)")
    return lines
