"""Known third-party warnings, silenced where they arise and nowhere else."""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import warnings
from contextlib import contextmanager

# the PyPI build of ROOT warns at its import that it is a pre-release
ROOT_PRE_RELEASE = r"\s*This distribution of ROOT is in alpha"


@contextmanager
def root_import():
    """Code inside may be the first to ``import ROOT``: without ROOT's pre-release UserWarning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=ROOT_PRE_RELEASE, category=UserWarning)
        yield


# Without a C++ compiler on PATH, ROOT's interpreter prints this block when it starts (and then works with
# its built-in paths); rdf_ttbar says in one line what a missing compiler means (analysis/native.py).
NO_COMPILER_BLOCK = re.compile(
    r"(?:sh: \d+: [^\n]*not found\n)*"
    r"ERROR in cling::CIFactory::createCI\(\): cannot extract "
    r"standard library include paths!\n.*?With exit code -?\d+\n",
    re.S,
)
_interpreter_started = False


def import_root():
    """``import ROOT`` without its pre-release UserWarning, and its interpreter started without the block it
    prints when there is no C++ compiler (a no-op once done); returns the module."""
    global _interpreter_started
    with root_import():
        import ROOT
    if not _interpreter_started:
        _interpreter_started = True
        with tempfile.TemporaryFile() as copy:
            sys.stderr.flush()
            saved = os.dup(2)
            os.dup2(copy.fileno(), 2)
            try:
                ROOT.gInterpreter.Declare("")  # the interpreter starts here
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            copy.seek(0)
            text = NO_COMPILER_BLOCK.sub("", copy.read().decode(errors="replace"))
        if text:
            sys.stderr.write(text)
    return ROOT


@contextmanager
def logger_level(name: str, level: int = logging.CRITICAL):
    """The logger ``name`` at ``level`` inside (e.g. a library's expected messages silenced), as before after."""
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)
