"""Dask specifics of the distributed event loops: the scheduler check, the local cluster, the workers'
set-up and counters, and the progress display.

- ``check_scheduler(address)``: asks the address who it is (Dask's ``identity`` call)
  with a hard time-out, so that an address where something else answers (an
  HTTP server, the dashboard's port, a silent listener, a worker) fails in
  seconds with a message naming it; ``distributed.Client`` waits for ever there.
- ``local_cluster(n)``: a ``LocalCluster`` whose workers' scratch space is a
  folder of its own, removed when the cluster closes (Dask's default,
  ``/tmp/dask-scratch-space``, stays behind).
- ``prepare_workers(client)``: on every worker present, before ROOT is first
  imported there: silence ROOT's pre-release warning, then import ROOT (each
  task's set-up, workers.py, then collects RDataFrame's jitting messages for the
  life of the worker). ``worker_counters(client)`` reads each worker's jitting
  seconds and ROOT's bytes-read counter; the difference over a run is what the
  run cost (a worker before its first task has none: it counts from zero).
- ``quiet_progress(total, draw)``: replaces the progress bar of ROOT's Dask
  backend (one Dask text bar per graph, redrawn every 0.1 s, on stdout, even
  into a log file) by one line for all graphs on stderr, or nothing.

What runs on the workers is workers.py's code, sent by value, so the workers need ROOT and Dask but
not rdf_ttbar.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import UserError
from ..quiet import ROOT_PRE_RELEASE
from . import workers

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0  # a scheduler that does not answer its identity within this is not one


# ---------------------------------------------------------------------------- the scheduler
def check_scheduler(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """A UserError unless a Dask scheduler answers at ``address`` within ``timeout_s``."""
    from distributed.comm import connect
    from distributed.comm.addressing import parse_address, parse_host_port

    fix = "start it with 'dask scheduler' or fix --scheduler-address"
    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location)
    except ValueError as err:
        raise UserError(f"--scheduler-address {address} is not an address ({err}): use tcp://HOST:PORT") from None
    if scheme == "tcp":  # nobody listening: say so at once (Dask's connect retries until its time-out)
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
        except OSError as err:
            raise UserError(f"cannot reach the Dask scheduler at {address} ({err.strerror or err}); {fix}") from None

    async def identity() -> dict:
        comm = await connect(address, timeout=timeout_s)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        answer = asyncio.run(asyncio.wait_for(identity(), timeout_s))
    except asyncio.TimeoutError:
        raise UserError(
            f"no Dask scheduler answered at {address} within {timeout_s:.0f} s: something accepts "
            "connections there but does not speak Dask's protocol (a web server? the dashboard's port, "
            f"usually 8787, instead of the scheduler's, usually 8786?); {fix}"
        ) from None
    except Exception as err:  # noqa: BLE001 (reset, closed, garbage: all "not a scheduler")
        raise UserError(f"no Dask scheduler answers at {address} ({type(err).__name__}: {err}); {fix}") from None
    kind = answer.get("type") if isinstance(answer, dict) else None
    if kind != "Scheduler":
        raise UserError(
            f"{address} answers as a Dask {kind or 'peer of unknown kind'}, not as a scheduler: "
            "pass the scheduler's address (the one the workers were started with)"
        )


# ---------------------------------------------------------------------------- a local cluster
class LocalClusterWithScratch:
    """A ``LocalCluster`` of single-threaded worker processes with a scratch folder of its own."""

    def __init__(self, n_workers: int):
        import dask
        from dask.distributed import LocalCluster

        where = dask.config.get("temporary-directory", None) or None
        try:
            if where:
                Path(where).mkdir(parents=True, exist_ok=True)
            self.scratch = Path(tempfile.mkdtemp(prefix="rdf_ttbar-dask-", dir=where))
        except OSError as err:
            raise UserError(
                f"cannot make the Dask workers' scratch folder in {where or tempfile.gettempdir()} "
                f"({err.strerror or err}): set Dask's temporary-directory (DASK_TEMPORARY_DIRECTORY) "
                "to a writable folder"
            ) from None
        try:  # the scheduler and the nannies make their scratch space from the configuration
            with dask.config.set({"temporary-directory": str(self.scratch)}):
                self.cluster = LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    local_directory=str(self.scratch),
                )
        except BaseException:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise

    def close(self) -> None:
        try:
            self.cluster.close()
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)


# ---------------------------------------------------------------------------- the workers
def prepare_workers(client) -> None:
    """Silence ROOT's pre-release warning on the workers and import ROOT there."""
    try:
        client.run(*workers.remote_call("dask", workers.prepare_process, ROOT_PRE_RELEASE))
    except Exception as err:  # noqa: BLE001 (whatever the workers raise)
        raise UserError(
            f"the Dask workers could not import ROOT ({type(err).__name__}: {err}); they need the "
            "same Python environment as this process (ROOT, dask, distributed)"
        ) from None


