"""The synthetic demo input set: NanoAOD-like files for the samples of a definition (the AGC's nine by default).

The events come from a physics-motivated toy generator in C++
(``cpp/demo_generator.h``): ttbar, single top (s, t, tW) and W+jets with top
and W decays, radiation, pile-up jets, jet response, b-tag scores and prompt,
non-prompt and fake leptons, tuned so that the AGC selection gives region
fractions and observable means near the real samples. The ttbar alternative
samples (scaledown, scaleup, ME_var, PS_var) move them the way the real ones
do. Files have the branches and exact types of the AGC ntuples (with
``Jet_qgl``, the quark-gluon likelihood of the AGC v2 ML, drawn per parton
type), plus the demo-only truth branch ``Jet_truthParton`` (``TRUTH_BRANCHES``);
with ``full=True`` they also carry the branches that the AGC I/O-only
benchmark reads (``branch_lists.BRANCHES_BY_PERCENT``), filled with noise of
the entropy that gives them their real compressed size.

Reproducible: event ``i`` of a sample is a function of (seed, sample, i)
only, whatever the thread count or the split into files. The set is written
into a temporary folder next to the output folder and renamed at the end, the
stamp file last: a set without its stamp is never used.

Format: TTree files (``fmt="ttree"``, the default) or RNTuple files
(``fmt="rntuple"``: the TTree files converted with RDataFrame's Snapshot, same
names and types, one RNTuple "Events" per file). Both hold the same events.

Layout: ``events_per_file`` events per file (default two files per sample), or with ``agc_layout=True``
as many files per sample as the AGC's file list (``rdf_ttbar/data/nanoaod_inputs.json``, 787 in all), each
sample's events split evenly over its files (the first ones one event more): the same events either way.

Command line: ``python -m rdf_ttbar generate [options]`` (rdf_ttbar/cli/generate.py); the analysis uses
``ensure_demo_set`` (``--inputs demo``). Progress is drawn on stderr (on a terminal), messages are logged.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from .. import interrupts
from ..errors import UserError
from .demo_jobs import REPERTOIRE, DemoSamples, run_jobs, samples_key, to_rntuple
from .demo_layout import inputs_json, layout, sample_name  # noqa: F401 (sample_name: demo.sample_name, as before)
from .demo_space import check_space

log = logging.getLogger(__name__)

# bump whenever the generated content changes: cached sets of other versions are regenerated
GENERATOR_VERSION = 3  # 2: clusters of 10,000 events (cpp/demo_generator.h) instead of one per file
# 3: new branches Jet_qgl (quark-gluon likelihood, for the AGC v2 ML features) and Jet_truthParton (the ttbar
#    decay parton of each jet); Jet_jetId and Electron_cutBased (read by the v2 selection only) as often passing
#    as in the real files; all other branches hold the same values as in version 2

# demo-only truth branches, absent from real NanoAOD files: Jet_truthParton, the role of the jet's leading parton in
# a lepton+jets ttbar event (TRUTH_ROLES), 0 in every other event and sample
TRUTH_BRANCHES = ("Jet_truthParton",)
TRUTH_ROLES = {0: "none/other", 1: "quark of the hadronic W", 2: "b of the hadronic top", 3: "b of the leptonic top"}

# 200k events per sample: 1.8M events, 0.26 GB, about 9 s to generate on 2 cores, 20 s for the whole
# analysis with fit and plots; 40k ttbar events in 4j2b and 1k W+jets events in 4j1b: smooth templates
# and a fit with visible structure
DEFAULT_EVENTS_PER_SAMPLE = 200_000
# two files per sample in the default set, so that -n 1 processes half of it
DEFAULT_EVENTS_PER_FILE = 100_000

INPUTS_JSON = "nanoaod_inputs.json"
STAMP = "demo_set.json"  # written last: its presence marks a complete set
_PARTIAL = ".partial-"  # infix of the folders being written
FORMATS = ("ttree", "rntuple")


# ---------------------------------------------------------------------------
# Python side: stamps, atomic publication, cache (the files' layout: demo_layout.py)
# ---------------------------------------------------------------------------
def _stamp(
    seed: int,
    events_per_sample: int,
    events_per_file: int | None,
    full: bool,
    fmt: str = "ttree",
    samples: DemoSamples | None = None,
    agc: bool = False,
) -> dict:
    """What a set's stamp file records (``events_per_file`` None: any split into files will do; ``samples``
    None or the generator's repertoire: the AGC's samples, recorded as null; ``agc``: the AGC's layout); a
    written set's stamp also records the size of each of its files ("sizes", see :func:`_damage`)."""
    stamp = {
        "samples": [list(s) for s in samples] if samples is not None and samples_key(samples) else None,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "events_per_sample": events_per_sample,
        "events_per_file": events_per_file,
        "full": full,
        "format": fmt,
    }
    return dict(stamp, layout="agc", events_per_file=None) if agc else stamp


