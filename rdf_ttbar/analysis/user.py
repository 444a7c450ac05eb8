"""A user's own analysis definition: a Python file (``--analysis my_analysis.py``) or an importable module
(``--analysis mypackage.my_analysis``) whose ``ANALYSIS`` is an :class:`~rdf_ttbar.analysis.model.Analysis`.

Such a file may import what is public and kept stable: the model (``rdf_ttbar.analysis.model``: ``Analysis``,
``Process``, ``Region``, ``Histogram``, ``Binning``, ``Define``, ``Filter``, ``Systematic``, ``VariationPlot``)
and the built-in definitions with their constants (``rdf_ttbar.analysis.agc_v1``: ``ANALYSIS``, ``BINNING``,
``FIT_EDGES``, ``LEPTON_PT_MIN``, ``JET_PT_MIN``, ``MIN_JETS``, ``BTAG_THRESHOLD``; ``rdf_ttbar.analysis.agc_v2``:
``ANALYSIS``, its cut values ``ELECTRON_PT_MIN`` ...), and extend them with ``dataclasses.replace``. A mistake in
it (a syntax error, an exception, a definition that fails its checks) is one :class:`DefinitionError` naming the
file and the part.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
import traceback
from pathlib import Path

from ..errors import DefinitionError, UserError
from .model import Analysis

MODULE_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
USAGE = "--analysis takes v1, v2, a Python file that defines ANALYSIS (my_analysis.py) or a module path"


def load(choice: str) -> Analysis:
    """The ``ANALYSIS`` of the file or module ``choice``."""
    if choice.endswith(".py"):
        path = Path(choice).expanduser().resolve()
        where = f"analysis file {choice}"
        if not path.is_file():
            raise UserError(f"{where} does not exist: {USAGE}")
        module = _run(where, lambda: _exec_file(path), filename=str(path))
    elif MODULE_PATH.fullmatch(choice):
        where = f"analysis module {choice}"
        module = _run(where, lambda: importlib.import_module(choice), module=choice)
    else:
        raise UserError(f"unknown analysis '{choice}': {USAGE}")
    analysis = getattr(module, "ANALYSIS", None)
    if not isinstance(analysis, Analysis):
        found = "nothing" if analysis is None else f"a {type(analysis).__name__}"
        raise DefinitionError(
            f"{where} must define ANALYSIS, an rdf_ttbar.analysis.model.Analysis (it defines {found} by that name)"
        )
    return analysis


def _exec_file(path: Path):
    name = "rdf_ttbar_analysis_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # (dataclasses defined in the file look their module up)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _run(where: str, load, filename: str | None = None, module: str | None = None):
    """``load()``, its exceptions turned into one line naming ``where`` (and the line of the file ``filename``);
    ``module``: the module path imported (not found: a UserError saying what --analysis takes)."""
    try:
        return load()
    except SyntaxError as err:
        raise DefinitionError(f"{where}: syntax error at line {err.lineno}: {err.msg}") from None
    except DefinitionError as err:
        raise DefinitionError(f"{where}: {err}") from None
    except ModuleNotFoundError as err:
        if module and err.name and (module == err.name or module.startswith(err.name + ".")):
            raise UserError(f"{where} cannot be imported ({err}): {USAGE}") from None
        raise DefinitionError(f"{where}{_line(err, filename)}: {err}") from None
    except Exception as err:
        raise DefinitionError(f"{where}{_line(err, filename)}: {type(err).__name__}: {err}") from None


def _line(err: BaseException, filename: str | None) -> str:
    """', line N': the line of ``filename`` (the user's file) where ``err`` arose; "" for a module."""
    mine = [f for f in traceback.extract_tb(err.__traceback__) if filename and f.filename == filename]
    return f", line {mine[-1].lineno}" if mine else ""
