"""Remote input files (root://, https://, http://): the local cache and the Dask workers' set-up.

- ``localize(samples, cache_dir)`` (``--cache-dir``): copies every remote file
  once into the cache and returns the samples with their files pointing at the
  local copies. A copy is written under a temporary name in the same folder,
  checked against the remote size and renamed at the end, so an interrupted
  copy never looks complete; a file already in the cache is used without any
  network access once it has been checked to open as a ROOT file (a damaged
  copy is copied again).
- ``fatal_read_errors``: I/O errors end an event loop with an exception.
- ``setup_dask_workers(headers)``: the same client time-outs and fixes on Dask workers, and the C++ helpers.

Opening and checking files is ``probe.py``'s job (the layer below, with the C++ of cpp/remote.h).
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import logging
import os
import re
import sys
import time
import urllib.parse
from pathlib import Path

from ..analysis import forest
from ..errors import UserError
from . import probe
from .probe import is_remote

log = logging.getLogger(__name__)

COPY_CHUNK = 16 * 1024 * 1024  # bytes per read request while copying into the cache


_crash_folder = ""  # the run's staging folder (remove_on_crash)


def remove_on_crash(folder) -> None:
    """The run's staging folder (None: none), removed when ROOT crashes after a read error (cpp/remote.h)."""
    global _crash_folder
    _crash_folder = str(folder) if folder else ""


class fatal_read_errors:
    """While active, an I/O error in ROOT (a remote server gone, a damaged basket) ends the event loop
    with an exception (``ReadError``) instead of letting ROOT continue with missing data, where it can
    crash or silently skip entries. Wrap ``RDF.RunGraphs`` (or any event loop) in it."""

    def __enter__(self):
        self.ROOT = probe.root()
        self.ROOT.rdf_ttbar.remote.BeginFatalReadErrors(_crash_folder)
        return self

    def __exit__(self, *exc):
        self.ROOT.rdf_ttbar.remote.EndFatalReadErrors()


# ---------------------------------------------------------------------------- Dask workers
_WORKER_SETUP = """
import os
for key, value in {defaults!r}.items():
    if not os.environ.get(key):
        os.environ[key] = value
try:
    from distributed import get_worker
    get_worker()
    in_worker = True
except Exception:
    in_worker = False
if in_worker:
    # the analysis' data files uploaded to this worker (Executor) are in its folder: found there by their name
    # where their path does not exist (analysis/forest.py)
    os.environ.setdefault("RDF_TTBAR_DATA_PATH", get_worker().local_directory)
    # ROOT reuses a graph and clones its results when a worker runs a second task of the same
    # graph; with VariationsFor results this crashes the worker (ROOT 6.40): one fresh graph per task
    from ROOT._distrdf import _graph_cache
    _graph_cache._ACTIONS_REGISTER.clear()
    _graph_cache._RDF_REGISTER.clear()
    import ROOT
    ROOT.gInterpreter.Declare({cpp!r})  # the text of cpp/remote.h
    ROOT.rdf_ttbar.remote.ForgetReadError()  # a new task
    if ROOT.rdf_ttbar.remote.gFatalReadErrors.load() == 0:  # for the life of the worker process
        import atexit
        ROOT.rdf_ttbar.remote.BeginFatalReadErrors()
        atexit.register(ROOT.rdf_ttbar.remote.EndFatalReadErrors)
    exec({http_fix!r}, {{}})
    exec({force_remote!r}, {{}})
    for name, text in {helpers!r}:  # the analysis's C++ helpers, each behind its own include guard
        if not ROOT.gInterpreter.Declare(text):
            raise RuntimeError(
                f"rdf_ttbar's C++ helper {{name}} did not compile on this Dask worker "
                "(the worker's log shows the compiler's messages)"
            )
    if {models!r}:  # the xgboost models, read from the uploaded copies and handed to cpp/ml.h, once per process
        forest = {{}}
        exec({forest!r}, forest)
        for key, path in {models!r}:
            forest["register"](key, path)
"""


