"""``router bench quality``: the router against baselines and the oracle, on identical markets.

For every scenario and seed each strategy gets a fresh simulated world built the way
``router simulate`` builds it (loopback venues, unmodified ccxt, the scenario clock
restarted at the close's decision instant), so all of them face the same market. The
oracle reads the books at the decision instant first; its consolidated mid is the
arrival mid every strategy of that (scenario, seed) is measured against.

Scenarios slower than ``min_speed`` (``calm`` runs at 1x) are run at ``min_speed`` for
every strategy, so that a five-minute TWAP does not take five minutes of wall time.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from router.bench.quality_metrics import (
    ZERO,
    Execution,
    Metrics,
    Reference,
    measure,
    median_metrics,
    metrics_json,
)
from router.bench.quality_oracle import Oracle
from router.bench.quality_strategies import (
    BenchCase,
    EqualSplit,
    MarketDump,
    RouterStrategy,
    Strategy,
    Twap,
)
from router.config import load_policy
from router.core.policy import Policy, PolicyError
from router.engine.simulate import open_world, scenario_request
from router.sim.market import MarketModel
from router.sim.scenario import Scenario, ScenarioError, load_scenario

DEFAULT_SCENARIOS = ("calm", "black-thursday-2020", "ftx-2022", "exhaustion", "venue-outage")
STRATEGIES = ("router", "market_dump", "equal_split", "twap5", "oracle")
DEFAULT_MIN_SPEED = Decimal(10)

StepHook = Callable[[str, int, str], None]
"""Called with (scenario, seed, strategy) after each run."""


@dataclass(frozen=True)
class ScenarioQuality:
    name: str
    medians: dict[str, Metrics]
    """Per strategy, each metric's median over the seeds."""
    runs: dict[str, list[Metrics]]
    references: list[Reference]


@dataclass(frozen=True)
class QualityReport:
    scenarios: dict[str, ScenarioQuality]
    seeds: int
    elapsed_s: float

    def as_json(self) -> dict[str, Any]:
        return {
            "scenarios": {
                name: {s: metrics_json(m) for s, m in quality.medians.items()}
                for name, quality in self.scenarios.items()
            }
        }


def bench_scenario(
    scenario: Scenario, min_speed: Decimal, speed: Decimal | None = None
) -> Scenario:
    """The scenario as benched: at ``speed`` when given, else at least ``min_speed``.

    Network latency is real wall time, so at speed S every wall second of a strategy's
    round trips costs S scenario seconds of market movement: a lower speed is closer to
    live trading, a higher one penalises strategies that make more round trips.
    """
    if scenario.close.side != "sell":
        raise ScenarioError(f"{scenario.name}: the quality bench compares sell closes only")
    if speed is not None:
        return scenario.model_copy(update={"speed": speed})
    if scenario.speed >= min_speed:
        return scenario
    return scenario.model_copy(update={"speed": min_speed})


def requested_quantity(scenario: Scenario) -> Decimal:
    """The close's quantity; ``all`` is the sum of the venues' balances of the base asset."""
    if scenario.close.quantity != "all":
        return Decimal(scenario.close.quantity)
    return sum((v.balances.get(scenario.base_asset, ZERO) for v in scenario.venues), ZERO)


def window_s(scenario: Scenario) -> Decimal:
    """The escape window: the close's deadline, else until the scenario ends."""
    if scenario.close.deadline_s is not None:
        return scenario.close.deadline_s
    return max(scenario.duration_s - scenario.close.at_s, Decimal(1))


def end_price(scenario: Scenario, seed: int) -> Decimal:
    """The world's spot price (no venue offset, no impact) when the escape window closes."""
    model = MarketModel(scenario, scenario.venues[0], "spot", seed)
    return model.world_mid(scenario.close.at_s + window_s(scenario))


async def run_case(scenario: Scenario, seed: int, strategy: Strategy) -> Execution:
    """One strategy in a fresh world of ``scenario`` and ``seed``."""
    async with AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        world = await open_world(stack, scenario, seed=seed, tls_dir=workdir / "tls")
        key = f"bench-{scenario.name}-{seed}-{uuid.uuid4().hex[:8]}"
        case = BenchCase(
            scenario=scenario,
            seed=seed,
            request=scenario_request(scenario, key=key),
            requested=requested_quantity(scenario),
            window_s=window_s(scenario),
            workdir=workdir,
        )
        return await strategy.execute(world, case)


async def run_seed(
    scenario: Scenario, seed: int, policy: Policy, on_step: StepHook | None = None
) -> tuple[Reference, dict[str, Metrics]]:
    oracle = Oracle()
    oracle_run = await run_case(scenario, seed, oracle)
    if on_step is not None:
        on_step(scenario.name, seed, oracle.name)
    mid = oracle.decision.arrival_mid() if oracle.decision is not None else None
    if mid is None:
        raise RuntimeError(f"{scenario.name} seed {seed}: no consolidated mid at the decision")
    reference = Reference(
        side="sell",
        requested=requested_quantity(scenario),
        arrival_mid=mid,
        end_price=end_price(scenario, seed),
    )
    results = {oracle.name: measure(oracle_run, reference)}
    others: list[Strategy] = [RouterStrategy(policy), MarketDump(), EqualSplit(), Twap()]
    for strategy in others:
        execution = await run_case(scenario, seed, strategy)
        results[strategy.name] = measure(execution, reference)
        if on_step is not None:
            on_step(scenario.name, seed, strategy.name)
    return reference, {name: results[name] for name in STRATEGIES}


