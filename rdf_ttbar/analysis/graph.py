"""Book an analysis definition on a sample's RDataFrame, in one of two builds of the same nodes.

- **compiled** (local runs on the definition's column types): the nodes as generated C++, built once
  into a shared library (``compiled.py``, ``rdf_ttbar.analysis.native``); no jitting, the faster event loop.
- **jitted** (Dask, whose graphs are Python proxies, and other column types): the same nodes booked
  from their C++ text, jitted by ROOT.

Both give bit-identical histograms (tests/test_compiled_graph.py). ``collect`` cuts each sample's one
histogram into the analysis' histograms, as ``hist.Hist`` under their AGC names, pseudo-data included.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..errors import UserError
from . import compiled as compiled_build
from .model import Analysis, histogram_name, pseudodata_name
from .nodes import POSITIONS, layout, sample_nodes

log = logging.getLogger(__name__)

_FLOATS, _DOUBLES = "ROOT::RVec<float>", "ROOT::RVec<double>"
_INTEGERS = {
    "char",
    "unsigned char",
    "short",
    "unsigned short",
    "int",
    "unsigned int",
    "long",
    "unsigned long",
    "long long",
    "unsigned long long",
}


@dataclass
class BookedSample:
    """The lazy results of one sample's graph."""

    # (Any: PyROOT objects, and a Sample of the inputs stage, which imports this one)
    sample: Any  # inputs.Sample: process, variation, name, files, weight
    dataframe: Any  # the sample's ROOT.RDataFrame
    count: Any  # RResultPtr<ULong64_t>: events processed
    histogram: Any = None  # RResultPtr<TH1D>: all of the analysis' histograms side by side (nodes.layout)
    variations: Any = None  # its RResultMap (after VariationsFor): variation name -> TH1D
    compiled: Any = None  # the compiled graph's rdf_ttbar::BookedGraph (owns the three results above)

    def handles(self) -> list:
        return [self.count, self.histogram]


class Builds:
    """The builds of one analysis definition available in this process (the compiled one once loaded).

    ``compiled``: use the compiled build where it fits (local runs); ``distributed``: the dataframes are
    distributed RDataFrame's (Dask), which fill with Histo1D; local ones fill with ``rdf_ttbar::OrderedFill``,
    whose sums do not depend on the thread timing.
    """

    def __init__(self, analysis: Analysis, compiled: bool, distributed: bool = False):
        from .. import cpp
        from . import native

        self.analysis, self.distributed = analysis, distributed
        self.nodes = sample_nodes(analysis)
        cpp.declare(analysis.headers)
        if not distributed:  # Dask workers get them in their set-up (rdf_ttbar.inputs.remote)
            register_models(analysis)
        self.namespace = None
        self.why_jitted: set[str] = set()
        if compiled:
            key = compiled_build.key(analysis)
            source, header = compiled_build.sources(analysis, f"graph_{key}")
            if native.load(key, source, header, analysis.headers, compiled_build.include_dirs(analysis)):
                import ROOT

                self.namespace = getattr(ROOT.rdf_ttbar, f"graph_{key}")
                if not distributed:
                    register_models(analysis, self.namespace)  # the library's own registry

    def book(self, sample, dataframe) -> BookedSample:
        """Build the graph of one sample; nothing runs until the event loop starts."""
        types = column_types(self.analysis, sample, dataframe)
        if self.namespace is not None:
            variant = compiled_variant(self.analysis, types)
            if variant is not None:
                return self._book_compiled(sample, dataframe, variant)
            self._say_once(
                f"sample {sample.name}: its column types ({describe(self.analysis, types)}) are not "
                "the ones the compiled graph was built for; that sample's graph is jitted"
            )
        return self._book_jitted(sample, dataframe, types)

    def _say_once(self, note: str) -> None:
        if note not in self.why_jitted:
            self.why_jitted.add(note)
            log.warning("%s", note)

    def _book_compiled(self, sample, dataframe, variant: int) -> BookedSample:
        import ROOT

        enabled = {s.name for s in self.analysis.varied(sample.process, sample.variation)}
        vary = ROOT.std.vector["int"]([int(n.name in enabled) for n in self.nodes if n.kind == "vary"])
        book = getattr(self.namespace, f"book_{variant}")
        result = book(ROOT.RDF.AsRNode(dataframe), sample.weight, vary, histogram_model(self.analysis, sample))
        return BookedSample(sample, dataframe, result.count, result.histogram, result.variations, compiled=result)

    def _book_jitted(self, sample, dataframe, types: dict[str, str]) -> BookedSample:
        booked = BookedSample(sample, dataframe, dataframe.Count())
        df = dataframe
        for column, declared in self.analysis.inputs.items():
            if types[column] != compiled_build.canonical(declared) and types[column] == _DOUBLES:
                df = df.Redefine(column, f"rdf_ttbar::as_floats({column})")
        enabled = {s.name for s in self.analysis.varied(sample.process, sample.variation)}
        for node in self.nodes:
            if node.kind == "weight":
                df = df.Define(node.name, f"double({sample.weight!r})")
            elif node.kind == "define":
                df = df.Define(node.name, node.expression)
            elif node.kind == "filter":
                df = df.Filter(node.expression, node.name)
            elif node.name in enabled:
                df = df.Vary(node.column, node.expression, list(node.directions), node.name)
        model = histogram_model(self.analysis, sample)
        if self.distributed:
            booked.histogram = df.Histo1D(model, POSITIONS, self.analysis.weight_column)
        else:
            import ROOT

            booked.histogram = ROOT.rdf_ttbar.book_ordered_fill(
                ROOT.RDF.AsRNode(df), model, POSITIONS, self.analysis.weight_column
            )
        return booked


