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
