"""The graph of an analysis as a list of nodes: what both builds book, in the same order.

``sample_nodes(analysis)`` is the graph of every sample:

    weight -> selection steps, each jet-pT-like Vary just before the first step that reads its column
    -> the remaining Varys (weights) -> one column of histogram positions -> one Histo1D

The last column holds, for each event, the position of every observable it fills in one histogram
that holds all the analysis' histograms side by side (each with its own binning, flow bins included;
``layout``): one action per sample whatever the number of regions and observables.
``rdf_ttbar.analysis.graph`` books the nodes from their C++ text (jitted) or as generated, compiled C++.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Analysis, Define, Filter, Histogram, Systematic, identifiers, rename

POSITIONS = "rdf_ttbar_positions"  # the column of histogram positions


@dataclass(frozen=True)
class Node:
    kind: str  # "weight", "define", "filter" or "vary"
    name: str  # the column defined, the filter's name or the systematic's name
    expression: str  # C++: an expression, or a function body with 'return'
    columns: tuple[str, ...]  # the columns it reads, in order of appearance
    column: str = ""  # "vary": the varied column
    directions: tuple[str, ...] = ()


def columns_of(expression: str, known) -> tuple[str, ...]:
    return tuple(name for name in identifiers(expression) if name in known)


def vary_expression(syst) -> str:
    """A Vary's expression: the varied values, one per direction."""
    return f"rdf_ttbar::one_variation({syst.expression})" if syst.single else syst.expression


@dataclass(frozen=True)
class Slot:
    """Where one Histogram lies in the sample's one histogram: global bins offset+1 .. offset+bins+2."""

    histogram: Histogram
    offset: int

    @property
    def size(self) -> int:
        return self.histogram.binning.bins + 2  # with under- and overflow


def layout(analysis: Analysis) -> tuple[list[Slot], int]:
    """The histograms' slots in the one histogram, and its number of bins."""
    slots, offset = [], 0
    for h in analysis.histograms:
        slots.append(Slot(h, offset))
        offset += h.binning.bins + 2
    return slots, offset


def positions_body(analysis: Analysis) -> str:
    """C++ body of the positions column: per region, if the event is in it, its own columns (``defines``)
    and each observable's position (``rdf_ttbar::HistogramAxis``, bins as TH1's); observables are evaluated
    only in their region."""
    slots, _ = layout(analysis)
    axes = ", ".join(
        f"h{i}({s.offset}, {s.histogram.binning.bins}, {s.histogram.binning.low!r}, {s.histogram.binning.high!r})"
        for i, s in enumerate(slots)
    )
    lines = [f"static const rdf_ttbar::HistogramAxis {axes};", "ROOT::RVecD positions;"]
    for region in analysis.regions:
        fills = [
            f"positions.push_back(h{i}.position({s.histogram.observable}));"
            for i, s in enumerate(slots)
            if s.histogram.region == region.name
        ]
        if fills:
            defines = [f"const auto {d.name} = {d.expression};" for d in region.defines]
            lines.append(f"if ({region.condition}) {{ {' '.join(defines + fills)} }}")
    lines.append("return positions;")
    return "\n".join(lines)


def sample_nodes(analysis: Analysis) -> list[Node]:
    """The graph's nodes for all systematics (a sample books the Varys that apply to it)."""
    known = set(analysis.inputs) | {analysis.weight_column}
    nodes = [Node("weight", analysis.weight_column, "", ())]
    pending = [s for s in analysis.systematics if s.kind == "vary"]

    def vary_node(s) -> Node:
        expression = vary_expression(s)
        return Node("vary", s.name, expression, columns_of(expression, known), s.column, s.directions)

    for step in analysis.selection:
        reads = set(columns_of(step.expression, known))
        for s in [s for s in pending if s.column in reads]:
            nodes.append(vary_node(s))
            pending.remove(s)
        if isinstance(step, Define):
            nodes.append(Node("define", step.name, step.expression, columns_of(step.expression, known)))
            known.add(step.name)
        else:
            nodes.append(Node("filter", step.name, step.expression, columns_of(step.expression, known)))
    nodes += [vary_node(s) for s in pending]
    body = positions_body(analysis)
    nodes.append(Node("define", POSITIONS, body, columns_of(body, known)))
    return nodes


# ------------------------------------------------------------------------------------------- preselection
def preselection(analysis: Analysis) -> list[Define | Filter]:
    """The loosest selection over all variations, as steps on the stored columns (the delivery's cut).

    Filters that read no varied column are applied as they are. The others are ORed over the nominal
    and every direction of every Vary of a column the selection reads: each variation's copy of the
    selection's columns is computed from the varied column (``{column}__{systematic}_{direction}``).
    """
    steps = list(analysis.selection)
    varied_inputs = {s.column for s in analysis.systematics if s.kind == "vary"} & set(_reads(steps))
    variations: list[tuple[str, Systematic | None]] = [("", None)] + [
        (f"{s.name}_{d}", s)
        for s in analysis.systematics
        if s.kind == "vary" and s.column in varied_inputs
        for d in s.directions
    ]
    # the selection's columns that depend on a varied column
    dependent: set[str] = set(varied_inputs)
    for step in steps:
        if isinstance(step, Define) and dependent & set(identifiers(step.expression)):
            dependent.add(step.name)
    plain = [s for s in steps if not (dependent & set(identifiers(s.expression)))]
    out: list[Define | Filter] = list(plain)  # they read no varied column
    conditions = []
    for suffix, syst in variations:
        names = {c: f"{c}__{suffix}" for c in dependent} if suffix else {}
        if syst is not None:
            index = syst.directions.index(suffix[len(syst.name) + 1 :])
            out.append(Define(names[syst.column], f"{vary_expression(syst)}[{index}]"))
        for step in steps:
            if isinstance(step, Define) and step.name in dependent - varied_inputs:
                out.append(Define(names.get(step.name, step.name), rename(step.expression, names)))
        conditions.append(
            " && ".join(f"({rename(s.expression, names)})" for s in steps if isinstance(s, Filter) and s not in plain)
        )
    if any(conditions):
        out.append(Filter("passes the selection under some variation", " || ".join(f"({c})" for c in conditions)))
    return out


def _reads(steps) -> list[str]:
    return [name for s in steps for name in identifiers(s.expression)]
