"""Duplicate inputs: one file listed twice, however its path is spelled.

The same file twice in one sample counts its events twice (the sums of weights survive the normalisation, the
sums of squared weights do not: the MC-statistics uncertainty would be understated), so it is always an error.
The same file in two samples is an error too, unless the input list says it is intended: ``"shared_files_ok":
true`` on each sample that shares it (next to its ``"files"``) or on each of its file entries.

Two entries are the same file when their local paths resolve to the same file (relative paths, ``./``, ``..``
and symbolic links resolved; hard links by device and inode), or when their URLs are equal after normalisation
(scheme and host in lower case, the scheme's default port dropped, repeated slashes in the path collapsed:
``root://host//store/a.root`` and ``root://host:1094/store//a.root`` are one).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ..errors import UserError
from .probe import is_remote

SHARED_OK = "shared_files_ok"  # the input list's key: sharing a file between samples is intended
DEFAULT_PORTS = {"root": 1094, "http": 80, "https": 443}


@dataclass(frozen=True)
class Entry:
    """One file entry of an input list: where it is (sample ``where``, file ``index``), its path as written,
    the path the run reads, and whether sharing it with other samples is intended."""

    where: str
    index: int
    written: str
    path: str
    shared_ok: bool

    def describe(self) -> str:
        spelled = "" if self.written == self.path else f" ({self.written!r})"
        return f"{self.where} file #{self.index}{spelled}"


def file_key(path: str) -> str | tuple[int, int]:
    """What identifies the file behind ``path``: a normalised URL, a device and inode, or a resolved path."""
    if is_remote(path):
        return normalised_url(path)
    real = os.path.realpath(path)
    try:
        stat = os.stat(real)
    except OSError:  # missing: the up-front check names it; here the resolved path identifies it
        return real
    return (stat.st_dev, stat.st_ino)


def normalised_url(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:  # a malformed port: compare the text as written
        return url
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    if parts.username or parts.password:
        netloc = f"{parts.netloc.rsplit('@', 1)[0]}@{netloc}"
    path = re.sub("/+", "/", parts.path)
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def check_duplicates(entries: list[Entry], source: str) -> None:
    """One UserError naming every duplicate of ``entries`` (all the files of an input list, in order)."""
    by_key: dict[str | tuple[int, int], list[Entry]] = {}
    for entry in entries:
        by_key.setdefault(file_key(entry.path), []).append(entry)
    problems = []
    for same in by_key.values():
        if len(same) < 2:
            continue
        by_sample: dict[str, list[Entry]] = {}
        for entry in same:
            by_sample.setdefault(entry.where, []).append(entry)
        for twice in (s for s in by_sample.values() if len(s) > 1):
            problems.append(
                f"{_both(twice)} are the same file {twice[0].path}: a sample lists "
                "each file once (twice would count its events twice and understate the MC-statistics "
                "uncertainty); remove all but one"
            )
        firsts = [s[0] for s in by_sample.values()]
        if len(firsts) > 1 and not all(e.shared_ok for e in firsts):
            unmarked = ", ".join(e.where for e in firsts if not e.shared_ok)
            problems.append(
                f"{_both(firsts)} are the same file {firsts[0].path}, in "
                f"{len(firsts)} samples; remove it from all but one, or, if that is intended (e.g. a stand-in "
                f'for a missing sample), add "{SHARED_OK}": true to {unmarked} (next to "files", or to the '
                "file's entry)"
            )
    if problems:
        raise UserError.listing(problems, f"duplicate input file(s) in input list {source}", "Fix the input list.")


def _both(entries: list[Entry]) -> str:
    named = [e.describe() for e in entries]
    return " and ".join(named) if len(named) < 3 else ", ".join(named[:-1]) + " and " + named[-1]