def _read_stamp(directory: Path) -> dict | None:
    try:
        return json.loads((directory / STAMP).read_text())
    except (OSError, ValueError):
        return None


def _damage(directory: Path) -> str | None:
    """A file of a complete set missing or of another size than written (truncated); None: none (or no sizes)."""
    for name, size in ((_read_stamp(directory) or {}).get("sizes") or {}).items():
        actual = (directory / name).stat().st_size if (directory / name).is_file() else None
        if actual != size:
            return f"{name} is missing" if actual is None else f"{name} has {actual:,} bytes instead of {size:,}"
    return None


def discard(directory: Path) -> None:
    """Remove a damaged set (moved aside first: no run sees it half-removed)."""
    old = directory.parent / f".{directory.name}.old-{uuid.uuid4().hex[:8]}"
    if directory.exists():
        os.replace(directory, old)
    shutil.rmtree(old, ignore_errors=True)


def _satisfies(directory: Path, wanted: dict) -> bool:
    """Whether ``directory`` holds a complete set with the ``wanted`` stamp (None entries: any value)."""
    stamp = _read_stamp(directory)
    if stamp is not None:
        stamp.setdefault("format", "ttree")  # sets written before the format option
    return stamp is not None and all(stamp.get(k) == v for k, v in wanted.items() if v is not None)


def _default_threads() -> int:
    import ROOT

    if ROOT.IsImplicitMTEnabled():
        return ROOT.GetThreadPoolSize()
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UserError(f"unknown file format '{fmt}': choose {' or '.join(FORMATS)}")


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise UserError(f"{name.replace('_', ' ')} must be at least 1, got {value}")


def generate(
    output_dir,
    events_per_sample: int = DEFAULT_EVENTS_PER_SAMPLE,
    seed: int = 1,
    full: bool = False,
    events_per_file: int | None = None,
    progress: bool = True,
    threads: int | None = None,
    fmt: str = "ttree",
    samples: DemoSamples | None = None,
    agc_layout: bool = False,
) -> Path:
    """Write the demo set into ``output_dir``; returns the path of its ``nanoaod_inputs.json``.

    ``output_dir`` is replaced if it holds an earlier demo set; any other
    existing, non-empty folder is refused. Files hold ``events_per_file``
    events (default ``DEFAULT_EVENTS_PER_FILE``); ``threads`` defaults to
    ROOT's implicit-MT pool size, else to all cores. ``progress``: show the
    progress (on a terminal) and log a summary line. ``fmt``: "ttree" or "rntuple". ``samples``: those of a
    definition (:func:`demo_samples`); None: every sample the generator knows (the AGC's nine). ``agc_layout``:
    the AGC's files per sample instead (module docstring).
    """
    try:
        return _generate(
            Path(output_dir),
            events_per_sample,
            seed,
            full,
            events_per_file,
            threads,
            progress,
            summary=progress,
            fmt=fmt,
            agc_layout=agc_layout,
            samples=samples,
        )
    except OSError as err:  # read-only, full, a path too long
        raise UserError(
            f"cannot write the demo set into {output_dir} ({err.strerror or err}): choose another --output-dir"
        ) from None