def setup_dask_workers(headers: list[Path], models: tuple[tuple[str, str], ...] = ()) -> None:
    """Prepare every task of a distributed RDataFrame on the Dask workers (call once the client exists).

    At the start of each task, on the worker: the XRootD client time-outs of
    ``configure_client`` (unless set there), I/O errors that end the task with an
    exception (``fatal_read_errors``) instead of crashing the worker, and an empty
    distributed-RDF graph cache (the reused graph of a second task crashes the
    worker when the graph has VariationsFor results, ROOT 6.40) and working
    http(s):// access (``probe.HTTP_PLUGIN_FIX``); then the C++ ``headers`` the
    graph calls, in their order, each checked: a helper that does not compile
    there ends the task with an error that names it (RDataFrame's own
    DistributeHeaders declares them in a set's order and ignores a failure, which
    left only a failed jitting of the graph to report). The code runs through
    ``exec`` (a builtin) and carries the text of cpp/remote.h and of the headers,
    so the workers need neither rdf_ttbar nor its files, only ROOT; and the xgboost ``models`` ((key, path):
    the path's uploaded copy is found by its name) with the text of analysis/forest.py that reads them.
    """
    import ROOT

    code = _WORKER_SETUP.format(
        defaults=probe.CLIENT_DEFAULTS,
        cpp=probe.header_text(),
        http_fix=probe.HTTP_PLUGIN_FIX,
        force_remote=probe.FORCE_REMOTE,
        helpers=[(p.name, _guarded(_without_includes_of(p.read_text(), {h.name for h in headers}))) for p in headers],
        models=list(models),
        forest=Path(forest.__file__).read_text() if models else "",
    )
    ROOT.RDF.Distributed.initialize(exec, code, {})  # also runs here: a no-op outside a worker


def _without_includes_of(text: str, names: set[str]) -> str:
    """The C++ text without its ``#include "NAME"`` lines of the shipped headers (declared before it, in order:
    as text they have no file beside it to be found in)."""
    pattern = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)
    return pattern.sub(lambda m: f"// (shipped) {m.group(0).strip()}" if m.group(1) in names else m.group(0), text)


def _guarded(text: str) -> str:
    """The C++ text behind an include guard of its own hash: declared again by the next task, it is skipped."""
    guard = "RDF_TTBAR_SHIPPED_" + hashlib.sha256(text.encode()).hexdigest()[:20]
    return f"#ifndef {guard}\n#define {guard}\n{text}\n#endif\n"


