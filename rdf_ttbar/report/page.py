"""report.html: one self-contained page (plots embedded as base64 PNG, no network) with the result, the yield
tables, every plot with its caption, the fit's warnings and the provenance; rendered from one jinja2 template
(report.html.j2).

The numbers come from the run's metrics and the fit summary (fit_results.json); the yields and their uncertainties
there are cabinetry's (``cabinetry.model_utils.prediction``, see rdf_ttbar.inference.results), shown with five
significant digits. A run without the fit gets the nominal yields of its histograms instead.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import os
from pathlib import Path
from typing import Any

from .. import atomic

REPORT_FILE = "report.html"
TEMPLATE = "report.html.j2"
TIMES = (  # metrics.json's wall_time_s, in the order shown
    ("input_preparation", "input preparation"),
    ("setup", "set-up"),
    ("jitting", "jitting"),
    ("event_loop", "event loop"),
    ("fit", "fit"),
    ("plots", "plots (beyond the fit)"),
    ("total", "total"),
)


def number(value: float | None, digits: int = 5) -> str:
    """``value`` with at least ``digits`` significant digits and at least one decimal ("-" for none)."""
    if value is None or not math.isfinite(value):
        return "-"
    if value == 0:
        return "0.0"
    decimals = max(1, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def uncertainty(value: float | None, reference: float | None, digits: int = 5) -> str:
    """An uncertainty with as many decimals as ``number(reference)`` shows."""
    if value is None or reference is None or not math.isfinite(value):
        return "-"
    shown = number(reference, digits)
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return f"{value:.{decimals}f}"


def yield_table(yields: dict[str, Any], title: str) -> dict[str, Any]:
    """A table of ``prefit_yields`` / ``postfit_yields`` of fit_results.json: a row per sample (then the total and
    the data), a column per region; each cell value +- uncertainty."""
    regions = list(yields)
    samples: list[str] = []
    for region in regions:
        samples += [s for s in yields[region]["samples"] if s not in samples]
    rows = []
    for sample in samples:
        cells = []
        for region in regions:
            value = yields[region]["samples"].get(sample)
            unc = yields[region]["sample_uncertainties"].get(sample)
            cells.append({"region": region, "value": number(value), "unc": uncertainty(unc, value)})
        rows.append({"sample": sample, "kind": "sample", "cells": cells})
    rows.append(
        {
            "sample": "total",
            "kind": "total",
            "cells": [
                {
                    "region": r,
                    "value": number(yields[r]["total"]),
                    "unc": uncertainty(yields[r]["total_uncertainty"], yields[r]["total"]),
                }
                for r in regions
            ],
        }
    )
    rows.append(
        {
            "sample": "data",
            "kind": "data",
            "cells": [{"region": r, "value": number(yields[r]["data"]), "unc": None} for r in regions],
        }
    )
    return {"title": title, "regions": regions, "rows": rows}


def yield_lines(yields: dict[str, Any], title: str = "post-fit yields") -> list[str]:
    """A compact text table of ``postfit_yields`` (fit_results.json) for the terminal: a row per sample, then the
    total and the data, a column per region (value +- uncertainty, one decimal)."""
    table = yield_table(yields, title)
    cells = [
        [row["sample"]]
        + [
            f"{float(c['value']):,.1f}" + (f" +- {float(c['unc']):,.1f}" if c["unc"] not in (None, "-") else "")
            if c["value"] != "-"
            else "-"
            for c in row["cells"]
        ]
        for row in table["rows"]
    ]
    header = [title] + table["regions"]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    return [
        "  ".join(text.ljust(w) if i == 0 else text.rjust(w) for i, (text, w) in enumerate(zip(r, widths))).rstrip()
        for r in [header, *cells]
    ]


def histogram_yields(histograms, analysis) -> dict[str, Any]:
    """A run without the fit: the nominal yield (sum of the bins, flow bins left out) +- sqrt(sum of squared
    weights) of every region and process of ``histograms`` ({AGC name: hist.Hist}), and the pseudo-data."""
    from ..analysis import histogram_name, pseudodata_name

    table: dict[str, Any] = {}
    for h in analysis.histograms:
        if h.output != analysis.histograms[0].output:  # the main file's histograms (AGC v2's ML features aside)
            continue
        values, uncs = {}, {}
        for process in analysis.process_names:
            hist = histograms.get(histogram_name(h.prefix, process, "nominal"))
            if hist is not None:
                total, label = hist.sum(), analysis.process(process).label
                values[label], uncs[label] = float(total.value), math.sqrt(float(total.variance))
        data = histograms.get(pseudodata_name(h.prefix))
        table[h.prefix] = {
            "samples": values,
            "sample_uncertainties": uncs,
            "total": sum(values.values()),
            "total_uncertainty": math.sqrt(sum(u * u for u in uncs.values())),
            "data": float(data.sum().value) if data is not None else None,
        }
    return table


def caption(name: str) -> str:
    """What the plot ``name`` (a PNG file name of rdf_ttbar.plots) shows."""
    stem = name.removesuffix(".png")
    for prefix, text in (
        ("stacked_", "Nominal histograms of {} stacked per process, with the pseudo-data (Garwood errors), the MC "
         "statistical uncertainty band and the data/prediction ratio."),
        ("data_mc_prefit_", "Pre-fit model of region {} against the pseudo-data, with the pre-fit uncertainty band "
         "(cabinetry) and the data/model ratio."),
        ("data_mc_postfit_", "Post-fit model of region {} against the pseudo-data, with the post-fit uncertainty "
         "band (cabinetry) and the data/model ratio."),
        ("ml_prefit_", "ML feature {} (4j2b) pre-fit, against the pseudo-data."),
        ("ml_postfit_", "ML feature {} (4j2b) with the main fit's parameters applied, against the pseudo-data."),
        ("btag_variations_", "ttbar in {}: the b-tagging weight variations relative to the nominal histogram."),
        ("jet_energy_variations_", "ttbar in {}: the jet energy scale and resolution variations relative to the "
         "nominal histogram."),
    ):  # fmt: skip
        if stem.startswith(prefix):  # a region's file name has "_" for the space of its name ("4j1b_CR")
            name = stem[len(prefix) :]
            return text.format(name.replace("_", " ") if prefix.startswith("data_mc") else name)
    return {
        "pulls": "Pulls of the constrained nuisance parameters ((fitted - nominal) / pre-fit uncertainty), with "
        "their post-fit uncertainties; the per-bin MC-statistical parameters are left out.",
        "correlations": "Correlations of the fitted parameters with abs(correlation) > 0.2 with another one (the "
        "full matrix is in fit_results.json).",
        "ranking": "The nuisance parameters ranked by their post-fit impact on ttbar_norm (pre- and post-fit "
        "impacts, with the pulls).",
    }.get(stem, stem.replace("_", " "))


PLOT_ORDER = ("stacked_", "btag_", "jet_energy_", "data_mc_prefit_", "data_mc_postfit_", "pulls", "correlations",
              "ranking", "ml_prefit_", "ml_postfit_")  # fmt: skip


def plots(plots_dir: Path | None) -> list[dict[str, str]]:
    """Every PNG of ``plots_dir``, embedded (base64), with its caption, in PLOT_ORDER."""
    if plots_dir is None or not plots_dir.is_dir():
        return []

    def order(path: Path):
        rank = next((i for i, p in enumerate(PLOT_ORDER) if path.name.startswith(p)), len(PLOT_ORDER))
        return rank, path.name

    return [
        {
            "name": p.name,
            "caption": caption(p.name),
            "data": base64.b64encode(p.read_bytes()).decode("ascii"),
        }
        for p in sorted(plots_dir.glob("*.png"), key=order)
    ]


def summary_rows(metrics: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The run's numbers: events, rates, graph build, cores, bytes."""
    if not metrics:
        return []
    rate, per_core = metrics.get("event_rate_hz"), metrics.get("event_rate_per_core_hz")
    rows = [
        ("events processed", f"{metrics['events_processed']:,}"),
        ("files", str(metrics.get("files", "-"))),
        ("event rate", f"{rate / 1e3:,.1f} kHz" if rate else "-"),
        ("event rate per core", f"{per_core / 1e3:,.1f} kHz on {metrics.get('cores')} cores" if per_core else "-"),
        ("analysis graph", str(metrics.get("graph") or "-")),
        ("scheduler", str(metrics.get("scheduler", "-"))),
    ]
    if metrics.get("bytes_read") is not None:
        rows.append(("bytes read", f"{metrics['bytes_read'] / 1e6:,.1f} MB"))
    return rows


