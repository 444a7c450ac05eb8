"""``python -m rdf_ttbar validate``: compare histograms.root with a reference in the AGC JSON format.

The reference format is the AGC's: ``{name: {"edges": [...], "contents": [...]}}``
with the under- and overflow bins included in ``contents``. Like the AGC's own
validation script, a difference that one event moving to a neighbouring bin
explains (equal and opposite differences in two adjacent bins) is tolerated,
and the contents of histograms that depend on random numbers (the variations of
the definition's systematics marked ``random``, the jet pT resolution: the coffea
reference draws unseeded random numbers) are not compared unless
``--include-random`` is given.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from ..analysis import DEFAULT as ANALYSIS
from ..errors import UserError

RANDOM_DEPENDENT = tuple(x for s in ANALYSIS.systematics if s.random for x in s.suffixes())


def read_histograms(path: str | Path) -> dict:
    """{name: {"edges": [...], "contents": [...]}} of every TH1 in a ROOT file (flow bins included)."""
    import uproot

    path = Path(path)
    if not path.is_file():
        raise UserError(f"histogram file {path} does not exist: pass the histograms.root of a run to --histos")
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


def read_reference(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"reference {path} does not exist: pass a JSON file in the AGC format to --reference")
    try:
        reference = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"reference {path} is not valid JSON ({err})") from None
    if not isinstance(reference, dict) or not all(
        isinstance(h, dict) and "edges" in h and "contents" in h for h in reference.values()
    ):
        raise UserError(f'reference {path} must map histogram names to {{"edges": [...], "contents": [...]}}')
    return reference


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
        elif include_random or not any(tag in name for tag in RANDOM_DEPENDENT):
            got, expected = np.asarray(h["contents"], float), np.asarray(ref["contents"], float)
            close = np.isclose(got, expected)
            bad = ~(close | single_event_migrations(got - expected, close))
            problems += [f"bin {i}: got {got[i]:.6g}, expected {expected[i]:.6g}" for i in np.flatnonzero(bad)]
        if problems:
            errors[name] = problems
    return errors


def add_arguments(parser) -> None:
    parser.add_argument(
        "--histos",
        default="results/histograms.root",
        metavar="FILE",
        help="ROOT file with the histograms (default: results/histograms.root)",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--reference", metavar="JSON", help="reference in the AGC JSON format to compare with")
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
        help=f"also compare the contents of random-number dependent histograms ({', '.join(RANDOM_DEPENDENT)})",
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
    errors: dict[str, list[str]], extra: list[str], n_reference: int, reference: str, verbose: bool
) -> list[str]:
    """The lines ``validate`` prints."""
    lines = []
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
    errors = validate(histos, reference, args.include_random)
    extra = sorted(set(histos) - set(reference))
    write_stdout(report(errors, extra, len(reference), args.reference, args.verbose))
    return 1 if errors else 0
