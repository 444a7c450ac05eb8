"""Draw plots in a separate Python process.

``python -m rdf_ttbar.plots.worker --serve [--read-files]``: import the drawing stack (matplotlib, mplhep;
  uproot too with ``--read-files``, for jobs that name a histograms.root) at once, then draw the jobs sent
  on standard input, one after another, until it closes
  (:class:`rdf_ttbar.plots.painters.Painters`). A job is a length-prefixed pickle of
  (kind, source, plots_dir, share, shares, analysis): kind "histograms" (source: {name: UHI histogram} or a
  path), "fit" (source: the fit summary) or "ml" (source: the ML validation's numbers), analysis the
  run's definition; the worker builds that kind's drawings and saves every
  ``shares``-th one starting at ``share``, then writes one JSON line: the paths written, or
  {"error": ...} (with "errno", "strerror" and "filename" for an OSError, which the caller raises again).

A fresh interpreter (not fork, which is unsafe once ROOT has started threads; not
multiprocessing's spawn, which re-runs the caller's main script when it lacks an
``if __name__ == "__main__"`` guard).
"""

from __future__ import annotations

import json
import pickle
import struct
import sys

HEADER = struct.Struct("<Q")  # the length of each job's pickle


def main(argv: list[str]) -> int:
    if argv not in (["--serve"], ["--serve", "--read-files"]):
        sys.stderr.write("usage: python -m rdf_ttbar.plots.worker --serve [--read-files]\n")
        return 2
    return serve(sys.stdin.buffer, sys.stdout, read_files=len(argv) == 2)


def warm_up(read_files: bool = True) -> None:
    """Import what drawing needs and render one small figure with text (fonts, mathtext caches); with
    ``read_files``, also uproot (histograms.root is read here; ~0.6 CPU-seconds otherwise spent only when a job
    names a file)."""
    if read_files:
        import uproot  # noqa: F401

    from rdf_ttbar.plots import fit, histograms, style  # noqa: F401

    with style.style():
        fig = style.new_figure((2.0, 2.0))
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], label=r"$t\bar{t}$")
        ax.legend()
        style.cms_label(ax, lumi_pb=1000.0)
        fig.canvas.draw()
    style.poisson_interval([1.0])  # scipy.special


def drawings_of(kind: str, source, analysis):
    from rdf_ttbar import plots

    if kind == "histograms":
        return plots.histogram_drawings(source, analysis)
    if kind == "fit":
        return plots.fit_drawings(plots.load_summary(source), analysis=analysis)
    if kind == "ml":
        return plots.ml_drawings(source, analysis)
    raise ValueError(f"unknown kind of plots {kind!r}")


def serve(stdin, stdout, read_files: bool = True) -> int:
    import os

    os.nice(10)  # the caller's set-up, event loops and fit come first; drawing waits for them anyway
    warm_up(read_files)
    while True:
        header = stdin.read(HEADER.size)
        if len(header) < HEADER.size:
            return 0  # closed: no more jobs
        kind, source, plots_dir, share, shares, analysis = pickle.loads(stdin.read(HEADER.unpack(header)[0]))
        reply: list[str] | dict[str, object]
        try:
            drawings = drawings_of(kind, source, analysis)[share::shares]
            reply = [str(d.save(plots_dir)) for d in drawings]
        except Exception as exc:  # reported to the caller, which raises it
            from rdf_ttbar.errors import UserError

            reply = {
                "error": str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}",
                "user_error": isinstance(exc, UserError),
            }
            if isinstance(exc, OSError) and exc.errno is not None:  # a full disk, a read-only folder: raised again
                reply.update(errno=exc.errno, strerror=exc.strerror, filename=str(exc.filename))
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
