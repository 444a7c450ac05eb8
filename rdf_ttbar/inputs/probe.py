"""Open input files and look inside them: ROOT with the XRootD client set up and cpp/remote.h declared.

The layer under ``inputs`` (the up-front checks) and ``remote`` (the cache,
the headers shipped to distributed workers). It imports nothing of rdf_ttbar but ``cpp`` and ``root_fixes``.

- ``configure_client()``: short XRootD client time-outs unless the user set them
  (environment variables ``XRD_*``), so that an unreachable server fails in
  about 10-20 s instead of the client's default of several minutes. It must run
  before the first remote access of the process; ``root()`` calls it, and worker
  processes that this process starts (``--scheduler dask-local``) inherit the settings.
- ``probe(paths, tree, branches_for)``: opens every file (local or remote),
  several at a time, and returns for each whether it is usable, whether it holds
  a TTree or an RNTuple named ``tree``, its entries and size, and the branches
  (fields) it lacks.

Everything is done with ROOT's own I/O (the ``root`` wheel reads root:// with
XRootD and http(s):// with TWebFile, once ``root_fixes.http_plugin`` has repaired its
plug-in entry): no ``xrdcp`` or XRootD Python bindings are needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .. import cpp, root_fixes

REMOTE_SCHEMES = ("root://", "https://", "http://")
# XRootD client settings used unless set in the environment (seconds / counts):
CLIENT_DEFAULTS = {
    "XRD_CONNECTIONWINDOW": "10",  # one connection attempt may take this long
    "XRD_CONNECTIONRETRY": "2",  # attempts before a server counts as unreachable (client default: 5 x 120 s)
    "XRD_STREAMTIMEOUT": "30",  # a connection with pending requests and no traffic is broken after this
    "XRD_REQUESTTIMEOUT": "120",  # one request (open, read) fails after this (client default: 1800 s)
    "XRD_TIMEOUTRESOLUTION": "1",  # how often the client checks its time-outs (client default: 15 s)
}
THREADS = 8  # files opened at the same time by probe()
HEADER = "remote.h"


def is_remote(path: str) -> bool:
    return path.startswith(REMOTE_SCHEMES)


def configure_client() -> dict:
    """Set the XRootD client's time-outs (``CLIENT_DEFAULTS``) where the environment does not.

    The client reads them once, at its first use in the process. Returns the settings in force.
    """
    for key, value in CLIENT_DEFAULTS.items():
        if not os.environ.get(key):
            os.environ[key] = value
    return {key: os.environ[key] for key in CLIENT_DEFAULTS}


_declared = False


def root():
    """ROOT with cpp/remote.h declared (namespace ``rdf_ttbar::remote``) and http(s) file access repaired."""
    global _declared
    configure_client()
    import ROOT

    if not _declared:
        root_fixes.in_every_process(ROOT)  # before remote.h is declared (root_fixes.vector_classes_first)
        cpp.declare_header(HEADER)
        # the probes run in C++ threads: let them, and let the Python thread wait without the GIL
        ROOT.rdf_ttbar.remote.ProbeAll.__release_gil__ = True
        _declared = True
    return ROOT


@dataclass
class Probe:
    """What one file holds: ``problem`` is empty when it is usable (``missing`` aside)."""

    path: str
    problem: str = ""
    kind: str = ""  # "TTree" or "RNTuple"
    entries: int = -1
    size: int = -1
    missing: list[str] = field(default_factory=list)


def probe(paths: list[str], tree: str = "", branches_for: dict[str, tuple] | None = None) -> list[Probe]:
    """Open every file of ``paths`` (``THREADS`` at a time) and look for the TTree/RNTuple ``tree``.

    ``branches_for[path]``: the branches (fields) to look for in that file (none by default).
    """
    if not paths:
        return []
    branches_for = branches_for or {}
    wanted = sorted({b for bs in branches_for.values() for b in bs})
    ROOT = root()
    if len(paths) > 1:
        ROOT.EnableThreadSafety()
    results = ROOT.rdf_ttbar.remote.ProbeAll(
        ROOT.std.vector[ROOT.std.string](paths),
        ROOT.std.vector[int]([int(bool(branches_for.get(p))) for p in paths]),
        tree,
        ROOT.std.vector[ROOT.std.string](wanted),
        THREADS,
    )
    out = []
    for path, r in zip(paths, results):
        asked = set(branches_for.get(path, ()))
        missing = [str(b) for b in r.missing]
        out.append(
            Probe(
                path,
                str(r.problem),
                str(r.kind),
                int(r.entries),
                int(r.size),
                [b for b in branches_for.get(path, ()) if b in missing and b in asked],
            )
        )
    return out
