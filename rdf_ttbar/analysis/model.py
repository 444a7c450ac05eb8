"""The building blocks of an analysis definition (frozen dataclasses, no ROOT).

An :class:`Analysis` says *what* the analysis is: its samples and their normalisation, the event
selection as a sequence of named C++ steps, the regions, the histograms booked in them (each with its
own binning), the systematics and the pseudo-data. Everything else is derived from it: both builds of
the event-loop graph (``rdf_ttbar.analysis.graph``), the delivery preselection, the histogram names, the
columns read, the cabinetry configuration and the variation plots.

The C++ in a definition is short expressions calling named functions of its headers (``cpp/analysis.h``
for the AGC), written as in RDataFrame's ``Define``/``Filter``: column names are the variables. A
column is an input column (``inputs``, with its NanoAOD type) or a defined one.

Public API, kept stable for users' own definition files (``--analysis FILE.py``, :mod:`rdf_ttbar.analysis.user`):
``Analysis``, ``Process``, ``Region``, ``Histogram``, ``Binning``, ``Define``, ``Filter``, ``Systematic``,
``VariationPlot``; new fields come with defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .steps import Define, Filter, identifiers, rename  # noqa: F401  (part of the model)


@dataclass(frozen=True)
class Region:
    """Events of the selection that meet ``condition``. ``defines`` are columns of its own observables,
    computed only for its events (e.g. an expensive reconstruction that only one region uses)."""

    name: str  # prefix of its histograms' names (AGC: 4j1b, 4j2b)
    condition: str  # C++ condition on the selected events
    fit_name: str = ""  # the region's name in the cabinetry configuration ("" : not fitted)
    defines: tuple[Define, ...] = ()


@dataclass(frozen=True)
class Binning:
    """Regular bins: ``bins`` from ``low`` to ``high`` (under- and overflow kept)."""

    bins: int
    low: float
    high: float


@dataclass(frozen=True)
class Histogram:
    """One observable booked in one region, for every sample and variation.

    Its histograms are named ``{name}_{sample}[_{variation}]`` (AGC naming); ``name`` defaults to the region's.
    """

    region: str
    observable: str  # C++ expression, evaluated only for events in the region
    binning: Binning
    label: str = ""  # axis label of the plots
    name: str = ""
    fit_edges: tuple[float, ...] = ()  # bin edges of the fit (a merge of the histogram's bins); (): not fitted
    output: str = "histograms"  # the file it is written to: {output}.root in the output folder
    offset: float = 0.0  # added to every bin (flow bins too) of its filled histograms, as the AGC does for ML ones
    postfit_plot: bool = False  # not fitted, but drawn pre- and post-fit with the fit's parameters (AGC v2's ML)

    @property
    def prefix(self) -> str:
        return self.name or self.region


@dataclass(frozen=True)
class Systematic:
    """One systematic uncertainty.

    kind:
      "vary"    RDataFrame's Vary of ``column``: ``expression`` gives the varied values, one per direction
                (or the varied value itself when ``single`` is set; histograms ``..._{name}_{direction}``)
      "sample"  an alternative sample of the process (``up``/``down`` name the samples)
      "norm"    a normalisation uncertainty (``norm`` is the relative size)
    processes: the processes it applies to (None: all processes)
    """

    name: str
    fit_name: str
    kind: str
    column: str = ""
    expression: str = ""
    directions: tuple[str, ...] = ("up", "down")
    single: bool = False  # "vary": the expression is the one varied value (one direction)
    processes: tuple[str, ...] | None = None
    symmetrize: bool = False
    up: str | None = None
    down: str | None = None
    norm: float | None = None
    random: bool = False  # its values come from random numbers (implementations that draw them differ)

    def applies_to(self, process: str) -> bool:
        return self.processes is None or process in self.processes

    def suffixes(self) -> list[str]:
        """The variation names of its booked histograms, e.g. ['{name}_up', '{name}_down']."""
        return [f"{self.name}_{d}" for d in self.directions] if self.kind == "vary" else []


@dataclass(frozen=True)
class VariationPlot:
    """A plot of one sample's nominal histogram with the variations of some systematics."""

    name: str
    histogram: str  # Histogram prefix
    process: str
    systematics: tuple[str, ...]


@dataclass(frozen=True)
class Process:
    name: str
    cross_section_pb: float
    label: str  # its sample's name in the fit, and its legend in the plots unless ``legend`` is set
    variations: tuple[str, ...] = ("nominal",)  # its samples: "nominal" and alternative samples
    color: str = ""  # its colour in the plots; "": the next colour of the plots' default palette
    legend: str = ""  # its legend in the plots (matplotlib text); "": ``label``
    # the demo generator's recipe of its events (``rdf_ttbar.inputs.demo_jobs.RECIPES``); "": the process' name
    demo: str = ""

    @property
    def recipe(self) -> str:
        return self.demo or self.name


