"""Known third-party warnings, silenced where they arise and nowhere else."""

from __future__ import annotations

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


def import_root():
    """``import ROOT`` without its pre-release UserWarning (a no-op once ROOT is imported); returns the module."""
    with root_import():
        import ROOT
    return ROOT
