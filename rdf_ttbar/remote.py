"""Remote input files (root://, https://, http://): client time-outs, up-front checks, local cache.

- ``configure_client()``: short XRootD client time-outs unless the user set them
  (environment variables ``XRD_*``), so that an unreachable server fails in
  about 10-20 s instead of the client's default of several minutes. It must run
  before the first remote access of the process; ``check_remote`` and
  ``localize`` call it, and worker processes that this process starts
  (``--scheduler dask-local``) inherit the settings.
- ``check_remote(entries, tree, branches)``: opens every remote file up front,
  several at a time, and returns one problem per unusable file with the
  server's own reason ("no such file or directory", "Connection error", ...).
- ``localize(samples, cache_dir)`` (``--cache-dir``): copies every remote file
  once into the cache and returns the samples with their files pointing at the
  local copies. A copy is written under a temporary name in the same folder,
  checked against the remote size and renamed at the end, so an interrupted
  copy never looks complete; a file already in the cache is used without any
  network access.

Everything is done with ROOT's own I/O (the ``root`` wheel reads root:// with
XRootD and http(s):// with TWebFile, once ``_HTTP_PLUGIN_FIX`` has repaired its
plug-in entry): no ``xrdcp`` or XRootD Python bindings are needed.
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import os
import re
import sys
import time
import urllib.parse
from pathlib import Path

from .errors import UserError
from .inputs import is_remote, missing_branches_problem

# XRootD client settings used unless set in the environment (seconds / counts):
CLIENT_DEFAULTS = {
    "XRD_CONNECTIONWINDOW": "10",  # one connection attempt may take this long
    "XRD_CONNECTIONRETRY": "2",  # attempts before a server counts as unreachable (client default: 5 x 120 s)
    "XRD_STREAMTIMEOUT": "30",  # a connection with pending requests and no traffic is broken after this
    "XRD_REQUESTTIMEOUT": "120",  # one request (open, read) fails after this (client default: 1800 s)
    "XRD_TIMEOUTRESOLUTION": "1",  # how often the client checks its time-outs (client default: 15 s)
}
CHECK_THREADS = 8  # remote files opened at the same time by check_remote
COPY_CHUNK = 16 * 1024 * 1024  # bytes per read request while copying into the cache

_CPP = r"""
#ifndef RDF_TTBAR_REMOTE_HELPERS
#define RDF_TTBAR_REMOTE_HELPERS
#include <TError.h>
#include <TFile.h>
#include <TROOT.h>
#include <TVirtualMutex.h>
#include <TKey.h>
#include <TTree.h>
#include <atomic>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace rdf_ttbar_remote {

// ROOT's error messages of a thread, captured between StartCapture() and StopCapture() in that thread
// (a map keyed by thread id: cling's support of thread_local is unreliable)
inline std::mutex gCaptureMutex;
inline std::map<std::thread::id, std::string> gCaptured;
inline ErrorHandlerFunc_t gPrevious = nullptr;

// While gFatalReadErrors > 0 (an event loop runs), an I/O error ends the event loop with a
// ReadError exception instead of letting ROOT go on with missing data (and crash or skip entries).
struct ReadError : std::runtime_error {
   using std::runtime_error::runtime_error;
};
inline std::atomic<int> gFatalReadErrors{0};

inline bool IsIOError(Int_t level, const char *location)
{
   if (level < kError || level >= kFatal || !location)
      return false;
   static const char *const kClasses[] = {"TNetXNGFile", "TWebFile",  "TDavixFile", "TFile",   "TBasket", "TBranch",
                                          "TTree",       "TChain",    "TKey",       "TBuffer", "TLeaf",   "TStreamerInfo"};
   // never throw out of clean-up code (destructors: std::terminate)
   static const char *const kCleanup[] = {"Close", "~", "Write", "Flush", "Delete", "Clear", "Reset", "Cleanup"};
   for (const char *c : kCleanup)
      if (std::strstr(location, c))
         return false;
   for (const char *c : kClasses)
      if (std::strncmp(location, c, std::strlen(c)) == 0)
         return true;
   return false;
}

