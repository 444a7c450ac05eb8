"""Real servers on localhost for the network tests: an XRootD file server and a Dask cluster.

- ``XRootDServer``: the package's launcher (``rdf_ttbar/cli/xrootd_server.py``, which ``bench --rtt-ms`` uses;
  its docstring explains the root:// user name and running as another user when root): Debian's ``xrootd``
  serving a fresh temporary directory on a free port over root:// and, through its XrdHttp plugin, over
  http:// on a second port (``url(name, scheme)``); ``add(file)`` copies a file into it and returns its URL,
  ``stop()`` kills the server (later opens are refused). root:// URLs carry the user name ``rdftest``. A
  missing ``xrootd`` binary is a test FAILURE that says what to install, never a skip.
- ``DaskCluster``: ``dask scheduler`` + two single-threaded ``dask worker``
  processes started from this interpreter (``python -m distributed.cli...``),
  in a scratch directory and without the repository on their path, as on a
  real cluster.
- their fixtures ``xrootd_server`` (one per test) and ``dask_cluster`` (one per module) are in conftest.py.

Every wait is bounded; every process started here is killed at teardown.
Every folder made here is listed in ``CREATED_PATHS`` and removed at teardown
(xrootd's pid folder is moved from /tmp/<name> into the server's own folder;
the Dask processes' scratch space into the cluster's); conftest.py checks at
the end of the session that none of them is left.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from rdf_ttbar.cli import xrootd_server
from rdf_ttbar.cli.xrootd_server import free_port, port_open
from rdf_ttbar.cli.xrootd_server import stop_process as _stop_process
from rdf_ttbar.cli.xrootd_server import tail as _tail
from rdf_ttbar.errors import UserError

XROOTD_INSTALL_HINT = (
    "the network tests need a real XRootD server: install Debian's xrootd-server "
    "(sudo apt-get install xrootd-server) so that the 'xrootd' binary is on PATH"
)
START_TIMEOUT_S = 30.0

# every folder the servers here create (or make their programs create): none may survive the session
CREATED_PATHS: list[Path] = []


# ---------------------------------------------------------------------------- XRootD
class XRootDServer(xrootd_server.XRootDServer):
    """The package's launcher (rdf_ttbar/cli/xrootd_server.py) with XrdHttp, user ``rdftest``, its folders in
    ``CREATED_PATHS``, and its failures as test failures."""

    def __init__(self):
        try:
            super().__init__(user_name="rdftest", http=True)
        except UserError as err:
            pytest.fail(XROOTD_INSTALL_HINT if shutil.which("xrootd") is None else str(err), pytrace=False)
        CREATED_PATHS.append(self.base)

    def add(self, source: Path, name: str | None = None, scheme: str = "root") -> str:  # type: ignore[override]
        """Copy ``source`` into the served directory; its URL."""
        return self.url(super().add(source, name), scheme)

    def start(self) -> XRootDServer:
        # up to 3 tries, each on new free ports: another process of the loaded test machine (a Dask or Spark
        # worker) may take a port between free_port() and xrootd's bind; a server that never starts is a failure
        # that leaves no folder behind
        for attempt in range(3):
            self.port = self.port or free_port()
            CREATED_PATHS.append(self.pid_dir)  # where xrootd puts its pid folder (owned by the server's user)
            try:
                return super().start()
            except UserError as err:
                if attempt == 2:
                    self.cleanup()
                    pytest.fail(str(err), pytrace=False)
                self.port = self.http_port = None
        raise AssertionError("unreachable")


# ---------------------------------------------------------------------------- Dask
class DaskCluster:
    """``dask scheduler`` + ``n_workers`` single-threaded ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, n_workers: int = 2):
        self.n_workers = n_workers
        self.base = Path(tempfile.mkdtemp(prefix="rdf_ttbar-dask-"))
        CREATED_PATHS.append(self.base)
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        # the workers must not see the repository: they get only what RDF ships to them
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        self.env["DASK_DISTRIBUTED__WORKER__DAEMON"] = "False"
        self.env["DASK_TEMPORARY_DIRECTORY"] = str(self.base)  # the scheduler's scratch space, not /tmp's

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.base / f"{name}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.base,
            env=self.env,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def logs(self, full: bool = False) -> str:
        """The scheduler's and workers' output (the last lines of each, or all of it)."""

        def text(p: Path) -> str:
            return p.read_text(errors="replace") if full else _tail(p)

        return "\n".join(f"--- {p.name}:\n{text(p)}" for p in sorted(self.base.glob("*.log")))

    def start(self) -> "DaskCluster":
        scheduler = self._spawn(
            "scheduler",
            [
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-dashboard",
                "--idle-timeout",
                "900",
            ],
        )  # a safety net if teardown never runs
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_open(self.port):
            if scheduler.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the dask scheduler did not start on {self.address}:\n{self.logs()}", pytrace=False)
            time.sleep(0.1)
        for i in range(self.n_workers):
            self._spawn(
                f"worker{i}",
                [
                    "distributed.cli.dask_worker",
                    self.address,
                    "--name",
                    f"worker{i}",
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    "--local-directory",
                    str(self.base / f"w{i}"),
                    "--death-timeout",
                    "60",
                ],
            )
        from dask.distributed import Client

        try:
            with Client(self.address, timeout="20s") as client:
                client.wait_for_workers(self.n_workers, timeout=60)
        except Exception as err:  # noqa: BLE001 (any failure here is a broken test set-up)
            self.stop()
            pytest.fail(
                f"the dask cluster at {self.address} did not get {self.n_workers} workers ({err}):\n{self.logs()}",
                pytrace=False,
            )
        return self

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.procs[1:]]

    def stop(self) -> None:
        for proc in reversed(self.procs):  # workers (with the processes their nannies started), then the scheduler
            _stop_process(proc, grace_s=3)
        shutil.rmtree(self.base, ignore_errors=True)