@dataclass(frozen=True)
class Analysis:
    """The whole analysis. See the module docstring; ``rdf_ttbar.analysis.agc_v1`` is an example."""

    name: str
    luminosity_pb: float
    processes: tuple[Process, ...]
    inputs: dict[str, str]  # column -> its NanoAOD C++ type (what the compiled graph is built for)
    selection: tuple[Define | Filter, ...]
    regions: tuple[Region, ...]
    histograms: tuple[Histogram, ...]
    systematics: tuple[Systematic, ...]
    pseudodata: tuple[tuple[float, str, str], ...]  # (coefficient, process, variation) summed
    variation_plots: tuple[VariationPlot, ...] = ()
    headers: tuple[str, ...] = ("analysis.h",)  # C++ helpers: in cpp/, or absolute paths
    files: tuple[str, ...] = ()  # data files its C++ reads (absolute paths); Dask workers get a copy of each
    # xgboost models its C++ evaluates (cpp/ml.h), as (key, JSON path): handed over by forest.register before the
    # event loop; the C++ names them by key (forest.model_key: a content hash), never by path
    models: tuple[tuple[str, str], ...] = ()
    weight_column: str = "weight"
    version: str = ""  # the short name that selects it (--analysis)
    # the fit: the process whose normalisation is the parameter of interest (""; the first process) and that
    # parameter's name ("": "{process}_norm")
    norm_process: str = ""
    norm_factor: str = ""
    stack_order: tuple[str, ...] = ()  # the plots' stack, bottom to top (processes left out go below); (): reversed
    # the cut values its expressions were made with (e.g. {"jet_pt_min": 25.0}), for its readers (the tests' oracle)
    parameters: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        from .checks import check

        check(self)

    # ------------------------------------------------------------------ samples and names
    @property
    def process_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.processes)

    def process(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)

    @property
    def poi_process(self) -> str:
        """The process whose normalisation the fit measures."""
        return self.norm_process or self.processes[0].name

    @property
    def poi(self) -> str:
        """The fit's parameter of interest: the normalisation factor of :attr:`poi_process`."""
        return self.norm_factor or f"{self.poi_process}_norm"

    def stacked(self, processes=None) -> list[str]:
        """``processes`` (default: all) in the plots' stack order, bottom to top."""
        order = list(self.stack_order) or list(reversed(self.process_names))
        given = list(self.process_names if processes is None else processes)
        return [p for p in given if p not in order] + [p for p in order if p in given]

    @property
    def samples(self) -> list[tuple[str, str]]:
        """(process, variation) of every sample: each process' nominal first, then its alternatives."""
        return [(p.name, v) for p in self.processes for v in p.variations]

    def weight(self, process: str, nevts: int) -> float:
        """Per-event weight of a sample: cross section x luminosity / events (spec "Normalisation")."""
        return self.process(process).cross_section_pb * self.luminosity_pb / nevts

    def region(self, name: str) -> Region:
        return next(r for r in self.regions if r.name == name)

    def histogram(self, prefix: str) -> Histogram:
        return next(h for h in self.histograms if h.prefix == prefix)

    def systematic(self, name: str) -> Systematic:
        return next(s for s in self.systematics if s.name == name)

    def varied(self, process: str, variation: str) -> list[Systematic]:
        """The Vary-booked systematics of one sample (only nominal samples have them)."""
        if variation != "nominal":
            return []
        return [s for s in self.systematics if s.kind == "vary" and s.applies_to(process)]

    def sample_suffixes(self, process: str, variation: str) -> list[str]:
        """Variation names of one sample's histograms: its own (nominal or alternative), then the varied ones."""
        return [variation] + [x for s in self.varied(process, variation) for x in s.suffixes()]

    def _sample_histograms(self, process: str, variation: str) -> list[tuple[str, Histogram]]:
        return [
            (histogram_name(h.prefix, process, v), h)
            for h in self.histograms
            for v in self.sample_suffixes(process, variation)
        ]

    def sample_histogram_names(self, process: str, variation: str) -> list[str]:
        return [name for name, _ in self._sample_histograms(process, variation)]

    def pseudodata_names(self) -> list[str]:
        return [pseudodata_name(h.prefix) for h in self.histograms]

    def named_histograms(self) -> list[tuple[str, Histogram]]:
        """Every histogram a full run writes, with its Histogram: each sample's, then the pseudo-data."""
        return [pair for p, v in self.samples for pair in self._sample_histograms(p, v)] + [
            (pseudodata_name(h.prefix), h) for h in self.histograms
        ]

    def histogram_names(self) -> list[str]:
        """Every histogram a full run writes, pseudo-data included (124 for the AGC v1)."""
        return [name for name, _ in self.named_histograms()]

    @property
    def outputs(self) -> tuple[str, ...]:
        """The histogram files (without .root), the main one first."""
        return tuple(dict.fromkeys(h.output for h in self.histograms))

    def outputs_by_name(self) -> dict[str, str]:
        """{histogram name: its file (without .root)} for every name of histogram_names()."""
        return {name: h.output for name, h in self.named_histograms()}

    @property
    def fit_histograms(self) -> tuple[Histogram, ...]:
        return tuple(h for h in self.histograms if h.fit_edges and self.region(h.region).fit_name)

    @property
    def fit_bin_edges(self) -> tuple[float, ...]:
        """The first fitted histogram's fit bin edges (each has its own; the summaries quote these)."""
        return self.fit_histograms[0].fit_edges if self.fit_histograms else ()

    # ------------------------------------------------------------------ columns
    def columns_read(self) -> list[str]:
        """The input columns the analysis reads (the branches a delivery keeps)."""
        return list(self.inputs)


def histogram_name(prefix: str, process: str, variation: str = "nominal") -> str:
    """AGC histogram name: ``{prefix}_{process}`` or ``{prefix}_{process}_{variation}``."""
    return f"{prefix}_{process}" if variation == "nominal" else f"{prefix}_{process}_{variation}"


def pseudodata_name(prefix: str) -> str:
    return f"{prefix}_pseudodata"
