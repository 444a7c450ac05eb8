"""The free space a demo set needs (:mod:`rdf_ttbar.inputs.demo`), checked before anything is written."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import UserError

# bytes on disk per event, measured on 9 x 20k (1.8M) events: 168 (144) for TTree files, 1,111 with --full, 97 more
# while the RNTuple copy is written beside them; the estimate takes 1.5x that, and 64 kB per file
BYTES_PER_EVENT = {"ttree": 250, "full": 1_700, "rntuple": 150}
BYTES_PER_FILE = 65_536


def check_space(output_dir: Path, events: int, files: int, full: bool, fmt: str) -> None:
    """Refuse a demo set of ``events`` events in ``files`` files that would not fit in the free space where it is
    written (a UserError with the numbers), before anything is written."""
    per_event = BYTES_PER_EVENT["full" if full else "ttree"] + (BYTES_PER_EVENT["rntuple"] if fmt == "rntuple" else 0)
    needed = events * per_event + files * BYTES_PER_FILE
    folder = next(p for p in (output_dir, *output_dir.parents) if p.exists())  # where it will be written
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise UserError(
            f"the demo set needs about {_bytes_text(needed)} ({events:,} events at up to {per_event:,} bytes each) "
            f"but {folder} has {_bytes_text(free)} free: ask for fewer events per sample (--events-per-sample) or "
            "write it to a folder with more space"
        )


def _bytes_text(n: int) -> str:
    return next(
        f"{n / 10**k:,.1f} {unit}" for k, unit in ((12, "TB"), (9, "GB"), (6, "MB"), (0, "B")) if n >= 10**k or not k
    )
