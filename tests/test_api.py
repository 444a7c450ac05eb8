"""The Python API (rdf_ttbar.configure / run / run_job) in this process, checked against the test oracle."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

import oracle
import rdf_ttbar
from conftest import real_ttbar_file
from helpers import ANALYSIS, compare_with_oracle, oracle_histograms, same_files_everywhere


def test_configure_from_mapping_and_keywords(tmp_path):
    config = rdf_ttbar.configure({"mt": 2, "demo": {"seed": 7}}, inputs="agc", demo={"events_per_sample": 20_000})
    assert isinstance(config, rdf_ttbar.RunConfig)
    assert (config.mt, config.inputs) == (2, "agc")
    assert config.as_dict()["demo"] == {"events_per_sample": 20_000, "seed": 7, "cache_dir": None}  # other keys kept
    assert rdf_ttbar.configure(config, mt=1) == rdf_ttbar.configure({**config.as_dict(), "mt": 1})
    path = tmp_path / "c.yaml"
    path.write_text("mt: 3\nfit: false\n")
    assert (rdf_ttbar.configure(path).mt, rdf_ttbar.configure(path).fit) == (3, False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"threads": 2}, "configure(): unknown option 'threads' (known: agc, analysis, cache_dir,"),
        ({"mt": "two"}, "configure(): 'mt' must be of type int, got 'two'"),
        ({"mt": -1}, "configure(): 'mt' must be >= 0, got -1"),
        ({"demo": {"events": 5}}, "configure(): unknown option 'demo.events' (known: demo.cache_dir,"),
        ({"demo": 5}, "configure(): 'demo' must be a mapping"),
    ],
)
def test_configure_refuses_bad_options(kwargs, message):
    with pytest.raises(rdf_ttbar.UserError) as err:
        rdf_ttbar.configure(**kwargs)
    assert str(err.value).startswith(message), str(err.value)


def test_run_twice_gives_the_oracle_histograms_and_costs_little_the_second_time(tmp_path):
    """Two runs in one process: hist.Hist objects equal to the oracle's; the second run costs a fraction of the
    first (ROOT started, the compiled graph loaded)."""
    inputs = same_files_everywhere(tmp_path / "in.json", [(real_ttbar_file(), 200)])
    config = rdf_ttbar.configure(inputs=str(inputs), mt=1)
    first = rdf_ttbar.run(config)
    second = rdf_ttbar.run(config, mt=2)
    expected = oracle_histograms(str(inputs))
    for result in (first, second):
        assert set(result.histograms) == set(ANALYSIS.histogram_names()) >= set(expected)
        actual = {
            name: oracle.Hist(h.values(flow=True), h.variances(flow=True)) for name, h in result.histograms.items()
        }
        problems = compare_with_oracle(actual, expected, rtol=1e-6)
        assert not problems, "\n".join(problems)
    h = first.histograms["4j1b_ttbar"]
    assert h.axes[0].edges[0] == 50 and h.axes[0].edges[-1] == 550 and h.values().sum() > 0
    assert first.metrics["events_processed"] == second.metrics["events_processed"] == 9 * 200
    assert second.metrics["cores"] == 2
    # the compiled graph jits nothing; the second run pays neither ROOT's start nor loading the library
    t1, t2 = first.metrics["wall_time_s"], second.metrics["wall_time_s"]
    print(f"first run: {t1}\nsecond run: {t2}")
    assert first.metrics["graph"] == second.metrics["graph"] == "compiled"
    assert t1["jitting"] == t2["jitting"] == 0, (t1, t2)
    assert t2["total"] < 0.5 * t1["total"], (t1, t2)

    # histograms.root written from a result holds the same numbers (read back with uproot)
    written = oracle.read_root_histograms(rdf_ttbar.write_histograms(first, tmp_path / "h.root"))
    assert not oracle.compare(written, expected, rtol=1e-6)


def test_run_job_keeps_the_histograms_when_the_fit_fails(tmp_path, monkeypatch):
    """A failing fit: histograms.root and metrics.json are published, the message says how to rerun the fit,
    and nothing of an earlier run (fit results, workspace, plots) stays beside them."""
    from rdf_ttbar import inference

    out = tmp_path / "out"
    (out / "plots").mkdir(parents=True)
    for name in ("fit_results.json", "workspace.json", "plots/pulls.png", "histograms.root"):
        (out / name).write_text("from an earlier run")

    def failing_fit(histograms, *, ranking=False, analysis=None):
        assert histograms["4j1b_ttbar"].values().sum() > 0  # it gets this run's histograms, in memory
        raise rdf_ttbar.UserError("the model has no parameters (stub)")

    monkeypatch.setattr(inference, "fit", failing_fit, raising=False)
    inputs = same_files_everywhere(tmp_path / "in.json", [(real_ttbar_file(), 200)])
    with pytest.raises(rdf_ttbar.UserError) as err:
        rdf_ttbar.run_job(inputs=str(inputs), mt=1, output_dir=str(out))
    kept = out / "histograms.root"
    assert str(err.value) == (
        f"the model has no parameters (stub)\nThe event loops' histograms are kept in {kept} "
        f"(and metrics.json); rerun the fit on them with: python -m rdf_ttbar fit {kept}"
    )
    assert sorted(p.name for p in out.iterdir()) == ["histograms.root", "metrics.json"]
    problems = compare_with_oracle(oracle.read_root_histograms(kept), oracle_histograms(str(inputs)), rtol=1e-6)
    assert not problems, "\n".join(problems)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["events_processed"] == 1800 and metrics["wall_time_s"]["fit"] is None


def test_run_job_publishes_final_paths(tmp_path, monkeypatch):
    """Paths that the fit writes into its JSON point to the output folder, not to the staging folder."""
    from rdf_ttbar import inference
    from rdf_ttbar.plots import painters

    class Report:
        summary = {"ttbar_norm": {"value": 1.0, "uncertainty": 0.1}}

        def published(self, folder, histograms=None):
            return {**self.summary, "workspace": str(folder / "workspace.json")}

        def adding(self, **entries):
            self.summary = {**self.summary, **entries}
            return self

    def write(report, output_dir, **where):  # writes the staging folder's paths: the publication fixes them
        path = output_dir / "fit_results.json"
        path.write_text(
            json.dumps(
                {
                    **report.summary,
                    "workspace": str(output_dir / "workspace.json"),
                    "plots": [str(output_dir / "plots" / "pulls.png")],
                }
            )
        )
        (output_dir / "workspace.json").write_text("{}")
        return [path, output_dir / "workspace.json"]

    monkeypatch.setattr(inference, "fit", lambda histograms, ranking=False, analysis=None: Report(), raising=False)
    monkeypatch.setattr(inference, "write", write, raising=False)
    real_draw = painters.Painters.draw

    def draw(self, kind, source, plots_dir, analysis=None):  # no fit plots for the stub's summary
        if kind == "fit":
            return SimpleNamespace(result=lambda: [])
        return real_draw(self, kind, source, plots_dir, analysis)

    monkeypatch.setattr(painters.Painters, "draw", draw)
    inputs = same_files_everywhere(tmp_path / "in.json", [(real_ttbar_file(), 200)])
    out = tmp_path / "out"
    job = rdf_ttbar.run_job(inputs=str(inputs), mt=1, output_dir=str(out))
    assert [p.name for p in job.outputs] == [
        "histograms.root",
        "workspace.json",
        "fit_results.json",
        "metrics.json",
        "plots",
        "report.html",
    ]
    assert job.fit_summary["ttbar_norm"]["value"] == 1.0
    results = json.loads((out / "fit_results.json").read_text())
    assert results["workspace"] == str(out / "workspace.json")
    assert results["plots"] == [str(out / "plots" / "pulls.png")]
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "btag_variations_4j1b.png",
        "jet_energy_variations_4j2b.png",
        "stacked_4j1b.png",
        "stacked_4j2b.png",
    ]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["wall_time_s"]["fit"] >= 0 and metrics["wall_time_s"]["plots"] > 0
