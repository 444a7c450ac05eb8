"""A copy of what this process writes to its standard error while ROOT books and runs the event loops.

ROOT's interpreter prints its compilation errors on file descriptor 2 and then raises "An error occurred during
just-in-time compilation. The lines above might indicate the cause": in a log file, a notebook or a test's captured
output those lines are far from (or missing next to) the error message. :class:`StderrTail` passes everything
written to descriptor 2 on, unchanged and at once, through a ``tee`` child process that also keeps a copy, so
that an error message can quote the lines before it (:meth:`StderrTail.lines`).

The ``tee`` runs in a session of its own (Ctrl-C in a terminal does not end it); if this process dies, it sees
the end of its input and has passed everything on. Used only where descriptor 2 is not a terminal (there the
lines are on the screen right above the message, and a progress bar needs the terminal); a no-op where ``tee``
is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from typing import IO

KEEP_BYTES = 64 * 1024  # of the copy, from its end


class StderrTail:
    """``with StderrTail() as tail: ...``; ``tail.lines()`` the last lines written to stderr inside."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = enabled
        self._tee: subprocess.Popen[bytes] | None = None
        self._saved: int | None = None  # descriptor 2 before the copy
        self._copy: IO[bytes] | None = None
        self._text: str | None = None

    def __enter__(self) -> "StderrTail":
        enabled = self.enabled if self.enabled is not None else not _isatty(2)
        tee = shutil.which("tee")
        if not enabled or tee is None:
            return self
        copy = tempfile.TemporaryFile()  # no name: nothing left behind
        try:
            read, write = os.pipe()
            try:
                _flush_stderr()
                saved = os.dup(2)
                try:
                    self._tee = subprocess.Popen(
                        [tee, "-a", f"/dev/fd/{copy.fileno()}"],
                        stdin=read,
                        stdout=saved,
                        pass_fds=(copy.fileno(),),
                        start_new_session=True,
                    )
                    os.dup2(write, 2)
                except BaseException:
                    os.close(saved)
                    raise
            finally:
                os.close(read)
                os.close(write)
        except OSError:  # no pipe, no process: run without the copy
            copy.close()
            self._tee = None
            return self
        self._saved, self._copy = saved, copy
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Restore descriptor 2 and wait for ``tee`` to pass the rest on (idempotent)."""
        if self._tee is None:
            return
        tee, self._tee = self._tee, None
        saved, copy = self._saved, self._copy
        assert saved is not None and copy is not None  # set together with _tee (__enter__)
        _flush_stderr()
        os.dup2(saved, 2)
        os.close(saved)
        try:  # a child started meanwhile may still hold the pipe: do not wait for it
            tee.wait(timeout=5)
        except subprocess.TimeoutExpired:
            tee.kill()
            tee.wait()
        copy.seek(0, os.SEEK_END)
        copy.seek(max(0, copy.tell() - KEEP_BYTES))
        self._text = copy.read().decode(errors="replace")
        copy.close()

    def lines(self, n: int = 20) -> list[str]:
        """The last ``n`` non-blank lines written to stderr while active (stops the copy first)."""
        self.stop()
        return [line.rstrip() for line in (self._text or "").splitlines() if line.strip()][-n:]


def _flush_stderr() -> None:
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError):  # closed, or a broken pipe
        pass


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False
