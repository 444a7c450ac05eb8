"""Input preparation, shared by the analysis and the I/O-only mode: the samples of the chosen input set, copied
into --cache-dir when asked, checked up front; and the optimisation level of the jitted code, chosen before
ROOT's interpreter starts."""

from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from .. import inputs, interrupts, quiet
from ..analysis import Analysis
from ..analysis import of as definition
from ..clock import START_TIME
from ..config import RunConfig
from ..errors import UserError

log = logging.getLogger(__name__)


def resolve_samples(
    config: RunConfig, jitted_loop: bool = True, analysis: Analysis | None = None
) -> list[inputs.Sample]:
    """The samples of the chosen input set ('demo', 'agc' or a JSON file) for ``analysis`` (default: the
    definition ``config`` chooses): its processes, weighted with its cross sections and luminosity.

    ``jitted_loop``: the run's event loop is jitted code (optimize_jitted_code).
    """
    analysis = analysis or definition(config)
    choice = config.inputs
    n = config.files_per_sample
    if choice == "demo":
        from ..inputs import demo, demo_jobs

        samples = demo_jobs.demo_samples(analysis)
        d = config.demo
        # generating the set starts ROOT's interpreter: choose the optimisation level from the events this run
        # will read before that (prepare_inputs' later choice comes too late then)
        per_sample = d.events_per_sample if n is None else min(d.events_per_sample, n * demo.DEFAULT_EVENTS_PER_FILE)
        generating = not demo.demo_set_ready(d.cache_dir, d.events_per_sample, d.seed, samples)
        optimize_jitted_code(len(samples) * per_sample, jitted_loop=generating or jitted_loop)
        with quiet.root_import():
            path = demo.ensure_demo_set(d.cache_dir, d.events_per_sample, d.seed, samples=samples)
        return inputs.read_file_list(path, analysis, n)
    if choice == "agc":
        return inputs.agc_samples(config.agc.inputs, analysis, n, config.agc.remote_prefix)
    if not choice.endswith(".json") and not Path(choice).exists():
        raise UserError(f"--inputs '{choice}' is neither 'demo', 'agc' nor a JSON file list")
    return inputs.read_file_list(choice, analysis, n, config.agc.remote_prefix)


# ROOT's interpreter compiles the jitted graph code with -O2 from this many input events on, below with -O0:
# -O0 halves the set-up and jitting (~2.5 s less) for a ~1.6x slower event loop than -O2, so it wins up to
# ~3M events (README "Performance"; its default level is never the fastest). Histograms are bit-identical.
# When the event loop runs the compiled graph (native.py), nothing hot is jitted: always -O0.
OPTIMIZE_FROM_EVENTS = 3_000_000


def optimize_jitted_code(events: int, jitted_loop: bool = True) -> None:
    """-O2 for the jitted code of large inputs whose event loop is jitted (``jitted_loop``), -O0 else;
    only effective before ROOT's interpreter starts. An EXTRA_CLING_ARGS set by the user wins.
    """
    if "ROOT" not in sys.modules:
        optimize = jitted_loop and events >= OPTIMIZE_FROM_EVENTS
        os.environ.setdefault("EXTRA_CLING_ARGS", "-O2" if optimize else "-O0")


