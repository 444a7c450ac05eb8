"""What the report tests read from report.html, and the yields they expect: cabinetry's prediction computed here from
workspace.json (pre-fit; post-fit with the parameters, uncertainties and correlations of fit_results.json)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

CELL = re.compile(
    r'<td class="num" data-region="([^"]+)" data-sample="([^"]+)">([-0-9.]+)(?: &plusmn; ([-0-9.]+))?</td>'
)
TABLE = re.compile(r'<table class="yields" data-table="([^"]+)">(.*?)</table>', re.S)


def shown_tables(html: str) -> dict[str, dict[tuple[str, str], tuple[float, float | None]]]:
    """{table title: {(region, sample): (value, uncertainty)}} as report.html shows them."""
    return {
        title: {
            (region, sample): (float(value), float(unc) if unc else None)
            for region, sample, value, unc in CELL.findall(body.replace("&amp;", "&").replace("&#43;", "+"))
        }
        for title, body in TABLE.findall(html)
    }


def cabinetry_yields(folder: Path) -> dict[str, dict[tuple[str, str], tuple[float, float | None]]]:
    """Pre- and post-fit yields per region and sample (and the total, and the data) from workspace.json."""
    import cabinetry
    import numpy as np
    from cabinetry.fit.results_containers import FitResults

    workspace = json.loads((folder / "workspace.json").read_text())
    summary = json.loads((folder / "fit_results.json").read_text())
    model, data = cabinetry.model_utils.model_and_data(workspace)
    labels = summary["correlations"]["labels"]
    assert labels == model.config.par_names
    by_name = {p["name"]: p for p in summary["parameters"]}
    results = FitResults(
        np.array([by_name[n]["value"] for n in labels]),
        np.array([by_name[n]["uncertainty"] for n in labels]),
        labels,
        np.array(summary["correlations"]["matrix"]),
        summary["best_twice_nll"],
    )
    observed = cabinetry.model_utils._data_per_channel(model, data)
    out = {}
    for title, prediction in (
        ("Pre-fit yields", cabinetry.model_utils.prediction(model)),
        ("Post-fit yields", cabinetry.model_utils.prediction(model, fit_results=results)),
    ):
        table = {}
        for i, channel in enumerate(model.config.channels):
            per_sample = np.sum(prediction.model_yields[i], axis=-1)
            stdev = prediction.total_stdev_model_channels[i]
            for j, sample in enumerate(model.config.samples):
                if per_sample[j] != 0:
                    table[(channel, sample)] = (float(per_sample[j]), float(stdev[j]))
            table[(channel, "total")] = (float(np.sum(per_sample)), float(stdev[-1]))
            table[(channel, "data")] = (float(np.sum(observed[i])), None)
        out[title] = table
    return out


def assert_same_yields(shown: dict, expected: dict) -> int:
    """Every yield shown equals the expected one to 4 significant digits (its uncertainty too); returns the count."""
    assert set(shown) == set(expected)
    for title, table in expected.items():
        assert set(shown[title]) == set(table), title
        for key, (value, unc) in table.items():
            got, got_unc = shown[title][key]
            assert math.isclose(got, value, rel_tol=1e-4), (title, key, got, value)
            if unc is not None:
                assert got_unc is not None and math.isclose(got_unc, unc, rel_tol=1e-4, abs_tol=1e-4 * abs(value)), (
                    title,
                    key,
                    got_unc,
                    unc,
                )
    return sum(len(t) for t in expected.values())
