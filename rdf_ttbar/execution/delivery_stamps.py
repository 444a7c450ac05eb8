"""The delivered files' names and stamps (delivery.py explains the scheme).

A stamp ``<name>.root.json`` next to a delivered file records what it was made from (the input's
path, size and mtime; a remote input is identified by its URL and taken as immutable), by what
(``STAMP_VERSION``, the preselection, the columns, the tree name and the format) and what it is
(entries, size, checksum). ``read_stamp`` returns it only if all of that still holds.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .. import atomic, inputs

STAMP_VERSION = 1  # raise when the delivered files change in a way the stamp's other fields do not show
TEMPORARY = ".part-"  # temporaries: .<stem>.part-<pid>..., removed by a later run once <pid> is gone


def delivered_name(path: str) -> str:
    """``<stem>-<hash of the input path>.root``: one stable name per input path."""
    stem = Path(path.split("?")[0]).stem or "file"
    stem = "".join(c if c.isalnum() or c in "_+-" else "_" for c in stem) or "file"
    return f"{stem}-{hashlib.sha1(path.encode()).hexdigest()[:10]}.root"


def temporary_name(output: Path, suffix: str = ".root") -> Path:
    """Where ``output`` is written before it is checked and renamed (same folder: the rename is atomic)."""
    return output.with_name(f".{output.stem}{TEMPORARY}{os.getpid()}{suffix}")


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporaries of runs whose process is gone (killed, or the machine rebooted)."""
    for tmp in folder.glob(f".*{TEMPORARY}*"):
        digits = tmp.name.split(TEMPORARY, 1)[1]
        digits = digits[: len(digits) - len(digits.lstrip("0123456789"))]
        try:
            if int(digits) != os.getpid():
                os.kill(int(digits), 0)
            continue  # a live run (maybe this one) is writing it
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (ValueError, PermissionError):
            continue


def input_identity(path: str) -> dict:
    """Path, size and mtime of a local input; a remote one is identified by its URL (taken as immutable)."""
    if inputs.is_remote(path):
        return {"path": path}
    st = os.stat(path)
    return {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def checksum(path: Path) -> str:
    digest = hashlib.blake2b()  # (hashlib.file_digest: Python 3.11)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:32]


def stamp_path(output: Path) -> Path:
    return output.with_name(output.name + ".json")


def expected_stamp(identity: dict, preselection: str, columns, tree: str, fmt: str) -> dict:
    """The fields a usable stamp must have, for this input and this delivery."""
    return {
        "version": STAMP_VERSION,
        "preselection": preselection,
        "columns": list(columns),
        "tree": tree,
        "format": fmt,
        "input": identity,
    }


def read_stamp(output: Path, expected: dict) -> dict | None:
    """The stamp of a delivered file that is complete and up to date; None: deliver it (again)."""
    try:
        stamp = json.loads(stamp_path(output).read_text())
        if any(stamp.get(k) != v for k, v in expected.items()):
            return None
        if output.stat().st_size != stamp["bytes_out"] or checksum(output) != stamp["checksum"]:
            return None
        if entries(output, expected["tree"], expected["format"]) != stamp["entries_out"]:
            return None
        return stamp
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_stamp(output: Path, expected: dict, entries_in: int, entries_out: int, bytes_in: int) -> dict:
    """Record a delivered file (already renamed into place) in its stamp, atomically."""
    stamp = {
        **expected,
        "entries_in": entries_in,
        "entries_out": entries_out,
        "bytes_in": bytes_in,
        "bytes_out": output.stat().st_size,
        "checksum": checksum(output),
    }
    path = stamp_path(output)
    atomic.write_text(path, json.dumps(stamp, indent=1) + "\n", temporary_name(path, ".json"))  # a full disk: nothing
    return stamp


def entries(path: Path, tree: str, fmt: str) -> int | None:
    """Entries of ``tree`` (a TTree, or an RNTuple for fmt "rntuple") in ``path``; None if it does not open cleanly."""
    import ROOT

    level, ROOT.gErrorIgnoreLevel = ROOT.gErrorIgnoreLevel, ROOT.kFatal
    try:
        if fmt == "rntuple":
            return int(ROOT.RNTupleReader.Open(tree, str(path)).GetNEntries())
        f = ROOT.TFile.Open(str(path), "READ")
        if not f or f.IsZombie() or f.TestBit(ROOT.TFile.kRecovered):
            return None
        t = f.Get(tree)
        n = int(t.GetEntries()) if t and t.InheritsFrom("TTree") else None
        f.Close()
        return n
    except Exception:  # noqa: BLE001 (ROOT's exception for a damaged file: it is not usable)
        return None
    finally:
        ROOT.gErrorIgnoreLevel = level
