"""Bad input gets one clear message, a non-zero exit and no half-written outputs; odd input works."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import edge_cases
import oracle
from conftest import real_ttbar_file
from helpers import (
    ALL_SAMPLES,
    REPO,
    compare_with_oracle,
    oracle_histograms,
    run_cli,
    run_histograms,
    same_files_everywhere,
    write_inputs,
)


def fails(*args, expect: list[str], out=None):
    """Run the CLI expecting failure; the message must contain every string of ``expect``."""
    result = run_cli(*args, check=False)
    assert result.returncode != 0, result.stdout
    message = result.stderr
    for text in expect:
        assert text in message, f"{text!r} not in:\n{message}"
    assert "Traceback" not in message, message
    if out is not None:
        leftovers = sorted(p.name for p in out.iterdir()) if out.exists() else []
        assert leftovers in ([], ["metrics.json"]), leftovers  # only what was there before
    return message


@pytest.fixture
def out(tmp_path):
    """An output directory holding the metrics.json of an earlier run, which a failure must keep."""
    d = tmp_path / "out"
    d.mkdir()
    (d / "metrics.json").write_text('{"earlier": true}')
    yield d
    assert json.loads((d / "metrics.json").read_text()) == {"earlier": True}


def test_missing_input_file(tmp_path, out):
    inputs = same_files_everywhere(tmp_path / "in.json", [(tmp_path / "nope.root", 10)])
    fails("--inputs", inputs, "--output-dir", out, expect=["nope.root", "no such file", "input list"], out=out)


def test_not_a_root_file(tmp_path, out):
    bad = tmp_path / "bad.root"
    bad.write_text("this is not ROOT")
    inputs = same_files_everywhere(tmp_path / "in.json", [(bad, 10)])
    fails("--inputs", inputs, "--output-dir", out, expect=["bad.root", "cannot be opened as a ROOT file"], out=out)


def test_wrong_tree_name(tmp_path, out):
    inputs = same_files_everywhere(tmp_path / "in.json", [(real_ttbar_file(), 200)])
    fails(
        "--inputs",
        inputs,
        "--output-dir",
        out,
        "--tree",
        "Evnts",
        expect=["has no TTree or RNTuple 'Evnts'", "it holds: Events (TTree)", "--tree"],
        out=out,
    )


def test_malformed_json(tmp_path, out):
    bad = tmp_path / "in.json"
    bad.write_text('{"ttbar": {"nominal": {"files": [')
    fails("--inputs", bad, "--output-dir", out, expect=["not valid JSON", "nanoaod_inputs.json format"], out=out)


def test_json_of_the_wrong_shape(tmp_path, out):
    bad = tmp_path / "in.json"
    bad.write_text(json.dumps({"ttbar": {"nominal": {"files": [{"path": "a.root"}]}}}))
    fails("--inputs", bad, "--output-dir", out, expect=["ttbar/nominal", "file #0", "nevts"], out=out)
    bad.write_text(json.dumps({"tt_bar": {"nominal": {"files": []}}}))
    fails("--inputs", bad, "--output-dir", out, expect=["unknown process 'tt_bar'", "known: ttbar"], out=out)


def test_inputs_neither_demo_agc_nor_file(out):
    fails("--inputs", "dmeo", "--output-dir", out, expect=["'dmeo'", "demo", "agc"], out=out)


def test_malformed_config(tmp_path, out):
    config = tmp_path / "config.yaml"
    config.write_text("mt: [1,\n")
    fails("--config", config, "--output-dir", out, expect=["not valid YAML", str(config)], out=out)
    config.write_text("threads: 2\n")
    fails("--config", config, "--output-dir", out, expect=["unknown option 'threads'", "mt"], out=out)
    config.write_text("mt: two\n")
    fails("--config", config, "--output-dir", out, expect=["'mt' must be of type int"], out=out)
    config.write_text("io_percent: 3\n")
    fails(
        "--config",
        config,
        "--output-dir",
        out,
        expect=["'io_percent' must be one of 2.7, 4, 15, 25, 50 or analysis, got 3"],
        out=out,
    )
    fails("--config", tmp_path / "missing.yaml", expect=["missing.yaml", "does not exist"])


def test_unknown_option_values(out):
    fails("--mt", "-1", "--output-dir", out, expect=["'mt' must be >= 0"], out=out)
    fails("--scheduler", "spark", expect=["invalid choice: 'spark'"])
    fails("-n", "0", expect=["'files_per_sample' must be >= 1"])
    fails("--frobnicate", expect=["unrecognized arguments: --frobnicate"])


def test_odd_files_are_processed(tmp_path):
    """A zero-event file, a missing optional branch, a sample where nothing passes."""
    empty, uchar, missing = tmp_path / "empty.root", tmp_path / "edge.root", tmp_path / "missing.root"
    edge_cases.write_empty_file(empty)
    edge_cases.write_edge_case_file(uchar)
    edge_cases.write_missing_branch_file(missing)
    n = len(edge_cases.EDGE_EVENTS)
    files = {s: [(uchar, n), (missing, n)] for s in ALL_SAMPLES}
    # single top s-channel: only the zero-event file; t-channel: the real events, none of which passes 4j2b
    files[("single_top_s_chan", "nominal")] = [(empty, 0), (uchar, n)]
    files[("single_top_t_chan", "nominal")] = [(empty, 0), (real_ttbar_file(), 200)]
    inputs = write_inputs(tmp_path / "in.json", files)
    actual = oracle.read_root_histograms(run_histograms(inputs, tmp_path / "out", "--mt", "2"))
    expected = oracle_histograms(str(inputs))
    problems = compare_with_oracle(actual, expected, rtol=1e-6)
    assert not problems, "\n".join(problems)
    assert np.all(actual["4j2b_single_top_t_chan"].sumw == 0)  # nothing passes, histogram still there
    assert actual["4j1b_ttbar"].sumw.sum() > 0


def test_only_empty_files(tmp_path, out):
    empty = tmp_path / "empty.root"
    edge_cases.write_empty_file(empty)
    inputs = same_files_everywhere(tmp_path / "in.json", [(empty, 0)])
    fails("--inputs", inputs, "--output-dir", out, expect=["0 events", "cannot be normalised"], out=out)


# ---------------------------------------------------------------------------
# the output folder


@pytest.fixture
def small_inputs(tmp_path):
    return same_files_everywhere(tmp_path / "in.json", [(real_ttbar_file(), 200)])


def test_output_dir_is_a_regular_file(tmp_path, small_inputs):
    target = tmp_path / "results"
    target.write_text("not a folder")
    fails(
        "--inputs",
        small_inputs,
        "--output-dir",
        target,
        "--no-fit",
        expect=[
            f"rdf_ttbar: error: the output folder {target} is a file, not a folder: choose another "
            "--output-dir (or move the file away)\n"
        ],
    )
    assert target.read_text() == "not a folder"
    fails(
        "--inputs",
        small_inputs,
        "--output-dir",
        target / "sub",
        "--no-fit",
        expect=[f"the output folder {target / 'sub'} lies under a file, not a folder"],
    )


@contextlib.contextmanager
def mounted_tmpfs(path, options: str):
    """A tmpfs at ``path`` (root only: what a read-only or full disk looks like for real)."""
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_output_dir_read_only(tmp_path, small_inputs):
    if os.geteuid() == 0:  # root ignores permission bits: a read-only file system
        place = mounted_tmpfs(tmp_path / "ro", "ro,size=1m")
    else:
        place = contextlib.nullcontext(tmp_path / "ro")
        (tmp_path / "ro").mkdir(mode=0o555)
    with place as ro:
        fails(
            "--inputs",
            small_inputs,
            "--output-dir",
            ro / "out",
            "--no-fit",
            expect=[
                f"rdf_ttbar: error: cannot write into the output folder {ro / 'out'} (permission denied or "
                "read-only): choose another --output-dir\n"
            ],
        )


def test_output_dir_on_a_full_disk(tmp_path, small_inputs, monkeypatch):
    """histograms.root (~100 kB) does not fit: one message, nothing left in the folder."""
    if os.geteuid() == 0:
        with mounted_tmpfs(tmp_path / "full", "size=48k") as full:
            message = fails(
                "--inputs",
                small_inputs,
                "--output-dir",
                full,
                "--no-fit",
                expect=[
                    f"rdf_ttbar: error: no space left for the outputs in {full}: free some space "
                    "there or choose another --output-dir\n"
                ],
            )
            assert message.endswith("choose another --output-dir\n"), message  # one message, the last line
            assert list(full.iterdir()) == []
        return
    from rdf_ttbar import cli
    from rdf_ttbar.execution import histograms

    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(histograms, "write", full_disk)
    out = tmp_path / "full"
    assert cli.main(["--inputs", str(small_inputs), "--output-dir", str(out), "--no-fit", "--mt", "1"]) == 2
    assert list(out.iterdir()) == []


def test_version():
    result = run_cli("--version")
    assert re.fullmatch(r"rdf_ttbar \d+\.\d+\.\d+ \(ROOT 6\.\d\d\.\d\d\)\n", result.stdout), result.stdout


# ---------------------------------------------------------------------------
# warnings as errors, signals


def test_warnings_as_errors(tmp_path, demo_inputs):
    """The whole job, fit and plots included, with every warning turned into an error."""
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-m",
            "rdf_ttbar",
            "--mt",
            "2",
            "--inputs",
            str(demo_inputs),
            "--output-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "ttbar_norm = " in result.stdout
    assert {"histograms.root", "fit_results.json", "metrics.json"} <= {p.name for p in out.iterdir()}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_during_the_event_loop_leaves_nothing(tmp_path, demo_inputs, signum):
    """The signal arrives while the event loop runs (its progress bar, drawn on a terminal, has started)."""
    out = tmp_path / "out"
    main, terminal = pty.openpty()  # stderr a terminal: the progress bar says when the loop runs
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rdf_ttbar",
            "--mt",
            "1",
            "--no-fit",
            "--inputs",
            str(demo_inputs),
            "--output-dir",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=terminal,
        cwd=REPO,
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 300
    while b"event loop [" not in seen and time.monotonic() < deadline:
        if select.select([main], [], [], 1)[0]:
            seen += os.read(main, 4096)
    assert b"event loop [" in seen, seen
    process.send_signal(signum)
    while True:
        try:
            if select.select([main], [], [], 1)[0]:
                seen += os.read(main, 4096)
        except OSError:  # the terminal closes when the process ends
            break
        if process.poll() is not None and not select.select([main], [], [], 0)[0]:
            break
    os.close(main)
    assert process.wait(timeout=300) == 128 + signum
    text = seen.decode(errors="replace")
    assert f"rdf_ttbar: stopped by {signal.Signals(signum).name}; the outputs of this run were not written" in text
    assert "Traceback" not in text, text
    assert list(out.iterdir()) == []  # no staging folder, no output