inline void CaptureHandler(Int_t level, Bool_t abort, const char *location, const char *msg)
{
   if (gFatalReadErrors > 0 && IsIOError(level, location) && std::uncaught_exceptions() == 0) {
      std::string m(msg ? msg : "");
      while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
         m.pop_back();
      if (gPrevious)  // still show ROOT's own message
         gPrevious(level, abort, location, msg);
      throw ReadError(std::string(location) + ": " + m);
   }
   {
      std::lock_guard<std::mutex> lock(gCaptureMutex);
      auto it = gCaptured.find(std::this_thread::get_id());
      if (it != gCaptured.end()) {
         if (level >= kError && msg && *msg) {
            std::string m(msg);
            while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
               m.pop_back();
            if (it->second.find(m) == std::string::npos)
               it->second += (it->second.empty() ? "" : "; ") + m;
         }
         if (level < kFatal)
            return;
      }
   }
   if (gPrevious)
      gPrevious(level, abort, location, msg);
   else
      DefaultErrorHandler(level, abort, location, msg);
}

// The handler is installed only while it is needed (Acquire/Release): a handler in jitted code must
// not outlive the interpreter (ROOT closes files at exit, and may print while doing so).
inline std::mutex gInstallMutex;
inline int gUsers = 0;

inline void Acquire()
{
   std::lock_guard<std::mutex> lock(gInstallMutex);
   if (gUsers++ == 0) {
      auto current = GetErrorHandler();
      if (current != &CaptureHandler)
         gPrevious = current;
      SetErrorHandler(&CaptureHandler);
   }
}

inline void Release()
{
   std::lock_guard<std::mutex> lock(gInstallMutex);
   if (gUsers > 0 && --gUsers == 0)
      SetErrorHandler(gPrevious ? gPrevious : &DefaultErrorHandler);
}

inline void StartCapture()
{
   std::lock_guard<std::mutex> lock(gCaptureMutex);
   auto inserted = gCaptured.emplace(std::this_thread::get_id(), std::string());
   if (inserted.second)
      Acquire();
   else
      inserted.first->second.clear();
}

inline std::string StopCapture()
{
   std::lock_guard<std::mutex> lock(gCaptureMutex);
   auto it = gCaptured.find(std::this_thread::get_id());
   if (it == gCaptured.end())
      return "";
   std::string out = std::move(it->second);
   gCaptured.erase(it);
   Release();
   return out;
}

inline void BeginFatalReadErrors()
{
   Acquire();
   ++gFatalReadErrors;
}

inline void EndFatalReadErrors()
{
   if (gFatalReadErrors > 0) {
      --gFatalReadErrors;
      Release();
   }
}

// Close a file and take it off ROOT's list of files. A remote file that failed during a read
// is a zombie: TFile::Close then returns at once and leaves it on the list, and ROOT's clean-up
// at exit crashes on it once it has been deleted (ROOT 6.40).
inline void Forget(TFile *f)
{
   if (!f)
      return;
   f->Close();
   R__LOCKGUARD(gROOTMutex);
   gROOT->GetListOfFiles()->Remove(f);
}

struct ProbeResult {
   std::string problem;              // empty: the file is usable (unless branches are missing)
   std::vector<std::string> missing; // the branches asked for that the tree lacks
   Long64_t size = -1;
};

