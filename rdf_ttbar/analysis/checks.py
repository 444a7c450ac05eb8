"""Checks of an analysis definition when it is made: a mistake is named before any event loop."""

from __future__ import annotations

import re

from ..errors import DefinitionError
from .steps import Define, Filter, identifiers

# a free identifier that is not called (a call is a function: a helper of the headers, or C++'s own)
_READ = re.compile(r"(?<![\w:.>])([A-Za-z_]\w*)\b(?!\s*(?:::|\(|<[\w\s:,*&]*>\s*(?:\(|::)))")
_STRING = re.compile(r'"(?:\\.|[^"\\])*"')
# C++ words and RDataFrame's own columns an expression may name besides the definition's columns
_NOT_COLUMNS = frozenset({"true", "false", "nullptr", "this", "sizeof", "rdfentry_", "rdfslot_", "int", "double"})
_NOT_COLUMNS |= frozenset({"float", "long", "unsigned", "bool", "auto", "const", "size_t", "std"})


def reads(expression: str) -> list[str]:
    """The identifiers an expression reads as columns (not called, not a template, not after ``::``, ``.`` or
    ``->``, not in a string); none for a block of statements (its local variables are not columns)."""
    if ";" in expression:
        return []
    found = _READ.findall(_STRING.sub('""', expression))
    return [name for name in dict.fromkeys(found) if name not in _NOT_COLUMNS]


__all__ = ["DefinitionError", "check"]


def check(analysis) -> None:
    problems = []
    known = set(analysis.inputs) | {analysis.weight_column}
    processes = set(analysis.process_names)
    for step in analysis.selection:
        if not isinstance(step, (Define, Filter)):
            problems.append(f"selection step {step!r} is neither a Define nor a Filter")
            continue
        if isinstance(step, Define):
            if step.name in known:
                problems.append(f"column '{step.name}' is defined twice (or is an input column)")
            known.add(step.name)
    if analysis.weight_column in {n for s in analysis.selection for n in identifiers(s.expression)}:
        problems.append(f"the selection reads '{analysis.weight_column}': a delivery could not apply it")
    for region in analysis.regions:
        for d in region.defines:
            if d.name in known:
                problems.append(f"region '{region.name}' defines '{d.name}', a column of the selection already")
    regions = {r.name for r in analysis.regions}
    prefixes = [h.prefix for h in analysis.histograms]
    if len(set(prefixes)) != len(prefixes):
        problems.append(f"two histograms share a name: {prefixes}")
    for h in analysis.histograms:
        if h.region not in regions:
            problems.append(
                f"histogram '{h.prefix}' is booked in the unknown region '{h.region}' "
                f"(regions: {', '.join(sorted(regions))})"
            )
        if h.binning.bins < 1 or not h.binning.low < h.binning.high:
            problems.append(f"histogram '{h.prefix}' has the binning {h.binning}")
    for s in analysis.systematics:
        if s.kind not in ("vary", "sample", "norm"):
            problems.append(f"systematic '{s.name}' has the unknown kind '{s.kind}' (vary, sample or norm)")
        if s.kind == "vary" and s.column not in known:
            problems.append(f"systematic '{s.name}' varies the unknown column '{s.column}'")
        if s.kind == "vary" and s.single and len(s.directions) != 1:
            problems.append(f"systematic '{s.name}' is single but has directions {s.directions}")
        if s.processes and not set(s.processes) <= processes:
            problems.append(f"systematic '{s.name}' names unknown processes {sorted(set(s.processes) - processes)}")
    samples = set(analysis.samples)
    for _, process, variation in analysis.pseudodata:
        if (process, variation) not in samples:
            problems.append(f"pseudo-data part {process}/{variation} is not a sample")
    names = {s.name for s in analysis.systematics}
    for plot in analysis.variation_plots:
        if plot.histogram not in prefixes or not set(plot.systematics) <= names:
            problems.append(f"variation plot '{plot.name}' names an unknown histogram or systematic")
    if analysis.norm_process and analysis.norm_process not in processes:
        problems.append(f"norm_process '{analysis.norm_process}' is not a process")
    if set(analysis.stack_order) - processes:
        problems.append(f"stack_order names unknown processes {sorted(set(analysis.stack_order) - processes)}")
    problems += _unknown_columns(analysis, known)
    if problems:
        raise DefinitionError(f"analysis definition '{analysis.name}': " + "; ".join(problems))


def _unknown_columns(analysis, known: set[str]) -> list[str]:
    """Expressions that read a column that is neither an input (``inputs``) nor defined before them."""
    problems = []
    columns = set(analysis.inputs) | {analysis.weight_column}

    def check_reads(where: str, expression: str, available: set[str]) -> None:
        missing = [name for name in reads(expression) if name not in available]
        if missing:
            problems.append(
                f"{where} reads the unknown column(s) {', '.join(missing)} (add them to inputs with their type, "
                "or define them before)"
            )

    for step in analysis.selection:
        kind = "Define" if isinstance(step, Define) else "Filter"
        check_reads(f"selection {kind} '{step.name}'", step.expression, columns)
        if isinstance(step, Define):
            columns.add(step.name)
    regions = {r.name: r for r in analysis.regions}
    for region in analysis.regions:
        check_reads(f"region '{region.name}' condition", region.condition, columns)
        for d in region.defines:
            check_reads(
                f"region '{region.name}' Define '{d.name}'", d.expression, columns | {x.name for x in region.defines}
            )
    for h in analysis.histograms:
        if h.region in regions:
            extra = {d.name for d in regions[h.region].defines}
            check_reads(f"histogram '{h.prefix}' observable", h.observable, columns | extra)
    for s in analysis.systematics:
        if s.kind == "vary":
            check_reads(f"systematic '{s.name}' expression", s.expression, columns | known)
    return problems
