"""Draw plots in a separate Python process: ``python -m rdf_ttbar.plots.worker PAYLOAD``.

PAYLOAD is a pickle of (plots_dir, [Drawing, ...]); the worker saves each drawing and
prints the JSON list of the paths written. A fresh interpreter (not fork, which is unsafe
once ROOT has started threads; not multiprocessing's spawn, which re-runs the caller's
main script when it lacks an ``if __name__ == "__main__"`` guard).
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    plots_dir, drawings = pickle.loads(Path(argv[0]).read_bytes())
    paths = [str(d.save(plots_dir)) for d in drawings]
    sys.stdout.write(json.dumps(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
