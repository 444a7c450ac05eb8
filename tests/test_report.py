"""Provenance (metrics.json, fit_results.json), report.html and the HEPData record of a run on the tests' demo
set, and of ``fit`` on an existing histograms.root; checked against what the test reads itself (the input list,
the files' sizes, the packages' own versions, the workspace through cabinetry)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
from html import unescape
from pathlib import Path

import pytest

from helpers import run_cli
from report_checks import assert_same_yields, cabinetry_yields, shown_tables


@pytest.fixture(scope="module")
def job(demo_inputs, tmp_path_factory) -> Path:
    """The whole job on the demo set (fit included) with a HEPData record; its output folder."""
    out = tmp_path_factory.mktemp("report") / "out"
    result = run_cli("--inputs", demo_inputs, "--mt", "2", "--output-dir", out, "--hepdata", out.parent / "hepdata")
    (out.parent / "stdout.txt").write_text(result.stdout)
    return out


def test_provenance_of_a_run(job, demo_inputs):
    import cabinetry
    import iminuit
    import numpy
    import pyhf
    import ROOT

    import rdf_ttbar

    metrics = json.loads((job / "metrics.json").read_text())
    record = metrics["provenance"]
    assert json.loads((job / "fit_results.json").read_text())["provenance"] == record
    versions = record["versions"]
    assert versions["rdf_ttbar"] == rdf_ttbar.__version__
    assert versions["cabinetry"] == cabinetry.__version__
    assert versions["pyhf"] == pyhf.__version__
    assert versions["iminuit"] == iminuit.__version__
    assert versions["numpy"] == numpy.__version__
    assert versions["ROOT"] == ROOT.gROOT.GetVersion().replace("/", ".")
    assert record["command"] == (
        f"python -m rdf_ttbar --inputs {demo_inputs} --mt 2 --output-dir {job} --hepdata {job.parent / 'hepdata'}"
    )
    assert record["config"]["inputs"] == str(demo_inputs)
    assert record["config"]["mt"] == 2 and record["config"]["fit"] is True
    assert record["config"]["output_dir"] == str(job) and record["config"]["demo"]["seed"] == 1
    assert record["definition"] == {"name": "AGC ttbar v1", "version": "v1"}
    assert record["host"]["cores"] == os.cpu_count()
    # the input list, read here: files, events and bytes per sample, and the checksum of its documented recipe
    listed = json.loads(demo_inputs.read_text())
    rows, expected = [], {}
    for process, variations in listed.items():
        for variation, entry in variations.items():
            name = process if variation == "nominal" else f"{process}_{variation}"
            files = [(str((demo_inputs.parent / f["path"]).resolve()), f["nevts"]) for f in entry["files"]]
            sizes = [os.path.getsize(path) for path, _ in files]
            rows += [[name, path, n, size] for (path, n), size in zip(files, sizes)]
            events = sum(n for _, n in files)
            expected[name] = {"files": len(files), "nevts": events, "entries": events, "bytes": sum(sizes)}
    inputs = record["inputs"]
    assert inputs["samples"] == expected
    assert inputs["files"] == len(rows) == metrics["files"]
    assert inputs["bytes"] == sum(r[3] for r in rows)
    assert inputs["paths"] == [r[1] for r in rows]
    assert inputs["sha256"] == hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


IMG = re.compile(
    r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)">\s*<figcaption>(.*?)</figcaption>', re.S
)


def embedded_images(html: str) -> dict[str, tuple[bytes, str]]:
    """{plot name: (PNG bytes, caption)} of report.html."""
    return {name: (base64.b64decode(data), unescape(caption)) for data, name, caption in IMG.findall(html)}


def assert_self_contained(html: str) -> None:
    """Nothing the page would load from elsewhere: every src is an embedded image, no link, no CSS url()."""
    sources = re.findall(r'\b(?:src|href)="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources), sources[:3]
    assert "url(" not in html and "<script" not in html and "<link" not in html


def test_report_of_a_run(job):
    html = (job / "report.html").read_text()
    assert_self_contained(html)
    images = embedded_images(html)
    pngs = sorted(p.name for p in (job / "plots").glob("*.png"))
    assert sorted(images) == pngs and len(pngs) == 10
    for name, (data, text) in images.items():
        assert data == (job / "plots" / name).read_bytes()  # the plot itself, decoded
        assert text.startswith(f"<code>plots/{name}</code>: ") and len(text) > 60
    assert "Post-fit model of region 4j2b SR against the pseudo-data" in images["data_mc_postfit_4j2b_SR.png"][1]
    summary = json.loads((job / "fit_results.json").read_text())
    poi = summary["ttbar_norm"]
    lo, hi = poi["interval"]
    assert f'<span id="poi-value" data-value="{poi["value"]}">{poi["value"]:.4f}</span>' in html
    assert f'<span id="poi-interval-low" data-value="{lo}">{lo:.4f}</span>' in html
    assert f'<span id="poi-interval-high" data-value="{hi}">{hi:.4f}</span>' in html
    # the yields: cabinetry's prediction from workspace.json, computed here
    assert assert_same_yields(shown_tables(html), cabinetry_yields(job)) == 2 * 2 * (5 + 2)
    metrics = json.loads((job / "metrics.json").read_text())
    assert f'<tr><td>events processed</td><td class="num">{metrics["events_processed"]:,}</td></tr>' in html
    assert f'<tr><td>analysis graph</td><td class="num">{metrics["graph"]}</td></tr>' in html
    assert f'<code id="command">{metrics["provenance"]["command"]}</code>' in html
    assert metrics["provenance"]["inputs"]["sha256"] in html
    assert '<h2 id="warnings">Warnings of the fit</h2>\n<p>None.</p>' in html  # this fit has none


def test_report_without_fit(demo_inputs, tmp_path):
    import uproot

    out = tmp_path / "out"
    run_cli("--inputs", demo_inputs, "-n", "1", "--mt", "1", "--output-dir", out, "--no-fit")
    html = (out / "report.html").read_text()
    assert_self_contained(html)
    assert sorted(embedded_images(html)) == sorted(p.name for p in (out / "plots").glob("*.png"))
    assert "No fit in this run" in html and "Warnings of the fit" not in html
    (table,) = shown_tables(html).values()
    labels = {"ttbar": "ttbar", "single_top_s_chan": "single top, s-channel", "single_top_t_chan":
              "single top, t-channel", "single_top_tW": "tW", "wjets": "W+jets"}  # fmt: skip
    with uproot.open(out / "histograms.root") as f:
        for region in ("4j1b", "4j2b"):
            for process, label in labels.items():
                h = f[f"{region}_{process}"]
                value, unc = table[(region, label)]
                assert math.isclose(value, h.values().sum(), rel_tol=1e-4)
                assert math.isclose(unc, math.sqrt(h.variances().sum()), rel_tol=1e-4, abs_tol=1e-4 * value)
            assert math.isclose(table[(region, "data")][0], f[f"{region}_pseudodata"].values().sum(), rel_tol=1e-4)


def test_report_of_fit(job, tmp_path):
    out = tmp_path / "fit"
    result = run_cli("fit", job / "histograms.root", "--output-dir", out)
    assert f"report: {out / 'report.html'}" in result.stdout
    html = (out / "report.html").read_text()
    assert_self_contained(html)
    assert len(embedded_images(html)) == 10
    summary = json.loads((out / "fit_results.json").read_text())
    assert f'data-value="{summary["ttbar_norm"]["value"]}"' in html
    assert assert_same_yields(shown_tables(html), cabinetry_yields(out)) == 28
    record = summary["provenance"]
    assert record["command"] == f"python -m rdf_ttbar fit {job / 'histograms.root'} --output-dir {out}"
    assert record["options"]["histograms"] == str(job / "histograms.root") and "inputs" not in record
    assert f'<code id="command">{record["command"]}</code>' in html


def test_report_of_fit_reference(tmp_path):
    out = tmp_path / "ref"
    run_cli("fit", "--reference", "1", "--output-dir", out)
    html = (out / "report.html").read_text()
    assert_self_contained(html)
    assert sorted(embedded_images(html)) == sorted(p.name for p in (out / "plots").glob("*.png"))
    summary = json.loads((out / "fit_results.json").read_text())
    assert f'data-value="{summary["ttbar_norm"]["value"]}"' in html
    assert assert_same_yields(shown_tables(html), cabinetry_yields(out)) == 28
    assert summary["provenance"]["options"]["reference"] == "1"


def test_terminal_summary(job):
    """The summary's post-fit yields table (one decimal) and the report's path."""
    lines = [line.removeprefix("rdf_ttbar: ") for line in (job.parent / "stdout.txt").read_text().splitlines()]
    yields = json.loads((job / "fit_results.json").read_text())["postfit_yields"]
    start = next(i for i, line in enumerate(lines) if line.startswith("post-fit yields"))
    assert re.split(r"\s{2,}", lines[start]) == ["post-fit yields", "4j1b CR", "4j2b SR"]
    cells = [re.split(r"\s{2,}", line) for line in lines[start + 1 : start + 8]]
    rows = {c[0]: " ".join(c[1:]).split() for c in cells}
    for sample in yields["4j1b CR"]["samples"]:
        expected = [
            f"{yields[r][k][sample]:,.1f}" for r in ("4j1b CR", "4j2b SR") for k in ("samples", "sample_uncertainties")
        ]
        assert rows[sample] == [expected[0], "+-", expected[1], expected[2], "+-", expected[3]]
    assert rows["total"] == [
        f"{yields['4j1b CR']['total']:,.1f}", "+-", f"{yields['4j1b CR']['total_uncertainty']:,.1f}",
        f"{yields['4j2b SR']['total']:,.1f}", "+-", f"{yields['4j2b SR']['total_uncertainty']:,.1f}",
    ]  # fmt: skip
    assert rows["data"] == [f"{yields['4j1b CR']['data']:,.1f}", f"{yields['4j2b SR']['data']:,.1f}"]
    assert lines[-1] == f"report: {job / 'report.html'}"


def validated_submission(folder: Path) -> dict[str, dict]:
    """The tables of a HEPData submission folder ({name: table}), after hepdata-validator passed it."""
    import warnings

    import yaml

    with warnings.catch_warnings():  # it imports jsonschema's deprecated names
        warnings.filterwarnings("ignore", message=r"jsonschema\.\S+ is deprecated", category=DeprecationWarning)
        from hepdata_validator.full_submission_validator import FullSubmissionValidator

    validator = FullSubmissionValidator()
    valid = validator.validate(directory=str(folder))
    assert valid, {f: [m.message for m in ms] for f, ms in validator.get_messages().items()}
    documents = list(yaml.safe_load_all((folder / "submission.yaml").read_text()))
    tables = {d["name"]: yaml.safe_load((folder / d["data_file"]).read_text()) for d in documents if "data_file" in d}
    resources = documents[0]["additional_resources"]
    (workspace,) = [r for r in resources if r.get("type") == "HistFactory"]
    return {"tables": tables, "workspace": json.loads((folder / workspace["location"]).read_text())}


def test_hepdata_record(job):
    record = validated_submission(job.parent / "hepdata")
    summary = json.loads((job / "fit_results.json").read_text())
    assert record["workspace"] == json.loads((job / "workspace.json").read_text())
    tables = record["tables"]
    assert sorted(tables) == ["Fitted ttbar_norm", "Post-fit 4j1b CR", "Post-fit 4j2b SR"]
    poi = summary["ttbar_norm"]
    (column,) = tables["Fitted ttbar_norm"]["dependent_variables"]
    (entry,) = column["values"]
    assert math.isclose(entry["value"], poi["value"], rel_tol=1e-4)
    errors = entry["errors"][0]["asymerror"]
    assert math.isclose(errors["minus"], poi["interval"][0] - poi["value"], rel_tol=1e-4)
    assert math.isclose(errors["plus"], poi["interval"][1] - poi["value"], rel_tol=1e-4)
    for region in ("4j1b CR", "4j2b SR"):
        table, bins = tables[f"Post-fit {region}"], summary["postfit_yields"][region]["bins"]
        (axis,) = table["independent_variables"]
        assert [(v["low"], v["high"]) for v in axis["values"]] == list(zip(bins["edges"][:-1], bins["edges"][1:]))
        columns = {c["header"]["name"]: c["values"] for c in table["dependent_variables"]}
        assert sorted(columns) == sorted([f"post-fit {s}" for s in bins["samples"]] + ["post-fit total", "pseudo-data"])
        expected = {f"post-fit {s}": (bins["samples"][s], bins["sample_uncertainties"][s]) for s in bins["samples"]}
        expected["post-fit total"] = (bins["total"], bins["total_uncertainty"])
        for name, (values, uncertainties) in expected.items():
            for got, value, unc in zip(columns[name], values, uncertainties, strict=True):
                assert math.isclose(got["value"], value, rel_tol=1e-4, abs_tol=1e-9)
                shown_unc = got["errors"][0]["symerror"] if "errors" in got else 0.0
                assert math.isclose(shown_unc, unc, rel_tol=1e-4, abs_tol=1e-9)
        assert [v["value"] for v in columns["pseudo-data"]] == pytest.approx(bins["data"], rel=1e-4)
    # the post-fit total per region: cabinetry's, computed here from workspace.json
    expected_totals = cabinetry_yields(job)["Post-fit yields"]
    for region in ("4j1b CR", "4j2b SR"):
        columns = {c["header"]["name"]: c["values"] for c in tables[f"Post-fit {region}"]["dependent_variables"]}
        total = sum(v["value"] for v in columns["post-fit total"])
        assert math.isclose(total, expected_totals[(region, "total")][0], rel_tol=1e-4)


def test_hepdata_refuses_a_folder_of_other_files(job, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = run_cli(
        "fit", job / "histograms.root", "--output-dir", tmp_path / "fit", "--hepdata", tmp_path, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"rdf_ttbar fit: error: --hepdata {tmp_path} holds other files and no earlier HEPData submission: "
        "choose a new or empty folder"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing written, the fit not run


CHROMIUM = "/usr/bin/chromium"  # Debian's (README: the test command installs it; playwright's download is not used)
CHROMIUM_ARGS = [
    "--no-sandbox",  # as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def test_report_in_chromium(job, tmp_path):
    """report.html in headless Chromium: no console error, no request but the page itself, every image decoded,
    the summary's ttbar_norm and interval those of fit_results.json, the yields shown cabinetry's from
    workspace.json; a screenshot of the whole page for a person to look at."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: apt-get install chromium (README, the test command)"
    page_url = (job / "report.html").as_uri()
    errors, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)  # a fresh profile
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_url, wait_until="load")
            images = page.eval_on_selector_all(
                "img", "images => images.map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
            )
            poi = {key: page.inner_text(f"#poi-{key}") for key in ("value", "interval-low", "interval-high")}
            cells = page.eval_on_selector_all(
                "table.yields",
                "tables => tables.map(t => [t.dataset.table, Array.from(t.querySelectorAll('td[data-region]'))"
                ".map(c => [c.dataset.region, c.dataset.sample, c.innerText])])",
            )
            screenshot = tmp_path / "report.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    print(f"screenshot of {page_url}: {screenshot}")
    assert not errors, errors
    assert [u for u in requests if not u.startswith("data:")] == [page_url]
    assert sorted(i[0] for i in images) == sorted(p.name for p in (job / "plots").glob("*.png"))
    assert all(complete and width > 0 and height > 0 for _, complete, width, height in images), images
    summary = json.loads((job / "fit_results.json").read_text())["ttbar_norm"]
    assert poi == {
        "value": f"{summary['value']:.4f}",
        "interval-low": f"{summary['interval'][0]:.4f}",
        "interval-high": f"{summary['interval'][1]:.4f}",
    }
    shown = {}
    for title, table in cells:
        shown[title] = {}
        for region, sample, text in table:
            value, _, unc = text.partition(" ± ")
            shown[title][(region, sample)] = (float(value), float(unc) if unc else None)
    assert assert_same_yields(shown, cabinetry_yields(job)) == 28
    assert screenshot.stat().st_size > 100_000


