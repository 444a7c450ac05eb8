"""Ctrl-C, SIGTERM and SIGHUP on the command line: acted on where it is safe, never inside ROOT's C++.

Python raises ``KeyboardInterrupt`` at the next bytecode of the main thread, wherever that is. Inside a call of
ROOT through cppyy it can be Python code that C++ runs (a pythonization, a ``hasattr`` lookup): an exception
there crashes cppyy (a segmentation violation, ROOT's stack dump); and an interrupted thread that drives C++
threads (the demo generator) leaves them running while Python exits (``terminate called``, ``*** Break ***
abort``). So the command line installs handlers (:func:`install`) that only note the signal, and the run acts
on it at its safe points:

- :func:`check` between the stages (imports, input checks, booking, after each event loop or batch of
  deliveries): raises the interruption noted;
- :func:`requested` in loops that wait for C++ threads: they stop those threads (the demo generator), then
  :func:`check`;
- :func:`immediate` around pure-Python work (the fit, waiting for the plots or for the compiler): a signal
  raises at once there, as Python's own handler would.

The interruption raised is ``KeyboardInterrupt`` for SIGINT and :class:`Terminated` for SIGTERM and SIGHUP
(a subclass: code that cleans up on Ctrl-C cleans up on both). Without :func:`install` (the Python API, a
notebook) :func:`check` and :func:`requested` see nothing and Python's own handling is unchanged.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_pending: int | None = None  # the signal noted and not acted on yet
_immediate = 0  # depth of immediate() blocks
_installed = False


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so that every staging folder is removed."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def interruption(signum: int) -> KeyboardInterrupt:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def _handler(signum, frame):
    global _pending
    if _immediate:
        _pending = None
        raise interruption(signum)
    if _pending is None:
        _pending = signum


def install() -> dict | None:
    """Note SIGINT, SIGTERM and SIGHUP instead of raising at once (the command line's; main thread only).
    Returns the handlers replaced, for :func:`restore`; None: nothing changed (installed before, or not the
    main thread)."""
    global _installed, _pending
    if _installed or threading.current_thread() is not threading.main_thread():
        return None
    previous = {signum: signal.signal(signum, _handler) for signum in SIGNALS}
    _installed, _pending = True, None
    return previous


def restore(previous: dict | None) -> None:
    """Put back the handlers that :func:`install` replaced (``main()`` called in a process of its caller's)."""
    global _installed, _pending
    if previous is not None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _installed, _pending = False, None


def requested() -> bool:
    """Whether a signal was noted and not acted on yet."""
    return _pending is not None


def check() -> None:
    """A safe point: raise the interruption of a signal noted meanwhile."""
    global _pending
    if _pending is not None:
        signum, _pending = _pending, None
        raise interruption(signum)


@contextmanager
def immediate():
    """Pure-Python work (no C++ below it on the stack): a signal noted before, or arriving inside, raises."""
    global _immediate
    check()
    _immediate += 1
    try:
        yield
    finally:
        _immediate -= 1
