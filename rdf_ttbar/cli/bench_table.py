"""``bench``'s report: the table of the best runs, the ratios, the format comparison, and too-short loops."""

from __future__ import annotations

IO_PERCENT = "analysis"  # io_only.ANALYSIS: the I/O-only mode the analysis is compared with (bench.IO_PERCENT)
MIN_LOOP_S = 1.0  # event loops shorter than this measure start-up noise more than the loop


def mode_key(io_percent) -> str:
    return "analysis" if io_percent is None else f"io_only_{io_percent}"


def mode_label(io_percent) -> str:
    if io_percent is None:
        return "analysis"
    return "I/O only, its cols" if io_percent == IO_PERCENT else f"I/O only {io_percent}%"


def short_loops(result: dict) -> list[float]:
    """The best event-loop times under ``MIN_LOOP_S`` (their rates are mostly noise)."""
    loops = [b["event_loop_s"] for by_mt in result["best"].values() for b in by_mt.values()]
    return sorted(t for t in loops if t < MIN_LOOP_S)


def compare_formats(result: dict, other: dict, fmt: str) -> dict:
    """``other`` (the set in format ``fmt``) against ``result``: rates per thread count and bytes on disk."""
    io = mode_key(IO_PERCENT)
    rates = {
        key: {
            mt: other["best"][key][mt]["event_rate_hz"] / result["best"][key][mt]["event_rate_hz"]
            for mt in other["best"][key]
        }
        for key in ("analysis", io)
    }
    return {
        "format": fmt,
        "rate_ratio": rates,
        "bytes_on_disk_ratio": other["inputs"]["bytes_on_disk"] / result["inputs"]["bytes_on_disk"],
    }


def format_table(result: dict) -> str:
    head = (
        f"{'mode':<18} {'thr':>3} {'set-up':>7} {'jitting':>7} {'to 1st ev':>9} {'loop':>7} "
        f"{'events/s':>11} {'per core':>10} {'MB read':>8} {'peak MB':>8}"
    )
    lines = [head, "-" * len(head)]

    def row(label, r):
        mb = f"{r['bytes_read'] / 1e6:8,.0f}" if r["bytes_read"] is not None else f"{'-':>8}"
        return (
            f"{label:<18} {r['mt']:>3} {r['setup_s']:6.2f}s {r['jitting_s']:6.2f}s {r['startup_s']:8.2f}s "
            f"{r['event_loop_s']:6.2f}s {r['event_rate_hz']:11,.0f} {r['event_rate_per_core_hz']:10,.0f} "
            f"{mb} {r['peak_rss_mb']:8,.0f}"
        )

    for mt in result["mt"]:
        for key, by_mt in result["best"].items():
            r = by_mt[str(mt)]
            lines.append(row(mode_label(r["io_percent"]), r))
    cold = result["cold"]
    lines.append(row("analysis (cold)", cold))
    lines.append("")
    ratio = result["ratios"]
    for mt, value in ratio["analysis_over_io_only"].items():
        each = ratio.get("analysis_over_io_only_per_repetition", {}).get(mt, [])
        spread = f" (within each repetition: {', '.join(f'{x:.3f}' for x in each)})" if len(each) > 1 else ""
        lines.append(f"analysis / I/O-only of its columns, event rate, {mt} thread(s): {value:.3f}{spread}")
    for key, by_mt in ratio["scaling_over_1_thread"].items():
        for mt, value in by_mt.items():
            if mt != "1":
                lines.append(
                    f"{mode_label(result['best'][key][mt]['io_percent'])}: {mt} threads / 1 thread: {value:.2f}x"
                )
    if ratio["cold_over_warm_startup"]:
        lines.append(
            f"start-up cold / warm ({cold['mt']} thread(s)): {cold['startup_s']:.2f} s / "
            f"{result['best']['analysis'][str(cold['mt'])]['startup_s']:.2f} s = "
            f"{ratio['cold_over_warm_startup']:.2f}x"
        )
    lines.append(
        f"(set-up includes {result['interpreter_start_s']:.3f} s of interpreter start; best of "
        f"{result['repeat']} run(s) each; peak MB: maximum resident set size of the process)"
    )
    if result["short_loops_s"]:
        lines.append(
            f"note: {len(result['short_loops_s'])} event loop(s) took under {MIN_LOOP_S:g} s (shortest "
            f"{result['short_loops_s'][0]:.2f} s): this set is too small to measure rates; use a larger one "
            "(--events-per-sample)"
        )
    for fmt, c in result.get("formats", {}).items():
        lines += [
            "",
            f"{fmt} / {result['format']}, the same events: bytes on disk "
            f"{c['inputs']['bytes_on_disk'] / 1e6:,.0f} MB / {result['inputs']['bytes_on_disk'] / 1e6:,.0f} MB "
            f"= {c['comparison']['bytes_on_disk_ratio']:.2f}",
        ]
        for key, by_mt in c["comparison"]["rate_ratio"].items():
            for mt, value in by_mt.items():
                b = c["best"][key][mt]
                lines.append(
                    f"  {mode_label(b['io_percent']):<18} {mt} thread(s): {b['event_rate_hz']:11,.0f} "
                    f"events/s, {value:.2f}x the {result['format']} rate"
                )
        if c["short_loops_s"]:
            lines.append(f"  note: {fmt} loops under {MIN_LOOP_S:g} s: too small to measure")
    return "\n".join(lines)
