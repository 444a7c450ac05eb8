"""The analysis graph compiled ahead of time: cpp/graph.cxx built once with the system's C++ compiler.

ROOT's interpreter would otherwise compile the graph's code at every run (RDataFrame's jitting, ~1 s
at -O0, and the event loop then runs code compiled at that level). Built once with the compiler and the
flags ROOT's own ACLiC uses, the library loads in milliseconds and its event loop runs about twice as
fast (README "Performance"). Histograms are bit-identical (tests/test_compiled_graph.py).

- ``load()``: the library for this ROOT installation, built on first use into the cache folder
  (``RDF_TTBAR_CACHE``, else ``$XDG_CACHE_HOME/rdf_ttbar``, else ``~/.cache/rdf_ttbar``) and loaded
  into the process; False when there is none (no compiler, a failed build, ``RDF_TTBAR_GRAPH=jitted``),
  and graph.py books the jitted graph instead. A failed build is recorded and not tried again; the
  message says where its log is.
- The compiler is ``$CXX``, else ``c++``. Concurrent first runs build it once (a lock file).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from . import cpp

SOURCES = ("graph.cxx", "graph.h", "analysis.h")  # what the library is built from (its cache key)
LIBRARIES = ("ROOTDataFrame", "ROOTVecOps", "Tree", "Hist", "RIO", "MathCore", "Core")
BUILD_TIMEOUT_S = 600

_loaded: bool | None = None  # this process: whether load() loaded the library (None: not asked yet)


def cache_dir() -> Path:
    if os.environ.get("RDF_TTBAR_CACHE"):
        return Path(os.environ["RDF_TTBAR_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rdf_ttbar"


def wanted() -> bool:
    """Whether the compiled graph is asked for (``RDF_TTBAR_GRAPH``: "compiled", the default, or "jitted")."""
    choice = os.environ.get("RDF_TTBAR_GRAPH", "compiled").strip().lower()
    if choice not in ("compiled", "jitted"):
        from .errors import UserError

        raise UserError(f"RDF_TTBAR_GRAPH={choice!r}: choose 'compiled' (the default) or 'jitted'")
    return choice == "compiled"


def compiler() -> list[str]:
    return shlex.split(os.environ.get("CXX") or "c++")


def expected(scheduler: str) -> bool:
    """Whether a run on this scheduler will use the compiled graph (asked for, local, a compiler or a
    library there); known without starting ROOT, to choose the jitted code's optimisation level."""
    return scheduler == "mt" and wanted() and (bool(shutil.which(compiler()[0])) or any(cache_dir().glob("graph-*.so")))


def compile_command(ROOT, source: Path, output: Path) -> list[str]:
    """The compiler's command line: ROOT's headers, C++ standard, optimisation and libraries (as ACLiC)."""
    standard = re.findall(r"-std=\S+", str(ROOT.gSystem.GetMakeSharedLib())) or ["-std=c++17"]
    libdir = str(ROOT.gROOT.GetLibDir())
    return [*compiler(), *standard, *str(ROOT.gSystem.GetFlagsOpt()).split(),
            "-fPIC", "-shared", "-pthread", f"-I{ROOT.gROOT.GetIncludeDir()}", f"-I{source.parent}",
            str(source), "-o", str(output), f"-L{libdir}", *(f"-l{lib}" for lib in LIBRARIES),
            f"-Wl,-rpath,{libdir}"]


def library_path(ROOT) -> Path:
    """Where this ROOT installation's library is cached: named after its sources, ROOT and the command line."""
    key = hashlib.sha256()
    for name in SOURCES:
        key.update((cpp.cpp_dir() / name).read_bytes())
    key.update(str(ROOT.gROOT.GetVersion()).encode())
    key.update(" ".join(compile_command(ROOT, Path("graph.cxx"), Path("lib.so"))).encode())
    return cache_dir() / f"graph-{key.hexdigest()[:16]}.so"


def build(ROOT, library: Path) -> str:
    """Compile the library (once, whoever holds the lock); returns "" or why it could not be built."""
    failed = library.with_suffix(".failed")
    if failed.exists():
        return f"building it failed before (the compiler's messages: {failed}; delete that file to try again)"
    command = compile_command(ROOT, cpp.cpp_dir() / "graph.cxx", library.with_name(f".{library.name}.{os.getpid()}"))
    if not shutil.which(command[0]):
        return f"no C++ compiler '{command[0]}' (install g++ or clang++, or set CXX)"
    try:
        library.parent.mkdir(parents=True, exist_ok=True)
        with open(library.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent first run builds it: wait for that one
            if library.exists():
                return ""
            print(f"rdf_ttbar: compiling the analysis graph for this ROOT installation, once (about 10-20 s; "
                  f"cached in {library.parent})", file=sys.stderr, flush=True)
            temporary = Path(command[command.index("-o") + 1])
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
                if done.returncode == 0:
                    os.replace(temporary, library)
                    return ""
                failed.write_text(" ".join(command) + "\n\n" + done.stdout + done.stderr)
                return f"the compiler failed (its messages: {failed}; delete that file to try again)"
            finally:
                temporary.unlink(missing_ok=True)
    except (OSError, subprocess.SubprocessError) as err:
        return f"it could not be built in {library.parent} ({err})"


def load() -> bool:
    """Load the compiled graph into this process, building it first if needed; False: use the jitted graph.

    The first call of a process that gets False prints why (once) on stderr.
    """
    global _loaded
    if _loaded is not None:
        return _loaded
    loaded, note = False, ""
    if wanted():
        from . import quiet

        ROOT = quiet.import_root()
        library = library_path(ROOT)
        note = "" if library.exists() else build(ROOT, library)
        if not note:
            if ROOT.gSystem.Load(str(library)) < 0:
                note = f"ROOT could not load {library} (delete it to build it again)"
            elif not ROOT.gInterpreter.Declare(f'#include "{cpp.cpp_dir() / "graph.h"}"'):
                note = f"ROOT could not compile {cpp.cpp_dir() / 'graph.h'}"
            else:
                loaded = True
        if note:
            print(f"rdf_ttbar: the analysis graph is jitted instead of compiled ahead of time: {note}",
                  file=sys.stderr, flush=True)
    _loaded = loaded
    return loaded
