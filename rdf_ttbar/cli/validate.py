"""``python -m rdf_ttbar validate``: compare the histograms of a run with a reference.

The reference format is the AGC's: ``{name: {"edges": [...], "contents": [...]}}``
with the under- and overflow bins included in ``contents``; a ROOT file is taken as a reference too (its TH1, read
with uproot into that format: e.g. the ML histograms of another implementation, such as the coffea v2 peer's
``histograms_ml.root``). Like the AGC's own validation script, a difference that one event moving to a
neighbouring bin explains (equal and opposite differences in two adjacent bins) is tolerated,
and the contents of histograms that depend on random numbers (the variations of
the definitions' systematics marked ``random``, the jet pT resolution ``..._pt_res_up``, of every histogram, the
ML feature ones included: the coffea reference draws unseeded random numbers) are not compared unless
``--include-random`` is given.

Two files (AGC v2): ``--histos`` is any histograms file of a run, histograms.root or histograms_ml.root. When the
reference holds names that an analysis definition writes to another file than its main one (the v2 ML feature
histograms, ``{feature}_{process}[_{variation}]``, in histograms_ml.root) and ``--histos`` lacks them, that file
beside ``--histos`` is compared too. The AGC's v2 references (``reference-v2/*.json``) hold the 124 main histograms
only, so ``--histos histograms.root --reference histos_1_file_per_process.json`` compares histograms.root alone;
``--histos histograms_ml.root --reference PEER_ml.root`` (or a reference JSON with ML names, e.g. a
``--dump-json`` of histograms_ml.root) compares the ML file.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from ..analysis import VERSIONS
from ..errors import UserError, require_file


def random_suffixes() -> tuple[str, ...]:
    """The variations of the built-in definitions that depend on random numbers (``pt_res_up``)."""
    return tuple(dict.fromkeys(x for a in VERSIONS.values() for s in a.systematics if s.random for x in s.suffixes()))


def random_dependent(name: str) -> bool:
    """Whether a histogram is a random-number dependent variation (``{prefix}_{process}_pt_res_up``, any prefix)."""
    return any(name.endswith(f"_{suffix}") for suffix in random_suffixes())


def other_outputs() -> dict[str, str]:
    """{histogram name: its file (without .root)} of the names a definition writes to another file than its main
    one (AGC v2: the ML feature histograms, histograms_ml)."""
    out: dict[str, str] = {}
    for analysis in VERSIONS.values():
        out.update({n: o for n, o in analysis.outputs_by_name().items() if o != analysis.outputs[0]})
    return out


def read_histograms(path: str | Path, option: str = "--histos") -> dict:
    """{name: {"edges": [...], "contents": [...]}} of every TH1 in a ROOT file (flow bins included)."""
    import uproot

    path = require_file(path, f"histogram file {{path}} does not exist: pass the histograms.root of a run to {option}")
    try:
        with uproot.open(path) as f:
            return {
                key.split(";")[0]: {
                    "edges": f[key].axis().edges().tolist(),
                    "contents": f[key].values(flow=True).tolist(),
                }
                for key in f.keys(cycle=False, filter_classname="TH1*")
            }
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read histograms from {path} ({err}); is it a ROOT file?") from None


def is_root_file(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"root"


def read_reference(path: str | Path) -> dict:
    """The reference: an AGC JSON, or the TH1 of a ROOT file in the same format."""
    path = require_file(
        path, "reference {path} does not exist: pass a JSON file in the AGC format (or a ROOT file) to --reference"
    )
    if is_root_file(path):
        return read_histograms(path, "--reference")
    try:
        reference = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"reference {path} is not valid JSON nor a ROOT file ({err})") from None
    if not isinstance(reference, dict) or not all(
        isinstance(h, dict) and "edges" in h and "contents" in h for h in reference.values()
    ):
        raise UserError(f'reference {path} must map histogram names to {{"edges": [...], "contents": [...]}}')
    return reference


def histograms_for(path: str | Path, histos: dict, reference: dict) -> tuple[dict, list[str], list[str]]:
    """The histograms to compare with ``reference``: ``histos`` (those of the file ``path``) and, where the
    reference has names of a definition's other file that ``path`` lacks, those of that file beside it.

    Returns (histograms, the names that are not in the reference and worth a note, notes on the files read).
    """
    path = Path(path)
    histos = dict(histos)
    notes: list[str] = []
    extra = set(histos) - set(reference)
    others = other_outputs()
    for output in sorted({others[n] for n in reference if n not in histos and n in others}):
        beside = path.with_name(f"{output}.root")
        if beside == path:
            continue
        if not beside.is_file():
            notes.append(f"note: the reference has histograms of {output}.root, but {beside} does not exist")
            continue
        more = read_histograms(beside)
        notes.append(f"note: the reference's {output}.root histograms compared with {beside}")
        if not set(reference) & set(histos):
            extra = set()  # a reference of the other file alone: --histos' own names are not worth a note
        extra |= set(more) - set(reference)
        histos.update(more)
    return histos, sorted(extra), notes


def single_event_migrations(diff: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Bins whose difference an adjacent bin's equal and opposite difference explains."""
    explained = np.zeros_like(close)
    for i in np.flatnonzero(~close):
        for j in (i - 1, i + 1):
            if 0 <= j < len(diff) and not close[j] and np.isclose(diff[i], -diff[j], rtol=1e-5):
                explained[i] = explained[j] = True
    return explained