def prepare_inputs(
    config: RunConfig,
    resolve=None,
    branches=None,
    missing_branches_hint: str | None = None,
    jitted_loop: bool = True,
    analysis: Analysis | None = None,
    cleanup: ExitStack | None = None,
) -> tuple[list[inputs.Sample], float]:
    """The samples ready to read (resolved, copied into --cache-dir, checked) and the seconds spent preparing them.

    Generating the demo set or copying remote files is not part of the set-up time: the seconds it took come
    back separately. ``resolve(config)`` gives the samples and ``branches`` the columns their files must have
    (default: the columns ``analysis`` reads; the I/O-only mode has its own of both, and a hint for files that
    lack some: inputs.check_files); ``jitted_loop``: the event loop will run jitted code (optimize_jitted_code);
    ``analysis``: the run's definition (default: the one ``config`` chooses); ``cleanup``: where the caller's run
    ends (its ``ExitStack``): remote files of a ``--scheduler mt`` run are then read through the read-ahead stager
    (``--remote-read stage``, inputs/staging.py), which the stack closes; without it, they are read directly (or
    copied into --cache-dir first).
    """
    start = time.perf_counter()
    analysis = analysis or definition(config)
    branches = analysis.columns_read() if branches is None else branches
    samples = resolve(config) if resolve else resolve_samples(config, jitted_loop, analysis)
    optimize_jitted_code(sum(s.nevts for s in samples), jitted_loop)
    preparation_s = time.perf_counter() - start
    quiet.import_root()  # its cost is part of the set-up time
    interrupts.check()
    open_files = inputs.probe.probe
    staging = _staging(config, cleanup)
    if config.cache_dir:
        from ..inputs import remote

        start = time.perf_counter()
        # with the stager, only what it does not copy (while the loops run) is copied into the cache first
        copy = (lambda url: not staging.stageable(url)) if staging else True
        samples = remote.localize(samples, Path(config.cache_dir), copy=copy)
        preparation_s += time.perf_counter() - start
        interrupts.check()
    stager = None
    if staging and cleanup is not None and any(staging.stageable(f) for s in samples for f in s.files):
        stager = staging.Stager(samples, Path(config.cache_dir) if config.cache_dir else None)
        cleanup.callback(stager.close)
        open_files = stager.probe
    if config.deliver_cache:  # deliver what is missing, then read only the delivered files (delivery.py)
        from . import delivered

        samples, report = delivered.deliver_cache(
            samples, Path(config.deliver_cache), tree=config.tree, analysis=analysis
        )
        if report.delivered:
            log.info("%s", delivered.summary(report, Path(config.deliver_cache)))
        preparation_s += time.perf_counter() - start
    try:
        samples = inputs.check_files(samples, config.tree, branches, missing_branches_hint, open_files)
    except UserError as err:
        if not own_demo_set(config, resolve):
            raise
        # the package's own demo cache, damaged in a way its files' sizes do not show: generated again, once
        from ..inputs import demo

        d = config.demo
        directory = demo.demo_set_dir(d.cache_dir, d.events_per_sample, d.seed)
        lines = str(err).splitlines()  # "N input file(s) cannot be used:", then one problem per line
        first = (lines[1] if len(lines) > 1 else lines[0]).strip().replace(f"{directory}{os.sep}", "")
        log.warning("the cached demo set %s is damaged (%s): it is generated again", directory, first)
        demo.discard(directory)
        start = time.perf_counter()
        samples = resolve_samples(config, jitted_loop, analysis)
        preparation_s += time.perf_counter() - start
        samples = inputs.check_files(samples, config.tree, branches, missing_branches_hint)
    if stager is not None:
        try:
            samples = stager.staged(samples)
        except OSError as err:
            raise UserError(f"a remote input file could not be copied to local disk: {err}") from None
    interrupts.check()
    return samples, preparation_s


def own_demo_set(config: RunConfig, resolve) -> bool:
    """Whether a run reads the package's demo cache as it is (not a user's list, a copy or a delivery of it)."""
    return (
        resolve is None
        and config.inputs == "demo"
        and config.tree == "Events"
        and not config.cache_dir
        and not config.deliver_cache
    )


def _staging(config: RunConfig, cleanup: ExitStack | None):
    """The read-ahead stager's module (inputs/staging.py) when this run reads root:// files through it, else None."""
    if cleanup is None or config.remote_read != "stage" or config.scheduler != "mt" or config.deliver_cache:
        return None
    from ..inputs import staging

    if staging.xrootd_headers() is None:
        log.warning("the XRootD client's headers are not installed: root:// files are read directly (slower)")
        return None
    return staging


_started = False


def run_start() -> float:
    """Where a run's set-up time starts: the package import for the first run of a process (interpreter and
    imports included), the call itself for a later run (the API in a notebook)."""
    global _started
    if not _started:
        _started = True
        return START_TIME
    return time.perf_counter()
