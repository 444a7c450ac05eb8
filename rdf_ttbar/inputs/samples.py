"""Input file sets: the demo set, the AGC list or a JSON file, checked up front.

The file-set format is the AGC's ``nanoaod_inputs.json``:
``{process: {variation: {"files": [{"path": ..., "nevts": ...}]}}}``;
a ``data`` process is skipped. Relative local paths are taken relative to the
JSON file. A file listed twice (however spelled) is refused; one file in two samples
too, unless ``"shared_files_ok": true`` says it is intended (:mod:`.duplicates`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from ..analysis import Analysis
from ..errors import UserError, require_file
from .duplicates import SHARED_OK, Entry, check_duplicates
from .probe import is_remote, probe

AGC_PREFIX = "https://xrootd-local.unl.edu:1094//store/user/AGC"


@dataclass
class Sample:
    """One sample: a process in one variation, with its files and event count."""

    process: str
    variation: str
    files: list[str]
    nevts: int
    # each file's entries per the input list ("nevts", or "nevts_delivered" of a delivered file), checked
    # against the file up front; empty: not known
    file_nevts: tuple[int, ...] = ()
    # per-event weight xsec * lumi / nevts (spec "Normalisation") of the run's definition (Analysis.weight)
    weight: float = 0.0
    # each file's size in bytes as the up-front check found it (check_files; -1: not known); empty: not checked
    file_bytes: tuple[int, ...] = ()
    # per file: the input list says sharing it with another sample is intended ("shared_files_ok")
    shared_ok: tuple[bool, ...] = ()

    @property
    def name(self) -> str:
        return self.process if self.variation == "nominal" else f"{self.process}_{self.variation}"


def read_file_list(
    path: str | Path, analysis: Analysis, files_per_sample: int | None = None, remote_prefix: str | None = None
) -> list[Sample]:
    """Read a file set in the AGC JSON format for ``analysis`` (its processes, their weights), keep the first N
    files of each sample."""
    path = require_file(
        path, "input list {path} does not exist: pass 'demo', 'agc' or an existing JSON file to --inputs"
    )
    try:
        content = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(
            f"input list {path} is not valid JSON ({err}); it must follow the AGC "
            "nanoaod_inputs.json format "
            '{process: {variation: {"files": [{"path", "nevts"}]}}}'
        ) from None
    return parse_file_list(content, str(path), path.parent, analysis, files_per_sample, remote_prefix)


def parse_file_list(
    content,
    source: str,
    base_dir: Path,
    analysis: Analysis,
    files_per_sample: int | None = None,
    remote_prefix: str | None = None,
) -> list[Sample]:
    """Turn the parsed JSON into samples, with a clear error for every malformed part."""
    fmt = 'expected {process: {variation: {"files": [{"path": str, "nevts": int}]}}}'
    if not isinstance(content, dict):
        raise UserError(f"input list {source}: {fmt}, got a {type(content).__name__} at the top level")
    samples, entries = [], []
    for process, variations in content.items():
        if process == "data":
            continue
        if process not in analysis.process_names:
            raise UserError(
                f"input list {source}: unknown process '{process}' of the analysis {analysis.name} "
                f"(known: {', '.join(analysis.process_names)}, data)"
            )
        if not isinstance(variations, dict):
            raise UserError(f"input list {source}: '{process}' must map variations to file lists; {fmt}")
        for variation, entry in variations.items():
            if (process, variation) not in analysis.samples:
                known = ", ".join(v for p, v in analysis.samples if p == process)
                raise UserError(f"input list {source}: unknown variation '{variation}' of '{process}' (known: {known})")
            where = f"input list {source}, {process}/{variation}"
            files = entry.get("files") if isinstance(entry, dict) else None
            if not isinstance(files, list) or not files:
                raise UserError(f'{where}: needs a non-empty "files" list; {fmt}')
            files = files[:files_per_sample] if files_per_sample else files
            sample_shared_ok = _flag(entry, where, "the sample")
            paths, counts, nevts_in_files, shared_ok = [], [], [], []
            for i, f in enumerate(files):
                if not (
                    isinstance(f, dict)
                    and isinstance(f.get("path"), str)
                    and isinstance(f.get("nevts"), int)
                    and not isinstance(f.get("nevts"), bool)
                    and f["nevts"] >= 0
                ):
                    raise UserError(f'{where}: file #{i} must be {{"path": str, "nevts": int >= 0}}, got {f!r}')
                paths.append(_resolve(f["path"], base_dir, remote_prefix))
                counts.append(f["nevts"])
                # a delivered file (deliver) holds the events kept; "nevts" stays the original count
                nevts_in_files.append(f["nevts_delivered"] if isinstance(f.get("nevts_delivered"), int) else f["nevts"])
                shared_ok.append(sample_shared_ok or _flag(f, where, f"file #{i}"))
                entries.append(Entry(f"{process}/{variation}", i, f["path"], paths[-1], shared_ok[-1]))
            if sum(counts) == 0:
                raise UserError(
                    f'{where}: the files hold 0 events in total ("nevts"); '
                    "the sample cannot be normalised: fix the counts or drop the sample"
                )
            weight = analysis.weight(process, sum(counts))
            samples.append(
                Sample(
                    process,
                    variation,
                    paths,
                    sum(counts),
                    tuple(nevts_in_files),
                    weight,
                    shared_ok=tuple(shared_ok),
                )
            )
    if not samples:
        raise UserError(f"input list {source} names no samples; {fmt}")
    check_duplicates(entries, source)
    return samples


def _flag(entry, where: str, what: str) -> bool:
    """The ``"shared_files_ok"`` of a sample's or a file's entry (false where absent)."""
    value = entry.get(SHARED_OK, False)
    if not isinstance(value, bool):
        raise UserError(f'{where}: "{SHARED_OK}" of {what} must be true or false, got {value!r}')
    return value


def _resolve(path: str, base_dir: Path, remote_prefix: str | None) -> str:
    if remote_prefix and path.startswith(AGC_PREFIX):
        return remote_prefix.rstrip("/") + "/" + path[len(AGC_PREFIX) :].lstrip("/")
    if is_remote(path):
        return path
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base_dir / p).resolve())


def check_files(
    samples: list[Sample],
    tree: str,
    branches,
    missing_branches_hint: str | None = None,
    open_files=probe,
) -> list[Sample]:
    """Open every file before any event loop: one message lists every problem.

    Every file must hold a TTree or an RNTuple named ``tree`` with as many
    entries as its "nevts" in the input list (which normalises the sample); the
    files of a sample must all be of one kind; the first file of each sample must
    also have ``branches`` (the columns the analysis reads, ``Analysis.columns_read()``), and
    ``missing_branches_hint`` ends the message when some are missing. Files are
    opened several at a time, remote ones with short client time-outs (probe.py), by ``open_files`` (``probe``'s
    signature; ``staging.Stager.probe`` also starts copying the remote ones).
    Returns the samples with each file's size (``file_bytes``) as found.
    """
    problems, to_open, branches_for = [], [], {}
    for sample in samples:
        for i, path in enumerate(sample.files):
            if not is_remote(path) and not Path(path).is_file():
                problems.append(f"{path}: no such file")
                continue
            if path not in branches_for:
                to_open.append(path)
                branches_for[path] = ()
            if i == 0:
                branches_for[path] = tuple(branches)
    found = {p.path: p for p in open_files(to_open, tree, branches_for)}
    for path in to_open:
        p = found[path]
        problem = p.problem or (missing_branches_problem(tree, p.missing, p.kind) if p.missing else "")
        if problem:
            problems.append(f"{path}: {problem}")
    for sample in samples:
        problems += _sample_problems(sample, found)
    if problems:
        advice = "Fix or remove these entries in the input list (or check the server / --tree)."
        if missing_branches_hint and any(MISSING_BRANCHES in p for p in problems):
            only_branches = all(MISSING_BRANCHES in p for p in problems)
            advice = missing_branches_hint if only_branches else f"{advice}\n{missing_branches_hint}"
        raise UserError.listing(problems, "input file(s) cannot be used", advice)
    return [dataclasses.replace(s, file_bytes=tuple(found[f].size for f in s.files)) for s in samples]


def _sample_problems(sample: Sample, found: dict) -> list[str]:
    """A sample whose files mix TTree and RNTuple, and "nevts" that disagree with the files' entries."""
    usable = [found[f] for f in sample.files if f in found and found[f].kind]
    kinds = {p.kind for p in usable}
    problems = []
    if len(kinds) > 1:
        by_kind = {k: [p.path for p in usable if p.kind == k] for k in sorted(kinds)}
        listing = "; ".join(f"{k}: {', '.join(paths)}" for k, paths in by_kind.items())
        problems.append(
            f"sample {sample.name} mixes TTree and RNTuple files, which one event loop cannot read "
            f"({listing}); convert them to one format or split them into separate lists"
        )
    for path, expected in zip(sample.files, sample.file_nevts):
        p = found.get(path)
        if p and p.kind and p.entries != expected:
            problems.append(
                f'{path}: the input list gives "nevts": {expected} but the file\'s {p.kind} holds '
                f'{p.entries} events; correct "nevts" (it normalises sample {sample.name})'
            )
    return problems


