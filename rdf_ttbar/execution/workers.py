"""What runs on the distributed workers (Dask, Spark): their set-up, as code of this module.

- ``task_setup(engine, headers)``: what ROOT's ``RDF.Distributed.initialize`` runs at the start of
  every task: ``setup_task(TaskSetup)``. On the worker it sets the XRootD client's time-outs (unless
  set there), makes the analysis' data files found in the worker's folder, applies the ROOT
  workarounds (``root_fixes``: the version-guarded ones of every process, and a fresh graph per task),
  declares the C++ headers, and makes I/O errors end the task with an exception instead of crashing
  the worker (cpp/remote.h).
- the headers travel as files: their bytes are written once per worker into a folder named by their
  hash, in the worker's own folder, and each is ``#include``-d from there, in order (like ROOT's
  ``DistributeHeaders``, which declares them in a set's order and ignores a failure): a header that
  does not compile ends the task with an error that names it (the compiler's messages are in the
  worker's log). The headers find each other beside themselves, as in cpp/.
- the same set-up collects RDataFrame's jitting times on the worker (cpp/rdf_log.h); ``counters()`` reads
  them and ROOT's bytes-read counter back from each Dask worker (``Client.run``), and ``prepare_process``
  imports ROOT there without its pre-release warning before the first task.

How the code reaches the workers: ``remote_call(engine, function, *args)`` pickles the call by value
(cloudpickle, with this module and ``root_fixes`` registered by value; Spark's own copy of cloudpickle
for Spark) into bytes whose unpickling runs it, and returns ``(pickle.loads, those bytes)``, a call that
any pickler sends by reference. So the workers need ROOT, the engine and Python's standard library, not
rdf_ttbar. This module therefore imports only the standard library at its top, and ``root_fixes``
(itself shipped by value).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import os
import pickle
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..analysis import forest
from ..root_fixes import fresh_graph_per_task, in_every_process

DATA_PATH = "RDF_TTBAR_DATA_PATH"  # where cpp/ml.h looks for a data file whose path is missing


@dataclass(frozen=True)
class TaskSetup:
    """What every task needs on its worker (see the module's docstring)."""

    engine: str  # "dask" or "spark"
    environment: tuple[tuple[str, str], ...]  # defaults of environment variables (the XRootD client's)
    headers: tuple[tuple[str, bytes], ...]  # (file name, contents), declared in this order
    models: tuple[tuple[str, str], ...] = ()  # xgboost models (key, path) handed to cpp/ml.h (analysis/forest.py)


class _Call:
    """A call that happens when its pickle is loaded (``remote_call``)."""

    def __init__(self, function, args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def remote_call(engine: str, function, *args) -> tuple:
    """``(pickle.loads, data)``: loading ``data`` on a worker calls ``function(*args)`` there (by value)."""
    cloudpickle = importlib.import_module("pyspark.cloudpickle" if engine == "spark" else "cloudpickle")
    modules = [sys.modules[__name__], sys.modules[fresh_graph_per_task.__module__], sys.modules[forest.__name__]]
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        return pickle.loads, cloudpickle.dumps(_Call(function, args))
    finally:
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)


def task_setup(engine: str, headers: list[Path], environment: dict[str, str], models=()) -> tuple:
    """The arguments of ``ROOT.RDF.Distributed.initialize`` that run ``setup_task`` at the start of every task."""
    spec = TaskSetup(
        engine,
        tuple(environment.items()),
        tuple((p.name, p.read_bytes()) for p in headers),
        tuple(models),
    )
    names = [name for name, _ in spec.headers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"two C++ headers with the same file name cannot both go to the workers: {duplicates}")
    return remote_call(engine, setup_task, spec)


# ---------------------------------------------------------------------------- on the worker
def worker_folder(engine: str) -> Path | None:
    """This worker's own folder (Dask's local directory, Spark's SparkFiles root); None outside a worker."""
    if engine == "dask":
        try:
            from distributed import get_worker

            return Path(get_worker().local_directory)
        except (ImportError, ValueError):
            return None
    try:
        from pyspark import SparkFiles, TaskContext
    except ImportError:
        return None
    return Path(SparkFiles.getRootDirectory()) if TaskContext.get() is not None else None


def setup_task(spec: TaskSetup) -> None:
    """At the start of a task on a worker (a no-op elsewhere: ROOT also runs it in the client)."""
    folder = worker_folder(spec.engine)
    if folder is None:
        return
    for key, value in spec.environment:
        if not os.environ.get(key):
            os.environ[key] = value  # before the XRootD client's first use in this process
    # the analysis' data files uploaded to this worker are in its folder, found there by name where their
    # path does not exist (cpp/ml.h)
    os.environ.setdefault(DATA_PATH, str(folder))
    import ROOT

    fresh_graph_per_task(ROOT)
    in_every_process(ROOT)
    declare_headers(ROOT, folder, spec.headers, spec.engine)
    for key, path in spec.models:  # the uploaded copies, found by name in the worker's folder
        forest.register(key, path)
    collect_jitting_times(ROOT)
    ROOT.rdf_ttbar.remote.ForgetReadError()  # a new task
    if ROOT.rdf_ttbar.remote.gFatalReadErrors.load() == 0:  # for the life of the worker process
        ROOT.rdf_ttbar.remote.BeginFatalReadErrors()
        atexit.register(ROOT.rdf_ttbar.remote.EndFatalReadErrors)


def header_folder(folder: Path, headers: tuple[tuple[str, bytes], ...]) -> Path:
    """The headers as files in ``folder/rdf_ttbar-headers-HASH`` (written once, complete or not at all)."""
    digest = hashlib.sha256(b"".join(name.encode() + b"\0" + text for name, text in headers)).hexdigest()[:20]
    target = folder / f"rdf_ttbar-headers-{digest}"
    if not target.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=folder))
        for name, text in headers:
            (partial / name).write_bytes(text)
        try:
            partial.rename(target)
        except OSError:  # another task of this worker was faster
            shutil.rmtree(partial, ignore_errors=True)
    return target