def validate(histos: dict, reference: dict, include_random: bool = False) -> dict[str, list[str]]:
    """{histogram name: [problems]} for every reference histogram that does not match."""
    errors: dict[str, list[str]] = {}
    for name, ref in reference.items():
        if name not in histos:
            errors[name] = ["missing"]
            continue
        h = histos[name]
        problems = []
        if len(h["edges"]) != len(ref["edges"]) or not np.allclose(h["edges"], ref["edges"]):
            problems.append(f"edges differ: got {h['edges']}, expected {ref['edges']}")
        elif include_random or not random_dependent(name):
            got, expected = np.asarray(h["contents"], float), np.asarray(ref["contents"], float)
            close = np.isclose(got, expected)
            bad = ~(close | single_event_migrations(got - expected, close))
            problems += [f"bin {i}: got {got[i]:.6g}, expected {expected[i]:.6g}" for i in np.flatnonzero(bad)]
        if problems:
            errors[name] = problems
    return errors


EPILOG = """\
AGC v2 runs write two files, histograms.root and histograms_ml.root (the ML feature histograms): --histos takes
either. When the reference has ML histogram names that --histos lacks, histograms_ml.root beside it is compared
too. The AGC's v2 reference JSONs hold the 124 histograms of histograms.root only. --reference also takes a ROOT
file, e.g. another implementation's histograms_ml.root:

  python -m rdf_ttbar validate --histos results/histograms_ml.root --reference coffea_v2_ml.root
"""


def add_arguments(parser) -> None:
    import argparse

    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--histos",
        default="results/histograms.root",
        metavar="FILE",
        help="ROOT file with the histograms: histograms.root or (AGC v2) histograms_ml.root "
        "(default: results/histograms.root)",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--reference",
        metavar="JSON|ROOT",
        help="reference to compare with: in the AGC JSON format, or a ROOT file with the histograms (TH1)",
    )
    mode.add_argument(
        "--dump-json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write the histograms in the AGC JSON format (to FILE, default stdout) instead",
    )
    parser.add_argument(
        "--include-random",
        action="store_true",
        help="also compare the contents of random-number dependent histograms (any name ending in "
        + ", ".join(f"_{x}" for x in random_suffixes())
        + ", ML feature ones included)",
    )
    parser.add_argument("--verbose", action="store_true", help="list every mismatching bin")


def write_stdout(lines: list[str]) -> bool:
    """Print ``lines``; False (and quiet) when the reader has gone, as ``validate --verbose | head`` does.

    The rest of the output is dropped: stdout is pointed at /dev/null, so that Python's own flush at exit
    does not fail again.
    """
    try:
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return False


def report(
    errors: dict[str, list[str]],
    extra: list[str],
    n_reference: int,
    reference: str,
    verbose: bool,
    notes: list[str] | None = None,
) -> list[str]:
    """The lines ``validate`` prints."""
    lines = list(notes or [])
    for name, problems in sorted(errors.items()):
        if verbose or len(problems) == 1:
            lines.append(f"{name}: " + "; ".join(problems))
        else:
            lines.append(f"{name}: {len(problems)} problem(s), first: {problems[0]}")
    if extra:
        lines.append(f"note: {len(extra)} histogram(s) not in the reference: {', '.join(extra)}")
    if errors:
        lines.append(f"validation FAILED: {len(errors)} of {n_reference} histograms differ from {reference}")
    else:
        lines.append(f"validation passed: all {n_reference} histograms match {reference}")
    return lines


def main(args) -> int:
    """0 when the histograms match, 1 when not (also when the reader of stdout stopped early)."""
    histos = read_histograms(args.histos)
    if args.dump_json is not None:
        text = json.dumps(histos, indent=2, sort_keys=True)
        if args.dump_json == "-":
            write_stdout([text])
        else:
            Path(args.dump_json).write_text(text + "\n")
        return 0
    reference = read_reference(args.reference)
    histos, extra, notes = histograms_for(args.histos, histos, reference)
    errors = validate(histos, reference, args.include_random)
    write_stdout(report(errors, extra, len(reference), args.reference, args.verbose, notes))
    return 1 if errors else 0
