"""Build and load the compiled analysis graph: generated C++ (rdf_ttbar.analysis.compiled) compiled once with
the system's C++ compiler.

ROOT's interpreter would otherwise compile the graph's code at every run (RDataFrame's jitting, ~1 s
at -O0, and the event loop then runs code compiled at that level). Built once with the compiler and the
flags ROOT's own ACLiC uses, the library loads in milliseconds and its event loop runs about twice as
fast (README "Performance"). Histograms are bit-identical (tests/test_definition.py, test_compiled_graph.py).

- ``load(key, source, header)``: the library of one generated source, built on first use into the cache
  folder (``RDF_TTBAR_CACHE``, else ``$XDG_CACHE_HOME/rdf_ttbar``, else ``~/.cache/rdf_ttbar``) and loaded
  into the process; False when there is none (no compiler, a failed build, ``RDF_TTBAR_GRAPH=jitted``),
  and the jitted graph is booked instead. A failed build is recorded and not tried again; the message
  says where its log is.
- The compiler is ``$CXX``, else ``c++``. Concurrent first runs build it once (a lock file).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

from .. import atomic, cpp, interrupts

log = logging.getLogger(__name__)

LIBRARIES = ("ROOTDataFrame", "ROOTVecOps", "Tree", "Hist", "RIO", "MathCore", "Core")
BUILD_TIMEOUT_S = 600

_loaded: dict[str, bool] = {}  # this process: library key -> whether it was loaded


def cache_dir() -> Path:
    if os.environ.get("RDF_TTBAR_CACHE"):
        return Path(os.environ["RDF_TTBAR_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rdf_ttbar"


def wanted() -> bool:
    """Whether the compiled graph is asked for (``RDF_TTBAR_GRAPH``: "compiled", the default, or "jitted")."""
    choice = os.environ.get("RDF_TTBAR_GRAPH", "compiled").strip().lower()
    if choice not in ("compiled", "jitted"):
        from ..errors import UserError

        raise UserError(f"RDF_TTBAR_GRAPH={choice!r}: choose 'compiled' (the default) or 'jitted'")
    return choice == "compiled"


def compiler() -> list[str]:
    return shlex.split(os.environ.get("CXX") or "c++")


def expected(scheduler: str) -> bool:
    """Whether a run on this scheduler will use the compiled graph (asked for, local, a compiler or a
    library there); known without starting ROOT, to choose the jitted code's optimisation level."""
    return scheduler == "mt" and wanted() and (bool(shutil.which(compiler()[0])) or any(cache_dir().glob("graph-*.so")))


def compile_command(ROOT, source: Path, output: Path, include_dirs=()) -> list[str]:
    """The compiler's command line: ROOT's headers, C++ standard, optimisation and libraries (as ACLiC), and the
    folders of the headers the source includes by name (``include_dirs``)."""
    standard = re.findall(r"-std=\S+", str(ROOT.gSystem.GetMakeSharedLib())) or ["-std=c++17"]
    libdir = str(ROOT.gROOT.GetLibDir())
    return [
        *compiler(),
        *standard,
        *str(ROOT.gSystem.GetFlagsOpt()).split(),
        "-fPIC",
        "-shared",
        "-pthread",
        f"-I{ROOT.gROOT.GetIncludeDir()}",
        *(f"-I{d}" for d in include_dirs),
        str(source),
        "-o",
        str(output),
        f"-L{libdir}",
        *(f"-l{lib}" for lib in LIBRARIES),
        f"-Wl,-rpath,{libdir}",
    ]


def library_path(ROOT, key: str) -> Path:
    """Where a library is cached: named after its sources' key (the headers' contents), ROOT and the compiler's
    command line without the headers' folders: the same for every copy of the package (a checkout, an
    installation, another worktree) with the same headers."""
    digest = hashlib.sha256(key.encode())
    digest.update(str(ROOT.gROOT.GetVersion()).encode())
    digest.update(" ".join(compile_command(ROOT, Path("graph.cxx"), Path("lib.so"))).encode())
    return cache_dir() / f"graph-{digest.hexdigest()[:16]}.so"


