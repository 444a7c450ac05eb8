"""A local XRootD file server (Debian's ``xrootd``) on 127.0.0.1, for ``bench --rtt-ms`` and the network tests.

``XRootDServer(user_name)`` makes a fresh folder ``base`` with ``data`` (the exported folder: ``add`` links or
copies files into it), ``start()`` launches ``xrootd`` on a free port (and, with ``http=True``, XrdHttp on a
second one), ``url(name)`` gives ``root://USER@127.0.0.1:PORT//name``, ``stop()`` kills the server and
``cleanup()`` also removes every folder it made.

- root:// URLs carry a user name other than the current one: for a root:// URL on this very host, ROOT's
  TFile::Open opens the path as a local file unless the option is exactly "READ", and RDataFrame opens with
  "READ_WITHOUT_GLOBALREGISTRATION" (ROOT 6.40); another user turns that shortcut off, so the reads really go
  through the server.
- xrootd refuses to run as root: as root it is started with ``-R <user>`` (the Debian package's ``xrootd``
  user, else ``nobody``), so its folders live in a world-traversable temporary folder and the files are
  world-readable.
- xrootd makes a folder ``/tmp/<instance name>`` even with ``all.pidpath``; ``cleanup`` removes it.

Failures raise :class:`rdf_ttbar.errors.UserError` with one line that names the fix (a missing binary: install
Debian's xrootd-server).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from ..errors import UserError

INSTALL_HINT = "install Debian's xrootd-server (apt-get install xrootd-server) so that the 'xrootd' binary is on PATH"
START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def stop_process(proc: subprocess.Popen | None, grace_s: float = 5.0) -> None:
    """Stop a process started in its own session (``start_new_session``), and its children: SIGTERM, then
    SIGKILL."""
    if proc is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
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


def tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def unprivileged_user() -> str:
    """The user xrootd runs as when started by root."""
    for user in ("xrootd", "nobody"):
        try:
            pwd.getpwnam(user)
            return user
        except KeyError:
            continue
    raise UserError(
        "xrootd refuses to run as root and neither the 'xrootd' nor the 'nobody' user exists: run as a normal user"
    )


class XRootDServer:
    """``xrootd`` on 127.0.0.1:PORT exporting a fresh folder (``self.data``)."""

    def __init__(
        self,
        user_name: str = "rdfbench",
        http: bool = False,
        prefix: str = "rdfttbar",
        folder: str = "rdf_ttbar-xrootd-",
    ):
        """``prefix``: of the instance name (``prefix`` + port); ``folder``: of the temporary folder's name."""
        binary = shutil.which("xrootd")
        if binary is None:
            raise UserError(f"no 'xrootd' binary on PATH: {INSTALL_HINT}")
        self.binary: str = binary
        if user_name == getpass.getuser():
            raise UserError(f"the root:// user name must differ from the current user {user_name!r}")
        self.user_name, self.http, self.prefix = user_name, http, prefix
        # as root the server runs as another user, who must be able to reach its folders
        where = "/tmp" if os.geteuid() == 0 and Path("/tmp").is_dir() else None
        self.base = Path(tempfile.mkdtemp(prefix=folder, dir=where))
        self.base.chmod(0o755)
        self.data = self.base / "data"
        self.data.mkdir(mode=0o755)
        self.data.chmod(0o755)
        self.run_dir = self.base / "run"  # logs, pid and admin files: the server's user must write there
        self.run_dir.mkdir()
        self.user = None
        if os.geteuid() == 0:
            self.user = unprivileged_user()
            os.chown(self.run_dir, pwd.getpwnam(self.user).pw_uid, -1)
        self.port: int | None = None
        self.http_port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.stdout: BinaryIO | None = None

    @property
    def name(self) -> str:
        """The instance name (``-n``)."""
        return f"{self.prefix}{self.port}"

    @property
    def pid_dir(self) -> Path:
        """The folder xrootd makes for its instance in the temporary folder."""
        return Path(tempfile.gettempdir()) / self.name

    @property
    def log(self) -> Path:
        # xrootd puts the log into a sub-folder named after the instance
        return self.run_dir / self.name / "xrootd.log"

    def url(self, name: str, scheme: str = "root", port: int | None = None) -> str:
        """The URL of a served file; ``port``: another port that forwards to the server (a latency shim)."""
        if scheme == "http":
            return f"http://127.0.0.1:{port or self.http_port}/{name}"
        return f"root://{self.user_name}@127.0.0.1:{port or self.port}//{name}"

    def add(self, source: Path, name: str | None = None, link: bool = False) -> str:
        """Put ``source`` into the served folder (a copy; ``link``: a hard link where the file is
        world-readable and on the same file system); returns its served name."""
        target = self.data / (name or Path(source).name)
        if link and os.stat(source).st_mode & 0o004:
            try:
                os.link(source, target)
                return target.name
            except OSError:
                pass
        shutil.copyfile(source, target)
        target.chmod(0o644)
        return target.name

    def start(self) -> XRootDServer:
        self.port = self.port or free_port()
        if self.http:
            self.http_port = self.http_port or free_port()
        config = self.base / "xrootd.cfg"
        text = f"all.export /\noss.localroot {self.data}\nall.pidpath {self.run_dir}\n"
        if self.http:
            text += f"xrd.protocol XrdHttp:{self.http_port} libXrdHttp.so\n"
        config.write_text(text)
        config.chmod(0o644)
        cmd = [self.binary, "-I", "v4", "-p", str(self.port), "-c", str(config), "-n", self.name]
        cmd += ["-l", str(self.run_dir / "xrootd.log"), "-s", str(self.run_dir / "xrootd.pid")]
        cmd += ["-a", str(self.run_dir / "adm")] + (["-R", self.user] if self.user else [])
        self.stdout = open(self.base / "stdout.txt", "wb")
        self.proc = subprocess.Popen(
            cmd, stdout=self.stdout, stderr=subprocess.STDOUT, cwd=self.base, start_new_session=True
        )
        ports = [self.port] + ([self.http_port] if self.http_port else [])
        deadline = time.monotonic() + START_TIMEOUT_S
        while not all(port_open(p) for p in ports):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                output = tail(self.base / "stdout.txt")
                self.stop()
                raise UserError(
                    f"xrootd did not start on port(s) {ports} ({' '.join(cmd)}):\n{output}\nlog:\n{tail(self.log)}"
                )
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Kill the server: from now on connections to its port are refused."""
        stop_process(self.proc)
        if self.stdout is not None:
            self.stdout.close()
        deadline = time.monotonic() + 10
        while self.port and port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def cleanup(self) -> None:
        """Stop the server and remove its folders."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
        if self.port:
            shutil.rmtree(self.pid_dir, ignore_errors=True)
