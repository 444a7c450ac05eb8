"""Plot workers started ahead of time: they import matplotlib, mplhep and uproot while the event loops run.

Drawing the plots of a run costs about as much again in imports and first-figure set-up as in drawing.
:class:`Painters` starts its worker processes (``python -m rdf_ttbar.plots.worker --serve``) at once;
by the time the histograms (or the fit summary) exist they are ready, and each draws a share of the
plots. ``draw`` returns at once; ``Job.result()`` waits for the paths, in the order of the drawings.

    with Painters(2) as painters:
        ...                                            # event loops, histograms.root
        job = painters.draw("histograms", histograms, plots_dir, analysis)
        ...                                            # the fit, meanwhile
        paths = job.result()

A worker's UserError (e.g. an unreadable histograms.root) is raised again as such, an OSError while writing
(a full disk) as OSError with its errno and file name, any other failure as RuntimeError with its message;
leaving the ``with`` block ends the workers at once (collect the results of the jobs you want first).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Mapping

from rdf_ttbar.analysis import Analysis, chosen
from rdf_ttbar.errors import UserError
from rdf_ttbar.plots.histograms import drawn_names
from rdf_ttbar.plots.launch import command_and_env
from rdf_ttbar.plots.worker import HEADER


class _Worker:
    def __init__(self, read_files: bool = True):
        command, env = command_and_env("--serve", *(["--read-files"] if read_files else []))
        self.stderr = tempfile.TemporaryFile()  # never a pipe: a chatty worker cannot block on it
        # its own session: a Ctrl-C (or hang-up) of the terminal stops the run, which ends its workers, and not
        # the workers under it (their end would be reported as a failed plot instead of the interruption)
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, env=env, start_new_session=True
        )
        assert self.process.stdin is not None and self.process.stdout is not None  # (PIPE)
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout
        self.replies: list = []  # replies read, in the order of the jobs sent
        self.sent = 0

    def send(self, job: tuple) -> int:
        data = pickle.dumps(job)
        try:
            self.stdin.write(HEADER.pack(len(data)) + data)
            self.stdin.flush()
        except BrokenPipeError:
            pass  # reported by reply()
        self.sent += 1
        return self.sent - 1

    def reply(self, index: int):
        while len(self.replies) <= index:
            line = self.stdout.readline()
            if not line:
                self.process.wait()
                self.stderr.seek(0)
                tail = self.stderr.read().decode(errors="replace").strip().splitlines()[-5:]
                raise RuntimeError(f"plot worker ended (exit {self.process.returncode}): " + " | ".join(tail))
            self.replies.append(json.loads(line))
        reply = self.replies[index]
        if isinstance(reply, dict):
            if reply.get("user_error"):
                raise UserError(reply["error"])
            if reply.get("errno") is not None:  # a plot could not be written (full disk, read-only folder)
                raise OSError(reply["errno"], reply["strerror"], reply["filename"])
            raise RuntimeError(f"plot worker failed: {reply['error']}")
        return reply

    def close(self) -> None:
        """End the worker at once: every job whose result was collected is written (atomically), and the
        plots of any other job are not wanted (a failed run); a worker's own exit would take ~0.15 s."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.stdin, self.stdout, self.stderr):
            try:
                stream.close()
            except OSError:  # a broken pipe to the dead worker
                pass


class Job:
    """Plots being drawn by the workers; :meth:`result` waits and returns their paths."""

    def __init__(self, tickets: list[tuple[_Worker, int]]):
        self._tickets = tickets

    def result(self) -> list[Path]:
        shares = [worker.reply(index) for worker, index in self._tickets]
        ordered: list[str] = [""] * sum(len(s) for s in shares)  # every slot is filled below
        for i, share in enumerate(shares):  # share i holds drawings i, i + n, i + 2n, ...
            ordered[i :: len(shares)] = share
        return [Path(p) for p in ordered]


WORKERS = 2  # measured on 2 cores: 4 histogram plots 0.43 s after the loops instead of 1.4 s in-process


def workers_for(fit: bool) -> int:
    """Plot workers for a run: two when the fit runs (its plots and the histogram plots share them), one without
    (a few histogram plots: a second worker would cost its ~1.2 CPU-seconds of imports to save a fraction of a
    second; on a busy machine it costs wall time too)."""
    return WORKERS if fit else 1


class Painters:
    """``n`` warm plot workers (see the module's docstring); ``read_files``: they also import uproot up front, for
    jobs that name a histograms.root (those without it import it when such a job comes)."""

    def __init__(self, n: int = WORKERS, read_files: bool = True):
        self._workers = [_Worker(read_files) for _ in range(max(1, n))]

    def draw(self, kind: str, source, plots_dir, analysis: Analysis | str | None = None) -> Job:
        """Draw the plots of ``kind`` ("histograms": source is a mapping {AGC name: UHI histogram}, sent to the
        workers in memory (only the histograms drawn), or a histograms.root path; "fit": the fit summary or its
        path; "ml": the ML validation's numbers) of ``analysis`` (the definition or its name; None: the AGC v1) into
        ``plots_dir``, a share in each worker."""
        analysis = chosen(analysis)
        if isinstance(source, os.PathLike):
            source = str(source)
        elif kind in ("fit", "ml") and not isinstance(source, str):
            source = json.loads(json.dumps(source))  # plain data, as fit_results.json holds
        elif kind == "histograms" and isinstance(source, Mapping):
            drawn = drawn_names(analysis)
            source = {name: h for name, h in source.items() if name in drawn}
        n = len(self._workers)
        job = (kind, source, str(plots_dir))
        return Job([(w, w.send((*job, i, n, analysis))) for i, w in enumerate(self._workers)])

    def close(self) -> None:
        for worker in self._workers:
            worker.close()

    def __enter__(self) -> "Painters":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