async def run_quality(
    scenarios: Sequence[str] = DEFAULT_SCENARIOS,
    seeds: int = 3,
    *,
    policy: Policy | None = None,
    min_speed: Decimal = DEFAULT_MIN_SPEED,
    on_step: StepHook | None = None,
    speed: Decimal | None = None,
) -> QualityReport:
    """Run the bench; scenarios are names or TOML files (see ``load_scenario``)."""
    if seeds < 1:
        raise ValueError("at least one seed")
    began = time.monotonic()
    chosen = policy or load_policy()
    loaded = [bench_scenario(load_scenario(s), min_speed, speed) for s in scenarios]
    report: dict[str, ScenarioQuality] = {}
    for scenario in loaded:
        runs: dict[str, list[Metrics]] = {name: [] for name in STRATEGIES}
        references: list[Reference] = []
        for seed in range(seeds):
            reference, metrics = await run_seed(scenario, seed, chosen, on_step)
            references.append(reference)
            for name, value in metrics.items():
                runs[name].append(value)
        medians = {name: median_metrics(values) for name, values in runs.items()}
        report[scenario.name] = ScenarioQuality(scenario.name, medians, runs, references)
    return QualityReport(report, seeds, time.monotonic() - began)


def quality_results(
    scenarios: Sequence[str] = DEFAULT_SCENARIOS,
    seeds: int = 3,
    *,
    policy: Policy | None = None,
    min_speed: Decimal = DEFAULT_MIN_SPEED,
    speed: Decimal | None = None,
) -> QualityReport:
    """:func:`run_quality` from synchronous code (a docs generator, a notebook)."""
    return asyncio.run(
        run_quality(scenarios, seeds, policy=policy, min_speed=min_speed, speed=speed)
    )


def _number(value: Decimal, places: int) -> str:
    return f"{value:,.{places}f}"


def render_quality(report: QualityReport, console: Console) -> None:
    """A table per scenario, one row per strategy, medians over the seeds."""
    for name, quality in report.scenarios.items():
        mids = ", ".join(_number(r.arrival_mid, 2) for r in quality.references)
        table = Table(
            title=f"{name}: medians over {report.seeds} seed(s)",
            caption=f"arrival mid per seed: {mids}",
        )
        table.add_column("strategy")
        for header in (
            "shortfall bps",
            "exited",
            "time to exit s",
            "stranded",
            "hedge notional",
            "orders",
            "venues",
        ):
            table.add_column(header, justify="right")
        for strategy, m in quality.medians.items():
            table.add_row(
                strategy,
                _number(m.shortfall_bps, 1),
                f"{m.exited_fraction:.1%}",
                _number(m.time_to_exit_s, 1),
                format(m.stranded.normalize(), "f") if m.stranded else "0",
                _number(m.hedge_notional, 0),
                format(m.orders.normalize(), "f"),
                format(m.venues_used.normalize(), "f"),
            )
        console.print(table)
    console.print(f"{report.seeds} seed(s), {report.elapsed_s:,.0f} s of wall time")


def quality_command(
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            help="Scenario name from config/scenarios or a TOML file; repeatable "
            "(default: calm, black-thursday-2020, ftx-2022, exhaustion, venue-outage).",
        ),
    ] = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Seeds 0..N-1 per scenario.")] = 3,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the medians as JSON (numbers are floats).")
    ] = False,
    min_speed: Annotated[
        float,
        typer.Option("--min-speed", min=1, help="Run slower scenarios at this speed."),
    ] = float(DEFAULT_MIN_SPEED),
    speed: Annotated[
        float | None,
        typer.Option(
            "--speed",
            min=1,
            help="Run every scenario at this speed (scenario seconds per wall second); "
            "lower is closer to live, as latency stays real.",
        ),
    ] = None,
) -> None:
    """Execution quality: router vs market dump, equal split, TWAP and the oracle."""
    names = scenario or list(DEFAULT_SCENARIOS)
    console = Console()
    show = console.is_terminal and not as_json
    with ExitStack() as stack:
        on_step: StepHook | None = None
        if show:
            progress = stack.enter_context(
                Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[last]}"),
                    console=console,
                    transient=True,
                )
            )
        try:
            if show:
                per = seeds * len(STRATEGIES)
                tasks = {
                    load_scenario(n).name: progress.add_task(n, total=per, last="") for n in names
                }

                def on_step(name: str, seed: int, strategy: str) -> None:
                    progress.update(tasks[name], advance=1, last=f"seed {seed}: {strategy}")

            report = asyncio.run(
                run_quality(
                    names,
                    seeds,
                    policy=load_policy(),
                    min_speed=Decimal(repr(min_speed)),
                    on_step=on_step,
                    speed=None if speed is None else Decimal(repr(speed)),
                )
            )
        except (ScenarioError, PolicyError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(report.as_json()))
        return
    render_quality(report, console)
