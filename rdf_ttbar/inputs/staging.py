"""Remote inputs at local speed: the read-ahead stager (the C++ is cpp/stage.h).

An event loop that reads a remote file itself waits one round trip for every cluster it reads, and opening a
file costs several more: over a wide-area link (100 ms) that made the loop 8x slower than on local disk. The
stager instead, for the XRootD (root://) files of a ``--scheduler mt`` run (``--remote-read stage``, the default;
other remote files are read directly):

- opens every remote file, ``PROBE_THREADS`` at a time, for the up-front check (``check_files`` takes its results
  through ``Stager.probe``);
- copies the files to local disk with the XRootD client, ``COPY_THREADS`` at a time in ``CHUNK_BYTES`` reads, in the
  order the event loops will want them (the first file of every sample, then the second, ...; and when a loop opens
  a file, the next few of its sample), from the moment the check has passed;
- gives the event loops ``rdfstage://COPY`` names (``Stager.staged``): ROOT opens them through the ``StagedFile``
  plug-in, which waits until that copy is complete (a file the loops wait for is copied next). RNTuple files are
  read through ROOT's own raw-file layer, which knows no plug-ins: their copies are awaited before the loops start.

The loops then read local disk while the next files arrive, so the histograms are those of the local files, bit
for bit. Without ``--cache-dir`` the copies are temporary: a folder ``rdf_ttbar-stage-PID-*`` in the system's
temporary directory, removed when the run ends (a folder left by a killed run is removed by the next run), and
holding at most ``BUDGET_FRACTION`` of that disk's free space: copies the loops have closed are deleted, oldest
first, to make room (and copied again if a loop opens them again). With ``--cache-dir`` the copies go into the
cache, under the names of ``remote.cache_path``, and stay; each is written under a temporary name and renamed
when complete, so an interrupted copy never looks complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import cpp
from ..errors import UserError
from . import probe as probing
from .probe import Probe

PROBE_THREADS = 256  # remote files opened at the same time (each open waits several round trips)
COPY_THREADS = 32  # copies at the same time (each waits a round trip per read)
CHUNK_BYTES = 4 << 20  # bytes per read request of a copy
BUDGET_FRACTION = 0.5  # of the temporary folder's free space, for temporary copies
SCHEME = "rdfstage://"
HEADER = "stage.h"
FOLDER_PREFIX = "rdf_ttbar-stage-"

_plugin_registered = False
_active: "Stager | None" = None  # the stager of the run in progress (original_files)


def xrootd_headers() -> Path | None:
    """The folder of the XRootD client's headers (``XrdCl/XrdClFile.hh``: the copies use the client directly), in the
    ``root`` wheel or beside the interpreter (conda-forge); None: not installed, nothing is staged."""
    import sys

    import ROOT

    for base in (Path(str(ROOT.gROOT.GetIncludeDir())), Path(sys.prefix, "include")):
        if (base / "xrootd" / "XrdCl" / "XrdClFile.hh").is_file():
            return base / "xrootd"
    return None


def stageable(path: str) -> bool:
    """Whether the stager copies ``path``: an XRootD (root://) URL; other remote files are read directly."""
    return path.startswith("root://")


def _root():
    """ROOT with cpp/stage.h declared and the ``rdfstage://`` plug-in registered."""
    global _plugin_registered
    ROOT = probing.root()
    if not _plugin_registered:
        ROOT.gInterpreter.AddIncludePath(str(xrootd_headers()))
        cpp.declare_header(HEADER)
        ROOT.rdf_ttbar.stage.RegisterPlugin()
        for method in ("WaitProbed", "WaitReady"):  # they wait on C++ threads: without the GIL
            getattr(ROOT.rdf_ttbar.stage.Stager, method).__release_gil__ = True
        _plugin_registered = True
    return ROOT


def read_order(samples) -> list[str]:
    """The remote files of ``samples`` in the order the event loops want them: every sample's first, then every
    sample's second, ... (the loops of all samples run together); each once."""
    order: list[str] = []
    seen: set[str] = set()
    for i in range(max((len(s.files) for s in samples), default=0)):
        for s in samples:
            if i < len(s.files) and stageable(s.files[i]) and s.files[i] not in seen:
                seen.add(s.files[i])
                order.append(s.files[i])
    return order


def next_files(samples) -> dict[str, str]:
    """Every remote file's successor in its sample (the event loop of a sample reads its files one after another,
    so the stager copies the next ones ahead of the one the loop opens)."""
    following: dict[str, str] = {}
    for s in samples:
        remote_files = [f for f in s.files if stageable(f)]
        for a, b in zip(remote_files, remote_files[1:]):
            following.setdefault(a, b)
    return following


class Stager:
    """The stager of the remote files of ``samples``; ``close()`` it at the end (it stops the copies and removes
    temporary copies). ``cache_dir``: copy into this cache and keep the copies; None: temporary copies."""

    def __init__(self, samples, cache_dir: Path | None = None):
        from .remote import cache_path

        self.order = read_order(samples)  # the remote files, in the order to copy them
        self.next = next_files(samples)  # each one's successor in its sample
        self.keep = cache_dir is not None
        if cache_dir is not None:
            self.folder = Path(cache_dir)
        else:
            remove_stale_folders()
            self.folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
        self.local = {url: cache_path(url, self.folder) for url in self.order}
        try:
            for path in {p.parent for p in self.local.values()}:
                path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            self.close()
            where = f"the cache folder {self.folder}" if self.keep else f"the temporary folder {self.folder}"
            fix = "choose another --cache-dir" if self.keep else "set TMPDIR to a writable folder"
            raise UserError(f"cannot create {where} for the remote input files ({err}); {fix}") from None
        self.kinds: dict[str, str] = {}
        self._handle: Any = None

    def probe(self, paths: list[str], tree: str = "", branches_for: dict | None = None) -> list[Probe]:
        """``probe.probe`` of ``paths``, whose remote files are opened by the stager, which then starts copying them
        (``check_files(..., probe=stager.probe)``)."""
        branches_for = branches_for or {}
        staged = [p for p in paths if p in self.local]
        results = {p.path: p for p in probing.probe([p for p in paths if p not in self.local], tree, branches_for)}
        if staged:
            results.update(zip(staged, self._start(staged, tree, branches_for)))
        self.kinds = {path: r.kind for path, r in results.items()}
        return [results[p] for p in paths]

    def _start(self, paths: list[str], tree: str, branches_for: dict) -> list[Probe]:
        ROOT = _root()
        ROOT.EnableThreadSafety()
        for url in {p.split("//", 1)[0] + "//host/file.root" for p in paths}:  # load the I/O plug-ins here, once
            handler = ROOT.gPluginMgr.FindHandler("TFile", url)
            if handler:
                handler.LoadPlugin()
        wanted = sorted({b for bs in branches_for.values() for b in bs})
        position = {p: i for i, p in enumerate(paths)}
        strings = ROOT.std.vector[ROOT.std.string]
        ints = ROOT.std.vector[int]
        global _active
        _active = self
        self._started = time.perf_counter()
        self._handle = ROOT.rdf_ttbar.stage.StartStager(
            strings(paths),
            strings([str(self.local[p]) for p in paths]),
            ints([int(bool(branches_for.get(p))) for p in paths]),
            ints([position[u] for u in self.order if u in position]),
            ints([position.get(self.next.get(p, ""), -1) for p in paths]),
            tree,
            strings(wanted),
            PROBE_THREADS,
            COPY_THREADS,
            CHUNK_BYTES,
            -1 if self.keep else budget(self.folder),
            self.keep,
        )
        out = []
        for path, r in zip(paths, self._handle.WaitProbed()):
            asked = branches_for.get(path, ())
            missing = {str(b) for b in r.missing}
            found = [b for b in asked if b in missing]
            out.append(Probe(path, str(r.problem), str(r.kind), int(r.entries), int(r.size), found))
        return out

    def staged(self, samples):
        """``samples`` with every remote file replaced by the name the event loops open: ``rdfstage://COPY`` for a
        TTree, the complete copy itself for an RNTuple (waited for here). Raises ``OSError`` if a copy fails."""
        import dataclasses

        def name(url: str) -> str:
            if url not in self.local:
                return url
            if self.kinds.get(url) == "RNTuple":
                error = str(self._handle.WaitReady(str(self.local[url])))
                if error:
                    raise OSError(error)
                return str(self.local[url])
            return SCHEME + str(self.local[url])

        return [dataclasses.replace(s, files=[name(f) for f in s.files]) for s in samples]

    def wait_all(self) -> list[str]:
        """Wait until every copy is complete; the problems of those that failed."""
        problems = []
        for url in self.order:
            error = str(self._handle.WaitReady(str(self.local[url]))) if self._handle else "not started"
            if error:
                problems.append(error if url in error else f"{url}: {error}")
        return problems

    @property
    def bytes_copied(self) -> int:
        return int(self._handle.BytesCopied()) if self._handle else 0

    @property
    def files_copied(self) -> int:
        return int(self._handle.FilesCopied()) if self._handle else 0

    def close(self) -> None:
        """Stop copying; remove temporary copies (the copies in a cache stay, and are counted in one line)."""
        global _active
        if _active is self:
            _active = None
        if self._handle is not None:
            if self.keep and self.files_copied:
                from .remote import log_copied

                log_copied(self.files_copied, self.bytes_copied, self.folder, time.perf_counter() - self._started)
            _root().rdf_ttbar.stage.StopStager()
            self._handle = None
        if not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)