// Open one file; with a tree name, check the tree (and, if wanted, the branches).
inline ProbeResult Probe(const std::string &url, const std::string &tree, bool checkBranches,
                         const std::vector<std::string> &branches)
{
   ProbeResult r;
   StartCapture();
   std::unique_ptr<TFile> f(TFile::Open(url.c_str(), "READ"));
   if (!f || f->IsZombie()) {
      Forget(f.get());
      std::string why = StopCapture();
      r.problem = "cannot be opened (" + (why.empty() ? std::string("missing, unreachable or corrupt") : why) + ")";
      return r;
   }
   r.size = f->GetSize();
   if (!tree.empty()) {
      auto *t = f->Get<TTree>(tree.c_str());
      if (!t) {
         std::string keys;
         for (auto *k : TRangeDynCast<TKey>(f->GetListOfKeys()))
            if (k)
               keys += (keys.empty() ? "" : ", ") + std::string(k->GetName());
         r.problem = "has no TTree '" + tree + "' (keys: " + (keys.empty() ? "none" : keys) +
                     "); set the tree name with --tree";
      } else if (checkBranches) {
         for (const auto &b : branches)
            if (!t->GetBranch(b.c_str()))
               r.missing.push_back(b);
      }
   }
   StopCapture();
   if (r.problem.empty() && r.missing.empty() && f->TestBit(TFile::kRecovered))
      r.problem = "is truncated or was not closed properly (ROOT had to recover its keys)";
   Forget(f.get());
   return r;
}

// Probe all files, nThreads at a time (the first one alone: it loads the plugins and finds
// an unreachable server once; the client then fails the others at once).
inline std::vector<ProbeResult> ProbeAll(const std::vector<std::string> &urls, const std::vector<int> &checkBranches,
                                         const std::string &tree, const std::vector<std::string> &branches,
                                         int nThreads)
{
   std::vector<ProbeResult> out(urls.size());
   if (urls.empty())
      return out;
   out[0] = Probe(urls[0], tree, checkBranches[0], branches);
   std::atomic<size_t> next{1};
   auto work = [&]() {
      for (size_t i = next++; i < urls.size(); i = next++)
         out[i] = Probe(urls[i], tree, checkBranches[i], branches);
   };
   std::vector<std::thread> pool;
   for (int i = 1; i < nThreads && size_t(i) < urls.size() - 1; ++i)
      pool.emplace_back(work);
   work();
   for (auto &t : pool)
      t.join();
   return out;
}

} // namespace rdf_ttbar_remote
#endif
"""

_declared = False


def configure_client() -> dict:
    """Set the XRootD client's time-outs (``CLIENT_DEFAULTS``) where the environment does not.

    The client reads them once, at its first use in the process. Returns the settings in force.
    """
    for key, value in CLIENT_DEFAULTS.items():
        if not os.environ.get(key):
            os.environ[key] = value
    return {key: os.environ[key] for key in CLIENT_DEFAULTS}


# ROOT 6.40 registers its http(s):// file class under its new namespace with the constructor
# "ROOT::Deprecated::TWebFile(const char*,Option_t*)", which the plugin manager cannot find: every
# TFile::Open of an http(s) URL fails. Register it again with the constructor's plain name.
_HTTP_PLUGIN_FIX = """
import ROOT
handler = ROOT.gPluginMgr.FindHandler("TFile", "http://host/file.root")
if handler and handler.GetClass() == "ROOT::Deprecated::TWebFile":
    ROOT.gPluginMgr.RemoveHandler("TFile", "^http[s]?:")
    ROOT.gPluginMgr.AddHandler("TFile", "^http[s]?:", "ROOT::Deprecated::TWebFile", "Net",
                               "TWebFile(const char*,Option_t*)")