# ---------------------------------------------------------------------------- cache
def cache_path(url: str, cache_dir: Path) -> Path:
    """The stable local name of ``url`` in the cache: ``cache_dir/HOST[_PORT]/PATH``.

    The scheme is left out (an XRootD server serves the same file over root:// and
    https://); characters other than letters, digits and ``._+-`` become ``_``, and
    then, like a query string, add a hash of the URL to the name so that different
    URLs never share a copy.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "localhost"
    if parts.port:
        host += f"_{parts.port}"
    segments = [s for s in parts.path.split("/") if s not in ("", ".", "..")] or ["file"]
    clean = [re.sub(r"[^A-Za-z0-9._+-]", "_", s) for s in segments]
    if clean != segments or parts.query or parts.fragment:
        digest = hashlib.sha1(url.encode()).hexdigest()[:10]
        stem, dot, suffix = clean[-1].rpartition(".")
        clean[-1] = f"{stem}-{digest}.{suffix}" if dot and stem else f"{clean[-1]}-{digest}"
    clean = [s if not s.startswith(".") else "_" + s[1:] for s in clean]  # no hidden names (temporaries are)
    return Path(cache_dir, re.sub(r"[^A-Za-z0-9._+-]", "_", host), *clean)


def _temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.part-{os.getpid()}")


def _remove_stale_temporaries(target: Path) -> None:
    """Delete temporaries of ``target`` left by copies whose process is gone (killed runs)."""
    for tmp in target.parent.glob(f".{target.name}.part-*"):
        try:
            pid = int(tmp.name.rsplit("-", 1)[1])
            if pid != os.getpid():
                os.kill(pid, 0)
                continue  # another live run is copying it
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue
        tmp.unlink(missing_ok=True)


class CopyError(Exception):
    pass


def copy_file(url: str, size: int, target: Path, advance=lambda n: None) -> None:
    """Copy ``url`` (``size`` bytes) to ``target``: temporary name, size check, rename."""
    ROOT = probe.root()
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(target)
    tmp = _temporary_name(target)
    ROOT.rdf_ttbar.remote.StartCapture()
    source = None
    try:
        try:
            source = ROOT.TFile.Open(url, "READ")  # a ROOT file: a damaged one is not copied
        except OSError:
            source = None
        if not source or source.IsZombie():
            raise CopyError(f"cannot be opened ({str(ROOT.rdf_ttbar.remote.StopCapture()) or 'unknown error'})")
        buffer = ctypes.create_string_buffer(min(COPY_CHUNK, max(size, 1)))
        done = 0
        with open(tmp, "wb") as out:
            while done < size:
                n = min(len(buffer), size - done)
                if source.ReadBuffer(buffer, done, n):  # kTRUE: error
                    why = str(ROOT.rdf_ttbar.remote.StopCapture()) or "read error"
                    raise CopyError(f"reading failed after {done} of {size} bytes ({why})")
                out.write(memoryview(buffer)[:n])
                done += n
                advance(n)
        if tmp.stat().st_size != size:
            raise CopyError(f"the copy has {tmp.stat().st_size} bytes, the remote file {size}")
        os.replace(tmp, target)
    finally:
        ROOT.rdf_ttbar.remote.StopCapture()
        if source:
            ROOT.rdf_ttbar.remote.Forget(source)
        tmp.unlink(missing_ok=True)


def localize(samples, cache_dir: Path, progress: bool | None = None):
    """The samples with every remote file replaced by its copy in ``cache_dir`` (copied if missing).

    A copy already in the cache is opened first: one that is not a readable ROOT
    file (damaged, truncated) is copied again. ``progress``: show a progress bar
    in bytes (default: when stderr is a terminal); a one-line summary of what was
    copied in this run is printed either way when something was copied.
    Raises one UserError naming every file that could not be copied.
    """
    cache_dir = Path(cache_dir).expanduser()
    local = {url: cache_path(url, cache_dir) for s in samples for url in s.files if is_remote(url)}
    missing = {url: path for url, path in local.items() if not path.is_file()}
    cached = {url: path for url, path in local.items() if url not in missing}
    for url, check in zip(cached, probe.probe([str(p) for p in cached.values()])):
        if check.problem:
            log.info("the cached copy %s of %s %s: copying it again", cached[url], url, check.problem)
            missing[url] = cached[url]
    if missing:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"cannot create the cache folder {cache_dir} ({err}); choose another --cache-dir") from None
        _copy_all(missing, cache_dir, progress)
    return [dataclasses.replace(s, files=[str(local.get(f, f)) for f in s.files]) for s in samples]


def _copy_all(missing: dict[str, Path], cache_dir: Path, progress: bool | None) -> None:
    start = time.perf_counter()
    # 1) open them all first: an unreachable server or a missing file is reported before any copying
    problems, sizes = [], {}
    for check in probe.probe(list(missing)):
        if check.problem:
            problems.append(f"{check.path}: {check.problem}")
        elif check.size < 0:
            problems.append(f"{check.path}: the server does not tell the file's size")
        else:
            sizes[check.path] = check.size
    # 2) copy the readable ones
    bar = _progress_bar(sum(sizes.values()), len(sizes), cache_dir, progress)
    copied, copied_bytes = 0, 0
    try:
        for url, size in sizes.items():
            try:
                copy_file(url, size, missing[url], bar.update)
                copied, copied_bytes = copied + 1, copied_bytes + size
            except (CopyError, OSError) as err:
                problems.append(f"{url}: {err}")
    finally:
        bar.close()
    if copied:
        seconds = time.perf_counter() - start
        log.info(
            "copied %d remote file(s), %s MB, into %s in %.1f s",
            copied,
            f"{copied_bytes / 1e6:,.1f}",
            cache_dir,
            seconds,
        )
    if problems:
        raise UserError.listing(
            problems,
            f"remote input file(s) could not be copied into the cache {cache_dir}",
            "Check the server and the paths in the input list; files copied so far "
            "stay in the cache and are not copied again.",
        )


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress_bar(total: int, n_files: int, cache_dir: Path, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress or not total:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        dynamic_ncols=True,
        desc=f"rdf_ttbar: caching {n_files} file(s) in {cache_dir}",
    )