def register_models(analysis: Analysis, target=None) -> None:
    """Hand the definition's xgboost models to its C++ (cpp/ml.h; its headers declared first): to the interpreter's
    (``target`` None) or to a compiled graph's namespace (its ``add_forest``, ``has_forest``)."""
    from .forest import register

    for key, path in analysis.models:
        try:
            register(key, path, target)
        except (OSError, ValueError) as err:
            raise UserError(f"{err}; --ml-models names a folder with xgboost JSON models") from None


def histogram_model(analysis: Analysis, sample):
    import ROOT

    _, size = layout(analysis)
    return ROOT.RDF.TH1DModel(f"histograms_{sample.name}", "", size, 0.0, float(size))


# ------------------------------------------------------------------------------------------ column types
def column_types(analysis: Analysis, sample, dataframe) -> dict[str, str]:
    """The canonical types of the input columns; UserError for a column neither build can read."""
    types = {c: compiled_build.canonical(str(dataframe.GetColumnType(c))) for c in analysis.inputs}
    problems = []
    for column, declared in analysis.inputs.items():
        want, have = compiled_build.canonical(declared), types[column]
        if have == want or (want == _FLOATS and have == _DOUBLES) or (want in _INTEGERS and have in _INTEGERS):
            continue
        raw = dataframe.GetColumnType(column)
        if want in _INTEGERS:
            problems.append(f"'{column}' is {raw}, not an integer type (NanoAOD: {declared})")
        elif want == _FLOATS:
            problems.append(f"'{column}' is {raw}, not an array of float or double (NanoAOD: {declared})")
        else:
            problems.append(f"'{column}' is {raw}, not {declared}")
    if problems:
        raise UserError(
            f"sample {sample.process}/{sample.variation} ({sample.files[0]}): the column(s) "
            f"{'; '.join(problems)}. rdf_ttbar reads NanoAOD-like files: float or double jet and "
            "lepton kinematics, integer run/luminosityBlock/event; use files that store them so."
        )
    return types


def compiled_variant(analysis: Analysis, types: dict[str, str]) -> int | None:
    """Which entry point of the compiled graph fits these column types (None: none does)."""
    wanted = tuple(types[c] for c in analysis.inputs)
    variants = compiled_build.type_variants(analysis)
    return variants.index(wanted) if wanted in variants else None


def describe(analysis: Analysis, types: dict[str, str]) -> str:
    return ", ".join(f"{c} {types[c]}" for c, d in analysis.inputs.items() if types[c] != compiled_build.canonical(d))


def book_variations(booked: list[BookedSample]) -> None:
    """VariationsFor on every jitted histogram, once all graphs are booked (ROOT then jits the code of all
    samples in one go); the compiled graph has its own."""
    import ROOT

    for b in booked:
        if b.variations is None:
            b.variations = ROOT.RDF.Experimental.VariationsFor(b.histogram)


# ------------------------------------------------------------------------------------------- histograms
def collect(analysis: Analysis, booked: list[BookedSample]) -> dict:
    """All filled histograms as {AGC name: hist.Hist} (Weight storage, flow bins), pseudo-data included
    when its samples are there. Each is its slot of the sample's one histogram (ROOT's UHI arrays), plus
    its Histogram's ``offset`` in every bin (and its square in every variance), pseudo-data made after."""
    import hist

    slots, _ = layout(analysis)
    out = {}
    for b in booked:
        for key in b.variations.GetKeys():
            h = b.variations[key]
            values, variances = h.values(flow=True), h.variances(flow=True)
            variation = b.sample.variation if str(key) == "nominal" else str(key).replace(":", "_")
            for slot in slots:
                binning, part = slot.histogram.binning, slice(slot.offset + 1, slot.offset + 1 + slot.size)
                offset = slot.histogram.offset  # the AGC's "+= offset" on a Weight histogram
                out[histogram_name(slot.histogram.prefix, b.sample.process, variation)] = _hist(
                    hist, binning, slot.histogram.label, values[part] + offset, variances[part] + offset * offset
                )
    out.update(pseudodata(analysis, out))
    return out


def _hist(hist, binning, label, values, variances):
    h = hist.Hist(
        hist.axis.Regular(binning.bins, binning.low, binning.high, name="observable", label=label),
        storage=hist.storage.Weight(),
    )
    view = h.view(flow=True)
    view["value"], view["variance"] = values, variances
    return h


def pseudodata(analysis: Analysis, histograms: dict) -> dict:
    """``{prefix}_pseudodata``: the sum of the definition's pseudo-data parts (sums of squared weights with
    squared coefficients), added in the definition's order; {} for a histogram with a part missing."""
    out = {}
    for h in analysis.histograms:
        parts = [(c, histogram_name(h.prefix, p, v)) for c, p, v in analysis.pseudodata]
        if not all(name in histograms for _, name in parts):
            continue
        total = histograms[parts[0][1]].copy()
        view = total.view(flow=True)
        view["value"], view["variance"] = 0.0, 0.0
        for coefficient, name in parts:
            part = histograms[name].view(flow=True)
            view["value"] += coefficient * part["value"]
            view["variance"] += coefficient * coefficient * part["variance"]
        out[pseudodata_name(h.prefix)] = total
    return out