def _generate(
    output_dir: Path,
    events_per_sample: int,
    seed: int,
    full: bool,
    events_per_file: int | None,
    threads: int | None,
    progress: bool,
    summary: bool,
    keep_if: dict | None = None,
    fmt: str = "ttree",
    samples: DemoSamples | None = None,
    agc_layout: bool = False,
) -> Path:
    """``generate``; a complete set satisfying ``keep_if`` that appears meanwhile is kept instead of ours."""
    if agc_layout and events_per_file:
        raise UserError("--agc-layout sets the files per sample: leave out --events-per-file")
    events_per_file = events_per_file or DEFAULT_EVENTS_PER_FILE
    _check_positive(events_per_sample=events_per_sample, events_per_file=events_per_file)
    _check_format(fmt)
    if seed < 0:
        raise UserError(f"the seed must be >= 0, got {seed}")
    output_dir = output_dir.expanduser().absolute()
    if (
        output_dir.exists()
        and (not output_dir.is_dir() or any(output_dir.iterdir()))
        and _read_stamp(output_dir) is None
    ):
        raise UserError(f"{output_dir} exists and is not a demo set: choose an empty or new folder")
    samples = REPERTOIRE if samples is None else samples
    jobs = layout(output_dir, events_per_sample, events_per_file, samples, agc_layout)
    check_space(output_dir, events_per_sample * len(samples), len(jobs), full, fmt)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = output_dir.parent / f".{output_dir.name}{_PARTIAL}{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        start = time.perf_counter()
        run_jobs(
            [dict(job, path=staging / job["path"].name) for job in jobs],
            seed,
            full,
            threads or _default_threads(),
            progress,
        )
        if fmt == "rntuple":
            to_rntuple([staging / job["path"].name for job in jobs])
            interrupts.check()
        (staging / INPUTS_JSON).write_text(json.dumps(inputs_json(jobs), indent=1))
        stamp = _stamp(seed, events_per_sample, events_per_file, full, fmt, samples, agc_layout)
        sizes = {f.name: f.stat().st_size for f in sorted(staging.iterdir())}  # (no stamp yet)
        (staging / STAMP).write_text(json.dumps({**stamp, "sizes": sizes}))
        _publish(staging, output_dir, keep_if)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if summary:
        log.info(
            "wrote %d events in %d %s files to %s in %.1f s",
            events_per_sample * len(samples),
            len(jobs),
            fmt,
            output_dir,
            time.perf_counter() - start,
        )
    return output_dir / INPUTS_JSON


def _publish(staging: Path, output_dir: Path, keep_if: dict | None) -> None:
    """Move the finished set into place, replacing an earlier set unless that one satisfies ``keep_if``."""
    if output_dir.exists():
        if keep_if is not None and _satisfies(output_dir, keep_if) and _damage(output_dir) is None:
            return  # another process wrote the same set meanwhile
        old = output_dir.parent / f".{output_dir.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(output_dir, old)
        os.replace(staging, output_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, output_dir)


