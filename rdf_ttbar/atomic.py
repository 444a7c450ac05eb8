"""Files that appear complete or not at all: written under a temporary name in the same folder, then renamed.

Every output rdf_ttbar writes (histograms, JSON, stamps, plots) goes through ``replacing``: a failure (a full
disk, an exception, Ctrl-C) leaves neither a half-written file nor its temporary behind.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def replacing(path: str | os.PathLike, temporary: str | os.PathLike | None = None) -> Iterator[Path]:
    """The block writes the temporary path it gets (default ``.NAME.tmpPID`` beside ``path``); when the block
    succeeds it replaces ``path``, when it fails it is removed and the exception propagates."""
    path = Path(path)
    tmp = Path(temporary) if temporary is not None else path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # nothing left after a successful replace


def write_text(path: str | os.PathLike, text: str, temporary: str | os.PathLike | None = None) -> Path:
    """Write ``text`` to ``path`` through ``replacing``."""
    with replacing(path, temporary) as tmp:
        tmp.write_text(text)
    return Path(path)