def declare_headers(ROOT, folder: Path, headers: tuple[tuple[str, bytes], ...], engine: str) -> None:
    """``#include`` each header from its file, once per process (a guard of its hash); a failure names it."""
    where = header_folder(folder, headers)
    for name, text in headers:
        guard = "RDF_TTBAR_SHIPPED_" + hashlib.sha256(name.encode() + b"\0" + text).hexdigest()[:20]
        code = f'#ifndef {guard}\n#include "{where / name}"\n#define {guard}\n#endif\n'
        if not ROOT.gInterpreter.Declare(code):
            raise RuntimeError(
                f"rdf_ttbar's C++ helper {name} did not compile on this {engine.capitalize()} worker "
                "(the worker's log shows the compiler's messages)"
            )


def collect_jitting_times(ROOT) -> None:
    """RDataFrame's jitting times collected for the life of the worker (cpp/rdf_log.h, once per process)."""
    if hasattr(ROOT.rdf_ttbar, "install_timing_log"):  # rdf_log.h is among the headers
        ROOT.rdf_ttbar.install_timing_log()
        ROOT.Detail.RDF.RDFLogChannel().SetVerbosity(ROOT.ROOT.ELogLevel.kInfo)


def prepare_process(pre_release: str) -> None:
    """Once per Dask worker, before ROOT is first imported there: ROOT imported without its pre-release warning
    (a worker that cannot import ROOT fails here, before any task)."""
    warnings.filterwarnings("ignore", message=pre_release, category=UserWarning)
    import ROOT  # noqa: F401


def counters() -> tuple[float, int]:
    """This worker's jitting seconds and ROOT's bytes read so far (an AttributeError before its first task)."""
    import ROOT

    return float(ROOT.rdf_ttbar.jit_seconds()), int(ROOT.TFile.GetFileBytesRead())
