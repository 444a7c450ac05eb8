"""The run configuration: :class:`RunConfig`, a frozen dataclass that holds every option of a run with its
type, allowed values, default and help text, in one place.

Every entry builds one: config.yaml and the command line (:func:`from_args`, whose argparse options are
generated from the fields by :func:`add_arguments`), the Python API (``rdf_ttbar.configure``) and the
sub-commands. A RunConfig is validated once, when it is made (``__post_init__``); :func:`build` merges the
layers (defaults, a YAML file, a mapping, the command line) and names the layer of a bad value in the message.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from .errors import UserError, require_file

SCHEDULERS = ("mt", "dask-local", "dask-remote", "spark-local", "spark-remote")
ANALYSIS_VERSIONS = ("v1", "v2")  # --analysis: the definitions of rdf_ttbar.analysis.VERSIONS
ANALYSIS_CHOICES = "v1, v2, a Python file that defines ANALYSIS (FILE.py) or a module path (package.module)"
AGC_LIST = (
    "https://raw.githubusercontent.com/iris-hep/analysis-grand-challenge/main/"
    "analyses/cms-open-data-ttbar/nanoaod_inputs.json"
)
DEFAULT_FILE = "config.yaml"  # read from the working folder when present and no --config is given
# --io-percent: the AGC I/O benchmark's IO_FILE_PERCENT values (their branch lists: inputs/branch_lists.py), or
# "analysis": exactly the columns of this analysis
IO_PERCENTS = (2.7, 4, 15, 25, 50)
IO_ANALYSIS = "analysis"
IO_PERCENT_CHOICES = ", ".join(str(p) for p in IO_PERCENTS) + f" or {IO_ANALYSIS}"


def io_percent_key(value) -> float | int | str | None:
    """The --io-percent / io_percent choice that ``value`` names (2.7, '4', 15.0, 'analysis', ...); None if none.

    The one place where that choice is parsed: the command line, config.yaml and the I/O-only mode use it.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lower() == IO_ANALYSIS:
        return IO_ANALYSIS
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return next((key for key in IO_PERCENTS if abs(number - key) < 1e-9), None)


def analysis_choice(value) -> str | None:
    """The --analysis / analysis choice that ``value`` names: v1, v2, a .py file (its absolute path: the file
    must exist) or a module path; None if none. The definition itself is loaded by rdf_ttbar.analysis.get."""
    if not isinstance(value, str):
        return None
    if value in ANALYSIS_VERSIONS:
        return value
    if value.endswith(".py"):
        path = Path(value).expanduser()
        if not path.is_file():
            raise InvalidOption("analysis", f"the analysis file {value} does not exist (analysis: {ANALYSIS_CHOICES})")
        return str(path.resolve())
    return value if re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", value) else None


def option(
    default: Any,
    help: str,
    *,
    flags: tuple[str, ...] = (),
    metavar: str | None = None,
    choices: tuple | None = None,
    minimum: int | None = None,
    parse=None,
    choices_text: str | None = None,
):
    """A field of a configuration dataclass. ``help`` is the command-line help; ``flags`` the command-line
    option strings (default ``--name-with-dashes``); ``choices`` / ``minimum`` the allowed values; ``parse``
    turns a value (also the command line's text) into its normal form, None where it names no allowed value
    (``choices_text`` lists those in messages)."""
    metadata = {
        "help": help,
        "flags": flags,
        "metavar": metavar,
        "choices": choices,
        "min": minimum,
        "parse": parse,
        "choices_text": choices_text,
    }
    return field(default=default, metadata=metadata)


class InvalidOption(UserError):
    """A value of the wrong type or range; ``key`` (dotted) names the option, ``text`` says what is wrong."""

    def __init__(self, key: str, text: str):
        super().__init__(f"RunConfig: {text}")
        self.key, self.text = key, text


class _Section:
    """Validation shared by RunConfig and its sections: every field checked against its type and metadata."""

    PREFIX: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            key, value, kinds = self.PREFIX + f.name, getattr(self, f.name), _kinds(hints[f.name])
            section = kinds[0]
            if isinstance(section, type) and dataclasses.is_dataclass(section):
                if not isinstance(value, section):
                    raise InvalidOption(key, f"'{key}' must be a mapping")
                continue
            if value is None and type(None) in kinds:
                continue
            if f.metadata["parse"] is not None:
                normal = f.metadata["parse"](value)
                if normal is None:
                    raise InvalidOption(key, f"'{key}' must be one of {f.metadata['choices_text']}, got {value!r}")
                object.__setattr__(self, f.name, normal)
                continue
            if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
                raise InvalidOption(key, f"'{key}' must be of type {kinds[0].__name__}, got {value!r}")
            if f.metadata["min"] is not None and value < f.metadata["min"]:
                raise InvalidOption(key, f"'{key}' must be >= {f.metadata['min']}, got {value}")
            if f.metadata["choices"] is not None and value not in f.metadata["choices"]:
                raise InvalidOption(key, f"unknown {key} '{value}': choose one of {', '.join(f.metadata['choices'])}")


