"""The main job: inputs -> graphs -> event loops -> histograms -> fit -> plots -> metrics.

Outputs are written into a staging folder inside the output directory and
moved into place only when everything succeeded, so that a failed run never
leaves files that look complete.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from . import START_TIME, inputs
from .errors import UserError

OUTPUTS = ("histograms.root", "workspace.json", "fit_results.json", "metrics.json", "plots")


def resolve_samples(options: dict) -> list[inputs.Sample]:
    """The samples of the chosen input set: 'demo', 'agc' or a JSON file."""
    choice = options["inputs"]
    n = options["files_per_sample"]
    if choice == "demo":
        from . import demo, systematics

        d = options["demo"]
        # generating the set starts ROOT's interpreter: choose the optimisation level from the events this run
        # will read before that (prepare_inputs' later choice comes too late then)
        per_sample = d["events_per_sample"] if n is None else min(d["events_per_sample"], n * demo.DEFAULT_EVENTS_PER_FILE)
        optimize_jitted_code(len(systematics.SAMPLES) * per_sample)
        path = demo.ensure_demo_set(d["cache_dir"], d["events_per_sample"], d["seed"])
        return inputs.read_file_list(path, n)
    if choice == "agc":
        return inputs.agc_samples(options["agc"]["inputs"], n, options["agc"]["remote_prefix"])
    if not choice.endswith(".json") and not Path(choice).exists():
        raise UserError(f"--inputs '{choice}' is neither 'demo', 'agc' nor a JSON file list")
    return inputs.read_file_list(choice, n, options["agc"]["remote_prefix"])


@contextmanager
def staged_outputs(output_dir: Path):
    """A staging folder whose contents replace the outputs in ``output_dir`` on success only."""
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".rdf_ttbar-partial-", dir=output_dir))
    try:
        yield staging
        for name in OUTPUTS:
            source, target = staging / name, output_dir / name
            if not source.exists():
                continue
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(source, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# From this many input events on, ROOT's interpreter compiles the jitted graph code with -O2 instead of
# its default: the event loop runs ~1.4x faster for ~0.5-0.8 s more jitting, with bit-identical histograms.
OPTIMIZE_FROM_EVENTS = 1_000_000


def optimize_jitted_code(events: int) -> None:
    """-O2 for the jitted code of large inputs; only effective before ROOT's interpreter starts.

    An EXTRA_CLING_ARGS set by the user wins.
    """
    if events >= OPTIMIZE_FROM_EVENTS and "ROOT" not in sys.modules:
        os.environ.setdefault("EXTRA_CLING_ARGS", "-O2")


def prepare_inputs(options: dict, resolve=resolve_samples, branches=inputs.REQUIRED_BRANCHES,
                   missing_branches_hint: str | None = None) -> tuple[list[inputs.Sample], float]:
    """The samples ready to read (resolved, copied into --cache-dir, checked) and the seconds spent preparing them.

    Generating the demo set or copying remote files is not part of the set-up time: the seconds it took come
    back separately. ``resolve(options)`` gives the samples and ``branches`` the columns their files must have
    (the I/O-only mode has its own of both, and a hint for files that lack some: inputs.check_files).
    """
    start = time.perf_counter()
    samples = resolve(options)
    optimize_jitted_code(sum(s.nevts for s in samples))
    if options["cache_dir"]:
        from . import remote

        samples = remote.localize(samples, Path(options["cache_dir"]))
    if options["deliver_cache"]:  # deliver what is missing, then read only the delivered files (delivery.py)
        from . import delivery

        samples, report = delivery.deliver_cache(samples, Path(options["deliver_cache"]), tree=options["tree"])
        if report.delivered:
            print(delivery.summary(report, Path(options["deliver_cache"])), file=sys.stderr, flush=True)
    preparation_s = time.perf_counter() - start
    inputs.check_files(samples, options["tree"], branches, missing_branches_hint)
    return samples, preparation_s


def run(options: dict) -> dict:
    """Run the whole job; returns the metrics (also written to metrics.json)."""
    if options.get("io_only"):
        from . import io_only

        return io_only.run(options)
    output_dir = Path(options["output_dir"])
    samples, preparation_s = prepare_inputs(options)
    import ROOT  # noqa: F401  (import cost is part of the set-up time)

    from . import execution, graph, histograms

    execution.configure_threads(options["mt"])
    executor = execution.Executor(options["scheduler"], options["ncores"], options["scheduler_address"],
                                  options["npartitions"])
    with staged_outputs(output_dir) as staging, execution.RDFTiming() as timing:
        with execution.event_loop_errors(executor):
            booked = [graph.book_sample(s, executor.dataframe(s.files, options["tree"])) for s in samples]
            graph.book_variations(booked)  # jits the code of all graphs
            setup_s = time.perf_counter() - START_TIME - timing.jit_s - preparation_s
            stats = execution.run_graphs(booked, timing, executor)
            n_cores = executor.cores
        hists = histograms.collect(booked)
        histograms.write(hists, staging / "histograms.root")

        fit_summary, fit_s, plots_s = None, 0.0, 0.0
        t = time.perf_counter()
        from . import plots

        plots.plot_histograms(staging / "histograms.root", staging / "plots")
        if options["fit"]:
            from . import inference

            t_fit = time.perf_counter()
            fit_summary = inference.run_fit(staging / "histograms.root", staging, plots_dir=staging / "plots")
            fit_s = time.perf_counter() - t_fit
        plots_s = time.perf_counter() - t - fit_s

        metrics = make_metrics(samples, booked, stats, n_cores, setup_s, fit_s, plots_s, options["scheduler"])
        metrics["wall_time_s"]["input_preparation"] = round(preparation_s, 3)
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print_summary(metrics, fit_summary, output_dir)
    return metrics


def make_metrics(samples, booked, stats, n_threads, setup_s, fit_s, plots_s, scheduler="mt") -> dict:
    processing_s = stats.jit_s + stats.event_loop_s
    return {
        "mode": "analysis",
        "wall_time_s": {
            "setup": round(setup_s, 3),
            "jitting": round(stats.jit_s, 3),
            "event_loop": round(stats.event_loop_s, 3),
            "fit": round(fit_s, 3),
            "plots": round(plots_s, 3),
            "total": round(time.perf_counter() - START_TIME, 3),
        },
        "events_processed": stats.events,
        "event_rate_hz": stats.events / stats.event_loop_s if stats.event_loop_s else None,
        "event_rate_per_core_hz": stats.events / stats.event_loop_s / n_threads if stats.event_loop_s else None,
        "event_rate_incl_jitting_hz": stats.events / processing_s if processing_s else None,
        "cores": n_threads,
        "scheduler": scheduler,
        "bytes_read": stats.bytes_read,
        "files": sum(len(s.files) for s in samples),
        "samples": {b.sample.name: int(b.count.GetValue()) for b in booked},
    }


def print_summary(metrics: dict, fit_summary: dict | None, output_dir: Path) -> None:
    t = metrics["wall_time_s"]
    rate = metrics["event_rate_hz"] or 0.0
    print(f"\nrdf_ttbar: processed {metrics['events_processed']:,} events from {metrics['files']} files "
          f"in {t['event_loop']:.1f} s ({rate / 1e3:,.1f} kHz, "
          f"{(metrics['event_rate_per_core_hz'] or 0.0) / 1e3:,.1f} kHz per core on {metrics['cores']} cores; "
          f"jitting {t['jitting']:.1f} s, set-up {t['setup']:.1f} s, total {t['total']:.1f} s)")
    if metrics["bytes_read"] is not None:
        print(f"rdf_ttbar: read {metrics['bytes_read'] / 1e6:,.1f} MB")
    if fit_summary:
        poi = fit_summary["ttbar_norm"]
        print(f"rdf_ttbar: ttbar_norm = {poi['value']:.3f} +- {poi['uncertainty']:.3f}")
    print(f"rdf_ttbar: outputs in {output_dir}/ ({', '.join(n for n in OUTPUTS if (output_dir / n).exists())})")