"""


def _root():
    """ROOT with the helpers of this module declared (and http(s) file access repaired)."""
    global _declared
    configure_client()
    import ROOT

    if not _declared:
        exec(_HTTP_PLUGIN_FIX, {})
        if not ROOT.gInterpreter.Declare(_CPP):
            raise RuntimeError("ROOT could not compile rdf_ttbar.remote's helpers")
        # the probes run in C++ threads: let them, and let the Python thread wait without the GIL
        ROOT.rdf_ttbar_remote.ProbeAll.__release_gil__ = True
        _declared = True
    return ROOT


# ---------------------------------------------------------------------------- up-front check
def check_remote(entries: list[tuple[str, bool]], tree: str, branches) -> list[str]:
    """Open every remote file (``(url, check_branches)``) and return "URL: problem" for each unusable one."""
    if not entries:
        return []
    merged: dict[str, bool] = {}
    for url, check_branches in entries:  # a file shared by several samples is opened once
        merged[url] = merged.get(url, False) or check_branches
    ROOT = _root()
    if len(merged) > 1:
        ROOT.EnableThreadSafety()
    urls = list(merged)
    results = ROOT.rdf_ttbar_remote.ProbeAll(
        ROOT.std.vector[ROOT.std.string](urls), ROOT.std.vector[int]([int(merged[u]) for u in urls]), tree,
        ROOT.std.vector[ROOT.std.string](list(branches)), CHECK_THREADS)
    problems = []
    for url, r in zip(urls, results):
        problem = str(r.problem) or (missing_branches_problem(tree, [str(b) for b in r.missing]) if r.missing.size()
                                     else "")
        if problem:
            problems.append(f"{url}: {problem}")
    return problems


class fatal_read_errors:
    """While active, an I/O error in ROOT (a remote server gone, a damaged basket) ends the event loop
    with an exception (``ReadError``) instead of letting ROOT continue with missing data, where it can
    crash or silently skip entries. Wrap ``RDF.RunGraphs`` (or any event loop) in it."""

    def __enter__(self):
        self.ROOT = _root()
        self.ROOT.rdf_ttbar_remote.BeginFatalReadErrors()
        return self

    def __exit__(self, *exc):
        self.ROOT.rdf_ttbar_remote.EndFatalReadErrors()


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
    # ROOT reuses a graph and clones its results when a worker runs a second task of the same
    # graph; with VariationsFor results this crashes the worker (ROOT 6.40): one fresh graph per task
    from ROOT._distrdf import _graph_cache
    _graph_cache._ACTIONS_REGISTER.clear()
    _graph_cache._RDF_REGISTER.clear()
    import ROOT
    ROOT.gInterpreter.Declare({cpp!r})
    if ROOT.rdf_ttbar_remote.gFatalReadErrors.load() == 0:  # for the life of the worker process
        import atexit
        ROOT.rdf_ttbar_remote.BeginFatalReadErrors()
        atexit.register(ROOT.rdf_ttbar_remote.EndFatalReadErrors)
    exec({http_fix!r}, {{}})
"""


def setup_dask_workers() -> None:
    """Prepare every task of a distributed RDataFrame on the Dask workers (call once the client exists).

    At the start of each task, on the worker: the XRootD client time-outs of
    ``configure_client`` (unless set there), I/O errors that end the task with an
    exception (``fatal_read_errors``) instead of crashing the worker, and an empty
    distributed-RDF graph cache (the reused graph of a second task crashes the
    worker when the graph has VariationsFor results, ROOT 6.40) and working
    http(s):// access (``_HTTP_PLUGIN_FIX``). The code runs
    through ``exec`` (a builtin), so the workers need neither rdf_ttbar nor this
    file, only ROOT.
    """
    import ROOT

    code = _WORKER_SETUP.format(defaults=CLIENT_DEFAULTS, cpp=_CPP, http_fix=_HTTP_PLUGIN_FIX)
    ROOT.RDF.Distributed.initialize(exec, code, {})  # also runs here: a no-op outside a worker


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
    ROOT = _root()
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(target)
    tmp = _temporary_name(target)
    ROOT.rdf_ttbar_remote.StartCapture()
    source = None
    try:
        try:
            source = ROOT.TFile.Open(url, "READ")  # a ROOT file: a damaged one is not copied
        except OSError:
            source = None
        if not source or source.IsZombie():
            raise CopyError(f"cannot be opened ({str(ROOT.rdf_ttbar_remote.StopCapture()) or 'unknown error'})")
        buffer = ctypes.create_string_buffer(min(COPY_CHUNK, max(size, 1)))
        done = 0
        with open(tmp, "wb") as out:
            while done < size:
                n = min(len(buffer), size - done)
                if source.ReadBuffer(buffer, done, n):  # kTRUE: error
                    why = str(ROOT.rdf_ttbar_remote.StopCapture()) or "read error"
                    raise CopyError(f"reading failed after {done} of {size} bytes ({why})")
                out.write(memoryview(buffer)[:n])
                done += n
                advance(n)
        if tmp.stat().st_size != size:
            raise CopyError(f"the copy has {tmp.stat().st_size} bytes, the remote file {size}")
        os.replace(tmp, target)
    finally:
        ROOT.rdf_ttbar_remote.StopCapture()
        if source:
            ROOT.rdf_ttbar_remote.Forget(source)
        tmp.unlink(missing_ok=True)


