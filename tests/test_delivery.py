"""The deliver stage: skimmed files give the same histograms as the inputs, resume and redelivery.

- the whole demo set (TTree and RNTuple output), and ``--deliver-cache`` on the main command;
- three demo files shared by the nine samples (``LAYOUT``): read over root:// from a real XRootD
  server, or delivered on a real Dask cluster: the same histograms (rtol 1e-12, atol 0) as the
  direct run, the original ``nevts`` in the delivered list;
- resume: a changed input (new mtime, new content) and a stamp of an older version or another
  preselection are delivered again, nothing else;
- a full disk (a tmpfs; as non-root a file-size limit) while the files or a stamp are written: one
  error, exit status 2, nothing that looks delivered but is not; a re-run with room completes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import oracle
from helpers import ALL_SAMPLES, N_HISTOGRAMS, REPO, run_cli, run_histograms, write_inputs
from rdf_ttbar.execution.delivery_stamps import STAMP_VERSION, delivered_name
from test_cli_errors import mounted_tmpfs


@pytest.fixture(scope="module")
def direct(demo_inputs, tmp_path_factory):
    return oracle.read_root_histograms(run_histograms(demo_inputs, tmp_path_factory.mktemp("direct")))


@pytest.mark.parametrize("fmt", ["ttree", "rntuple"])
def test_delivered_files_give_identical_histograms(demo_inputs, direct, tmp_path, fmt):
    out = tmp_path / "delivered"
    result = run_cli("deliver", "--inputs", demo_inputs, "--output-dir", out, "--format", fmt, "--mt", "2")
    assert "delivered 27 of 27 file(s)" in result.stdout
    listing = json.loads((out / "nanoaod_inputs.json").read_text())
    original = json.loads(demo_inputs.read_text())
    kept = 0
    for process, variations in original.items():
        for variation, entry in variations.items():
            files = listing[process][variation]["files"]
            # normalisation unchanged: the original event counts
            assert [f["nevts"] for f in files] == [f["nevts"] for f in entry["files"]]
            kept += sum(f["nevts_delivered"] for f in files)
    assert 0 < kept < 0.5 * sum(f["nevts"] for v in original.values() for e in v.values() for f in e["files"])
    hists = oracle.read_root_histograms(run_histograms(out / "nanoaod_inputs.json", tmp_path / "analysed"))
    assert len(hists) == N_HISTOGRAMS
    assert oracle.compare(hists, direct, rtol=1e-12, atol=0) == []

    # a re-run delivers nothing; a damaged delivered file is delivered again (the stamp's size and checksum do
    # not depend on the format: checked on one, to save CI time)
    assert (
        "delivered 0 of 27 file(s)"
        in run_cli("deliver", "--inputs", demo_inputs, "--output-dir", out, "--format", fmt).stdout
    )
    if fmt != "rntuple":
        return
    victim = sorted((out / "files").glob("*.root"))[0]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    assert (
        "delivered 1 of 27 file(s)"
        in run_cli("deliver", "--inputs", demo_inputs, "--output-dir", out, "--format", fmt).stdout
    )
    hists = oracle.read_root_histograms(run_histograms(out / "nanoaod_inputs.json", tmp_path / "again"))
    assert oracle.compare(hists, direct, rtol=1e-12, atol=0) == []


def test_deliver_cache_on_the_main_command(demo_inputs, direct, tmp_path):
    cache = tmp_path / "cache"
    first = run_cli("--inputs", demo_inputs, "--output-dir", tmp_path / "a", "--no-fit", "--deliver-cache", cache)
    assert "delivered 27 of 27" in first.stderr
    assert (
        oracle.compare(oracle.read_root_histograms(tmp_path / "a" / "histograms.root"), direct, rtol=1e-12, atol=0)
        == []
    )
    second = run_cli("--inputs", demo_inputs, "--output-dir", tmp_path / "b", "--no-fit", "--deliver-cache", cache)
    assert "delivered" not in second.stderr
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["events_processed"] < 0.5 * 9 * 60_000


# ---------------------------------------------------------------------------- three files, nine samples
# Three demo files (a ttbar, a W+jets and a tW one: 20k events each) shared by the nine samples in
# different combinations: every delivered file serves several samples (delivered once), and a
# delivered file given to the wrong sample would change the histograms.
LAYOUT = ((0,), (1,), (2,), (0, 1), (1, 2), (2, 0), (0, 1, 2), (1,), (2, 1))  # per sample of ALL_SAMPLES
SOURCES = (("ttbar", "nominal"), ("wjets", "nominal"), ("single_top_tW", "nominal"))
FAST_FAIL = {"XRD_CONNECTIONWINDOW": "2", "XRD_CONNECTIONRETRY": "1"}


def mixed_inputs(path: Path, files: list) -> Path:
    """The input list of LAYOUT over ``files`` [(path or URL, nevts)] x 3."""
    return write_inputs(path, {s: [files[i] for i in idx] for s, idx in zip(ALL_SAMPLES, LAYOUT)})


@pytest.fixture(scope="module")
def three(demo_inputs, tmp_path_factory):
    """Three files of the session's demo set, their mixed input list and the histograms of the direct run."""
    demo = json.loads(demo_inputs.read_text())
    files = [(Path(demo[p][v]["files"][0]["path"]), demo[p][v]["files"][0]["nevts"]) for p, v in SOURCES]
    base = tmp_path_factory.mktemp("three")
    inputs = mixed_inputs(base / "inputs.json", files)
    hists = oracle.read_root_histograms(run_histograms(inputs, base / "direct", "--mt", "2"))
    assert len(hists) == N_HISTOGRAMS
    return {"files": files, "inputs": inputs, "hists": hists}