@dataclass(frozen=True)
class DemoConfig(_Section):
    """The synthetic demo input set (``inputs: demo``)."""

    PREFIX: ClassVar[str] = "demo."
    events_per_sample: int = option(
        200_000, "events per sample of the synthetic demo set", minimum=1, flags=("--events-per-sample",), metavar="N"
    )
    seed: int = option(1, "random seed of the synthetic demo set", flags=("--seed",), metavar="S")
    cache_dir: str | None = option(
        None,
        "where the demo set is cached; null: $RDF_TTBAR_CACHE, else $XDG_CACHE_HOME/rdf_ttbar or ~/.cache/rdf_ttbar",
        flags=("--demo-cache-dir",),
        metavar="DIR",
    )


@dataclass(frozen=True)
class AgcConfig(_Section):
    """The AGC file list (``inputs: agc``)."""

    PREFIX: ClassVar[str] = "agc."
    inputs: str = option(
        AGC_LIST,
        "where --inputs agc reads the AGC file list (nanoaod_inputs.json): a path or an https:// URL",
        flags=("--agc-list",),
        metavar="PATH|URL",
    )
    remote_prefix: str | None = option(
        None,
        "replace the AGC list's https://xrootd-local.unl.edu:1094//store/user/AGC "
        "prefix, e.g. root://eospublic.cern.ch//eos/root-eos/AGC; null: keep it",
        flags=("--remote-prefix",),
        metavar="PREFIX",
    )


@dataclass(frozen=True)
class RunConfig(_Section):
    """Every option of a run (the keys of config.yaml). Made by :func:`build` / ``rdf_ttbar.configure``."""

    inputs: str = option(
        "demo",
        "input file set: 'demo' (synthetic, generated and cached on first use), 'agc' (the "
        "AGC file list) or a JSON file in the AGC nanoaod_inputs.json format (local paths or "
        "root:// / https:// URLs)",
        metavar="demo|agc|FILE.json",
    )
    files_per_sample: int | None = option(
        None,
        "process only the first N files of every sample; null: all",
        minimum=1,
        flags=("-n", "--files-per-sample"),
        metavar="N",
    )
    analysis: str = option(
        "v1",
        "the analysis definition: the AGC's v1, or v2 (tighter lepton and jet selections, and the ML jet-parton "
        "assignment of 4j2b events, whose 20 feature histograms go to histograms_ml.root), or your own: a Python "
        "file that defines ANALYSIS (README 'Your own analysis file') or a module path",
        metavar="v1|v2|FILE.py|MODULE",
        parse=analysis_choice,
        choices_text=ANALYSIS_CHOICES,
    )
    ml_models: str | None = option(
        None,
        "with --analysis v2: a folder with your own xgboost models for the jet-parton assignment (model_even.json, "
        "trained on even event numbers, and model_odd.json; 20 features as the AGC's); null: the AGC's, shipped "
        "with rdf_ttbar",
        metavar="DIR",
    )
    tree: str = option("Events", "name of the TTree (or RNTuple) in the input files", metavar="NAME")
    mt: int = option(
        0, "threads for ROOT's implicit multi-threading; 0: all cores, 1: single-threaded", minimum=0, metavar="N"
    )
    output_dir: str = option("results", "where the outputs go", metavar="DIR")
    fit: bool = option(
        True, "run the statistical fit; --no-fit stops after the histograms and their plots (no workspace, no fit)"
    )
    hepdata: str | None = option(
        None,
        "also write a HEPData submission of the fit into DIR (hepdata_lib): the post-fit distributions, ttbar_norm "
        "with its interval, the workspace; null: none",
        metavar="DIR",
    )
    cache_dir: str | None = option(
        None,
        "copy remote (root://, https://) input files once into DIR and read the "
        "local copies; null: read remote files directly",
        metavar="DIR",
    )
    remote_read: str = option(
        "stage",
        "how remote (root://, https://) inputs are read by --scheduler mt: stage (copied to local disk by several "
        "transfers at once, each file as the event loops need it, while they read the copies that are complete; "
        "temporary copies unless --cache-dir) or direct (the event loops read the remote files themselves)",
        choices=("stage", "direct"),
    )
    deliver_cache: str | None = option(
        None,
        "deliver the inputs into DIR first (see the 'deliver' sub-command; only "
        "what is missing or out of date), then analyse the delivered files",
        metavar="DIR",
    )
    scheduler: str = option(
        "mt",
        "where the event loops run: mt (this process, --mt threads), dask-local (a Dask "
        "LocalCluster of --ncores processes), dask-remote (the Dask scheduler at "
        "--scheduler-address), spark-local (Spark's local[--ncores]), spark-remote (the Spark master at "
        "--scheduler-address)",
        choices=SCHEDULERS,
    )
    ncores: int = option(0, "worker processes for dask-local and spark-local; 0: all cores", minimum=0, metavar="N")
    scheduler_address: str | None = option(
        None,
        "the Dask scheduler for dask-remote (tcp://HOST:PORT), the Spark master for spark-remote (spark://HOST:PORT)",
        metavar="ADDRESS",
    )
    npartitions: int | None = option(
        None, "Dask or Spark partitions per sample; null: ROOT's default", minimum=1, metavar="N"
    )
    io_only: bool = option(
        False,
        "I/O-only benchmark (the AGC's DISABLE_PROCESSING): read the branches of "
        "--io-percent in every sample and nothing else; writes only metrics.json",
    )
    io_percent: float | int | str = option(
        2.7,
        "with --io-only: the AGC IO_FILE_PERCENT branch list to read (2.7 = the AGC analysis columns; more "
        "needs the extra branches of 'generate --full'), or 'analysis': exactly the columns this analysis reads "
        "(the 2.7% list and run, luminosityBlock, event)",
        metavar="2.7|4|15|25|50|analysis",
        parse=io_percent_key,
        choices_text=IO_PERCENT_CHOICES,
    )
    demo: DemoConfig = field(default_factory=DemoConfig, metadata={"help": "the synthetic demo set"})
    agc: AgcConfig = field(default_factory=AgcConfig, metadata={"help": "the AGC file list"})

    def as_dict(self) -> dict:
        """The options as config.yaml holds them (sections as nested mappings)."""
        return dataclasses.asdict(self)