def worker_counters(client) -> dict[str, tuple[float, int]]:
    """{worker: (jitting seconds, bytes read)} so far, of every worker that can tell (prepared ones)."""
    answers = client.run(*workers.remote_call("dask", workers.counters), on_error="return")
    return {w: a for w, a in answers.items() if isinstance(a, tuple)}


def counters_difference(before: dict, after: dict) -> tuple[float, int]:
    """Jitting seconds and bytes read over a run, summed over the workers.

    A worker that was not there before (or restarted, its counters lower than before) counts from zero.
    """
    jit = read = 0
    for worker, (jit_after, read_after) in after.items():
        jit_before, read_before = before.get(worker, (0.0, 0))
        if jit_after < jit_before or read_after < read_before:
            jit_before, read_before = 0.0, 0
        jit += jit_after - jit_before
        read += read_after - read_before
    return jit, read


# ---------------------------------------------------------------------------- progress
class DaskProgress:
    """Stands in for the progress bar of ROOT's Dask backend while active.

    ROOT calls ``progress(result)`` once per graph; here that only records the
    graph's result. With ``draw``, a thread redraws one line on stderr every
    ``interval_s``: the graphs (samples) finished out of ``total``.
    """

    def __init__(self, total: int, draw: bool, interval_s: float = 0.5):
        self.total, self.draw, self.interval_s = total, draw, interval_s
        self.engine = "Dask"  # named in the line
        self.futures: list = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, *results, **_options) -> None:
        from distributed.client import futures_of

        with self._lock:
            for result in results:
                self.futures += futures_of(result)

    def done(self) -> int:
        with self._lock:
            return sum(f.done() for f in self.futures)

    def _line(self) -> None:
        done, width = self.done(), 30
        filled = width * done // max(self.total, 1)
        sys.stderr.write(
            f"\revent loop on {self.engine} [{'#' * filled}{'.' * (width - filled)}] {done} / {self.total} "
            f"samples done  {time.monotonic() - self._start:.0f} s  "
        )
        sys.stderr.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._line()

    def __enter__(self):
        self._start = time.monotonic()
        if self.draw:
            self._thread = threading.Thread(target=self._run, name="rdf_ttbar-dask-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._line()
            sys.stderr.write("\n")


@contextmanager
def quiet_progress(total: int, draw: bool):
    """ROOT's Dask backend reports progress through ``DaskProgress(total, draw)`` inside the block."""
    try:
        from ROOT._distrdf.Backends.Dask import Backend as backend
    except ImportError:  # another ROOT: leave its progress display alone
        backend = None
    original = getattr(backend, "progress", None)
    if original is None:
        log.debug("ROOT's Dask backend has no 'progress' to replace: its own progress display stays")
    with DaskProgress(total, draw) as tracker:
        if original is not None:
            backend.progress = tracker
        try:
            yield tracker
        finally:
            if original is not None:
                backend.progress = original
