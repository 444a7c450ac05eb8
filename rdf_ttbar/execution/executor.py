"""Running the event loops: threads, all graphs at once, timing and I/O counters."""

from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from .. import cpp
from ..config import SCHEDULERS
from ..errors import UserError
from . import workers

log = logging.getLogger(__name__)


@dataclass
class LoopStats:
    """What the event loops cost."""

    jit_s: float  # RDataFrame's just-in-time compilation
    event_loop_s: float  # the event loops proper (wall time of RunGraphs minus jitting)
    events: int  # events read from the input files
    bytes_read: int | None  # bytes read from the input files (on Dask: by the workers); None: not counted (RNTuple)
    bytes_downloaded: int = 0  # bytes the read-ahead stager copied from remote files in this run (staging.py)


def configure_threads(mt: int) -> int:
    """Set ROOT's implicit multi-threading: 0 = all cores, 1 = none; returns the pool size."""
    import ROOT

    if ROOT.IsImplicitMTEnabled():
        ROOT.DisableImplicitMT()
    if mt == 1:
        return 1
    if mt == 0:
        ROOT.EnableImplicitMT()
    else:
        ROOT.EnableImplicitMT(mt)
    size = ROOT.GetThreadPoolSize()
    if mt > size:  # ROOT caps the pool at the cores it may use, silently
        log.warning("--mt %d is more threads than the %d cores available here: running %d threads", mt, size, size)
    return size


class Executor:
    """Where the event loops run: this process ("mt"), a Dask cluster or a Spark cluster.

    ``dataframe(sample, tree)`` makes the sample's RDataFrame: a local one for
    "mt" (None: graph.book_sample makes it), a distributed one otherwise,
    with the C++ helpers (cpp/'s and ``headers``, the analysis definition's) shipped to every worker, and a copy
    of the definition's data ``files`` (found through $RDF_TTBAR_DATA_PATH where the path is missing), of which
    the xgboost ``models`` ((key, path) pairs) are handed to the C++ there (analysis/forest.py).
    ``client``: the Dask client, ``spark``: the SparkContext (None where not that engine).
    """

    def __init__(
        self,
        scheduler: str = "mt",
        ncores: int = 0,
        address: str | None = None,
        npartitions: int | None = None,
        headers: tuple[str, ...] = (),
        files: tuple[str, ...] = (),
        models: tuple[tuple[str, str], ...] = (),
    ):
        if scheduler not in SCHEDULERS:
            raise UserError(f"unknown scheduler '{scheduler}': choose one of {', '.join(SCHEDULERS)}")
        self.scheduler, self.npartitions = scheduler, npartitions
        self.client = self.cluster = self.spark = None
        self.owns_spark = False
        if scheduler == "mt":
            return
        if scheduler.startswith("spark"):
            self._start_spark(ncores, address, headers, files, models)
            return
        from dask.distributed import Client

        from . import dask_cluster

        if scheduler == "dask-local":
            self.cluster = dask_cluster.LocalClusterWithScratch(ncores or os.cpu_count() or 1)
            self.client = Client(self.cluster.cluster)
        else:
            if not address:
                raise UserError("--scheduler dask-remote needs --scheduler-address tcp://HOST:PORT")
            dask_cluster.check_scheduler(address)  # something else there makes Client wait for ever
            timeout = f"{dask_cluster.CONNECT_TIMEOUT_S:.0f}s"
            try:
                self.client = Client(address, timeout=timeout)
            except OSError as err:
                raise UserError(
                    f"cannot reach the Dask scheduler at {address} ({err}); start it with "
                    "'dask scheduler' or fix --scheduler-address"
                ) from None
        try:
            dask_cluster.prepare_workers(self.client)  # before ROOT first runs there (its warning, jitting times)
            ship_task_setup("dask", cpp.header_paths(headers), models)
            for path in files:  # the definition's data files (the v2 models) into every worker's folder
                self.client.upload_file(path, load=False)
        except BaseException:
            self.close()
            raise

    def _start_spark(
        self, ncores: int, address: str | None, headers: tuple[str, ...], files: tuple[str, ...], models: tuple = ()
    ):
        from . import spark_cluster

        context, self.owns_spark = spark_cluster.spark_context(self.scheduler, ncores, address)
        self.spark = context
        try:
            ship_task_setup("spark", cpp.header_paths(headers), models)
            for path in files:  # the definition's data files (the v2 models) into every worker's SparkFiles folder
                context.addFile(str(path))
        except BaseException:
            self.close()
            raise

    @property
    def distributed(self) -> bool:
        return self.client is not None or self.spark is not None

    @property
    def cores(self) -> int:
        if self.spark is not None:
            return int(self.spark.defaultParallelism)
        if self.client is None:
            import ROOT

            return max(ROOT.GetThreadPoolSize(), 1)
        return sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values())

    def dataframe(self, files: list[str], tree: str):
        import ROOT

        if not self.distributed:
            return ROOT.RDataFrame(tree, ROOT.std.vector[ROOT.std.string](files))
        kwargs = {"npartitions": self.npartitions} if self.npartitions else {}
        return ROOT.RDataFrame(tree, files, executor=self.client or self.spark, **kwargs)

    def close(self) -> None:
        try:
            if self.client is not None:
                self.client.close()
            if self.spark is not None and self.owns_spark:
                self.spark.stop()
        finally:
            if self.cluster is not None:
                self.cluster.close()
        self.client = self.cluster = self.spark = None


