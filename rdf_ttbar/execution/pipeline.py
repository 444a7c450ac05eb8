"""The analysis' event loops: inputs -> one graph per sample -> RunGraphs -> histograms and metrics, in memory.

Writing the outputs, the fit and the plots are the API's job (api.py); this module returns numbers.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass

from .. import interrupts, provenance
from ..analysis import Analysis, native
from ..config import RunConfig
from . import prepare
from .prepare import OPTIMIZE_FROM_EVENTS, optimize_jitted_code, prepare_inputs, resolve_samples  # noqa: F401


@dataclass
class Processed:
    """The result of the event loops."""

    histograms: dict  # AGC name -> hist.Hist (pseudo-data included)
    metrics: dict  # wall times, events, rates, bytes read (fit, plots, total: filled in by the caller)
    start: float  # time.perf_counter() where the run's set-up time starts
    analysis: Analysis  # the definition that filled them


def process(config: RunConfig, *, progress: bool | None = None, call: str = "rdf_ttbar.run(config)") -> Processed:
    """Prepare the inputs, book every sample's graph and run all event loops together.

    Args:
        config: the run's configuration (api.configure / config.from_args).
        progress: draw a progress bar on stderr; None: when stderr is a terminal.
        call: the API call that runs it, recorded as the command (metrics' "provenance") when the run did not come
            from the command line.

    Returns:
        The histograms under their AGC names and the metrics of the run.
    """
    start = prepare.run_start()
    from ..analysis import of as definition

    analysis = definition(config)
    with ExitStack() as cleanup:  # the read-ahead stager of remote inputs, if any, until the loops are done
        return _process(config, analysis, start, cleanup, progress, call)


def _process(
    config: RunConfig, analysis: Analysis, start: float, cleanup: ExitStack, progress: bool | None, call: str
) -> Processed:
    from ..analysis import graph

    samples, preparation_s = prepare_inputs(
        config,
        branches=tuple(analysis.columns_read()),
        missing_branches_hint=None
        if analysis.version == "v1"
        else f"The {analysis.name} analysis (--analysis {analysis.version or 'FILE'}) reads them; use --analysis v1 "
        "for files without them, or add them to your definition's inputs only where your files have them.",
        jitted_loop=not native.expected(config.scheduler),
        analysis=analysis,
        cleanup=cleanup,
    )
    from . import executor as execution

    execution.configure_threads(config.mt)
    executor = execution.Executor(
        config.scheduler,
        config.ncores,
        config.scheduler_address,
        config.npartitions,
        analysis.headers,
        analysis.files,
        analysis.models,
    )
    with execution.RDFTiming() as timing, execution.event_loop_errors(executor):
        distributed = executor.distributed  # Dask's and Spark's graphs are Python proxies: jitted
        builds = graph.Builds(analysis, compiled=not distributed, distributed=distributed)
        booked = [builds.book(s, executor.dataframe(s.files, config.tree)) for s in samples]
        graph.book_variations(booked)  # jits the code of the jitted graphs
        setup_s = time.perf_counter() - start - timing.jit_s - preparation_s
        interrupts.check()  # (signals are acted on between ROOT's calls: interrupts.py)
        stats = execution.run_graphs(booked, timing, executor, progress=progress)
        n_cores = executor.cores
    interrupts.check()
    hists = graph.collect(analysis, booked)
    interrupts.check()
    metrics = make_metrics(samples, booked, stats, n_cores, setup_s, config.scheduler)
    metrics["wall_time_s"]["input_preparation"] = round(preparation_s, 3)
    from ..inputs import staging

    metrics["provenance"] = provenance.make(
        call=call, config=config, analysis=analysis, samples=staging.original_files(samples)
    )
    return Processed(hists, metrics, start, analysis)


def make_metrics(samples, booked, stats, n_threads, setup_s, scheduler="mt") -> dict:
    processing_s = stats.jit_s + stats.event_loop_s
    return {
        "mode": "analysis",
        "wall_time_s": {
            "setup": round(setup_s, 3),
            "jitting": round(stats.jit_s, 3),
            "event_loop": round(stats.event_loop_s, 3),
            "fit": None,
            "plots": None,
            "total": None,
        },
        "events_processed": stats.events,
        "event_rate_hz": stats.events / stats.event_loop_s if stats.event_loop_s else None,
        "event_rate_per_core_hz": stats.events / stats.event_loop_s / n_threads if stats.event_loop_s else None,
        "event_rate_incl_jitting_hz": stats.events / processing_s if processing_s else None,
        "graph": graph_build(booked),
        "cores": n_threads,
        "scheduler": scheduler,
        "bytes_read": stats.bytes_read,
        "bytes_downloaded": stats.bytes_downloaded,
        "files": sum(len(s.files) for s in samples),
        "samples": {b.sample.name: int(b.count.GetValue()) for b in booked},
    }


def graph_build(booked) -> str | None:
    """Which build of the analysis graph ran: "compiled", "jitted" or "mixed" (graph.py); None: no loop."""
    kinds = {"compiled" if b.compiled is not None else "jitted" for b in booked}
    return "mixed" if len(kinds) > 1 else (kinds.pop() if kinds else None)


def summary_lines(metrics: dict, fit_summary: dict | None = None) -> list[str]:
    """What the command line prints at the end of a run."""
    t = metrics["wall_time_s"]
    rate = metrics["event_rate_hz"] or 0.0
    lines = [
        f"processed {metrics['events_processed']:,} events from {metrics['files']} files "
        f"in {t['event_loop']:.1f} s ({rate / 1e3:,.1f} kHz, "
        f"{(metrics['event_rate_per_core_hz'] or 0.0) / 1e3:,.1f} kHz per core on {metrics['cores']} cores; "
        f"jitting {t['jitting']:.1f} s, set-up {t['setup']:.1f} s, total {t['total']:.1f} s)"
    ]
    if metrics["bytes_read"] is not None:
        lines.append(f"read {metrics['bytes_read'] / 1e6:,.1f} MB")
    if fit_summary:
        name = fit_summary.get("poi", "ttbar_norm")  # (a summary written before it named its POI)
        poi = fit_summary[name]
        interval = poi.get("interval")
        lines.append(
            f"{name} = {poi['value']:.3f} +- {poi['uncertainty']:.3f}"
            + (
                f" (profile-likelihood interval {interval[0] - poi['value']:+.3f} / {interval[1] - poi['value']:+.3f})"
                if interval
                else ""
            )
        )
        lines += [f"warning: fit: {message}" for message in fit_summary.get("warnings", [])]
    return lines
