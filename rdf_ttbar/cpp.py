"""Find the C++ helpers of ``cpp/`` and declare them to ROOT's interpreter once."""

from __future__ import annotations

from pathlib import Path

HEADERS = ("analysis.h", "rdf_log.h", "progress.h", "delivery.h")


def cpp_dir() -> Path:
    """The helpers' folder: installed as ``rdf_ttbar/cpp``, or ``cpp/`` of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "cpp", here.parent / "cpp"):
        if (candidate / HEADERS[0]).is_file():
            return candidate
    raise FileNotFoundError(f"rdf_ttbar's C++ helpers ({HEADERS[0]}) are missing next to {here}: reinstall the package")


def header_paths() -> list[Path]:
    return [cpp_dir() / h for h in HEADERS]


_declared = False


def declare() -> None:
    """Declare the helpers to ROOT's interpreter (idempotent within a process)."""
    global _declared
    if _declared:
        return
    import ROOT

    for header in header_paths():
        if not ROOT.gInterpreter.Declare(f'#include "{header}"'):
            raise RuntimeError(f"ROOT could not compile {header}")
    _declared = True


_declared_extra: set[str] = set()


def declare_header(name: str) -> None:
    """Declare one more helper of ``cpp/`` (e.g. ``remote.h``), once per process, on its own."""
    if name in _declared_extra:
        return
    import ROOT

    header = cpp_dir() / name
    if not header.is_file():
        raise FileNotFoundError(f"rdf_ttbar's C++ helper {header} is missing: reinstall the package")
    if not ROOT.gInterpreter.Declare(f'#include "{header}"'):
        raise RuntimeError(f"ROOT could not compile {header}")
    _declared_extra.add(name)