def budget(folder: Path) -> int:
    """Bytes of temporary copies kept at once: ``$RDF_TTBAR_STAGE_BUDGET`` if set (bytes; e.g. for a small temporary
    disk), else ``BUDGET_FRACTION`` of the free space of ``folder``'s disk. A file the event loops wait for is copied
    even past it."""
    value = os.environ.get("RDF_TTBAR_STAGE_BUDGET", "")
    if value:
        try:
            return max(int(float(value)), 1)
        except ValueError:
            raise UserError(f"RDF_TTBAR_STAGE_BUDGET={value!r} is not a number of bytes; set it e.g. to 20e9") from None
    return int(shutil.disk_usage(folder).free * BUDGET_FRACTION)


def original_files(samples):
    """``samples`` with the names ``Stager.staged`` gave their files (the active stager's) back to the remote URLs."""
    import dataclasses

    if _active is None:
        return samples
    remote_of = {SCHEME + str(local): url for url, local in _active.local.items()}
    remote_of.update({str(local): url for url, local in _active.local.items()})
    return [dataclasses.replace(s, files=[remote_of.get(f, f) for f in s.files]) for s in samples]


def bytes_copied() -> int:
    """Bytes the active stager has copied so far (0: none active); ROOT's read counter counts them too."""
    if not _plugin_registered:
        return 0
    import ROOT

    stager = ROOT.rdf_ttbar.stage.Active()
    return int(stager.BytesCopied()) if stager else 0


def remove_stale_folders() -> None:
    """Remove the temporary copy folders of runs whose process is gone (killed runs)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
        try:
            pid = int(folder.name[len(FOLDER_PREFIX) :].split("-", 1)[0])
            if pid == os.getpid():
                continue
            os.kill(pid, 0)
            continue  # a live run's
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, PermissionError):
            continue