def localize(samples, cache_dir: Path, progress: bool | None = None):
    """The samples with every remote file replaced by its copy in ``cache_dir`` (copied if missing).

    ``progress``: show a progress bar in bytes (default: when stderr is a terminal);
    a one-line summary is printed either way when something was copied.
    Raises one UserError naming every file that could not be copied.
    """
    cache_dir = Path(cache_dir).expanduser()
    local = {url: cache_path(url, cache_dir) for s in samples for url in s.files if is_remote(url)}
    missing = {url: path for url, path in local.items() if not path.is_file()}
    if missing:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"cannot create the cache folder {cache_dir} ({err}); choose another --cache-dir") from None
        _copy_all(missing, cache_dir, progress)
    return [dataclasses.replace(s, files=[str(local.get(f, f)) for f in s.files]) for s in samples]


def _copy_all(missing: dict[str, Path], cache_dir: Path, progress: bool | None) -> None:
    ROOT = _root()
    start = time.perf_counter()
    # 1) open them all first: an unreachable server or a missing file is reported before any copying
    urls = list(missing)
    if len(urls) > 1:
        ROOT.EnableThreadSafety()
    probes = ROOT.rdf_ttbar_remote.ProbeAll(
        ROOT.std.vector[ROOT.std.string](urls), ROOT.std.vector[int]([0] * len(urls)),
        "", ROOT.std.vector[ROOT.std.string](), CHECK_THREADS)
    problems, sizes = [], {}
    for url, probe in zip(urls, probes):
        if str(probe.problem):
            problems.append(f"{url}: {str(probe.problem)}")
        elif probe.size < 0:
            problems.append(f"{url}: the server does not tell the file's size")
        else:
            sizes[url] = int(probe.size)
    # 2) copy the readable ones
    total = sum(sizes.values())
    bar = _progress_bar(total, len(sizes), cache_dir, progress)
    try:
        for url, size in sizes.items():
            try:
                copy_file(url, size, missing[url], bar.update)
            except (CopyError, OSError) as err:
                problems.append(f"{url}: {err}")
    finally:
        bar.close()
    copied = len(sizes) - sum(1 for u in sizes if not missing[u].is_file())
    if copied:
        seconds = time.perf_counter() - start
        print(f"rdf_ttbar: copied {copied} remote file(s), {total / 1e6:,.1f} MB, into {cache_dir} "
              f"in {seconds:.1f} s", file=sys.stderr, flush=True)
    if problems:
        listing = "\n  ".join(problems)
        raise UserError(f"{len(problems)} remote input file(s) could not be copied into the cache {cache_dir}:\n"
                        f"  {listing}\nCheck the server and the paths in the input list; files copied so far "
                        "stay in the cache and are not copied again.")


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
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, dynamic_ncols=True,
                desc=f"rdf_ttbar: caching {n_files} file(s) in {cache_dir}")