def build(ROOT, library: Path, source: str, header: str, include_dirs=()) -> str:
    """Compile the library (once, whoever holds the lock); returns "" or why it could not be built."""
    failed = library.with_suffix(".failed")
    if failed.exists():
        return f"building it failed before (the compiler's messages: {failed}; delete that file to try again)"
    source_path = library.with_suffix(".cxx")
    command = compile_command(ROOT, source_path, library.with_name(f".{library.name}.{os.getpid()}"), include_dirs)
    if not shutil.which(command[0]):
        return f"no C++ compiler '{command[0]}' (install g++ or clang++, or set CXX)"
    try:
        library.parent.mkdir(parents=True, exist_ok=True)
        with open(library.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent first run builds it: wait for that one
            if intact(library):
                return ""
            if library.exists():
                log.warning(
                    "the compiled analysis graph %s is damaged (it does not match the checksum written when "
                    "it was built): building it again",
                    library,
                )
                library.unlink()
            log.info(
                "compiling the analysis graph for this ROOT installation, once (about 10-20 s; cached in %s)",
                library.parent,
            )
            atomic.write_text(source_path, source)
            atomic.write_text(library.with_suffix(".h"), header)
            temporary = Path(command[command.index("-o") + 1])
            try:
                done = compile_library(command)
                if done.returncode == 0:  # the checksum first: a library without one is not used
                    atomic.write_text(library.with_suffix(".sha256"), checksum(temporary))
                    os.replace(temporary, library)
                    return ""
                if done.returncode < 0:  # killed from outside: not the compiler's failure, tried again next time
                    return f"the compiler was stopped by signal {-done.returncode}"
                failed.write_text(" ".join(command) + "\n\n" + done.stdout + done.stderr)
                return f"the compiler failed (its messages: {failed}; delete that file to try again)"
            finally:
                temporary.unlink(missing_ok=True)
    except (OSError, subprocess.SubprocessError) as err:
        return f"it could not be built in {library.parent} ({err})"


def compile_library(command: list[str]) -> subprocess.CompletedProcess:
    """Run the compiler in a session of its own (a Ctrl-C of the terminal does not kill it midway); waiting for it
    is pure Python, so a signal stops the wait at once (interrupts.immediate), and the compiler with all its
    processes: nothing is recorded, the next run builds it again."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            with interrupts.immediate():
                stdout, stderr = process.communicate(timeout=BUILD_TIMEOUT_S)
        except BaseException:  # a signal, the time-out
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def intact(library: Path) -> bool:
    """Whether the library is there and as it was built (a truncated or overwritten file would crash ROOT
    when loaded, so it is checked against the checksum written at build time first)."""
    try:
        return library.with_suffix(".sha256").read_text().strip() == checksum(library)
    except OSError:
        return False


def load(key: str, source: str, header: str, headers=(), include_dirs=()) -> bool:
    """Load the compiled graph whose generated ``source`` (its entry points declared in ``header``) has this
    ``key``, building it first if needed; False: use the jitted graph. ``headers``: the C++ helpers it
    includes, declared to ROOT's interpreter first; ``include_dirs``: their folders (the source names them).

    The first call of a process that gets False prints why (once) on stderr.
    """
    if key in _loaded:
        return _loaded[key]
    loaded, note = False, ""
    if wanted():
        from .. import quiet

        ROOT = quiet.import_root()
        cpp.declare(headers)
        library = library_path(ROOT, key)
        note = "" if intact(library) else build(ROOT, library, source, header, include_dirs)
        if not note:
            if ROOT.gSystem.Load(str(library)) < 0:
                note = f"ROOT could not load {library} (delete it to build it again)"
            elif not ROOT.gInterpreter.Declare(header):
                note = f"ROOT could not compile the declarations of {library}"
            else:
                loaded = True
        if note:
            log.warning("the analysis graph is jitted instead of compiled ahead of time: %s", note)
    _loaded[key] = loaded
    return loaded
