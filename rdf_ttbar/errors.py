"""The package's exceptions: every one it raises for users is a :class:`UserError`, which the command line
turns into a clear message."""

from __future__ import annotations

import os
from pathlib import Path


class UserError(Exception):
    """A problem the user can fix: the message names the problem and the fix."""

    @classmethod
    def listing(cls, problems: list[str], what: str, advice: str) -> "UserError":
        """One error for several problems: ``{n} {what}:``, one problem per indented line, then ``advice``."""
        lines = "".join(f"\n  {p}" for p in problems)
        return cls(f"{len(problems)} {what}:{lines}\n{advice}")


class DefinitionError(UserError):
    """An analysis definition that cannot be booked: the message names the part and the fix."""


class FitError(UserError):
    """The fit cannot run: the message names the problem and how to fix it.

    (A ``UserError``, so the command line prints it as a clear error message.)
    """


def note_kept(interruption: BaseException, text: str) -> BaseException:
    """Record on an interruption (KeyboardInterrupt, cli.Terminated) what the interrupted run kept, e.g. "the
    event loops' histograms are kept in ...": the command line says it instead of "nothing was written"."""
    setattr(interruption, "rdf_ttbar_kept", text)  # any exception: not an attribute of its class
    return interruption


def kept_note(interruption: BaseException) -> str | None:
    """What :func:`note_kept` recorded on ``interruption``; None: nothing of the run was kept."""
    return getattr(interruption, "rdf_ttbar_kept", None)


def require_file(path: str | os.PathLike, message: str) -> Path:
    """``path`` as a Path, when it is a file; else a UserError with ``message`` (``{path}`` in it filled in)."""
    file = Path(path)
    if not file.is_file():
        raise UserError(message.format(path=file))
    return file
