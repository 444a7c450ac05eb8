"""atomic.replacing: the file appears complete or not at all, and no temporary stays either way."""

from __future__ import annotations

import pytest

from rdf_ttbar import atomic


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("old")
    with pytest.raises(ValueError, match="half way"):
        with atomic.replacing(path) as tmp:
            tmp.write_text("half")
            raise ValueError("half way")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_a_finished_write_replaces_the_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("old")
    written = atomic.write_text(path, "new", temporary=tmp_path / ".named.tmp")
    assert written == path and path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
