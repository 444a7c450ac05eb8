"""``python -m rdf_ttbar validate`` against the AGC reference and doctored references."""

from __future__ import annotations

import json

import pytest

from conftest import real_ttbar_file, reference_json
from helpers import N_HISTOGRAMS, run_cli, run_histograms, same_files_everywhere


@pytest.fixture(scope="module")
def histos(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("validate")
    inputs = same_files_everywhere(tmp / "in.json", [(real_ttbar_file(), 200)])
    return run_histograms(inputs, tmp / "out", "--mt", "2")


@pytest.fixture(scope="module")
def dumped(histos, tmp_path_factory):
    path = tmp_path_factory.mktemp("dump") / "ours.json"
    run_cli("validate", "--histos", histos, "--dump-json", path)
    return json.loads(path.read_text())


def write(tmp_path, content) -> str:
    path = tmp_path / "ref.json"
    path.write_text(json.dumps(content))
    return str(path)


def test_names_and_edges_match_the_agc_reference(histos, dumped):
    reference = json.loads(reference_json().read_text())
    assert sorted(dumped) == sorted(reference)
    for name, ref in reference.items():
        assert dumped[name]["edges"] == pytest.approx(ref["edges"]), name
        assert len(dumped[name]["contents"]) == len(ref["contents"]) == 27
    # the contents come from other (real, unreachable) files: the comparison must fail on them, not on names
    result = run_cli("validate", "--histos", histos, "--reference", reference_json(), check=False)
    assert result.returncode == 1
    assert "missing" not in result.stdout and "edges differ" not in result.stdout
    assert "validation FAILED" in result.stdout


def test_own_dump_validates(histos, dumped, tmp_path):
    result = run_cli("validate", "--histos", histos, "--reference", write(tmp_path, dumped))
    assert f"validation passed: all {N_HISTOGRAMS} histograms" in result.stdout


def test_missing_histogram(histos, dumped, tmp_path):
    doctored = dict(dumped, **{"4j1b_ttbar_extra": dumped["4j1b_ttbar"]})
    result = run_cli("validate", "--histos", histos, "--reference", write(tmp_path, doctored), check=False)
    assert result.returncode == 1
    assert "4j1b_ttbar_extra: missing" in result.stdout


def test_edge_mismatch(histos, dumped, tmp_path):
    doctored = json.loads(json.dumps(dumped))
    doctored["4j2b_wjets"]["edges"] = [e + 1 for e in doctored["4j2b_wjets"]["edges"]]
    result = run_cli("validate", "--histos", histos, "--reference", write(tmp_path, doctored), check=False)
    assert result.returncode == 1 and "4j2b_wjets: edges differ" in result.stdout


def test_content_mismatch_and_single_event_migration(histos, dumped, tmp_path):
    doctored = json.loads(json.dumps(dumped))
    contents = doctored["4j1b_ttbar"]["contents"]
    filled = next(i for i, c in enumerate(contents) if c > 0)
    weight = contents[filled]
    # one event moved to the neighbouring bin: tolerated
    contents[filled] -= weight
    contents[filled + 1] += weight
    result = run_cli("validate", "--histos", histos, "--reference", write(tmp_path, doctored))
    assert "validation passed" in result.stdout
    # a real difference: reported with the bin
    contents[filled + 1] *= 3
    result = run_cli("validate", "--histos", histos, "--reference", write(tmp_path, doctored), check=False)
    assert result.returncode == 1
    # the pair no longer balances: both bins are reported
    assert f"4j1b_ttbar: 2 problem(s), first: bin {filled}: got" in result.stdout


def test_random_dependent_histograms_are_skipped_unless_asked(histos, dumped, tmp_path):
    doctored = json.loads(json.dumps(dumped))
    doctored["4j1b_ttbar_pt_res_up"]["contents"][10] += 12345.0
    ref = write(tmp_path, doctored)
    assert run_cli("validate", "--histos", histos, "--reference", ref).returncode == 0
    result = run_cli("validate", "--histos", histos, "--reference", ref, "--include-random", "--verbose", check=False)
    assert result.returncode == 1 and "4j1b_ttbar_pt_res_up: bin 10" in result.stdout


def test_bad_reference_files(histos, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    result = run_cli("validate", "--histos", histos, "--reference", bad, check=False)
    assert result.returncode == 2 and "not valid JSON" in result.stderr
    result = run_cli("validate", "--histos", tmp_path / "none.root", "--reference", bad, check=False)
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_verbose_output_into_a_reader_that_stops_early(histos):
    """``validate --verbose | head -1``: the reader goes away after one line; no BrokenPipeError traceback,
    and the exit code is still the validation's (1: the real reference's contents differ)."""
    import subprocess
    import sys

    from helpers import REPO

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rdf_ttbar",
            "validate",
            "--histos",
            str(histos),
            "--reference",
            str(reference_json()),
            "--verbose",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    first = proc.stdout.readline()
    proc.stdout.close()  # as head does after its lines
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1, err
    assert first.strip(), "validate printed nothing"
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


# ---------------------------------------------------------------------------
# AGC v2: histograms_ml.root beside histograms.root, ROOT references


ML_NAMES = ("mass_w1w2_ttbar", "mass_w1w2_ttbar_pt_res_up", "deltar_w1w2_wjets")


@pytest.fixture
def v2_files(tmp_path):
    """A small v2 output folder: histograms.root (two main histograms), histograms_ml.root (three ML ones)."""
    import hist
    import numpy as np
    import uproot

    rng = np.random.default_rng(5)

    def h(bins, low, high):
        out = hist.Hist(hist.axis.Regular(bins, low, high), storage=hist.storage.Weight())
        values = np.round(rng.uniform(1, 500, bins + 2), 3)
        out.view(flow=True).value = values
        out.view(flow=True).variance = values
        return out

    folder = tmp_path / "out"
    folder.mkdir()
    with uproot.recreate(folder / "histograms.root") as f:
        f["4j1b_ttbar"], f["4j2b_ttbar"] = h(25, 50, 550), h(25, 50, 550)
    ml = {name: h(25, 50, 300) if name.startswith("mass") else h(25, 0, 6) for name in ML_NAMES}
    with uproot.recreate(folder / "histograms_ml.root") as f:
        for name, hh in ml.items():
            f[name] = hh
    dumped = tmp_path / "ml.json"
    run_cli("validate", "--histos", folder / "histograms_ml.root", "--dump-json", dumped)
    return folder, json.loads(dumped.read_text())


def test_ml_reference_compares_histograms_ml_root_beside(v2_files, tmp_path):
    folder, ml = v2_files
    assert sorted(ml) == sorted(ML_NAMES) and len(ml["mass_w1w2_ttbar"]["contents"]) == 27
    for histos in ("histograms.root", "histograms_ml.root"):
        result = run_cli("validate", "--histos", folder / histos, "--reference", write(tmp_path, ml))
        assert "validation passed: all 3 histograms match" in result.stdout
        assert ("compared with" in result.stdout) == (histos == "histograms.root")
        assert "not in the reference" not in result.stdout  # histograms.root's own names are not noted
    doctored = json.loads(json.dumps(ml))
    doctored["mass_w1w2_ttbar"]["contents"][7] += 2.5
    got = ml["mass_w1w2_ttbar"]["contents"][7]
    result = run_cli(
        "validate", "--histos", folder / "histograms.root", "--reference", write(tmp_path, doctored), check=False
    )
    assert result.returncode == 1, result.stdout
    assert f"note: the reference's histograms_ml.root histograms compared with {folder / 'histograms_ml.root'}" in (
        result.stdout
    )
    assert f"mass_w1w2_ttbar: bin 7: got {got:.6g}, expected {got + 2.5:.6g}" in result.stdout
    assert "validation FAILED: 1 of 3 histograms differ" in result.stdout
    # without histograms_ml.root, the ML histograms are missing, and the note says where it was looked for
    (folder / "histograms_ml.root").rename(tmp_path / "elsewhere.root")
    ref = write(tmp_path, ml)
    result = run_cli("validate", "--histos", folder / "histograms.root", "--reference", ref, check=False)
    assert result.returncode == 1 and "mass_w1w2_ttbar: missing" in result.stdout
    assert f"{folder / 'histograms_ml.root'} does not exist" in result.stdout


def test_root_file_reference_and_random_ml_histograms(v2_files, tmp_path):
    import hist
    import uproot

    folder, ml = v2_files
    ours = folder / "histograms_ml.root"
    result = run_cli("validate", "--histos", ours, "--reference", ours)
    assert f"validation passed: all 3 histograms match {ours}" in result.stdout

    def reference_root(changed: str, bin_: int) -> str:
        path = tmp_path / f"peer_{changed}.root"
        with uproot.recreate(path) as f:
            for name, h in ml.items():
                out = hist.Hist(hist.axis.Variable(h["edges"]), storage=hist.storage.Weight())
                contents = list(h["contents"])
                if name == changed:
                    contents[bin_] *= 3
                out.view(flow=True).value = contents
                out.view(flow=True).variance = contents
                f[name] = out
        return str(path)

    peer = reference_root("deltar_w1w2_wjets", 12)
    result = run_cli("validate", "--histos", ours, "--reference", peer, check=False)
    assert result.returncode == 1
    got = ml["deltar_w1w2_wjets"]["contents"][12]
    assert f"deltar_w1w2_wjets: bin 12: got {got:.6g}, expected {3 * got:.6g}" in result.stdout
    # an ML jet-resolution variation depends on random numbers: compared only with --include-random
    peer = reference_root("mass_w1w2_ttbar_pt_res_up", 3)
    assert run_cli("validate", "--histos", ours, "--reference", peer).returncode == 0
    result = run_cli("validate", "--histos", ours, "--reference", peer, "--include-random", check=False)
    assert result.returncode == 1 and "mass_w1w2_ttbar_pt_res_up: bin 3: got" in result.stdout
