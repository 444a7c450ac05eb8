"""Real servers on localhost for the network tests: an XRootD file server and a Dask cluster.

- ``XRootDServer``: Debian's ``xrootd`` serving a fresh temporary directory on a
  free port over root:// and, through its XrdHttp plugin, over http:// on a
  second port (``url(name, scheme)``); ``add(file)`` copies a file into it,
  ``stop()`` kills the server (later opens are refused). A missing ``xrootd``
  binary is a test FAILURE that says what to install, never a skip.
  root:// URLs carry a user name (``root://rdftest@127.0.0.1:PORT//NAME``): for a
  root:// URL on this very host, ROOT's TFile::Open opens the path as a local
  file unless the option is exactly "READ", and RDataFrame opens with
  "READ_WITHOUT_GLOBALREGISTRATION" (ROOT 6.40); a user other than the current
  one turns that shortcut off, so the tests really go through the server.
  xrootd refuses to run as root: as root it is started with ``-R <user>`` (the
  Debian package's ``xrootd`` user, else ``nobody``), so its directories live
  in a world-traversable temporary directory, not in pytest's private tmp_path.
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

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

XROOTD_INSTALL_HINT = (
    "the network tests need a real XRootD server: install Debian's xrootd-server "
    "(sudo apt-get install xrootd-server) so that the 'xrootd' binary is on PATH"
)
START_TIMEOUT_S = 30.0

# every folder the servers here create (or make their programs create): none may survive the session
CREATED_PATHS: list[Path] = []


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _stop_process(proc: subprocess.Popen | None, grace_s: float = 5.0) -> None:
    """Stop a process we started in its own session, and its children: SIGTERM, then SIGKILL."""
    if proc is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        # the process group of the session we started (the process and its children), and the process
        for kill in (lambda: os.killpg(proc.pid, sig), lambda: proc.send_signal(sig)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill()
        try:
            proc.wait(timeout=grace_s)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # children that outlived it


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------------------- XRootD
class XRootDServer:
    """``xrootd`` on 127.0.0.1:PORT exporting a fresh directory (``self.data``)."""

    def __init__(self):
        self.binary = shutil.which("xrootd")
        if self.binary is None:
            pytest.fail(XROOTD_INSTALL_HINT, pytrace=False)
        # as root the server runs as another user, who must be able to reach its folders
        where = "/tmp" if os.geteuid() == 0 and Path("/tmp").is_dir() else None
        self.base = Path(tempfile.mkdtemp(prefix="rdf_ttbar-xrootd-", dir=where))
        CREATED_PATHS.append(self.base)
        self.base.chmod(0o755)
        self.data = self.base / "data"
        self.data.mkdir(mode=0o755)
        self.data.chmod(0o755)
        self.run_dir = self.base / "run"  # logs, pid and admin files: the server's user must write there
        self.run_dir.mkdir()
        self.user = None
        if os.geteuid() == 0:
            self.user = _unprivileged_user()
            os.chown(self.run_dir, pwd.getpwnam(self.user).pw_uid, -1)
        self.port = self.http_port = None
        self.proc: subprocess.Popen | None = None

    @property
    def name(self) -> str:
        return f"rdfttbar{self.port}"

    @property
    def log(self) -> Path:
        # xrootd puts the log into a sub-folder named after the instance
        return self.run_dir / self.name / "xrootd.log"

    def url(self, name: str, scheme: str = "root") -> str:
        if scheme == "http":
            return f"http://127.0.0.1:{self.http_port}/{name}"
        return f"root://rdftest@127.0.0.1:{self.port}//{name}"

    def add(self, source: Path, name: str | None = None, scheme: str = "root") -> str:
        """Copy ``source`` into the served directory; its URL."""
        target = self.data / (name or Path(source).name)
        shutil.copyfile(source, target)
        target.chmod(0o644)
        return self.url(target.name, scheme)

    def start(self) -> "XRootDServer":
        self.port = self.port or free_port()
        self.http_port = self.http_port or free_port()
        # where xrootd would put its pid file without all.pidpath (owned by the server's user)
        CREATED_PATHS.append(Path(tempfile.gettempdir()) / self.name)
        config = self.base / "xrootd.cfg"
        config.write_text(
            f"all.export /\noss.localroot {self.data}\nall.pidpath {self.run_dir}\n"
            f"xrd.protocol XrdHttp:{self.http_port} libXrdHttp.so\n"
        )
        config.chmod(0o644)
        cmd = [
            self.binary,
            "-I",
            "v4",
            "-p",
            str(self.port),
            "-c",
            str(config),
            "-n",
            self.name,
            "-l",
            str(self.run_dir / "xrootd.log"),
            "-s",
            str(self.run_dir / "xrootd.pid"),
            "-a",
            str(self.run_dir / "adm"),
        ]
        if self.user:
            cmd += ["-R", self.user]
        self.stdout = open(self.base / "stdout.txt", "wb")
        self.proc = subprocess.Popen(
            cmd, stdout=self.stdout, stderr=subprocess.STDOUT, cwd=self.base, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (port_open(self.port) and port_open(self.http_port)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                output = _tail(self.base / "stdout.txt")
                self.stop()
                pytest.fail(
                    f"xrootd did not start on ports {self.port}, {self.http_port} ({' '.join(cmd)}):\n"
                    f"{output}\nlog:\n{_tail(self.log)}",
                    pytrace=False,
                )
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Kill the server: from now on connections to its port are refused."""
        _stop_process(self.proc)
        if getattr(self, "stdout", None):
            self.stdout.close()
        deadline = time.monotonic() + 10
        while self.port and port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def _unprivileged_user() -> str:
    for user in ("xrootd", "nobody"):
        try:
            pwd.getpwnam(user)
            return user
        except KeyError:
            continue
    pytest.fail(
        "xrootd refuses to run as root and neither the 'xrootd' nor the 'nobody' user exists; "
        "run the tests as a normal user",
        pytrace=False,
    )


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
