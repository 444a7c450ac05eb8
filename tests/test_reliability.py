"""The faults of issue 21 ("Reliability"): each ends in one clear line (an error, or a warning), a non-zero exit
where the result cannot be trusted, nothing lost and nothing left behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import ALL_SAMPLES, REPO, run_cli, write_inputs

REFERENCE_DIR = REPO / "rdf_ttbar" / "data"


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "error:" in line and line.startswith("rdf_ttbar")]


def assert_one_error(result: subprocess.CompletedProcess, *expected: str) -> str:
    """Exit status 2, no traceback, exactly one error line, holding every string of ``expected``."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in result.stderr, f"{text!r} not in:\n{result.stderr}"
    return errors[0]


@contextlib.contextmanager
def read_only_folder(path: Path):
    """An empty folder that cannot be written: a read-only tmpfs for root (which ignores permission bits)."""
    path.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], check=True)
        try:
            yield path
        finally:
            subprocess.run(["umount", str(path)], check=True)
    else:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)


def _default_sigint() -> None:
    # pytest-xdist's workers ignore SIGINT, and a child inherits that: restore what a shell gives a command
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rdf_ttbar", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        preexec_fn=_default_sigint,
    )


def wait_for(condition, what: str, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# ---------------------------------------------------------------------------- 3. three tracebacks
def test_read_only_empty_cache_with_the_demo_inputs(tmp_path):
    with read_only_folder(tmp_path / "cache") as cache:
        result = run_cli(
            "--inputs",
            "demo",
            "--mt",
            "1",
            "--output-dir",
            tmp_path / "out",
            check=False,
            env={"RDF_TTBAR_CACHE": str(cache)},
            timeout=300,
        )
        line = assert_one_error(
            result,
            f"the demo input set is not in the cache folder {cache} and cannot be written there",
            "$RDF_TTBAR_CACHE",
        )
        assert ("Read-only file system" if os.geteuid() == 0 else "Permission denied") in line
        assert list(cache.iterdir()) == []
    assert "generating the demo input set" not in result.stdout  # refused before it is announced
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_fit_reference_json_that_is_a_list(tmp_path):
    reference = tmp_path / "histos_1_file_per_process.json"
    reference.write_text("[1, 2, 3]")
    result = run_cli("fit", "--reference", reference, "--output-dir", tmp_path / "out", check=False, timeout=300)
    assert_one_error(result, f"{reference} is not an AGC reference histogram JSON", "got a list at the top level")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("shape", ["one name too long", "path too long"])
def test_output_dir_longer_than_the_system_allows(tmp_path, demo_inputs, shape):
    if shape == "one name too long":
        out = tmp_path / ("n" * 300)
    else:  # every name allowed, the whole path over PATH_MAX
        out = tmp_path.joinpath(*["p" * 250] * (os.pathconf("/", "PC_PATH_MAX") // 250 + 1))
    result = run_cli(
        "--inputs", demo_inputs, "-n", 1, "--mt", 1, "--no-fit", "--output-dir", out, check=False, timeout=300
    )
    line = assert_one_error(result, "has a path too long for this system", "choose a shorter --output-dir")
    assert len(line) < 600, line  # the path is shortened in the message
    assert list(tmp_path.iterdir()) == []  # no folder made on the way


def test_output_dir_too_long_for_the_staging_folder(tmp_path, demo_inputs):
    """A folder that itself fits, but whose outputs would not: refused before anything is made."""
    need = os.pathconf("/", "PC_PATH_MAX") - 60 - len(os.fsencode(tmp_path))  # 60 bytes short of the limit
    parts = []
    while need > 1:
        parts.append("q" * min(200, need - 1))
        need -= len(parts[-1]) + 1
    out = tmp_path.joinpath(*parts)
    assert os.pathconf("/", "PC_PATH_MAX") - 80 < len(os.fsencode(out)) < os.pathconf("/", "PC_PATH_MAX")
    result = run_cli(
        "--inputs", demo_inputs, "-n", 1, "--mt", 1, "--no-fit", "--output-dir", out, check=False, timeout=300
    )
    assert_one_error(result, "has a path too long for this system")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- 4. NaN in the fit's inputs
@pytest.fixture(scope="module")
def reference_histograms():
    """The AGC's published histograms for 1 file per sample, with exact variances: a valid fit input."""
    from rdf_ttbar.analysis import AGC_V1
    from rdf_ttbar.inputs import reference

    return reference.read("1", analysis=AGC_V1)


def write_root(histograms: dict, path: Path) -> Path:
    from rdf_ttbar.inputs import reference

    return reference.write_histograms_root(histograms, path)


@pytest.mark.parametrize("what", ["value", "variance"])
def test_nan_in_histograms_root_is_an_error(tmp_path, reference_histograms, what):
    histograms = {name: h.copy() for name, h in reference_histograms.items()}
    h = histograms["4j1b_ttbar"]
    i = h.axes[0].index(300.0)  # inside the fit range (110-550 GeV in 4j1b)
    view = h.view()
    column = view.value if what == "value" else view.variance
    column[i] = np.nan
    lo, hi = h.axes[0].edges[i], h.axes[0].edges[i + 1]
    path = write_root(histograms, tmp_path / "histograms.root")
    out = tmp_path / "out"
    result = run_cli("fit", path, "--no-plots", "--output-dir", out, check=False, timeout=300)
    kind = "content" if what == "value" else "variance"
    assert_one_error(
        result, f"histogram 4j1b_ttbar has a {kind} of nan in bin [{lo:g}, {hi:g})", "the fit cannot use it"
    )
    assert "workspace was written" not in result.stderr + result.stdout
    assert "ttbar_norm" not in result.stdout
    assert not out.exists() or not {"workspace.json", "fit_results.json"} & {p.name for p in out.iterdir()}


def test_nan_in_a_reference_json_is_an_error(tmp_path):
    content = json.loads((REFERENCE_DIR / "histos_1_file_per_process.json").read_text())
    content["4j1b_wjets"]["contents"][12] = float("nan")  # JSON's NaN, as json.dumps writes it
    reference = tmp_path / "histos_1_file_per_process.json"
    reference.write_text(json.dumps(content))
    edges = content["4j1b_wjets"]["edges"]
    out = tmp_path / "out"
    result = run_cli("fit", "--reference", reference, "--no-plots", "--output-dir", out, check=False, timeout=300)
    assert_one_error(
        result, f"histogram 4j1b_wjets has a non-finite content (nan) in its bin 12 [{edges[11]:g}, {edges[12]:g})"
    )
    assert "ttbar_norm" not in result.stdout and "removed" not in result.stderr
    assert not out.exists()


# ---------------------------------------------------------------------------- 5. root:// URLs of this host
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_root_url_of_this_host_is_checked_on_its_server(tmp_path, demo_inputs):
    """root://localhost:PORT//path (also 127.0.0.1 and the host's name) of a local file, nothing listening on
    PORT: the up-front check asks the server (and fails), it does not read the local file instead."""
    local = json.loads(demo_inputs.read_text())
    port = free_port()
    hosts = ["localhost", "127.0.0.1", socket.gethostname()]
    files, urls = {}, []
    for k, (process, variation) in enumerate(ALL_SAMPLES):
        first = local[process][variation]["files"][0]
        url = f"root://{hosts[k % len(hosts)]}:{port}/{first['path']}"
        files[(process, variation)] = [(url, first["nevts"])]
        urls.append(url)
    inputs = write_inputs(tmp_path / "urls.json", files)
    out = tmp_path / "out"
    result = run_cli(
        "--inputs",
        inputs,
        "--mt",
        1,
        "--no-fit",
        "--output-dir",
        out,
        check=False,
        timeout=300,
        env={"XRD_CONNECTIONWINDOW": "2", "XRD_CONNECTIONRETRY": "1"},
    )  # quick refusals
    assert_one_error(result, "9 input file(s) cannot be used", *urls)
    assert "event loop failed" not in result.stderr and "processed" not in result.stdout
    assert not out.exists() or list(out.iterdir()) == []


# ---------------------------------------------------------------------------- 6. a signal during the fit
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_the_fit_keeps_the_event_loop(tmp_path, demo_inputs, signum):
    out = tmp_path / "out"
    process = start("--inputs", demo_inputs, "-n", 1, "--mt", 1, "--output-dir", out)
    try:

        def staged():
            return list(out.glob(".rdf_ttbar-partial-*/histograms.root"))

        wait_for(lambda: staged() or process.poll() is not None, "the event loop's histograms.root")
        assert process.poll() is None, process.communicate()
        time.sleep(0.5)  # histograms.root is closed, the fit runs (several seconds)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signum, stderr
    word = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    kept = out / "histograms.root"
    assert f"rdf_ttbar: {word}; the event loops' histograms are kept in {kept} (and metrics.json)" in stderr
    assert "Traceback" not in stderr, stderr
    assert "ttbar_norm" not in stdout
    assert sorted(p.name for p in out.iterdir()) == ["histograms.root", "metrics.json"]
    import uproot

    with uproot.open(kept) as f:
        assert len([k for k in f.keys() if k.startswith("4j")]) >= 124
    assert json.loads((out / "metrics.json").read_text())["events_processed"] == 9 * 20_000


INTERRUPTED_IN_EMBEDDED_CODE = """
import ctypes, sys
import importlib
cli = importlib.import_module("rdf_ttbar.cli.main")
run = ctypes.pythonapi.PyRun_StringFlags
run.restype = ctypes.py_object
run.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.py_object, ctypes.py_object, ctypes.c_void_p]
def interrupted(argv):  # a Ctrl-C that lands while cppyy runs Python code through PyRun_String
    run(b"raise KeyboardInterrupt", 257, {}, {}, None)
cli.run_main = interrupted
sys.exit(cli.main([]))
"""


def test_ctrl_c_inside_embedded_python_still_exits_130(tmp_path):
    # CPython marks such an interrupt as unhandled, and ``python -m`` then ended by SIGINT (status -2) although the
    # CLI had caught it and printed its line: what test 6's SIGINT case once got, the signal landing inside cppyy
    (tmp_path / "interrupted_cli.py").write_text(INTERRUPTED_IN_EMBEDDED_CODE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    result = subprocess.run(
        [sys.executable, "-m", "interrupted_cli"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 130, (result.returncode, result.stderr)
    assert "rdf_ttbar: interrupted; the outputs of this run were not written" in result.stderr


# ---------------------------------------------------------------------------- 7. deliver interrupted
SMALL_FILES = 40  # per sample (1,000 events each): 360 files


@pytest.fixture(scope="module")
def many_small_files(tmp_path_factory) -> Path:
    """A demo set of many small files: the delivery runs in many batches (8 files each), long enough that the
    signal arrives while it runs even on a loaded machine (with 108 files, a delivery under load once finished
    between the first stamp and the signal)."""
    from conftest import generate_demo

    return generate_demo(
        tmp_path_factory.mktemp("small-files"), events_per_file=1_000, events_per_sample=SMALL_FILES * 1_000
    )


def interrupted_delivery(inputs: Path, out: Path, signum: int) -> tuple[subprocess.Popen, str]:
    """A delivery, sent ``signum`` as soon as its first file is stamped; its stderr."""
    files = out / "files"
    process = start("deliver", "--inputs", inputs, "--mt", 1, "--format", "ttree", "--output-dir", out)
    try:
        wait_for(lambda: list(files.glob("*.root.json")) or process.poll() is not None, "the first delivered file")
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process, stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_deliver_interrupted_keeps_finished_files(tmp_path, many_small_files, signum):
    # on a loaded machine this test process may not run for seconds between seeing the first stamp and sending
    # the signal, and the delivery then finishes first (exit 0, every file delivered: twice in CI's suite beside
    # a second suite). That is the test's race, not the product's: such an attempt is made again, up to 3 times.
    for attempt in range(3):
        out = tmp_path / f"delivered-{attempt}"
        process, stderr = interrupted_delivery(many_small_files, out, signum)
        finished_first = process.returncode == 0 and (out / "nanoaod_inputs.json").exists()
        if not finished_first:
            break
    files = out / "files"
    assert process.returncode == 128 + signum, stderr
    delivered = sorted(p.name for p in files.glob("*.root"))
    stamps = sorted(p.name[: -len(".json")] for p in files.glob("*.root.json"))
    assert delivered and delivered == stamps  # every file kept is finished and stamped
    assert len(delivered) < 9 * SMALL_FILES
    assert not [p.name for p in files.iterdir() if ".part-" in p.name]  # no temporaries left
    word = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    assert (
        f"rdf_ttbar: {word}; {len(delivered)} of the {9 * SMALL_FILES} file(s) to deliver were delivered and are "
        f"kept in {files}; a re-run delivers the rest"
    ) in stderr, stderr
    assert "were not written" not in stderr and "Traceback" not in stderr
    assert not (out / "nanoaod_inputs.json").exists()  # the list is written once every file is delivered


# ---------------------------------------------------------------------------- 8. a non-ASCII output folder
def test_non_ascii_output_dir_paths_in_json_point_to_the_published_files(tmp_path):
    from rdf_ttbar.execution.outputs import OutputFolder
    from rdf_ttbar.inference import write_json_atomic

    final = tmp_path / "my results über"
    with OutputFolder(final) as out:
        staged = {
            "workspace": str(out.staging / "workspace.json"),
            "histograms": str(out.staging / "histograms.root"),
            "plots": [str(out.staging / "plots" / "a.png")],
        }
        write_json_atomic(out.staging / "fit_results.json", staged)
        assert "\\u00fc" in (out.staging / "fit_results.json").read_text()  # JSON escapes the ü
        out.publish()
    published = json.loads((final / "fit_results.json").read_text())
    assert published == {
        "workspace": str(final / "workspace.json"),
        "histograms": str(final / "histograms.root"),
        "plots": [str(final / "plots" / "a.png")],
    }
    assert [p.name for p in final.iterdir()] == ["fit_results.json"]  # the staging folder is gone


# ---------------------------------------------------------------------------- 9. silently accepted input
def test_more_threads_than_cores_is_one_warning(tmp_path, demo_inputs):
    result = run_cli(
        "--inputs", demo_inputs, "-n", 1, "--mt", 1000, "--no-fit", "--output-dir", tmp_path / "out", timeout=300
    )
    cores = json.loads((tmp_path / "out" / "metrics.json").read_text())["cores"]  # the threads ROOT ran
    assert cores <= len(os.sched_getaffinity(0))
    warnings = [line for line in result.stderr.splitlines() if line.startswith("rdf_ttbar: warning:")]
    assert warnings == [
        f"rdf_ttbar: warning: --mt 1000 is more threads than the {cores} cores available here: running {cores} threads"
    ], result.stderr


def test_reference_files_per_sample_that_do_not_match_its_name_warn(tmp_path):
    result = run_cli("fit", "--reference", 5, "-n", 3, "--no-plots", "--output-dir", tmp_path / "out", timeout=300)
    warnings = [line for line in result.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1, result.stderr
    assert (
        "histos_5_file_per_process.json was made from 5 files per sample (its name says), but -n 3 is given"
        in warnings[0]
    )
    matching = run_cli("fit", "--reference", 5, "-n", 5, "--no-plots", "--output-dir", tmp_path / "out5", timeout=300)
    assert "warning:" not in matching.stderr, matching.stderr


def test_the_main_summary_shows_the_fit_warnings():
    from rdf_ttbar.execution import pipeline

    metrics = {
        "wall_time_s": {"event_loop": 1.0, "jitting": 0.1, "setup": 0.5, "total": 3.0},
        "event_rate_hz": 1e5,
        "event_rate_per_core_hz": 5e4,
        "events_processed": 100_000,
        "files": 9,
        "cores": 2,
        "bytes_read": 1e6,
    }
    summary = {
        "ttbar_norm": {"value": 1.0, "uncertainty": 0.1, "interval": [0.9, 1.1]},
        "warnings": ["sample 'wjets' is empty in all regions: dropped from the fit"],
    }
    lines = pipeline.summary_lines(metrics, summary)
    assert lines[-1] == "warning: fit: sample 'wjets' is empty in all regions: dropped from the fit"
    assert lines[-2].startswith("ttbar_norm = 1.000 +- 0.100")


# ---------------------------------------------------------------------------- 11. jitting errors
def test_jitting_error_quotes_the_lines_above():
    """RDataFrame's "An error occurred during just-in-time compilation. The lines above might indicate the
    cause": the UserError holds those lines (the compiler's message), wherever stderr goes."""
    code = """
import warnings
warnings.simplefilter("ignore")
import ROOT
from rdf_ttbar.execution import executor as execution
from rdf_ttbar.errors import UserError

class NoExecutor:
    def close(self):
        pass

try:
    with execution.event_loop_errors(NoExecutor()):
        ROOT.RDataFrame(10).Define("x", "undeclared_column_xyz + 1").Histo1D("x").GetValue()
except UserError as err:
    print(err)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    message = result.stdout
    assert "just-in-time compilation" in message, message
    assert "ROOT's messages before the error:" in message
    assert "error: use of undeclared identifier 'undeclared_column_xyz'" in message, message
    assert "undeclared_column_xyz" in result.stderr  # still on stderr as well, where ROOT wrote it
