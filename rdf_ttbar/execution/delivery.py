"""Data delivery: skim every input file once into a local folder (the seed's ServiceX step, on RDataFrame).

Each input file becomes one delivered file ``DIR/files/<stem>-<hash>.root`` that holds

- the events that pass the selection under at least one jet-pT variation, and only those
  (``preselect``: the argument is written there), and
- only the columns the analysis reads (``Analysis.columns_read()``, with ``run``,
  ``luminosityBlock`` and ``event`` for the resolution factors; RDataFrame's Snapshot adds the
  ``nJet``-style counters of a TTree), all jets of a kept event, in their stored order and with
  the input's types: the analysis of the delivered files gives the same 124 histograms.

Resuming: every delivered file is written under a temporary name, checked (it opens, it holds
the number of entries the event loop kept, nothing was reported while writing) and renamed; a
stamp ``<name>.root.json`` written after it records the input's identity (path, size, mtime;
a remote file is taken as immutable), ``STAMP_VERSION``, the preselection, the columns and the
format, and the file's size and checksum. A file is used again only if its stamp says it was
made from the same input by the same preselection and the file matches the stamp; anything
else (no stamp, an older version, a changed input, a truncated or damaged file) is delivered
again. A run that fails (full disk, unreadable input) leaves only complete, stamped files
besides temporaries, which the next run removes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .. import cpp, inputs, interrupts
from ..analysis import Analysis, nodes
from ..analysis.model import Define
from ..errors import UserError, note_kept
from .delivery_stamps import (
    delivered_name,
    expected_stamp,
    input_identity,
    read_stamp,
    remove_stale_temporaries,
    stamp_path,
    temporary_name,
    write_stamp,
)

log = logging.getLogger(__name__)

FORMATS = ("ttree", "rntuple")
# measured (README "Data delivery"): the event loop over RNTuple files takes 0.5x the direct one, over TTree
# files 0.7x, and the RNTuple files are 30% smaller; distributed RDataFrame (ROOT 6.40) snapshots TTrees only
DEFAULT_FORMAT = "rntuple"
DASK_FORMAT = "ttree"
FILES_DIR = "files"
BATCH_FILES = 8  # input files whose event loops run together: memory stays flat in the number of files
PROGRESS_EVERY = 10_000
GUARD_HEADER = "delivery_guard.h"  # declared by the delivery only


# ---------------------------------------------------------------------------- the preselection
# Why it is exact. An event enters a histogram only if it passes the selection for the columns of the
# histogram's variation; the weight variations change weights, never the selection. The preselection
# (analysis.nodes.preselection, derived from the definition) applies the filters that read no varied
# column as they are, and ORs the others over the nominal and every variation of a column they read
# (the jet pT), each computed with the very expressions the analysis books from the same stored values
# (all jets are kept, in order): exactly "passes under some variation", not a bound. The same
# preselection is applied to every file, also to files of samples that the analysis reads at nominal
# only (alternative samples), so that a file shared by samples is delivered once.
def preselection_id(analysis: Analysis) -> str:
    """What the stamps record of the preselection: a change of its code or of its helpers changes it."""
    steps = nodes.preselection(analysis)
    text = "\n".join([repr(steps)] + [cpp.header_path(h).read_text() for h in ("graph.h", *analysis.headers)])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def preselect(dataframe, analysis: Analysis):
    """The events that pass the selection of ``analysis`` under at least one variation (see above)."""
    cpp.declare(analysis.headers)
    for step in nodes.preselection(analysis):
        if isinstance(step, Define):
            dataframe = dataframe.Define(step.name, step.expression)
        else:
            dataframe = dataframe.Filter(step.expression, step.name)
    return dataframe


# ---------------------------------------------------------------------------- delivering
@dataclass
class Job:
    """One input file to deliver."""

    source: str
    output: Path
    expected: dict  # what its stamp must say (delivery_stamps.expected_stamp)
    estimated_events: int  # for the progress bar
    analysis: Analysis  # whose preselection and columns
    stamp: dict | None = None  # set once delivered


@dataclass
class Report:
    """What a delivery did."""

    files: int  # distinct input files
    delivered: int  # files delivered by this run (the others were up to date)
    events_in: int
    events_out: int
    bytes_in: int
    bytes_out: int
    seconds: float
    stamps: dict  # input path -> stamp


def plan(samples: list[inputs.Sample], output_dir: Path, tree: str, fmt: str, analysis: Analysis) -> list[Job]:
    """One job per distinct input file; those already delivered carry their stamp."""
    jobs: dict[str, Job] = {}
    preselection = preselection_id(analysis)
    columns = tuple(analysis.columns_read())
    for s in samples:
        for path in s.files:
            if path in jobs:
                continue
            try:
                identity = input_identity(path)
            except OSError as err:
                raise UserError(f"input file {path} cannot be read ({err.strerror}): fix the input list") from None
            output = output_dir / FILES_DIR / delivered_name(path)
            job = Job(
                path,
                output,
                expected_stamp(identity, preselection, columns, tree, fmt),
                s.nevts // max(len(s.files), 1),
                analysis,
            )
            job.stamp = read_stamp(output, job.expected)
            jobs[path] = job
    return list(jobs.values())


def deliver(
    samples: list[inputs.Sample],
    output_dir: Path,
    *,
    tree: str = "Events",
    fmt: str | None = None,
    executor=None,
    progress: bool | None = None,
    analysis: Analysis,
) -> Report:
    """Deliver every input file of ``samples`` not yet delivered into ``output_dir/files``, for the
    selection and columns of ``analysis`` (the run's definition).

    ``executor``: an ``execution.Executor`` for Dask (None or "mt": in this process, with ROOT's
    implicit multi-threading as configured). ``fmt``: "rntuple" or "ttree"; None: DEFAULT_FORMAT, on Dask
    DASK_FORMAT (the only one it can write). ``progress``: a progress bar on stderr (default: when
    it is a terminal). Raises one UserError naming the files that could not be delivered; the files
    delivered until then are kept.
    """
    distributed = getattr(executor, "client", None) is not None
    fmt = fmt or (DASK_FORMAT if distributed else DEFAULT_FORMAT)
    if fmt not in FORMATS:
        raise UserError(f"unknown delivery format '{fmt}': choose one of {', '.join(FORMATS)}")
    if distributed and fmt != DASK_FORMAT:
        raise UserError(
            f"--format {fmt} cannot be delivered on Dask: distributed RDataFrame's Snapshot "
            f"(ROOT 6.40) writes TTrees only; use --format {DASK_FORMAT} there (the default on Dask), "
            "or --scheduler mt"
        )
    output_dir = Path(output_dir).expanduser()
    try:
        (output_dir / FILES_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(
            f"cannot create the delivery folder {output_dir} ({err.strerror}); choose another one"
        ) from None
    start = time.perf_counter()
    remove_stale_temporaries(output_dir / FILES_DIR)
    jobs = plan(samples, output_dir, tree, fmt, analysis)
    todo = [j for j in jobs if j.stamp is None]
    if todo:
        columns = tuple(analysis.columns_read())
        inputs.check_files([dataclasses.replace(samples[0], files=[j.source for j in todo])], tree, columns)
        interrupts.check()
        _run(todo, tree, fmt, executor, progress)
    stamps: dict[str, dict] = {}
    for j in jobs:
        assert j.stamp is not None  # _run delivered and stamped every job, or raised
        stamps[j.source] = j.stamp
    return Report(
        files=len(jobs),
        delivered=len(todo),
        events_in=sum(s["entries_in"] for s in stamps.values()),
        events_out=sum(s["entries_out"] for s in stamps.values()),
        bytes_in=sum(s["bytes_in"] for s in stamps.values()),
        bytes_out=sum(s["bytes_out"] for s in stamps.values()),
        seconds=time.perf_counter() - start,
        stamps=stamps,
    )


def _run(todo: list[Job], tree: str, fmt: str, executor, progress: bool | None) -> None:
    """The event loops: BATCH_FILES files at a time (one RDataFrame each, run together)."""
    import ROOT

    from ..inputs import remote

    cpp.declare()
    client = executor.client if executor is not None else None
    if progress is None:
        progress = sys.stderr.isatty() and client is None
    batch = BATCH_FILES if client is None else max(BATCH_FILES, 2 * executor.cores)
    if progress:
        ROOT.rdf_ttbar.progress_bar().Start(sum(j.estimated_events for j in todo))
    problems = []
    try:
        for first in range(0, len(todo), batch):
            booked = [_book(job, tree, fmt, client, progress) for job in todo[first : first + batch]]
            try:
                with (
                    remote.fatal_read_errors(),
                    _WriteErrors() as write_errors,
                    _CrashGuard(todo[first:], progress),
                    _dask_progress(client, len(booked)),
                ):
                    ROOT.RDF.RunGraphs([h for b in booked for h in b[1:]])
            except Exception as err:  # noqa: BLE001 (ROOT's C++ exceptions: reported with the files)
                problems += [f"{b[0].source}: {err}" for b in booked]
                _discard(booked)
                break
            # drop every handle on the event loop before the files are checked: an RNTuple is completed on disk
            # only when its writer (held by the Snapshot's result) is destroyed
            booked = [(b[0], int(b[1].GetValue()), int(b[2].GetValue()), None) for b in booked]
            gc.collect()
            problems += _finish(booked, tree, fmt, write_errors.messages)
            if problems:
                break
            interrupts.check()  # between batches: every file of the batch is delivered and stamped
    except KeyboardInterrupt as err:  # Ctrl-C, SIGTERM, SIGHUP (cli.Terminated): keep what is finished and stamped
        for job in todo:
            for path in _written(job):
                path.unlink(missing_ok=True)
            if job.stamp is None and not stamp_path(job.output).exists():  # renamed, not yet stamped: unusable
                job.output.unlink(missing_ok=True)
        done = [j for j in todo if j.stamp is not None]
        folder = todo[0].output.parent
        raise note_kept(
            err,
            f"{len(done)} of the {len(todo)} file(s) to deliver were delivered and are kept in "
            f"{folder}; a re-run delivers the rest",
        ) from None
    finally:
        if progress:
            ROOT.rdf_ttbar.progress_bar().Finish()
    if problems:
        raise UserError.listing(
            problems,
            "input file(s) could not be delivered",
            "Check the inputs and the free space where the files go; a re-run delivers the rest "
            "(files delivered so far are kept).",
        )


def _dask_progress(client, graphs: int):
    """On Dask: distributed RDataFrame's progress bars replaced by rdf_ttbar's one line (on a terminal only)."""
    if client is None:
        return contextlib.nullcontext()
    from . import dask_cluster

    return dask_cluster.quiet_progress(graphs, draw=sys.stderr.isatty())


def _book(job: Job, tree: str, fmt: str, client, progress: bool) -> tuple:
    import ROOT

    if client is None:
        df = ROOT.RDataFrame(tree, job.source)
    else:  # one partition: one output file per input file
        df = ROOT.RDataFrame(tree, [job.source], executor=client, npartitions=1)
    n_in = df.Count()
    if progress:
        ROOT.rdf_ttbar.report_progress(n_in, PROGRESS_EVERY)
    kept = preselect(df, job.analysis)
    n_out = kept.Count()
    options = ROOT.RDF.RSnapshotOptions()
    options.fLazy = True
    if fmt == "rntuple":
        options.fOutputFormat = ROOT.RDF.ESnapshotOutputFormat.kRNTuple
    tmp = temporary_name(job.output)
    snapshot = kept.Snapshot(tree, str(tmp), job.analysis.columns_read(), options)
    return job, n_in, n_out, snapshot


def _written(job: Job) -> list[Path]:
    """What the snapshot of ``job`` wrote: its temporary (distributed RDF appends _<partition>)."""
    tmp = temporary_name(job.output)
    return [p for p in (tmp, *tmp.parent.glob(f"{tmp.stem}_*.root")) if p.exists()]


def _discard(booked: list) -> None:
    for b in booked:
        for p in _written(b[0]):
            p.unlink(missing_ok=True)


def _finish(booked: list, tree: str, fmt: str, write_errors: str) -> list[str]:
    """Check each written file, rename it into place, stamp it; the problems of those that fail."""
    from .delivery_stamps import entries

    problems = []
    for job, n_in, n_out, _ in booked:
        written = _written(job)
        found = entries(written[0], tree, fmt) if len(written) == 1 else None
        if write_errors or found != n_out:
            why = write_errors or (
                f"{len(written)} files written instead of one"
                if len(written) != 1
                else f"the written file holds {found} entries, the event loop kept {n_out}"
            )
            problems.append(f"{job.source}: writing {job.output.name} failed ({why})")
            for p in written:
                p.unlink(missing_ok=True)
            continue
        identity = job.expected["input"]
        try:
            os.replace(written[0], job.output)
            job.stamp = write_stamp(
                job.output, job.expected, n_in, n_out, identity.get("size") or _remote_size(job.source)
            )
        except OSError as err:  # a full disk while writing the stamp: the file is not delivered
            problems.append(f"{job.source}: writing {job.output.name} failed ({err.strerror or err})")
            for p in (written[0], job.output, stamp_path(job.output)):
                p.unlink(missing_ok=True)
    return problems


def _remote_size(url: str) -> int:
    import ROOT

    f = ROOT.TFile.Open(url, "READ")
    try:
        return int(f.GetSize()) if f else 0
    finally:
        if f:
            f.Close()


class _CrashGuard:
    """While active, ROOT's terminate after a failed write is one error line (cpp/delivery_guard.h).

    A full disk makes ROOT end the process (std::terminate) from code that no exception handler reaches
    (the Snapshot writer reopening its zombie output, RNTuple's writer throwing from a destructor, a
    read-error exception out of TBufferMerger): the guard then removes the temporaries, prints one
    ``rdf_ttbar: error:`` line and exits with status 2; any other terminate is left to ROOT.
    """

    def __init__(self, remaining: list[Job], progress: bool):
        self.remaining, self.progress = remaining, progress

    def __enter__(self):
        import ROOT

        cpp.declare_header(GUARD_HEADER)
        self.guard = ROOT.rdf_ttbar.delivery_guard
        folder = self.remaining[0].output.parent
        temporaries = "\n".join(str(temporary_name(j.output)) for j in self.remaining)
        self.guard.Begin(str(folder), f"{len(self.remaining)} input file(s)", temporaries, bool(self.progress))
        return self

    def __exit__(self, *exc):
        self.guard.End()


class _WriteErrors:
    """ROOT's error messages about writing files while active (a full disk, a quota): ``messages``."""

    def __enter__(self):
        import ROOT

        self.ROOT = ROOT
        ROOT.rdf_ttbar.delivery.write_errors().Start()
        self.messages = ""
        return self

    def __exit__(self, *exc):
        self.messages = str(self.ROOT.rdf_ttbar.delivery.write_errors().Stop())
