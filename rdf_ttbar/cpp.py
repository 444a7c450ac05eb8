"""Find the C++ helpers of ``cpp/`` and declare them to ROOT's interpreter once."""

from __future__ import annotations

from pathlib import Path

HEADERS = ("analysis.h", "graph.h", "rdf_log.h", "progress.h", "delivery.h")


def cpp_dir() -> Path:
    """The helpers' folder: installed as ``rdf_ttbar/cpp``, or ``cpp/`` of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "cpp", here.parent / "cpp"):
        if (candidate / HEADERS[0]).is_file():
            return candidate
    raise FileNotFoundError(f"rdf_ttbar's C++ helpers ({HEADERS[0]}) are missing next to {here}: reinstall the package")


def header_path(name: str | Path) -> Path:
    """A header named in an analysis definition: in cpp/, or an absolute path."""
    path = Path(name)
    return path if path.is_absolute() else cpp_dir() / path


def header_paths(extra=()) -> list[Path]:
    """The helpers every run declares, and the extra headers of an analysis definition."""
    paths = [cpp_dir() / h for h in HEADERS]
    return paths + [p for p in map(header_path, extra) if p not in paths]


def read_template(name: str) -> str:
    return (cpp_dir() / name).read_text()


_declared: set[Path] = set()


def declare(extra=()) -> None:
    """Declare the helpers (and the extra headers) to ROOT's interpreter, each once per process."""
    for header in header_paths(extra):
        _declare_once(header)


def declare_header(name: str) -> None:
    """Declare one more helper of ``cpp/`` (e.g. ``remote.h``), once per process, on its own."""
    _declare_once(cpp_dir() / name)


def _declare_once(header: Path) -> None:
    if header in _declared:
        return
    from .quiet import import_root

    ROOT = import_root()
    if not header.is_file():
        raise FileNotFoundError(
            f"the C++ helper {header} is missing (reinstall the package, or fix the analysis definition's headers)"
        )
    if not ROOT.gInterpreter.Declare(f'#include "{header}"'):
        raise RuntimeError(f"ROOT could not compile {header}")
    _declared.add(header)
