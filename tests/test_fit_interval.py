"""The reported ttbar_norm interval against an independent profile-likelihood scan (pyhf fixed-POI fits).

Real CMS data: the AGC reference histograms for 5 files per sample (packaged copies: v1.4.0's for the v1
analysis, the AGC main branch's for v2), fitted with ``python -m rdf_ttbar fit --reference 5 --analysis V``.
The scan below uses only pyhf and the written workspace.json.
"""

from __future__ import annotations

import json

import pytest

from helpers import REPO, run_cli


def _twice_nll_at(model, data, mu):
    import pyhf

    _, twice_nll = pyhf.infer.mle.fixed_poi_fit(mu, data, model, return_fitted_val=True)
    return float(twice_nll)


def _crossing(f, inside, outside, level, steps=14):
    """Bisection for f(x) == level between a point inside (f < level) and one outside (f > level)."""
    for _ in range(steps):
        mid = 0.5 * (inside + outside)
        if f(mid) < level:
            inside = mid
        else:
            outside = mid
    return 0.5 * (inside + outside)


@pytest.fixture(scope="module", params=["v1", "v2"])
def five_files(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"ref5-{request.param}")
    result = run_cli("fit", "--reference", "5", "--analysis", request.param, "--output-dir", out, "--no-plots")
    return out, result, request.param


def test_interval_agrees_with_profile_likelihood_scan(five_files):
    import pyhf

    out, _, version = five_files
    summary = json.loads((out / "fit_results.json").read_text())
    ws = pyhf.Workspace(json.loads((out / "workspace.json").read_text()))
    model = ws.model()
    data = ws.data(model)
    pars, twice_nll_min = pyhf.infer.mle.fit(data, model, return_fitted_val=True)
    best = float(pars[model.config.poi_index])
    nll_min = float(twice_nll_min)

    def f(mu):
        return _twice_nll_at(model, data, mu) - nll_min

    lo = _crossing(f, best, best - 0.3, 1.0)
    hi = _crossing(f, best, best + 0.3, 1.0)
    poi = summary["ttbar_norm"]
    assert abs(poi["value"] - best) < 0.003
    assert abs(poi["uncertainty"] - (hi - lo) / 2) < 0.15 * (hi - lo) / 2
    rlo, rhi = poi["interval"]
    assert abs((best - rlo) - (best - lo)) < 0.10 * (best - lo)
    assert abs((rhi - best) - (hi - best)) < 0.10 * (hi - best)
    if version == "v1":  # the AGC v1.4.0 notebook: 0.972 +- 0.044 for 5 files per sample
        assert abs(poi["value"] - 0.972) < 0.003
        assert abs(poi["uncertainty"] - 0.044) < 0.15 * 0.044


def test_v2_reference_is_fitted_as_v2(five_files):
    """--analysis v2 fits the v2 reference (other contents than v1's: the tighter selection) with v2's
    pseudo-data, which has no single-top t-channel part."""
    out, _, version = five_files
    import uproot

    names = {"v1": "histos_5_file_per_process.json", "v2": "reference-v2/histos_5_file_per_process.json"}
    reference = json.loads((REPO / "rdf_ttbar" / "data" / names[version]).read_text())
    with uproot.open(out / "histograms.root") as f:
        fitted = f["4j2b_ttbar"].values(flow=True)
        pseudodata = f["4j2b_pseudodata"].values(flow=True)
    assert list(fitted) == reference["4j2b_ttbar"]["contents"]
    assert list(pseudodata) == reference["4j2b_pseudodata"]["contents"]
    parts = {n: reference[f"4j2b_{n}"]["contents"] for n in ("ttbar_ME_var", "ttbar_PS_var", "wjets")}
    expected = [0.5 * a + 0.5 * b + c for a, b, c in zip(*parts.values())]
    t_chan = reference["4j2b_single_top_t_chan"]["contents"]
    if version == "v2":
        assert pseudodata == pytest.approx(expected, rel=1e-12)
    else:
        assert pseudodata == pytest.approx([e + t for e, t in zip(expected, t_chan)], rel=1e-12)


def test_status_is_minuits_own(five_files):
    out, result, _ = five_files
    summary = json.loads((out / "fit_results.json").read_text())
    status = summary["minuit"]
    assert set(status) >= {"valid", "accurate", "forced_positive_definite", "edm", "strategy", "minos_valid"}
    assert summary["converged"] == (status["valid"] and status["minos_valid"])
    assert status["valid"] and not status["forced_positive_definite"]
    assert "MnPosDef" not in result.stdout + result.stderr
    assert "profile-likelihood interval" in result.stdout


def test_reference_needs_known_size(tmp_path):
    result = run_cli("fit", "--reference", "3", "--output-dir", tmp_path, check=False)
    assert result.returncode == 2
    assert "no packaged AGC reference for 3 files per sample" in result.stderr
    assert "Traceback" not in result.stderr
