"""The output folder: a staging folder inside it, published as a whole, and clear messages when it cannot be written.

A run writes its outputs into ``OUTPUT/.rdf_ttbar-partial-XXXX`` and :meth:`OutputFolder.publish` moves them into
place: every name of :data:`OUTPUTS` that the run did not produce is removed from the folder, so that no output of
an earlier run stays beside the new ones. Paths written inside JSON outputs are rewritten from the staging folder
to their final place before the move. Leaving the ``with`` block removes the staging folder, whatever happened.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .. import atomic
from ..errors import UserError
from ..inputs import remote

log = logging.getLogger(__name__)

OUTPUTS = (
    "histograms.root",
    "histograms_ml.root",
    "workspace.json",
    "fit_results.json",
    "metrics.json",
    "plots",
    "report.html",
)
STAGING_PREFIX = ".rdf_ttbar-partial-"
PATH_ROOM = 160  # bytes of path that the staging folder and the outputs inside it need below the output folder


def problem(err: OSError, folder: Path) -> UserError:
    """One message for an output folder that cannot be written, naming the folder and the fix."""
    fix = "choose another --output-dir"
    if err.errno == errno.ENOSPC or err.errno == errno.EDQUOT:
        return UserError(f"no space left for the outputs in {folder}: free some space there or {fix}")
    if err.errno == errno.EFBIG:
        return UserError(
            f"a file in {folder} grew beyond this process's file-size limit (File too large; see ulimit -f): "
            f"raise the limit or {fix}"
        )
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UserError(f"cannot write into the output folder {folder} (permission denied or read-only): {fix}")
    if err.errno == errno.ENAMETOOLONG:
        return UserError(
            f"the output folder {shortened(folder)} has a path too long for this system "
            f"({len(os.fsencode(os.path.abspath(folder)))} bytes; the paths of the outputs inside it "
            f"must stay under {os.pathconf('/', 'PC_PATH_MAX')} bytes, each name under "
            f"{os.pathconf('/', 'PC_NAME_MAX') + 1}): choose a shorter --output-dir"
        )
    if err.errno in (errno.EEXIST, errno.ENOTDIR):
        what = "is a file" if _is_file(folder) else "lies under a file"
        return UserError(f"the output folder {folder} {what}, not a folder: {fix} (or move the file away)")
    return UserError(f"cannot write the outputs into {folder} ({err.strerror or err}): {fix}")


def shortened(path: Path, keep: int = 120) -> str:
    """``path`` for a message: its start and end around "..." when it is longer than ``keep`` characters."""
    text = str(path)
    return text if len(text) <= keep else f"{text[: keep // 2]}...{text[-keep // 2 :]}"


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a path too long, a loop of links
        return False


@contextmanager
def write_errors(folder: Path):
    """Turn an OSError raised while writing into ``folder`` into one UserError (problem)."""
    try:
        yield
    except OSError as err:
        raise problem(err, folder) from None


def _owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned(folder: Path) -> None:
    """Remove the staging folders of runs of this host that were killed outright (SIGKILL, power loss)."""
    host = socket.gethostname()
    for staging in folder.glob(f"{STAGING_PREFIX}{host}-*"):
        pid = staging.name[len(f"{STAGING_PREFIX}{host}-") :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            log.info("removing %s, left by a run that was killed", staging)
            shutil.rmtree(staging, ignore_errors=True)


class OutputFolder:
    """``with OutputFolder(dir) as out:`` write into ``out.staging``, then ``out.publish()``.

    Entering creates the folder and the staging folder inside it, so a folder that cannot be written is refused
    before any event loop runs.
    """

    def __init__(self, final: str | os.PathLike):
        self.final = Path(final)
        self._staging: Path | None = None
        self.published: list[str] = []

    @property
    def staging(self) -> Path:
        """The staging folder inside the folder (made on entering the ``with`` block)."""
        if self._staging is None:
            raise RuntimeError("OutputFolder.staging is made on entering its 'with' block")
        return self._staging

    def __enter__(self) -> "OutputFolder":
        with write_errors(self.final):  # exists() raises for a path too long
            # room for the staging folder and the names inside it, else folders would be made and left behind
            if len(os.fsencode(os.path.abspath(self.final))) + PATH_ROOM > os.pathconf("/", "PC_PATH_MAX"):
                raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
            if self.final.exists() and not self.final.is_dir():
                raise OSError(errno.ENOTDIR, "not a folder")
            self.final.mkdir(parents=True, exist_ok=True)
            remove_abandoned(self.final)
            self._staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{_owner()}-", dir=self.final))
        remote.remove_on_crash(self._staging)  # also if ROOT crashes after a read error (cpp/remote.h)
        return self

    def __exit__(self, *exc) -> None:
        remote.remove_on_crash(None)
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)

    def final_path(self, path: str | os.PathLike) -> Path:
        """Where ``path`` (in the staging folder) will be once published."""
        path = Path(path)
        try:
            return self.final / path.relative_to(self.staging)
        except ValueError:
            return path

    def publish(self) -> list[Path]:
        """Move the staged outputs into the folder, removing the earlier run's outputs the staging lacks.

        Returns the published paths, in the order of OUTPUTS.
        """
        with write_errors(self.final):
            for name in OUTPUTS:
                if name.endswith(".json") and (self.staging / name).is_file():
                    self._finalize_json(self.staging / name)
            for name in OUTPUTS:
                source, target = self.staging / name, self.final / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                elif target.exists() or target.is_symlink():
                    target.unlink()
                if source.exists():
                    os.replace(source, target)
                    self.published.append(name)
        return [self.final / name for name in self.published]

    def _finalize_json(self, path: Path) -> None:
        """Rewrite every string naming a staged path to the path it will have once published."""
        staging = str(self.staging)

        def fix(value):
            if isinstance(value, str) and value.startswith(staging):
                return str(self.final) + value[len(staging) :]
            if isinstance(value, list):
                return [fix(v) for v in value]
            if isinstance(value, dict):
                return {k: fix(v) for k, v in value.items()}
            return value

        # (compared as data: JSON escapes the non-ASCII characters of a path, which the text would not match)
        content = json.loads(path.read_text())
        fixed = fix(content)
        if fixed != content:
            atomic.write_text(path, json.dumps(fixed, indent=2) + "\n")