def deliver(inputs: Path, out: Path, *extra, env: dict | None = None) -> str:
    """``deliver`` (it must succeed); its summary line."""
    result = run_cli("deliver", "--inputs", inputs, "--output-dir", out, *extra, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    # nothing but rdf_ttbar's own lines on stdout (on Dask: no progress bars of distributed RDataFrame)
    assert all(line.startswith("rdf_ttbar: ") for line in result.stdout.splitlines()), result.stdout[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("rdf_ttbar: delivered ")]
    assert len(lines) == 1, result.stdout
    return lines[0]


def assert_delivered_list(out: Path, sources: list[str], nevts: list[int]) -> dict:
    """DIR/nanoaod_inputs.json: LAYOUT over the delivered files of ``sources``, original nevts; the stamps."""
    listing = json.loads((out / "nanoaod_inputs.json").read_text())
    stamps = {}
    for src in sources:
        name = delivered_name(src)
        stamp = json.loads((out / "files" / f"{name}.json").read_text())
        assert stamp["input"]["path"] == src and stamp["version"] == STAMP_VERSION
        stamps[src] = stamp
    assert sorted(p.name for p in (out / "files").iterdir()) == sorted(
        n for s in sources for n in (delivered_name(s), f"{delivered_name(s)}.json")
    )
    for (process, variation), idx in zip(ALL_SAMPLES, LAYOUT):
        files = listing[process][variation]["files"]
        assert [f["path"] for f in files] == [f"files/{delivered_name(sources[i])}" for i in idx]
        assert [f["nevts"] for f in files] == [nevts[i] for i in idx]  # normalisation unchanged
        assert [f["nevts_delivered"] for f in files] == [stamps[sources[i]]["entries_out"] for i in idx]
    for src, n in zip(sources, nevts):
        assert stamps[src]["entries_in"] == n and 0 < stamps[src]["entries_out"] < n
    return stamps


def assert_same_histograms(inputs: Path, out: Path, expected: dict):
    hists = oracle.read_root_histograms(run_histograms(inputs, out, "--mt", "2"))
    assert len(hists) == N_HISTOGRAMS
    problems = oracle.compare(hists, expected, rtol=1e-12, atol=0)
    assert not problems, "\n".join(problems)


def test_delivery_over_xrootd(three, xrootd_server, tmp_path):
    """Inputs read over root:// from a real XRootD server: the same histograms as the direct run."""
    urls = [xrootd_server.add(path, f"{process}.root") for (path, _), (process, _) in zip(three["files"], SOURCES)]
    nevts = [n for _, n in three["files"]]
    inputs = mixed_inputs(tmp_path / "remote.json", list(zip(urls, nevts)))
    out = tmp_path / "delivered"
    summary = deliver(inputs, out, "--mt", "2", env=FAST_FAIL)
    assert summary.startswith(f"rdf_ttbar: delivered 3 of 3 file(s) into {out} (0 up to date)"), summary
    stamps = assert_delivered_list(out, urls, nevts)
    for url, (path, _) in zip(urls, three["files"]):
        assert stamps[url]["input"] == {"path": url}  # a remote input: its URL, taken as immutable
        assert stamps[url]["bytes_in"] == path.stat().st_size
    assert "rdftest." in xrootd_server.log.read_text()  # read through the server (its log has our login)
    assert_same_histograms(out / "nanoaod_inputs.json", tmp_path / "analysed", three["hists"])

    # up to date: a re-run needs no network at all (the server is gone)
    xrootd_server.stop()
    summary = deliver(inputs, out, env=FAST_FAIL)
    assert summary.startswith("rdf_ttbar: delivered 0 of 3 file(s)") and "(3 up to date)" in summary, summary
    assert assert_delivered_list(out, urls, nevts) == stamps


def test_delivery_on_a_dask_cluster(three, dask_cluster, tmp_path):
    """The event loops on a real Dask scheduler with two workers: the same histograms as the direct run."""
    out = tmp_path / "delivered"
    summary = deliver(three["inputs"], out, "--scheduler", "dask-remote", "--scheduler-address", dask_cluster.address)
    assert summary.startswith(f"rdf_ttbar: delivered 3 of 3 file(s) into {out}"), summary
    assert_delivered_list(out, [str(p) for p, _ in three["files"]], [n for _, n in three["files"]])
    log = dask_cluster.logs(full=True)
    assert "remove_from_rdf_cache" in log  # distributed RDataFrame cleaned up after its tasks: they ran there
    assert not [m for m in ("*** Break ***", "Restarting worker", "KilledWorker") if m in log], log[-4000:]
    assert_same_histograms(out / "nanoaod_inputs.json", tmp_path / "analysed", three["hists"])
    assert {json.loads(p.read_text())["format"] for p in (out / "files").glob("*.json")} == {"ttree"}  # Dask's default
    # RNTuple output on Dask: refused up front (distributed RDataFrame snapshots TTrees only)
    refused = run_cli(
        "deliver",
        "--inputs",
        three["inputs"],
        "--output-dir",
        tmp_path / "rntuple",
        "--format",
        "rntuple",
        "--scheduler",
        "dask-remote",
        "--scheduler-address",
        dask_cluster.address,
        check=False,
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr[-3000:]
    assert refused.stderr.strip().splitlines()[-1] == (
        "rdf_ttbar: error: --format rntuple cannot be delivered on Dask: distributed RDataFrame's Snapshot (ROOT 6.40) "
        "writes TTrees only; use --format ttree there (the default on Dask), or --scheduler mt"
    )


def snapshot_of(out: Path) -> dict:
    """name -> (inode, mtime_ns, bytes) of every file in DIR/files: what a run rewrote."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in (out / "files").iterdir()}


def delivered_arrays(path: Path) -> dict:
    import uproot

    with uproot.open(path) as f:
        return f["Events"].arrays(library="np")


def test_resume_redelivers_changed_inputs_and_stale_stamps(three, tmp_path):
    """What a re-run delivers again: a changed input, a stamp of an older version or preselection; nothing else."""
    local = tmp_path / "inputs"
    local.mkdir()
    files = []
    for (path, n), (process, _) in zip(three["files"], SOURCES):
        copy = local / f"{process}.root"
        copy.write_bytes(path.read_bytes())
        files.append((copy, n))
    sources = [str(p) for p, _ in files]
    nevts = [n for _, n in files]
    inputs = mixed_inputs(tmp_path / "inputs.json", files)
    out = tmp_path / "delivered"
    assert deliver(inputs, out).startswith("rdf_ttbar: delivered 3 of 3 file(s)")
    first = assert_delivered_list(out, sources, nevts)
    names = [delivered_name(s) for s in sources]
    before = snapshot_of(out)

    # a new mtime (same content) and a rewritten file (now the content of the third one)
    a, b, c = (p for p, _ in files)
    mtime = a.stat().st_mtime_ns + 5 * 10**9
    os.utime(a, ns=(mtime, mtime))
    b.write_bytes(c.read_bytes())
    assert deliver(inputs, out).startswith("rdf_ttbar: delivered 2 of 3 file(s)")
    stamps = assert_delivered_list(out, sources, nevts)
    after = snapshot_of(out)
    for name in names[2:]:  # the unchanged input: its file and stamp untouched
        assert after[name] == before[name] and after[f"{name}.json"] == before[f"{name}.json"]
    for name in names[:2]:
        assert after[name][:2] != before[name][:2]  # written again (a new file renamed into place)
    assert stamps[sources[0]]["input"]["mtime_ns"] == mtime
    assert stamps[sources[0]]["entries_out"] == first[sources[0]]["entries_out"]
    assert stamps[sources[1]]["input"]["size"] == c.stat().st_size
    assert stamps[sources[1]]["entries_out"] == first[sources[2]]["entries_out"]  # made from the new content
    arrays_b, arrays_c = (delivered_arrays(out / "files" / n) for n in names[1:])
    assert sorted(arrays_b) == sorted(arrays_c)
    for column in arrays_c:
        assert len(arrays_b[column]) == len(arrays_c[column])
        assert all(np.array_equal(x, y) for x, y in zip(arrays_b[column], arrays_c[column])), column

    # stamps of an older STAMP_VERSION and of another preselection: delivered again
    for name, key, value in ((names[0], "version", STAMP_VERSION - 1), (names[2], "preselection", "0" * 16)):
        stamp_file = out / "files" / f"{name}.json"
        stamp = json.loads(stamp_file.read_text())
        stamp[key] = value
        stamp_file.write_text(json.dumps(stamp, indent=1) + "\n")
    before = snapshot_of(out)
    assert deliver(inputs, out).startswith("rdf_ttbar: delivered 2 of 3 file(s)")
    stamps = assert_delivered_list(out, sources, nevts)  # stamps of the current version again
    after = snapshot_of(out)
    assert after[names[1]] == before[names[1]] and after[f"{names[1]}.json"] == before[f"{names[1]}.json"]
    assert stamps[sources[2]]["preselection"] == first[sources[2]]["preselection"] != "0" * 16
    for name in (names[0], names[2]):
        assert after[name][:2] != before[name][:2]

    # all up to date: nothing is written
    summary = deliver(inputs, out)
    assert summary.startswith("rdf_ttbar: delivered 0 of 3 file(s)") and "(3 up to date)" in summary, summary
    assert snapshot_of(out) == after


def test_full_disk_leaves_no_delivered_file_that_looks_complete(three, tmp_path):
    """The delivered files do not fit: one error line, exit status 2, only complete stamped files (here
    none, no temporaries, no list); with room, a re-run delivers everything and the histograms are the direct run's."""
    inputs = three["inputs"]
    if os.geteuid() == 0:  # a real full disk: a tmpfs of 256 kB (the three delivered files take ~1.3 MB)
        place = mounted_tmpfs(tmp_path / "disk", "size=256k")
    else:  # no mount: a file-size limit makes the writes fail the same way (EFBIG instead of ENOSPC)
        place = contextlib.nullcontext(tmp_path / "disk")
        (tmp_path / "disk").mkdir()
    with place as disk:
        out = disk / "delivered"
        limit = None if os.geteuid() == 0 else 256 * 1024
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "rdf_ttbar",
                "deliver",
                "--inputs",
                str(inputs),
                "--output-dir",
                str(out),
                "--mt",
                "2",
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
            preexec_fn=(lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))) if limit else None,
        )
        err = result.stderr
        assert result.returncode == 2, err[-3000:]
        assert err.count("rdf_ttbar: error:") == 1, err[-3000:]
        for crash in ("Traceback", "*** Break ***", "There was a crash", "terminate called"):
            assert crash not in err, err[-3000:]
        last = err.splitlines()[-1]
        assert last.startswith(
            f"rdf_ttbar: error: 3 input file(s) could not be delivered: writing into {out / 'files'} failed ("
        ), err[-3000:]
        assert last.endswith(
            "free some space there or deliver into another folder, then run again "
            "(a re-run delivers the rest; the files delivered so far are kept)"
        ), last
        if limit is None:
            assert "failed (no space left on the device)" in last, last
        # nothing that looks delivered: no final-named file without a valid stamp, no temporaries, no list
        assert sorted(p.name for p in out.iterdir()) == ["files"]
        assert sorted(p.name for p in (out / "files").iterdir()) == []

        if limit is None:  # room again (the same folder): a re-run delivers everything
            subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)
        summary = deliver(inputs, out, "--mt", "2")
        assert summary.startswith(f"rdf_ttbar: delivered 3 of 3 file(s) into {out} (0 up to date)"), summary
        assert_delivered_list(out, [str(p) for p, _ in three["files"]], [n for _, n in three["files"]])
        assert_same_histograms(out / "nanoaod_inputs.json", tmp_path / "analysed", three["hists"])


