"""What ``bench`` asks of the operating system: the page cache (warm the inputs, evict ROOT) and peak memory."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def warm_page_cache(files: list[Path]) -> tuple[int, float]:
    """Read every file once; returns (bytes, seconds)."""
    start, total = time.perf_counter(), 0
    for path in files:
        with open(path, "rb", buffering=0) as f:
            while chunk := f.read(16 << 20):
                total += len(chunk)
    return total, time.perf_counter() - start


def root_install_files() -> list[Path]:
    """The files of the ROOT installation (found without importing ROOT)."""
    import importlib.util

    roots = []
    for name in ("ROOT", "cppyy", "libcppyy"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec and spec.origin:
            roots.append(Path(spec.origin).parent)
    for d in list(roots):
        roots += [p for p in d.parent.glob("root*.libs")]
    files = []
    for d in dict.fromkeys(roots):
        files += [p for p in d.rglob("*") if p.is_file() and not p.is_symlink()]
    return files


def evict_from_page_cache(files: list[Path]) -> int:
    """Ask the kernel to drop the files' cached pages (no-op where unsupported); returns how many files."""
    if not hasattr(os, "posix_fadvise"):
        return 0
    n = 0
    for path in files:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            n += 1
        except OSError:
            pass
        finally:
            os.close(fd)
    return n


def maxrss_mb(usage) -> float:
    """ru_maxrss in MB (kilobytes on Linux, bytes on macOS)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return usage.ru_maxrss * scale / 1e6