def default_cache_dir() -> Path:
    """$RDF_TTBAR_CACHE, else $XDG_CACHE_HOME/rdf_ttbar, else ~/.cache/rdf_ttbar."""
    if os.environ.get("RDF_TTBAR_CACHE"):
        return Path(os.environ["RDF_TTBAR_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "rdf_ttbar"


def demo_set_dir(
    cache_dir,
    events_per_sample: int,
    seed: int,
    full: bool = False,
    fmt: str = "ttree",
    samples: DemoSamples | None = None,
    agc_layout: bool = False,
) -> Path:
    """Where ``ensure_demo_set`` keeps a set: one folder per version, seed, size (and --full, the format, the
    samples when they are not the generator's repertoire, and the AGC layout)."""
    base = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    key = samples_key(samples)
    return base / (
        f"demo-v{GENERATOR_VERSION}-s{seed}-n{events_per_sample}{'-full' if full else ''}"
        f"{'-rntuple' if fmt == 'rntuple' else ''}{f'-p{key}' if key else ''}{'-agc' if agc_layout else ''}"
    )


def demo_set_ready(
    cache_dir=None,
    events_per_sample: int = DEFAULT_EVENTS_PER_SAMPLE,
    seed: int = 1,
    samples: DemoSamples | None = None,
) -> bool:
    """Whether ensure_demo_set finds this set complete in the cache (and generates nothing)."""
    directory = demo_set_dir(cache_dir, events_per_sample, seed, samples=samples)
    return _satisfies(directory, _stamp(seed, events_per_sample, None, False, samples=samples)) and (
        _damage(directory) is None
    )


def ensure_demo_set(
    cache_dir=None,
    events_per_sample: int = DEFAULT_EVENTS_PER_SAMPLE,
    seed: int = 1,
    full: bool = False,
    events_per_file: int | None = None,
    progress: bool = True,
    threads: int | None = None,
    fmt: str = "ttree",
    samples: DemoSamples | None = None,
    agc_layout: bool = False,
) -> Path:
    """The inputs JSON of the cached demo set, generated first if missing or from another generator version.

    The cache folder is ``cache_dir`` or ``default_cache_dir()``. A complete set
    with this version, seed, size and ``full`` is reused (whatever its split
    into files, unless ``events_per_file`` is given); one whose files are
    missing or have changed size since it was written is generated again,
    with a warning. Before generating, sets
    of other generator versions and day-old leftovers of interrupted runs are
    deleted from the cache, and a one-line message is logged. ``samples``: those of a definition
    (:func:`demo_samples`); None: the generator's whole repertoire (the AGC's nine samples).
    """
    _check_format(fmt)
    samples = REPERTOIRE if samples is None else samples
    directory = demo_set_dir(cache_dir, events_per_sample, seed, full, fmt, samples, agc_layout)
    wanted = _stamp(seed, events_per_sample, events_per_file, full, fmt, samples, agc_layout)
    if _satisfies(directory, wanted):
        damage = _damage(directory)
        if damage is None:
            return directory / INPUTS_JSON
        log.warning("the cached demo set %s is damaged (%s): it is generated again", directory, damage)
    fix = (
        "set $RDF_TTBAR_CACHE (or demo.cache_dir in config.yaml) to a writable folder, or pass your own input "
        "list with --inputs"
    )
    try:  # a cache that cannot be written is refused before the announcement
        directory.parent.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=f".{directory.name}{_PARTIAL}probe-", dir=directory.parent))
    except OSError as err:
        raise UserError(
            f"the demo input set is not in the cache folder {directory.parent} and cannot be written "
            f"there ({err.strerror or err}): {fix}"
        ) from None
    _clean_cache(directory.parent)
    jobs = layout(directory, events_per_sample, events_per_file or DEFAULT_EVENTS_PER_FILE, samples, agc_layout)
    check_space(directory, events_per_sample * len(samples), len(jobs), full, fmt)
    log.info(
        "generating the demo input set (%d samples x %d events, seed %d, %s) in %s; later runs reuse it",
        len(samples),
        events_per_sample,
        seed,
        fmt,
        directory,
    )
    try:
        return _generate(
            directory,
            events_per_sample,
            seed,
            full,
            events_per_file,
            threads,
            progress,
            summary=False,
            keep_if=wanted,
            fmt=fmt,
            agc_layout=agc_layout,
            samples=samples,
        )
    except OSError as err:  # a full disk while writing
        raise UserError(
            f"cannot write the demo input set into the cache folder {directory.parent} ({err.strerror or err}): {fix}"
        ) from None


def _clean_cache(cache: Path) -> None:
    """Delete complete sets of other generator versions, and leftovers of runs killed a day ago or more."""
    if not cache.is_dir():
        return
    for old in cache.glob("demo-v*-s*-n*"):
        if old.is_dir() and not old.name.startswith(f"demo-v{GENERATOR_VERSION}-") and _read_stamp(old):
            shutil.rmtree(old, ignore_errors=True)
    for partial in cache.glob(f".demo-v*{_PARTIAL}*"):
        if time.time() - partial.stat().st_mtime > 86400:
            shutil.rmtree(partial, ignore_errors=True)