MISSING_BRANCHES = "lacks the branches"  # how a missing-branches problem reads
SHOWN_BRANCHES = 12  # missing branches named in a problem; more are counted


def missing_branches_problem(tree: str, missing: list[str], kind: str = "TTree") -> str:
    shown = ", ".join(missing[:SHOWN_BRANCHES])
    more = f" and {len(missing) - SHOWN_BRANCHES} more" if len(missing) > SHOWN_BRANCHES else ""
    what = "RNTuple" if kind == "RNTuple" else "tree"
    return f"{what} '{tree}' {MISSING_BRANCHES} {shown}{more}"


def agc_samples(
    source: str,
    analysis: Analysis,
    files_per_sample: int | None = None,
    remote_prefix: str | None = None,
    timeout_s: float = 30.0,
) -> list[Sample]:
    """The AGC file list from a local path or an https:// URL, for ``analysis``."""
    if not source.startswith(("https://", "http://")):
        return read_file_list(source, analysis, files_per_sample, remote_prefix)
    import urllib.request

    try:
        with urllib.request.urlopen(source, timeout=timeout_s) as response:
            content = json.loads(response.read())
    except json.JSONDecodeError as err:
        raise UserError(f"the AGC file list at {source} is not valid JSON ({err})") from None
    except OSError as err:
        raise UserError(
            f"cannot download the AGC file list from {source} ({err}); download it elsewhere and "
            "pass the local copy with --agc-list FILE.json (or agc.inputs in config.yaml)"
        ) from None
    return parse_file_list(content, source, Path.cwd(), analysis, files_per_sample, remote_prefix)
