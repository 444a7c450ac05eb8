"""Running the event loops: threads, all graphs at once, timing and I/O counters."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from . import cpp


@dataclass
class LoopStats:
    """What the event loops cost."""

    jit_s: float  # RDataFrame's just-in-time compilation
    event_loop_s: float  # the event loops proper (wall time of RunGraphs minus jitting)
    events: int  # events read from the input files
    bytes_read: int  # bytes read from the input files


def configure_threads(mt: int) -> int:
    """Set ROOT's implicit multi-threading: 0 = all cores, 1 = none; returns the pool size."""
    import ROOT

    if mt == 1:
        ROOT.DisableImplicitMT()
        return 1
    if ROOT.IsImplicitMTEnabled():
        ROOT.DisableImplicitMT()
    if mt == 0:
        ROOT.EnableImplicitMT()
    else:
        ROOT.EnableImplicitMT(mt)
    return ROOT.GetThreadPoolSize()


def run_local(booked: list, timing: "RDFTiming", progress: bool | None = None) -> LoopStats:
    """Start the event loops of all samples together (RDF's RunGraphs).

    ``progress`` adds ROOT's RDF progress bar (default: when stdout is a terminal).
    """
    import ROOT

    if progress is None:
        progress = sys.stdout.isatty()
    if progress:
        for b in booked:
            ROOT.RDF.Experimental.AddProgressBar(ROOT.RDF.AsRNode(b.dataframe))
    jit_before = timing.jit_s
    bytes_before = ROOT.TFile.GetFileBytesRead()
    start = time.perf_counter()
    ROOT.RDF.RunGraphs([h for b in booked for h in b.handles()])
    wall = time.perf_counter() - start
    jit = timing.jit_s - jit_before
    return LoopStats(
        jit_s=timing.jit_s,
        event_loop_s=max(wall - jit, 0.0),
        events=sum(int(b.count.GetValue()) for b in booked),
        bytes_read=int(ROOT.TFile.GetFileBytesRead() - bytes_before),
    )


class RDFTiming:
    """Collect RDataFrame's timing messages while active (cpp/rdf_log.h).

    RDF jits the graphs' code when VariationsFor is called or the loops start;
    ``jit_s`` adds up what RDF itself reports for those phases.
    """

    _collector = None  # one per process: ROOT's log manager owns it

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