# the disk fills up just when the stamp of the second file is written (its .root file is in place)
FULL_AT_SECOND_STAMP = """
import errno, sys
from rdf_ttbar import cli
from rdf_ttbar.execution import delivery

original, calls = delivery.write_stamp, []


def write_stamp(output, *args):
    calls.append(output)
    if len(calls) == 2:
        raise OSError(errno.ENOSPC, "No space left on device")
    return original(output, *args)


delivery.write_stamp = write_stamp
sys.exit(cli.main(sys.argv[1:]))
"""


def test_full_disk_at_a_stamp_keeps_the_complete_files(three, tmp_path):
    """A stamp that cannot be written: that file is not delivered (no final name without a stamp), the
    others are complete and kept, one error; the re-run delivers only the missing one."""
    script = tmp_path / "rdf_ttbar_full_at_stamp.py"
    script.write_text(FULL_AT_SECOND_STAMP)
    sources = [str(p) for p, _ in three["files"]]
    out = tmp_path / "delivered"
    result = subprocess.run(
        [
            sys.executable,
            str(script),
            "deliver",
            "--inputs",
            str(three["inputs"]),
            "--output-dir",
            str(out),
            "--mt",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    err = result.stderr
    assert result.returncode == 2, err[-3000:]
    assert "Traceback" not in err and err.count("rdf_ttbar: error:") == 1, err[-3000:]
    assert (
        f"rdf_ttbar: error: 1 input file(s) could not be delivered:\n  {sources[1]}: writing "
        f"{delivered_name(sources[1])} failed (No space left on device)\n"
    ) in err, err[-3000:]
    names = [delivered_name(s) for s in sources]
    assert sorted(p.name for p in out.iterdir()) == ["files"]  # no list
    assert sorted(p.name for p in (out / "files").iterdir()) == sorted(
        [names[0], f"{names[0]}.json", names[2], f"{names[2]}.json"]
    )
    kept = snapshot_of(out)
    summary = deliver(three["inputs"], out)
    assert summary.startswith("rdf_ttbar: delivered 1 of 3 file(s)") and "(2 up to date)" in summary, summary
    assert_delivered_list(out, sources, [n for _, n in three["files"]])
    assert all(snapshot_of(out)[name] == kept[name] for name in kept)
