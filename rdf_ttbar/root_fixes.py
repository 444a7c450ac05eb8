"""ROOT's version-dependent workarounds, all in one place: what each works around and in which ROOT versions.

Each workaround is a function that does nothing where the ROOT in use does not need it: it checks
ROOT's version (``affects``) and, where it can, the symptom itself, so that a ROOT that has fixed the
problem runs untouched. ``in_every_process(ROOT)`` applies those every process needs (this one and
every distributed worker, before the first file is opened); ``fresh_graph_per_task()`` is the one
distributed workers need at the start of each task (execution/workers.py).

This module imports nothing of rdf_ttbar (only the standard library, and ROOT inside the functions): the
distributed workers receive its functions by value (execution/workers.py) and need not have rdf_ttbar.

| workaround | ROOT versions | what it works around |
| --- | --- | --- |
| ``http_plugin`` | 6.40 | http(s):// cannot be opened: the plug-in of TWebFile names its class |
|  |  | ``ROOT::Deprecated::TWebFile`` with a constructor the plug-in manager cannot find |
| ``force_remote`` | all | behaviour, not a bug: TFile::Open reads a root:// URL of this host as the local |
|  |  | file of the same path, without asking the server (``TFile.ForceRemote``) |
| ``vector_classes_first`` | 6.40 | in a Jupyter kernel, std::vector<std::string> first instantiated by cling |
|  |  | (compiling cpp/remote.h) lacks its default constructor in PyROOT |
| ``fresh_graph_per_task`` | 6.30-6.40 | distributed RDF reuses a worker's graph for a second task of the same graph |
|  |  | (its graph cache, see root-project/root PR #16094); with VariationsFor results the worker crashes |
"""

from __future__ import annotations

# (first affected, first fixed) as (major, minor); None: not fixed in the newest ROOT tested (6.40)
HTTP_PLUGIN = ((6, 40), None)
VECTOR_CLASSES_FIRST = ((6, 40), None)
GRAPH_CACHE = ((6, 30), None)


def root_version(ROOT) -> tuple[int, int]:
    """ROOT's (major, minor) version, e.g. (6, 40)."""
    code = int(ROOT.gROOT.GetVersionInt())  # 64000 for 6.40/00
    return code // 10000, code // 100 % 100


def affects(versions: tuple, ROOT) -> bool:
    """Whether the ROOT in use is in the range ``(first affected, first fixed)`` of a workaround."""
    first, fixed = versions
    version = root_version(ROOT)
    return version >= first and (fixed is None or version < fixed)


def http_plugin(ROOT) -> None:
    """Re-register ROOT 6.40's http(s):// file class under the constructor's plain name.

    ROOT 6.40 registers TWebFile under its new namespace with the constructor
    ``ROOT::Deprecated::TWebFile(const char*,Option_t*)``, which the plug-in manager cannot
    find: every TFile::Open of an http(s) URL fails. Only where the handler has that class.
    """
    if not affects(HTTP_PLUGIN, ROOT):
        return
    handler = ROOT.gPluginMgr.FindHandler("TFile", "http://host/file.root")
    if handler and handler.GetClass() == "ROOT::Deprecated::TWebFile":
        ROOT.gPluginMgr.RemoveHandler("TFile", "^http[s]?:")
        ROOT.gPluginMgr.AddHandler(
            "TFile", "^http[s]?:", "ROOT::Deprecated::TWebFile", "Net", "TWebFile(const char*,Option_t*)"
        )


def force_remote(ROOT) -> None:
    """A root:// URL always goes to its server.

    TFile::Open reads a root:// URL of this host (localhost, 127.0.0.1, the host's name) as the
    local file of the same path when one exists, without asking the server: the up-front check
    then passes with no server listening, and the event loop, which may not take that short-cut,
    fails. ROOT's behaviour in every version (the ``TFile.ForceRemote`` setting turns it off).
    """
    ROOT.gEnv.SetValue("TFile.ForceRemote", 1)


def vector_classes_first(ROOT) -> None:
    """Let PyROOT instantiate the std::vector classes that cpp/remote.h's callers pass, before cling does.

    ROOT 6.40 in a Jupyter kernel: if cling first instantiates std::vector<std::string> while
    compiling remote.h, PyROOT later finds that class without its default constructor and every
    ``std.vector[std.string](list)`` fails ("none of the 9 overloaded methods succeeded")
    (tests/test_notebook.py). Call before declaring cpp/remote.h.
    """
    if not affects(VECTOR_CLASSES_FIRST, ROOT):
        return
    ROOT.std.vector[ROOT.std.string]()
    ROOT.std.vector[int]()


def in_every_process(ROOT) -> None:
    """The workarounds every process that opens files needs, before its first file (this one, each worker)."""
    http_plugin(ROOT)
    force_remote(ROOT)
    vector_classes_first(ROOT)


def fresh_graph_per_task(ROOT) -> None:
    """On a distributed worker, at the start of a task: forget the graphs of earlier tasks.

    Distributed RDataFrame keeps each worker's graph and results in a process-wide cache
    (``ROOT._distrdf._graph_cache``) so that a second task of the same graph does not jit it
    again; it clones the results for that task. With VariationsFor results the clone crashes the
    worker (ROOT 6.40; seen with this analysis' graphs, 3 partitions on 2 workers, tests/test_dask.py).
    Costs a jitting per task.
    """
    if not affects(GRAPH_CACHE, ROOT):
        return
    try:
        from ROOT._distrdf import _graph_cache
    except ImportError:  # a layout of distributed RDF without the cache
        return
    _graph_cache._ACTIONS_REGISTER.clear()
    _graph_cache._RDF_REGISTER.clear()