def _kinds(hint) -> tuple:
    """The types a type hint allows: ``int | None`` -> (int, NoneType)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return typing.get_args(hint)
    return (hint,)


def _sections() -> dict[str, type]:
    """Field name -> section dataclass (DemoConfig, AgcConfig), for the fields of RunConfig that are sections."""
    hints = typing.get_type_hints(RunConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(RunConfig) if dataclasses.is_dataclass(hints[f.name])}


def fields() -> list[tuple[str, dataclasses.Field, tuple]]:
    """(dotted key, field, allowed types) of every option, sections expanded: the options of config.yaml."""
    out = []
    sections = _sections()
    for f in dataclasses.fields(RunConfig):
        cls = sections.get(f.name)
        if cls is None:
            out.append((f.name, f, _kinds(typing.get_type_hints(RunConfig)[f.name])))
            continue
        hints = typing.get_type_hints(cls)
        out += [(f"{f.name}.{g.name}", g, _kinds(hints[g.name])) for g in dataclasses.fields(cls)]
    return out


# ---------------------------------------------------------------------------
# building a RunConfig from layers of options


def build(layers: Iterable[tuple[str, Mapping | RunConfig]] = ()) -> RunConfig:
    """The built-in defaults updated with each ``(source, mapping)`` of ``layers`` in turn (sections as nested
    mappings, which update only the keys they name), as one validated RunConfig. ``source`` names the layer in
    the message of a bad value (``config file config.yaml: 'mt' must be >= 0, got -1``)."""
    values = RunConfig().as_dict()
    sources: dict[str, str] = {}
    for source, mapping in layers:
        _merge(values, mapping, source, sources)
    try:
        sections = {name: cls(**values[name]) for name, cls in _sections().items()}
        return RunConfig(**{**values, **sections})
    except InvalidOption as err:
        raise UserError(f"{sources.get(err.key, 'RunConfig')}: {err.text}") from None


def _merge(values: dict, mapping: Mapping | RunConfig, source: str, sources: dict, prefix: str = "") -> None:
    if isinstance(mapping, _Section):
        mapping = dataclasses.asdict(mapping)  # type: ignore[call-overload]
    for key, value in mapping.items():
        full = f"{prefix}{key}"
        if key not in values:
            known = ", ".join(sorted(f"{prefix}{k}" for k in values))
            raise UserError(f"{source}: unknown option '{full}' (known: {known})")
        if isinstance(values[key], dict):
            if isinstance(value, _Section):
                value = dataclasses.asdict(value)  # type: ignore[call-overload]
            if not isinstance(value, Mapping):
                raise UserError(f"{source}: '{full}' must be a mapping")
            _merge(values[key], value, source, sources, prefix=f"{full}.")
            continue
        values[key] = value
        sources[full] = source


def read_file(path: str | os.PathLike) -> tuple[str, dict]:
    """The options of the YAML file at ``path`` as a layer for :func:`build`: (source, mapping)."""
    path = require_file(path, "config file {path} does not exist: pass an existing file to --config")
    source = f"config file {path}"
    try:
        user = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UserError(
            f"config file {path} is not valid YAML ({err}); fix the syntax or start from the repository's config.yaml"
        ) from None
    if user is None:
        return source, {}
    if not isinstance(user, dict):
        raise UserError(f"config file {path} must hold a mapping of option: value, not {type(user).__name__}")
    return source, user


def load(
    path: str | os.PathLike | None = None, overrides: Mapping | None = None, source: str = "overrides"
) -> RunConfig:
    """The defaults updated with the YAML file at ``path`` (if given), then with ``overrides``; validated."""
    layers = [read_file(path)] if path is not None else []
    return build(layers + [(source, overrides or {})])


# ---------------------------------------------------------------------------
