"""Independent correctness oracle for rdf_ttbar (no ROOT: uproot + awkward + numpy).

This module re-implements, from /work/shared/spec/ANALYSIS.md and the numerical
recipe of /work/notes/CONTRACT.md, everything that ends up in the 124 histograms:
selection, observables (HT, m_bjj), jet-pT variations (scale, resolution with the
counter-based splitmix64 recipe), weight variations (b-tag, W+jets scale),
normalisation and pseudo-data. It deliberately imports nothing from ``rdf_ttbar``:
the tables below are re-stated from the spec.

Everything is vectorised (awkward/numpy per chunk of events, read with
``uproot.iterate``); there is no per-event Python loop.

Main entry points
-----------------
- ``resolution_factors(run, lumi, event, counts)``
- ``event_observables(files, pt_variation="nominal")``  per-event region/observable
- ``sample_histograms(files, process, variation, xsec_weight)``
- ``all_histograms(inputs, n_files=None)``
- ``region_stats(files)``
- ``read_root_histograms(path)`` / ``read_json_histograms(path)``
- ``compare(actual, expected)``

The numbers of a changed definition (luminosity, cross sections, cut values, binning, regions by b-tag count)
come in as a :class:`Numbers` (``numbers=``; default ``SPEC``, the spec's); the algorithms stay this module's own.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections import namedtuple
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

# --------------------------------------------------------------------------- tables
# Re-stated from the spec (NOT imported from rdf_ttbar, on purpose).
LUMI = 3378.0
XSEC = {
    "ttbar": 396.87 + 332.97,
    "single_top_s_chan": 2.0268 + 1.2676,
    "single_top_t_chan": (36.993 + 22.175) / 0.252,
    "single_top_tW": 37.936 + 37.906,
    "wjets": 61457 * 0.252,
}
REGIONS = ("4j1b", "4j2b")  # region code 1 -> "4j1b", 2 -> "4j2b"
NBINS, XMIN, XMAX = 25, 50.0, 550.0
EDGES = np.linspace(XMIN, XMAX, NBINS + 1)  # 50, 70, ..., 550 (all exact in double)
NFLOW = NBINS + 2  # 27: underflow, 25 bins, overflow

LEPTON_PT_MIN = 25.0
JET_PT_MIN = 25.0
BTAG_WP = 0.5
PT_SCALE = np.float32(1.03)
RESOLUTION_WIDTH = 0.05
BTAG_VAR = 0.075
WJETS_SCALE_VAR = {"up": 1.025, "down": 0.975}
JET_PT_VARIATIONS = ("nominal", "pt_scale_up", "pt_res_up")

# pseudo-data (AGC v1.4.0) = sum of coefficient * sample nominal histogram
PSEUDODATA = (
    (0.5, "ttbar", "ME_var"),
    (0.5, "ttbar", "PS_var"),
    (1.0, "wjets", "nominal"),
    (1.0, "single_top_t_chan", "nominal"),
)

BRANCHES = [
    "run",
    "luminosityBlock",
    "event",
    "Jet_pt",
    "Jet_eta",
    "Jet_phi",
    "Jet_mass",
    "Jet_btagCSVV2",
    "Electron_pt",
    "Muon_pt",
]
STEP_SIZE = 250_000  # entries per chunk

Hist = namedtuple("Hist", "sumw sumw2")


@dataclasses.dataclass(frozen=True)
class Numbers:
    """The numbers of an analysis: normalisation, cuts, binning and regions ((name, fewest b tags, most b tags or
    None, observable "ht" or "mbjj"), in the order of their region codes 1, 2, ...)."""

    luminosity: float = LUMI
    xsec: dict = dataclasses.field(default_factory=lambda: dict(XSEC))
    lepton_pt_min: float = LEPTON_PT_MIN
    jet_pt_min: float = JET_PT_MIN
    min_jets: int = 4
    btag_wp: float = BTAG_WP
    nbins: int = NBINS
    xmin: float = XMIN
    xmax: float = XMAX
    regions: tuple = (("4j1b", 1, 1, "ht"), ("4j2b", 2, None, "mbjj"))

    @property
    def region_names(self) -> tuple:
        return tuple(r[0] for r in self.regions)

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.xmin, self.xmax, self.nbins + 1)

    @property
    def nflow(self) -> int:
        return self.nbins + 2


SPEC = Numbers()


# --------------------------------------------------------------- resolution factors
_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array, arithmetic modulo 2**64."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> _U64(30))) * _MIX1
        z = (z ^ (z >> _U64(27))) * _MIX2
        return z ^ (z >> _U64(31))


def resolution_factors(run, lumi, event, counts) -> np.ndarray:
    """Per-jet resolution factor ``1 + 0.05 * z`` (flat float64, jets in stored order).

    run, lumi, event: one value per event; counts: number of jets per event (nJet).
    """
    # dtype=uint64 directly: a Python list with ints >= 2**63 must not go through float64
    run = np.asarray(run, dtype=np.uint64)
    lumi = np.asarray(lumi, dtype=np.uint64)
    event = np.asarray(event, dtype=np.uint64)
    counts = np.asarray(counts).astype(np.int64)
    key = _splitmix64(_splitmix64(_splitmix64(run) ^ lumi) ^ event)
    key = np.repeat(key, counts)
    starts = np.cumsum(counts) - counts
    jet_index = (np.arange(key.size, dtype=np.int64) - np.repeat(starts, counts)).astype(np.uint64)
    k1 = _splitmix64(key ^ jet_index)
    k2 = _splitmix64(k1)
    u1 = ((k1 >> _U64(11)).astype(np.float64) + 0.5) * 2.0**-53
    u2 = ((k2 >> _U64(11)).astype(np.float64) + 0.5) * 2.0**-53
    z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)
    return 1.0 + RESOLUTION_WIDTH * z


# ------------------------------------------------------------------------ analysis
def _varied_pt(events, variation: str) -> ak.Array:
    """Jagged float32 jet pT for one jet-pT variation (applied to all jets)."""
    counts = ak.num(events.Jet_pt, axis=1).to_numpy()
    flat = ak.flatten(events.Jet_pt).to_numpy().astype(np.float32)
    if variation == "nominal":
        new = flat
    elif variation == "pt_scale_up":
        new = flat * PT_SCALE  # float32 * float32 -> float32
    elif variation == "pt_res_up":
        factor = resolution_factors(
            events.run.to_numpy(), events.luminosityBlock.to_numpy(), events.event.to_numpy(), counts
        )
        new = (flat.astype(np.float64) * factor).astype(np.float32)
    else:
        raise ValueError(f"unknown jet pT variation {variation!r}")
    assert new.dtype == np.float32
    return ak.unflatten(new, counts)


def _mbjj(pt, eta, phi, mass, isb) -> np.ndarray:
    """m_bjj per event (jagged inputs of the SELECTED jets of 4j2b events)."""
    pt = ak.values_astype(pt, np.float64)
    eta = ak.values_astype(eta, np.float64)
    phi = ak.values_astype(phi, np.float64)
    mass = ak.values_astype(mass, np.float64)
    px = pt * np.cos(phi)
    py = pt * np.sin(phi)
    pz = pt * np.sinh(eta)
    e = np.sqrt(px * px + py * py + pz * pz + mass * mass)
    jets = ak.zip({"px": px, "py": py, "pz": pz, "e": e, "b": isb})
    a, b, c = ak.unzip(ak.combinations(jets, 3))  # i<j<k, lexicographic order
    has_b = a.b | b.b | c.b
    tpx = a.px + b.px + c.px
    tpy = a.py + b.py + c.py
    tpz = a.pz + b.pz + c.pz
    te = a.e + b.e + c.e
    tpt = np.hypot(tpx, tpy)
    keep = has_b
    tpt, tpx, tpy, tpz, te = tpt[keep], tpx[keep], tpy[keep], tpz[keep], te[keep]
    best = ak.argmax(tpt, axis=1, keepdims=True)  # first maximum wins ties
    m2 = te[best] ** 2 - tpx[best] ** 2 - tpy[best] ** 2 - tpz[best] ** 2
    m2 = ak.flatten(m2).to_numpy()
    return np.sqrt(np.maximum(m2, 0.0))


def _analyse(events, pt: ak.Array, numbers: Numbers = SPEC) -> dict:
    """Selection + observables for one jet-pT array (float32 jagged).

    Returns numpy arrays, one entry per event:
      region: 0 (not selected), 1 (4j1b), 2 (4j2b): 1 + the index in ``numbers.regions`` of its first region
      observable: HT (4j1b), m_bjj (4j2b), NaN otherwise (of that region)
      in_region, observables: (n, regions): whether it is in each region, and its observable there
      n_jets, n_btag: selected jets / selected b-tagged jets
      lead_pt: (n, 4) float64, pt of the first four selected jets (stored order), NaN-padded
    """
    n = len(pt)
    # the jet cuts as float32 (the C++ compares float literals), the lepton one as given (the spec's 25)
    lep_min, jet_min = float(numbers.lepton_pt_min), np.float32(numbers.jet_pt_min)
    n_lep = ak.sum(events.Electron_pt > lep_min, axis=1) + ak.sum(events.Muon_pt > lep_min, axis=1)
    jet_sel = pt > jet_min
    isb_all = events.Jet_btagCSVV2 > np.float32(numbers.btag_wp)
    n_jets = ak.sum(jet_sel, axis=1).to_numpy()
    n_btag = ak.sum(jet_sel & isb_all, axis=1).to_numpy()
    n_lep = n_lep.to_numpy()
    base = (n_lep == 1) & (n_jets >= numbers.min_jets) & (n_btag >= 1)
    # every region on its own (a definition's regions may overlap); "region": the first one an event is in
    n_regions = len(numbers.regions)
    in_region = np.zeros((n, n_regions), dtype=bool)
    for k, (_, fewest, most, _) in enumerate(numbers.regions):
        in_region[:, k] = base & (n_btag >= fewest) & ((n_btag <= most) if most is not None else True)
    region = np.where(in_region.any(axis=1), in_region.argmax(axis=1) + 1, 0).astype(np.int8)

    sel_pt = pt[jet_sel]
    observables = np.full((n, n_regions), np.nan)
    for k, (*_, kind) in enumerate(numbers.regions):
        inside = in_region[:, k]
        if not inside.any():
            continue
        if kind == "ht":
            observables[inside, k] = ak.sum(ak.values_astype(sel_pt[inside], np.float64), axis=1).to_numpy()
        else:
            observables[inside, k] = _mbjj(
                sel_pt[inside],
                events.Jet_eta[jet_sel][inside],
                events.Jet_phi[jet_sel][inside],
                events.Jet_mass[jet_sel][inside],
                isb_all[jet_sel][inside],
            )
    observable = np.full(n, np.nan)
    selected = region > 0
    observable[selected] = observables[selected, region[selected] - 1]
    padded = ak.pad_none(ak.values_astype(sel_pt[:, :4], np.float64), 4, axis=1, clip=True)
    lead_pt = ak.to_numpy(ak.fill_none(padded, np.nan)).reshape(n, 4)
    return {
        "region": region,
        "observable": observable,
        "n_jets": n_jets,
        "n_btag": n_btag,
        "lead_pt": lead_pt,
        "in_region": in_region,
        "observables": observables,
    }


def _file_specs(files, tree: str) -> list[dict]:
    specs = []
    for f in files:
        path = f["path"] if isinstance(f, dict) else f
        specs.append({str(path): tree})
    return specs


def _iterate(files, tree: str = "Events", step_size=STEP_SIZE):
    """Yield chunks (awkward record arrays of BRANCHES); empty files yield nothing."""
    for spec in _file_specs(files, tree):
        ((path, name),) = spec.items()
        stat = Path(path).stat() if "://" not in path else None
        if stat is not None and stat.st_size <= CACHE_MAX_BYTES:
            yield from _read_cached(path, name, step_size, stat.st_size, stat.st_mtime_ns)
        else:
            yield from uproot.iterate(spec, BRANCHES, step_size=step_size, library="ak")


CACHE_MAX_BYTES = 64 << 20  # files up to this size are read once per test session (same size and mtime)


@functools.lru_cache(maxsize=32)
def _read_cached(path: str, tree: str, step_size, size: int, mtime_ns: int) -> tuple:
    """The chunks of one file, read once: the tests give one file to many samples, and uproot takes ~1.4 s
    just to list the fields of the real AGC RNTuple file (its reading, not this analysis, is what is cached)."""
    return tuple(uproot.iterate({path: tree}, BRANCHES, step_size=step_size, library="ak"))


def event_observables(files, pt_variation: str = "nominal", tree: str = "Events", numbers: Numbers = SPEC) -> dict:
    """Per-event analysis result (see ``_analyse``) concatenated over all files."""
    parts = [_analyse(ev, _varied_pt(ev, pt_variation), numbers) for ev in _iterate(files, tree)]
    if not parts:
        return {
            "region": np.zeros(0, np.int8),
            "observable": np.zeros(0),
            "n_jets": np.zeros(0, int),
            "n_btag": np.zeros(0, int),
            "lead_pt": np.zeros((0, 4)),
            "in_region": np.zeros((0, len(numbers.regions)), dtype=bool),
            "observables": np.zeros((0, len(numbers.regions))),
        }
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# --------------------------------------------------------------------- histograms
def bin_index(x, numbers: Numbers = SPEC) -> np.ndarray:
    """TH1D bin index with flow: 0 for x < 50, 1..25, 26 for x >= 550 (and NaN)."""
    return np.searchsorted(numbers.edges, np.asarray(x, dtype=np.float64), side="right")


def fill(x, w, numbers: Numbers = SPEC) -> Hist:
    """Histogram of values x with weights w (arrays)."""
    idx = bin_index(x, numbers)
    w = np.broadcast_to(np.asarray(w, dtype=np.float64), idx.shape)
    return Hist(
        np.bincount(idx, weights=w, minlength=numbers.nflow).astype(np.float64),
        np.bincount(idx, weights=w * w, minlength=numbers.nflow).astype(np.float64),
    )


def histogram_name(region: str, process: str, variation: str = "nominal") -> str:
    return f"{region}_{process}" if variation == "nominal" else f"{region}_{process}_{variation}"


def _weight_variations(process: str) -> list[str]:
    names = [f"btag_var_{i}_{d}" for i in range(4) for d in ("up", "down")]
    if process == "wjets":
        names += ["scale_var_up", "scale_var_down"]
    return names


def sample_variation_names(process: str, variation: str) -> list[str]:
    """Suffixes (variation names) of the histograms one sample produces."""
    if variation != "nominal":
        return [variation]
    return ["nominal", "pt_scale_up", "pt_res_up"] + _weight_variations(process)


def sample_histograms(
    files, process: str, variation: str, xsec_weight: float, tree: str = "Events", numbers: Numbers = SPEC
) -> dict[str, Hist]:
    """All histograms of one sample, keyed by AGC name.

    files: paths (or {"path": ...} dicts); xsec_weight: the per-event weight
    (xsec * lumi / nevts_total). Nominal samples get the jet-pT and weight
    variations; other samples only ``{region}_{process}_{variation}``.
    """
    acc = {
        histogram_name(r, process, v): [np.zeros(numbers.nflow), np.zeros(numbers.nflow)]
        for r in numbers.region_names
        for v in sample_variation_names(process, variation)
    }

    def add(name, x, w):
        h = fill(x, w, numbers)
        acc[name][0] += h.sumw
        acc[name][1] += h.sumw2

    pt_variations = JET_PT_VARIATIONS if variation == "nominal" else ("nominal",)
    for events in _iterate(files, tree):
        for ptvar in pt_variations:
            res = _analyse(events, _varied_pt(events, ptvar), numbers)
            for code, region in enumerate(numbers.region_names, start=1):
                mask = res["in_region"][:, code - 1]
                x = res["observables"][mask, code - 1]
                w = np.full(x.size, float(xsec_weight))
                if ptvar != "nominal":
                    add(histogram_name(region, process, ptvar), x, w)
                    continue
                add(histogram_name(region, process, variation), x, w)
                if variation != "nominal":
                    continue
                lead = res["lead_pt"][mask]
                for i in range(4):
                    shift = BTAG_VAR * lead[:, i] / 50.0
                    add(histogram_name(region, process, f"btag_var_{i}_up"), x, w * (1.0 + shift))
                    add(histogram_name(region, process, f"btag_var_{i}_down"), x, w * (1.0 - shift))
                if process == "wjets":
                    for d, f in WJETS_SCALE_VAR.items():
                        add(histogram_name(region, process, f"scale_var_{d}"), x, w * f)
    return {k: Hist(v[0], v[1]) for k, v in acc.items()}


def pseudodata(hists: dict[str, Hist], numbers: Numbers = SPEC) -> dict[str, Hist]:
    """``{region}_pseudodata`` from already computed sample histograms (sumw2 with squared coefficients)."""
    out = {}
    for region in numbers.region_names:
        sumw, sumw2 = np.zeros(numbers.nflow), np.zeros(numbers.nflow)
        for coeff, process, variation in PSEUDODATA:
            h = hists[histogram_name(region, process, variation)]
            sumw = sumw + coeff * h.sumw
            sumw2 = sumw2 + coeff * coeff * h.sumw2
        out[f"{region}_pseudodata"] = Hist(sumw, sumw2)
    return out


def weighted_samples(inputs, n_files: int | None = None, numbers: Numbers = SPEC):
    """(process, variation, files, weight) of every simulated sample of AGC-format inputs (a dict or a JSON path):
    its first ``n_files`` files, each event weighted xsec * 3378 / (sum of their nevts); ``data`` is skipped."""
    xsec, lumi = numbers.xsec, numbers.luminosity
    if not isinstance(inputs, dict):
        inputs = json.loads(Path(inputs).read_text())
    for process, variations in inputs.items():
        if process == "data":
            continue
        if process not in xsec:
            raise KeyError(f"unknown process {process!r} in inputs (known: {sorted(xsec)})")
        for variation, sample in variations.items():
            files = sample["files"][:n_files] if n_files is not None else sample["files"]
            nevts = sum(int(f["nevts"]) for f in files)
            if nevts <= 0:
                raise ValueError(f"{process}/{variation}: nevts_total is {nevts}")
            yield process, variation, files, xsec[process] * lumi / nevts


def all_histograms(
    inputs, n_files: int | None = None, tree: str = "Events", numbers: Numbers = SPEC
) -> dict[str, Hist]:
    """All histograms for AGC-format inputs ({process: {variation: {"files": [{"path", "nevts"}]}}}).

    ``inputs`` is a dict or a path to such a JSON file. The ``data`` process is
    skipped; the first ``n_files`` files of every sample are used and weighted
    with xsec * 3378 / (sum of their nevts). Pseudo-data is added when its three
    components (ttbar ME_var, ttbar PS_var, wjets and single_top_t_chan nominal) are all present.
    """
    out: dict[str, Hist] = {}
    for process, variation, files, weight in weighted_samples(inputs, n_files, numbers):
        out.update(sample_histograms(files, process, variation, weight, tree, numbers))
    have = all(histogram_name(r, p, v) in out for r in numbers.region_names for _, p, v in PSEUDODATA)
    if have:
        out.update(pseudodata(out, numbers))
    return out


def region_stats(files, tree: str = "Events") -> dict:
    """Unweighted region fractions and observable means (over [50, 550)) at nominal pT."""
    res = event_observables(files, "nominal", tree)
    n = res["region"].size
    out = {"events": n}
    for code, region, key in ((1, "4j1b", "mean_ht_4j1b"), (2, "4j2b", "mean_mbjj_4j2b")):
        mask = res["region"] == code
        x = res["observable"][mask]
        x = x[(x >= XMIN) & (x < XMAX)]
        out[f"n_{region}"] = int(mask.sum())
        out[f"frac_{region}"] = float(mask.sum()) / n if n else float("nan")
        out[key] = float(x.mean()) if x.size else float("nan")
    return out


# ------------------------------------------------------------------ reading & compare
def read_root_histograms(path) -> dict[str, Hist]:
    """All TH1 of a ROOT file (recursive; names without cycle; subdirectories as 'dir/name')."""
    out = {}
    with uproot.open(path) as f:
        for key, classname in f.classnames(recursive=True, cycle=False).items():
            if classname.startswith("TH1"):
                h = f[key]
                out[key] = Hist(
                    np.asarray(h.values(flow=True), dtype=np.float64),
                    np.asarray(h.variances(flow=True), dtype=np.float64),
                )
    return out


def read_json_histograms(path) -> dict[str, Hist]:
    """AGC reference JSON ({name: {"contents": [27 values incl. flow], "edges": [...]}}); sumw2 is None."""
    data = json.loads(Path(path).read_text())
    return {name: Hist(np.asarray(h["contents"], dtype=np.float64), None) for name, h in data.items()}


def compare(
    actual: dict,
    expected: dict,
    rtol: float = 1e-6,
    atol: float | None = None,
    atol_factor: float = 1e-9,
    max_bins: int = 5,
    allow_extra: bool = False,
) -> list[str]:
    """Human-readable mismatches between two {name: Hist} dicts (empty list: agreement).

    Bins agree if |a - e| <= atol + rtol * |e|, with atol (unless given) =
    atol_factor * max(|content|) over both histograms for that quantity, so that
    empty bins must be (nearly) exactly empty. sumw2 is skipped where either side is None.
    """
    msgs = []
    for name in sorted(set(expected) - set(actual)):
        msgs.append(f"missing histogram {name}")
    if not allow_extra:
        for name in sorted(set(actual) - set(expected)):
            msgs.append(f"unexpected histogram {name}")
    for name in sorted(set(actual) & set(expected)):
        a_hist, e_hist = actual[name], expected[name]
        for field in ("sumw", "sumw2"):
            a, e = getattr(a_hist, field), getattr(e_hist, field)
            if a is None or e is None:
                continue
            a, e = np.asarray(a, dtype=np.float64), np.asarray(e, dtype=np.float64)
            if a.shape != e.shape:
                msgs.append(f"{name} {field}: shape {a.shape} != expected {e.shape}")
                continue
            scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(e), initial=0.0))
            tol = atol if atol is not None else atol_factor * scale
            bad = np.flatnonzero(~np.isclose(a, e, rtol=rtol, atol=tol))
            for i in bad[:max_bins]:
                rel = abs(a[i] - e[i]) / abs(e[i]) if e[i] else float("inf")
                msgs.append(f"{name} {field} bin {i}: actual {a[i]!r} expected {e[i]!r} (rel diff {rel:.3g})")
            if bad.size > max_bins:
                msgs.append(f"{name} {field}: ... and {bad.size - max_bins} more mismatching bins")
    return msgs
