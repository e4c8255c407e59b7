"""``router bench quality``: the metric math on hand-made executions, and one real run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from router.bench.quality import end_price, requested_quantity, window_s
from router.bench.quality_metrics import (
    METRIC_NAMES,
    ExecFill,
    Execution,
    Metrics,
    Reference,
    exited_fraction,
    measure,
    median_metrics,
    metrics_json,
    shortfall_bps,
    stranded,
)
from router.bench.quality_strategies import equal_shares
from router.sim.scenario import load_scenario, resolve_scenario_path

D = Decimal
BOUND_SLACK_BPS = 0.5
"""The oracle sweeps the decision instant's books; a strategy trading seconds later meets
books with other noise and partly refilled levels, worth a fraction of a bps in calm."""
SELL = Reference(side="sell", requested=D(10), arrival_mid=D(100), end_price=D(90))


def partly_out() -> Execution:
    """6 sold (4 @ 99, 2 @ 98), 3 hedged at 97, 1 never out."""
    return Execution(
        strategy="hand",
        fills=(
            ExecFill("alpha", D(4), D(99), D(1)),
            ExecFill("bravo", D(2), D(98), D(2)),
        ),
        hedged=D(3),
        hedge_notional=D(291),
        orders=5,
        venues_used=frozenset({"alpha", "bravo", "charlie"}),
        time_to_exit_s=D(30),
    )


def test_shortfall_counts_fills_the_hedge_price_and_the_stranded_rest_at_the_end_price() -> None:
    # (4*99 + 2*98 + 3*97 + 1*90) / 10 = 97.3 -> (100 - 97.3) / 100 = 270 bps
    assert shortfall_bps(partly_out(), SELL) == D(270)


def test_doing_nothing_is_charged_the_market_move_to_the_end_of_the_window() -> None:
    idle = Execution(strategy="idle", time_to_exit_s=D(600))
    assert shortfall_bps(idle, SELL) == D(1000)
    assert exited_fraction(idle, D(10)) == 0
    assert stranded(idle, D(10)) == D(10)


def test_a_buy_is_charged_for_paying_above_the_mid() -> None:
    bought = Execution(strategy="buy", fills=(ExecFill("alpha", D(10), D(101), D(0)),))
    reference = Reference(side="buy", requested=D(10), arrival_mid=D(100), end_price=D(120))
    assert shortfall_bps(bought, reference) == D(100)


def test_selling_above_the_arrival_mid_is_a_negative_shortfall() -> None:
    lucky = Execution(strategy="lucky", fills=(ExecFill("alpha", D(10), D(101), D(0)),))
    assert shortfall_bps(lucky, SELL) == D(-100)


def test_exited_fraction_and_stranded_count_sold_plus_hedged() -> None:
    execution = partly_out()
    assert exited_fraction(execution, D(10)) == D("0.9")
    assert stranded(execution, D(10)) == D(1)
    assert exited_fraction(execution, D(8)) == 1
    assert stranded(execution, D(8)) == 0


def test_measure_reports_every_metric() -> None:
    metrics = measure(partly_out(), SELL)
    assert metrics == Metrics(
        shortfall_bps=D(270),
        exited_fraction=D("0.9"),
        time_to_exit_s=D(30),
        stranded=D(1),
        orders=D(5),
        hedge_notional=D(291),
        venues_used=D(3),
    )


def _metrics(value: int) -> Metrics:
    return Metrics(*(D(value) for _ in METRIC_NAMES))


def test_medians_take_the_middle_run_or_the_mean_of_the_middle_two() -> None:
    assert median_metrics([_metrics(5), _metrics(1), _metrics(3)]) == _metrics(3)
    even = median_metrics([_metrics(1), _metrics(4), _metrics(2), _metrics(10)])
    assert even.shortfall_bps == D(3)
    assert even.orders == D(3)
    with pytest.raises(ValueError, match="no runs"):
        median_metrics([])


def test_metrics_json_has_float_numbers_under_the_documented_names() -> None:
    shown = metrics_json(measure(partly_out(), SELL))
    assert list(shown) == list(METRIC_NAMES)
    assert all(isinstance(v, float) for v in shown.values())
    assert shown["shortfall_bps"] == 270.0
    assert shown["exited_fraction"] == 0.9


def test_equal_split_is_capped_by_what_each_venue_holds() -> None:
    held = {"alpha": D(8), "bravo": D(5), "charlie": D(3), "delta": D(0)}
    shares = equal_shares(D(15), held)
    assert shares == {"alpha": D(5), "bravo": D(5), "charlie": D(3)}
    assert equal_shares(D(0), held) == {}


def test_the_reference_of_a_scenario_is_its_balances_window_and_path() -> None:
    scenario = load_scenario("black-thursday-2020")
    assert requested_quantity(scenario) == D(13)
    assert window_s(scenario) == D(600)
    assert end_price(scenario, 0) == end_price(scenario, 0) > 0
    calm = load_scenario("calm")
    assert window_s(calm) == calm.duration_s


def still_calm(directory: Path) -> Path:
    """calm with its random walk switched off, as a scenario file.

    The oracle bounds what could be had from the decision instant's books; a strategy
    that sells later under a random-walk mid can beat it by the market's move alone.
    With a still mid the bound holds up to book noise.
    """
    text = load_scenario_text("calm")
    still = text.replace('volatility_per_sqrt_hour = "0.005"', 'volatility_per_sqrt_hour = "0"')
    assert still != text
    path = directory / "calm.toml"
    path.write_text(still, encoding="utf-8")
    return path


def load_scenario_text(name: str) -> str:
    return resolve_scenario_path(name).read_text(encoding="utf-8")


def test_calm_bench_runs_every_strategy_and_the_router_gets_out(tmp_path: Path) -> None:
    """One seed of (still) calm through the real CLI; stdout is exactly one JSON document."""
    scenario = str(still_calm(tmp_path))
    command = ["bench", "quality", "--scenario", scenario, "--seeds", "1", "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "router.cli", *command],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TTY_COMPATIBLE": "1"},
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    strategies = answer["scenarios"]["calm"]
    assert set(answer) == {"scenarios"}
    assert set(answer["scenarios"]) == {"calm"}
    assert set(strategies) == {"router", "market_dump", "equal_split", "twap5", "oracle"}
    for metrics in strategies.values():
        assert list(metrics) == list(METRIC_NAMES)
        assert all(isinstance(v, float) for v in metrics.values())
    assert strategies["router"]["exited_fraction"] == 1.0
    assert strategies["router"]["stranded"] == 0.0
    assert strategies["oracle"]["orders"] == 0.0
    assert strategies["oracle"]["time_to_exit_s"] == 0.0
    oracle = strategies["oracle"]["shortfall_bps"]
    for name in ("router", "market_dump", "equal_split", "twap5"):
        assert oracle <= strategies[name]["shortfall_bps"] + BOUND_SLACK_BPS, name
