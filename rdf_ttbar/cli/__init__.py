"""The command line, the top layer: ``python -m rdf_ttbar`` (:mod:`.main`) and its sub-commands ``generate``,
``fit``, ``validate``, ``deliver`` and ``bench`` (one module each). Only this package prints."""

from .main import main

__all__ = ["main"]
