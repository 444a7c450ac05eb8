"""The faults of issue 27 (part A) that are not signals: argument errors, a full disk under the plots, a damaged
demo cache, and generate's free-space check. Each ends in one clear line, nothing lost, nothing left behind."""

from __future__ import annotations

import pytest

from helpers import run_cli


# ---------------------------------------------------------------------------- argument errors: one line
@pytest.mark.parametrize(
    "args, expected",
    [
        (["--analysis", "v3"], "rdf_ttbar: error: argument --analysis: invalid choice: 'v3' (choose from 'v1', 'v2')"),
        (["--frobnicate"], "rdf_ttbar: error: unrecognized arguments: --frobnicate"),
        (["--mt", "two"], "rdf_ttbar: error: argument --mt: invalid int value: 'two'"),
        (["-n"], "rdf_ttbar: error: argument -n/--files-per-sample: expected one argument"),
        (
            ["generate", "--events-per-sample", "x"],
            "rdf_ttbar generate: error: argument --events-per-sample: invalid int value: 'x'",
        ),
        (
            ["deliver", "--format", "parquet"],
            "rdf_ttbar deliver: error: argument --format: invalid choice: 'parquet' (choose from 'ttree', 'rntuple')",
        ),
        (["validate", "--histos", "h.root"], "rdf_ttbar validate: error: one of the arguments --reference"),
        (["bench", "--repeat"], "rdf_ttbar bench: error: argument --repeat: expected one argument"),
        (["fit", "--ranking=3"], "rdf_ttbar fit: error: argument --ranking: ignored explicit argument '3'"),
        (["fit"], "rdf_ttbar fit: error: give either HISTOGRAMS.root or --reference N|FILE.json"),
    ],
)
def test_an_invalid_option_is_one_line_with_a_pointer_to_help(args, expected):
    result = run_cli(*args, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # no usage block
    assert lines[0].startswith(expected), result.stderr
    sub = args[0] if args[0] in ("generate", "deliver", "validate", "bench", "fit") else None
    command = f"python -m rdf_ttbar {sub}" if sub else "python -m rdf_ttbar"
    assert lines[0].endswith(f"(see {command} --help)"), result.stderr
    assert result.stdout == ""