def test_hepdata_from_the_api(job, tmp_path):
    """rdf_ttbar.hepdata of a fit report in memory (its workspace written by the submission) and of a
    fit_results.json (the workspace it names)."""
    import rdf_ttbar

    report = rdf_ttbar.fit(job / "histograms.root")
    folder = rdf_ttbar.hepdata(report, tmp_path / "from-report")
    record = validated_submission(folder)
    assert record["workspace"] == report.workspace
    (entry,) = record["tables"]["Fitted ttbar_norm"]["dependent_variables"][0]["values"]
    assert math.isclose(entry["value"], report.summary["ttbar_norm"]["value"], rel_tol=1e-4)
    record = validated_submission(rdf_ttbar.hepdata(job / "fit_results.json", tmp_path / "from-file"))
    assert record["workspace"] == json.loads((job / "workspace.json").read_text())
    # an earlier submission is replaced, nothing is left beside it
    rdf_ttbar.hepdata(job / "fit_results.json", tmp_path / "from-report")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["from-file", "from-report"]


@pytest.mark.parametrize("option", ["--no-fit", "--io-only"])
def test_hepdata_needs_the_fit(option, tmp_path):
    result = run_cli(option, "--hepdata", tmp_path / "hd", "--output-dir", tmp_path / "out", check=False)
    assert (result.returncode, result.stderr.strip()) == (
        2,
        f"rdf_ttbar: error: --hepdata records the fit: drop {option} or --hepdata",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # checked before anything is written


def test_v2_report_and_hepdata(tmp_path):
    """AGC v2 (its synthetic histograms of tests/test_v2_plots.py): the report embeds every plot, the ML features'
    included, and the HEPData record has a table per post-fit ML feature with the ML validation's numbers."""
    import warnings

    from rdf_ttbar import api, report
    from rdf_ttbar.analysis import agc_v2
    from rdf_ttbar.execution.outputs import OutputFolder
    from rdf_ttbar.plots.painters import Painters
    from test_v2_plots import V2, synthetic_v2

    metrics: dict = {"wall_time_s": {}}
    with OutputFolder(tmp_path / "out") as out, Painters(2) as painters, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = api.fit_and_plots(synthetic_v2(), True, out, metrics, painters, V2)
        page = report.write_report(out.staging / "report.html", summary=summary, plots_dir=out.staging / "plots")
        html = page.read_text()
        pngs = sorted(p.name for p in (out.staging / "plots").glob("*.png"))
        folder = report.hepdata.write(tmp_path / "hepdata", summary, out.staging / "workspace.json", V2)
    assert_self_contained(html)
    images = embedded_images(html)
    assert sorted(images) == pngs and len(pngs) > 40
    feature = agc_v2.POSTFIT_FEATURES[0]
    assert images[f"ml_postfit_{feature}.png"][1].endswith(
        f"ML feature {feature} (4j2b) with the main fit's parameters applied, against the pseudo-data."
    )
    tables = validated_submission(folder)["tables"]
    assert sorted(tables) == sorted(
        ["Fitted ttbar_norm", "Post-fit 4j1b CR", "Post-fit 4j2b SR"]
        + [f"Post-fit ML feature {f}" for f in agc_v2.POSTFIT_FEATURES]
    )
    for feature, yields in summary["ml_validation"]["postfit_yields"].items():
        columns = {
            c["header"]["name"]: c["values"] for c in tables[f"Post-fit ML feature {feature}"]["dependent_variables"]
        }
        got = [v["value"] for v in columns["post-fit total"]]
        assert got == pytest.approx(yields["bins"]["total"], rel=1e-4)
