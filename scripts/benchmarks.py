"""Regenerate docs/benchmarks.md (and its plot) from one run of both benchmarks.

    .venv/bin/python scripts/benchmarks.py [--seeds 3] [--speed 10] [--quick]

Runs ``router bench quality`` (every default scenario, router against the baselines and
the oracle) and ``router bench speed``, then writes the tables, the machine they ran on
and a plot of shortfall by strategy per scenario (docs/images/shortfall.png).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from router.bench.quality import DEFAULT_SCENARIOS, STRATEGIES, QualityReport, quality_results
from router.bench.speed import Figure, measure

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "images" / "shortfall.png"


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, ccxt {version('ccxt')}, "
        f"SQLAlchemy {version('sqlalchemy')}; commit {commit or 'unknown'}"
    )


def _quality_table(report: QualityReport) -> list[str]:
    lines = [
        "| scenario | strategy | shortfall bps | exited | time to exit s | stranded "
        "| hedge notional | orders | venues |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, quality in report.scenarios.items():
        for strategy, m in quality.medians.items():
            lines.append(
                f"| {name} | {strategy} | {m.shortfall_bps:,.1f} | {m.exited_fraction:.1%} "
                f"| {m.time_to_exit_s:,.1f} | {m.stranded.normalize():f} "
                f"| {m.hedge_notional:,.0f} | {m.orders} | {m.venues_used} |"
            )
    return lines


def _verdicts(report: QualityReport) -> list[str]:
    """Each target, met or missed and by how much."""
    lines = []
    for name, quality in report.scenarios.items():
        router = quality.medians["router"]
        oracle = quality.medians["oracle"]
        baselines = {s: m for s, m in quality.medians.items() if s not in ("router", "oracle")}
        best_name, best = min(baselines.items(), key=lambda item: item[1].shortfall_bps)
        if name == "calm":
            bound = max(oracle.shortfall_bps, Decimal(0)) * Decimal("1.10")
            met = router.shortfall_bps <= bound
            lines.append(
                f"- **{name}**: router {router.shortfall_bps:.1f} bps vs oracle "
                f"{oracle.shortfall_bps:.1f} bps (target at most 1.10 x oracle): "
                f"{'met' if met else 'missed'}."
            )
            continue
        if best.shortfall_bps > 0:
            gain = (best.shortfall_bps - router.shortfall_bps) / best.shortfall_bps
            gain_text = f"{gain:+.0%} against the best baseline ({best_name})"
        else:
            gain = Decimal(-1)
            gain_text = f"best baseline ({best_name}) at {best.shortfall_bps:.1f} bps"
        met = gain >= Decimal("0.3") and router.exited_fraction >= 1
        lines.append(
            f"- **{name}**: router {router.shortfall_bps:,.1f} bps, {gain_text}; "
            f"{router.exited_fraction:.0%} out in the window (target: 30% lower and 100% out): "
            f"{'met' if met else 'missed'}."
        )
    return lines


def _speed_table(figures: list[Figure]) -> list[str]:
    lines = ["| what | figure | target |", "|---|---:|---|"]
    for f in figures:
        lines.append(f"| {f.what} | {f.value:,} {f.unit} | {f.target} |")
    return lines


def _plot(report: QualityReport) -> None:
    names = list(report.scenarios)
    strategies = list(STRATEGIES)
    width = 0.8 / len(strategies)
    figure, axis = plt.subplots(figsize=(11, 4.8))
    for index, strategy in enumerate(strategies):
        values = [float(report.scenarios[n].medians[strategy].shortfall_bps) for n in names]
        offsets = [i + (index - (len(strategies) - 1) / 2) * width for i in range(len(names))]
        axis.bar(offsets, values, width, label=strategy)
    axis.set_xticks(range(len(names)), names)
    axis.set_ylabel("implementation shortfall vs arrival mid (bps, median)")
    axis.set_title(f"shortfall by strategy per scenario ({report.seeds} seeds; lower is better)")
    axis.axhline(0, color="black", linewidth=0.6)
    axis.legend(ncols=len(strategies), fontsize="small")
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--speed", type=str, default="10")
    parser.add_argument("--quick", action="store_true", help="small samples, one seed")
    args = parser.parse_args()
    seeds = 1 if args.quick else args.seeds
    speed = Decimal(args.speed)
    print(f"quality: {len(DEFAULT_SCENARIOS)} scenarios x {seeds} seeds ...", file=sys.stderr)
    report = quality_results(DEFAULT_SCENARIOS, seeds, speed=speed)
    print("speed ...", file=sys.stderr)
    figures = measure(quick=args.quick)
    _plot(report)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = [
        "# Benchmarks",
        "",
        f"Generated by `scripts/benchmarks.py` on {when}.",
        "",
        f"Machine: {_machine()}.",
        "",
        "## Execution quality",
        "",
        f"`router bench quality --seeds {seeds} --speed {speed}`: every strategy on an",
        "identical simulated market per (scenario, seed), medians over the seeds. Shortfall is",
        "Perold's implementation shortfall against the arrival mid (the consolidated mid at",
        "the decision instant); a hedged quantity counts as exited at its hedge fill price;",
        "quantity never exited is charged at the scenario's price when the escape window",
        "closes. The oracle is the lot-aware consolidated sweep of the decision-time books",
        "(no impact, no latency): a bound for a strategy trading at once, though a later",
        "trade can beat it when the price moves its way. Scenarios run at speed",
        f"{speed} (scenario seconds per wall second): network latency is real, so each wall",
        f"second of round trips costs {speed} seconds of market movement.",
        "",
        *_quality_table(report),
        "",
        f"({report.elapsed_s:,.0f} s of wall time.)",
        "",
        "![shortfall by strategy per scenario](images/shortfall.png)",
        "",
        "### Targets",
        "",
        *_verdicts(report),
        "",
        "## Speed",
        "",
        "`router bench speed`:",
        "",
        *_speed_table(figures),
        "",
    ]
    DOC.write_text("\n".join(text), encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