def ship_task_setup(engine: str, headers, models: tuple = ()) -> None:
    """The workers' set-up at the start of every task (workers.py): the XRootD client's time-outs, the ROOT
    workarounds, cpp/remote.h and then the C++ ``headers`` (cpp/'s, with the definition's own), and the xgboost
    ``models`` ((key, path)) handed to cpp/ml.h."""
    import ROOT

    from ..inputs import probe

    paths = [cpp.cpp_dir() / probe.HEADER, *headers]
    ROOT.RDF.Distributed.initialize(*workers.task_setup(engine, paths, probe.CLIENT_DEFAULTS, models))


@contextmanager
def event_loop_errors(executor: "Executor"):
    """Booking and running the loops: ROOT's C++ exceptions become one UserError; the executor is closed.

    A failed just-in-time compilation is reported by ROOT as "the lines above might indicate the cause": the
    message quotes those lines (what ROOT wrote to stderr meanwhile, stderr_tail.py).
    """
    from .stderr_tail import StderrTail

    tail = StderrTail()
    try:
        with tail:
            yield
    except UserError:
        raise
    except Exception as err:  # ROOT's C++ exceptions arrive as Python exceptions
        text = str(err).strip()
        if getattr(executor, "spark", None) is not None:  # a Java exception, with the task's Python one inside
            from .spark_cluster import task_error

            text = task_error(text)
        lines = tail.lines() if JIT_FAILED in text else []
        above = "".join(f"\n  {line}" for line in lines)
        raise UserError(
            f"the event loop failed: {text}"
            + (f"\nROOT's messages before the error:{above}" if above else "")
            + "\nCheck that the input files are readable and complete (and the server reachable)."
        ) from None
    finally:
        executor.close()


JIT_FAILED = "error occurred during just-in-time compilation"  # RDataFrame's words for a failed jitting


def run_graphs(booked: list, timing: "RDFTiming", executor: Executor, progress: bool | None = None) -> LoopStats:
    """Start the event loops of all samples together (RDF's RunGraphs).

    ``progress`` draws a progress bar on stderr (default: when stderr is a terminal): events for
    threads, finished samples on Dask and Spark.

    On Dask the workers jit and read: ``jit_s`` is the jitting the workers report, summed over all
    tasks and divided by the number of workers (each task jits its graph again; with the tasks spread
    evenly, the wall time the cluster spent jitting), ``bytes_read`` the sum of the workers' ROOT read
    counters; both count the workers present when the executor started. On Spark neither is counted:
    the workers' jitting is in ``event_loop_s`` and ``bytes_read`` is None.
    """
    import ROOT

    distributed = executor.distributed
    if progress is None:
        progress = sys.stderr.isatty()
    if progress and not distributed:  # one bar for all loops (ROOT's own bar draws one line per concurrent loop)
        ROOT.rdf_ttbar.progress_bar().Start(sum(b.sample.nevts for b in booked))
        for b in booked:
            ROOT.rdf_ttbar.report_progress(b.count, 10_000)
    display: AbstractContextManager[Any]
    if executor.client is not None:
        from . import dask_cluster

        before = dask_cluster.worker_counters(executor.client)
        display = dask_cluster.quiet_progress(len(booked), draw=progress)
    elif executor.spark is not None:
        from . import spark_cluster

        display = spark_cluster.quiet_progress(len(booked), draw=progress)
    else:
        display = nullcontext()
    jit_before = timing.jit_s
    from ..inputs import remote, staging

    bytes_before = ROOT.TFile.GetFileBytesRead()
    start = time.perf_counter()
    with display, remote.fatal_read_errors():  # a failed read raises instead of crashing ROOT
        ROOT.RDF.RunGraphs([h for b in booked for h in b.handles()])
    wall = time.perf_counter() - start
    if progress and not distributed:
        ROOT.rdf_ttbar.progress_bar().Finish()
    events = sum(int(b.count.GetValue()) for b in booked)
    downloaded = staging.bytes_copied()  # by the read-ahead stager (not in ROOT's read counter: cpp/stage.h)
    bytes_read: int | None
    if executor.client is not None:
        worker_jit, bytes_read = dask_cluster.counters_difference(before, dask_cluster.worker_counters(executor.client))
        loop_jit = worker_jit / max(executor.cores, 1)
    elif distributed:  # Spark's workers are not asked: their jitting counts in the event loop, their reads not at all
        loop_jit, bytes_read = 0.0, None
    else:
        loop_jit = timing.jit_s - jit_before
        bytes_read = int(ROOT.TFile.GetFileBytesRead() - bytes_before)
    if events and not bytes_read:
        # ROOT's TFile counter misses what RNTuple reads (through its own raw-file layer): not counted, not 0
        bytes_read = None
    return LoopStats(
        jit_s=timing.jit_s + (loop_jit if distributed else 0.0),
        event_loop_s=max(wall - loop_jit, 0.0),
        events=events,
        bytes_read=bytes_read,
        bytes_downloaded=downloaded,
    )


class RDFTiming:
    """Collect RDataFrame's timing messages while active (cpp/rdf_log.h).

    RDF jits the graphs' code when VariationsFor is called or the loops start;
    ``jit_s`` adds up what RDF itself reports for those phases.
    """

    _collector: Any = None  # one per process: ROOT's log manager owns it

    def __enter__(self):
        import ROOT

        cpp.declare()
        if RDFTiming._collector is None:
            RDFTiming._collector = ROOT.rdf_ttbar.install_timing_log()
        self._start = RDFTiming._collector.fJitSeconds
        self._verbosity = ROOT.ROOT.RLogScopedVerbosity(ROOT.Detail.RDF.RDFLogChannel(), ROOT.ROOT.ELogLevel.kInfo)
        return self

    @property
    def jit_s(self) -> float:
        return RDFTiming._collector.fJitSeconds - self._start

    def __exit__(self, *exc):
        del self._verbosity
