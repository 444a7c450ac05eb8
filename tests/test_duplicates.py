"""Duplicate inputs: one file twice in a sample (however spelled) is an error naming both entries; one file in two
samples is an error unless the input list says it is intended (``"shared_files_ok": true``), and then it runs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import real_ttbar_file
from helpers import ALL_SAMPLES, run_cli, write_inputs
from rdf_ttbar import UserError
from rdf_ttbar.analysis import AGC_V1
from rdf_ttbar.inputs import read_file_list as read_list


def read_list_v1(path):
    return read_list(path, AGC_V1)


@pytest.fixture
def folder(tmp_path) -> Path:
    """a.root (the real 200-event file), a symbolic link to it, a hard link to it and b.root (a copy: another
    file with the same content)."""
    shutil.copy(real_ttbar_file(), tmp_path / "a.root")
    shutil.copy(real_ttbar_file(), tmp_path / "b.root")
    (tmp_path / "link.root").symlink_to("a.root")
    os.link(tmp_path / "a.root", tmp_path / "hard.root")
    return tmp_path


def listing(folder: Path, samples: dict) -> Path:
    """An input list in ``folder``: {"process/variation": [path, or (path, {extra keys of the file entry})],
    or a dict {"files": [...], other keys of the sample}}."""
    content: dict = {}
    for name, spec in samples.items():
        process, variation = name.split("/")
        entry = dict(spec) if isinstance(spec, dict) else {"files": spec}
        files = []
        for f in entry["files"]:
            path, extra = f if isinstance(f, tuple) else (f, {})
            files.append({"path": path, "nevts": 200, **extra})
        entry["files"] = files
        content.setdefault(process, {})[variation] = entry
    path = folder / "in.json"
    path.write_text(json.dumps(content))
    return path


def refusal(path: Path) -> str:
    with pytest.raises(UserError) as err:
        read_list_v1(path)
    return str(err.value)


@pytest.mark.parametrize("second", ["a.root", "./a.root", "sub/../a.root", "link.root", "hard.root", "ABSOLUTE"])
def test_one_file_twice_in_a_sample(folder, second):
    (folder / "sub").mkdir()
    second = str(folder / "a.root") if second == "ABSOLUTE" else second
    message = refusal(listing(folder, {"ttbar/nominal": ["b.root", "a.root", second]}))
    spelled = "" if second.startswith("/") else f" ({second!r})"
    assert message.startswith(f"1 duplicate input file(s) in input list {folder / 'in.json'}:\n"), message
    assert (
        f"ttbar/nominal file #1 ('a.root') and ttbar/nominal file #2{spelled} are the same file {folder / 'a.root'}: "
        "a sample lists each file once (twice would count its events twice and understate the MC-statistics "
        "uncertainty); remove all but one"
    ) in message, message
    assert "file #0" not in message  # b.root: the same content, another file


def test_urls_spelled_two_ways_are_one_file(folder):
    one, other = "root://Server.example:1094//store/user/a.root", "root://server.example/store//user/a.root"
    message = refusal(listing(folder, {"wjets/nominal": [one, other]}))
    assert f"wjets/nominal file #0 and wjets/nominal file #1 are the same file {one}: a sample lists" in message
    # another port, host or path is another file
    for different in ("root://server.example:1095//store/user/a.root", "root://other//store/user/a.root"):
        assert len(read_list_v1(listing(folder, {"wjets/nominal": [one, different]}))[0].files) == 2


def test_one_file_in_two_samples_unless_intended(folder):
    message = refusal(listing(folder, {"ttbar/nominal": ["a.root"], "wjets/nominal": ["b.root", "link.root"]}))
    assert (
        f"ttbar/nominal file #0 ('a.root') and wjets/nominal file #1 ('link.root') are the same file "
        f"{folder / 'a.root'}, in 2 samples; remove it from all but one, or, if that is intended (e.g. a stand-in "
        'for a missing sample), add "shared_files_ok": true to ttbar/nominal, wjets/nominal (next to "files", or '
        "to the file's entry)"
    ) in message, message
    # marked on one sample only: the other is named
    half = {"ttbar/nominal": {"files": ["a.root"], "shared_files_ok": True}, "wjets/nominal": ["a.root"]}
    assert 'add "shared_files_ok": true to wjets/nominal (next to' in refusal(listing(folder, half))
    # marked on both samples, or on both file entries: accepted
    for marked in (
        {"ttbar/nominal": {"files": ["a.root"], "shared_files_ok": True}, "wjets/nominal": half["ttbar/nominal"]},
        {
            "ttbar/nominal": [("a.root", {"shared_files_ok": True})],
            "wjets/nominal": [("a.root", {"shared_files_ok": True})],
        },
    ):
        samples = read_list_v1(listing(folder, marked))
        assert [(s.name, s.files, s.shared_ok) for s in samples] == [
            ("ttbar", [str(folder / "a.root")], (True,)),
            ("wjets", [str(folder / "a.root")], (True,)),
        ]
    # twice in one sample stays an error, marked or not
    twice = {"ttbar/nominal": {"files": ["a.root", "a.root"], "shared_files_ok": True}}
    assert "are the same file" in refusal(listing(folder, twice))


def test_the_flag_must_be_a_boolean(folder):
    message = refusal(listing(folder, {"ttbar/nominal": [("a.root", {"shared_files_ok": "yes"})]}))
    assert message == (
        f'input list {folder / "in.json"}, ttbar/nominal: "shared_files_ok" of file #0 must be true or false, '
        "got 'yes'"
    )


def test_the_command_line_refuses_a_duplicate_before_any_event_loop(folder):
    out = folder / "out"
    result = run_cli(
        "--inputs", listing(folder, {"ttbar/nominal": ["a.root", "./a.root"]}), "--output-dir", out, check=False
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("rdf_ttbar: error: 1 duplicate input file(s) in input list"), result.stderr
    assert "ttbar/nominal file #0 ('a.root') and ttbar/nominal file #1 ('./a.root') are the same file" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_one_file_for_every_sample_runs_when_intended(folder):
    """The tests' own input lists (helpers.write_inputs) mark a file used by several samples, and such a run
    processes the file once per sample."""
    inputs = write_inputs(folder / "all.json", {s: [(folder / "a.root", 200)] for s in ALL_SAMPLES})
    assert all(e["shared_files_ok"] is True for v in json.loads(inputs.read_text()).values() for e in v.values())
    out = folder / "out"
    run_cli("--inputs", inputs, "--output-dir", out, "--no-fit", "--mt", 1)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["events_processed"] == 9 * 200
    assert set(metrics["samples"].values()) == {200}
    unmarked = write_inputs(folder / "unmarked.json", {s: [(folder / "a.root", 200)] for s in ALL_SAMPLES}, False)
    result = run_cli("--inputs", unmarked, "--output-dir", folder / "out2", "--no-fit", check=False)
    assert result.returncode == 2 and "are the same file" in result.stderr and "in 9 samples" in result.stderr
