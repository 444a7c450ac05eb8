"""Checks of an analysis definition when it is made: a mistake is named before any event loop."""

from __future__ import annotations

from ..errors import DefinitionError
from .steps import Define, Filter, identifiers

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
    if problems:
        raise DefinitionError(f"analysis definition '{analysis.name}': " + "; ".join(problems))