def times(metrics: dict[str, Any] | None) -> list[tuple[str, str]]:
    wall = (metrics or {}).get("wall_time_s") or {}
    return [(label, f"{wall[key]:.2f} s") for key, label in TIMES if wall.get(key) is not None]


def context(
    *,
    metrics: dict[str, Any] | None,
    summary: dict[str, Any] | None,
    plots_dir: Path | None,
    histograms=None,
    analysis=None,
) -> dict[str, Any]:
    """What the template shows."""
    record = (summary or {}).get("provenance") or (metrics or {}).get("provenance") or {}
    poi = None
    if summary:
        entry = summary[summary.get("poi", "ttbar_norm")]
        interval = entry.get("interval")  # None where MINOS failed
        poi = {
            "name": summary.get("poi", "ttbar_norm"),
            "value": entry["value"],
            "uncertainty": entry["uncertainty"],
            "interval": interval,
            "down": interval[0] - entry["value"] if interval else None,
            "up": interval[1] - entry["value"] if interval else None,
            "method": entry.get("method", "-"),
            "minuit": summary.get("minuit", {}),
        }
    tables = []
    if summary and "prefit_yields" in summary:
        tables = [
            yield_table(summary["prefit_yields"], "Pre-fit yields"),
            yield_table(summary["postfit_yields"], "Post-fit yields"),
        ]
    elif histograms is not None and analysis is not None:
        tables = [yield_table(histogram_yields(histograms, analysis), "Nominal yields of the histograms (no fit)")]
    definition = record.get("definition") or ({"name": analysis.name, "version": analysis.version} if analysis else {})
    return {
        "title": f"rdf_ttbar: {definition.get('name', 'AGC ttbar')}",
        "created": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "poi": poi,
        "summary_rows": summary_rows(metrics),
        "times": times(metrics),
        "tables": tables,
        "plots": plots(plots_dir),
        "warnings": list((summary or {}).get("warnings", [])),
        "fit": summary is not None,
        "provenance": record,
        "config_json": json.dumps(record.get("config") or record.get("options") or {}, indent=2),
    }


def render(values: dict[str, Any]) -> str:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template(TEMPLATE).render(**values)


def write_report(
    path: str | os.PathLike,
    *,
    metrics: dict[str, Any] | None = None,
    summary: dict[str, Any] | None = None,
    plots_dir: str | os.PathLike | None = None,
    histograms=None,
    analysis=None,
) -> Path:
    """Write report.html to ``path`` (atomically).

    Args:
        metrics: the run's metrics (metrics.json); None for a fit alone.
        summary: the fit summary (fit_results.json); None for a run without the fit.
        plots_dir: the folder of the PNG plots to embed.
        histograms: a run without the fit: its histograms ({AGC name: hist.Hist}) for the yield table.
        analysis: the definition (``rdf_ttbar.analysis.Analysis``).
    """
    values = context(
        metrics=metrics,
        summary=summary,
        plots_dir=Path(plots_dir) if plots_dir is not None else None,
        histograms=histograms,
        analysis=analysis,
    )
    return atomic.write_text(path, render(values))
