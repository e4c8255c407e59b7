"""The circuit breaker: when it opens, how long it stays open, and its single probe."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.venues.health import BreakerPolicy, CircuitBreaker, CircuitChange, CircuitState
from router.venues.model import FailureKind

CLOSED, OPEN, HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN


class Clock:
    def __init__(self) -> None:
        self.t = Decimal(0)

    def __call__(self) -> Decimal:
        return self.t

    def advance(self, seconds: float | int | str) -> None:
        self.t += Decimal(str(seconds))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(clock, venue="alpha")


def _moves(changes: list[CircuitChange]) -> list[tuple[CircuitState, CircuitState]]:
    return [(c.old, c.new) for c in changes]


def test_opens_after_five_consecutive_failures(breaker: CircuitBreaker, clock: Clock) -> None:
    for _ in range(4):
        breaker.record_failure("error", "HTTP 500")
        assert breaker.allow()
    breaker.record_success()
    for _ in range(4):
        breaker.record_failure("timeout")
    assert breaker.state is CLOSED
    breaker.record_failure("timeout")
    assert breaker.state is OPEN
    assert not breaker.allow()
    assert breaker.open_until == Decimal(30)
    assert breaker.last_error == "timeout"
    [change] = breaker.changes()
    assert (change.old, change.new) == (CLOSED, OPEN)
    assert "5 consecutive failures" in change.reason
    assert breaker.changes() == []


def test_outage_opens_at_once(breaker: CircuitBreaker) -> None:
    breaker.record_failure("outage", "HTTP 503")
    assert breaker.state is OPEN
    assert breaker.last_error == "outage: HTTP 503"
    assert not breaker.allow()


def test_rate_limit_storm_opens(breaker: CircuitBreaker, clock: Clock) -> None:
    breaker.record_failure("rate_limit")
    clock.advance(11)
    breaker.record_failure("rate_limit")
    breaker.record_success()
    clock.advance(5)
    assert breaker.state is CLOSED
    breaker.record_failure("rate_limit")
    assert breaker.state is CLOSED
    clock.advance(4)
    breaker.record_failure("rate_limit")
    assert breaker.state is OPEN
    assert "rate-limit storm: 3 within 10 s" in breaker.changes()[0].reason


def test_retry_after_lengthens_the_cooldown(breaker: CircuitBreaker, clock: Clock) -> None:
    breaker.record_failure("outage", retry_after_s=120)
    assert breaker.open_until == Decimal(120)
    breaker.record_failure("rate_limit", "418", retry_after_s=300.5)
    assert breaker.open_until == Decimal("300.5")


def test_half_open_allows_exactly_one_probe(breaker: CircuitBreaker, clock: Clock) -> None:
    breaker.record_failure("outage")
    clock.advance("29.999")
    assert not breaker.allow()
    clock.advance("0.001")
    assert breaker.state is HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()
    assert not breaker.allow()
    breaker.record_success()
    assert breaker.state is CLOSED
    assert breaker.allow()
    assert _moves(breaker.changes()) == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]


def test_failed_probe_reopens_with_a_doubled_cooldown_up_to_the_cap(clock: Clock) -> None:
    policy = BreakerPolicy(cooldown_s=Decimal(30), max_cooldown_s=Decimal(100))
    breaker = CircuitBreaker(clock, policy)
    breaker.record_failure("outage")
    cooldowns = []
    for _ in range(4):
        opened_at = clock.t
        until = breaker.open_until
        assert until is not None
        cooldowns.append(until - opened_at)
        clock.t = until
        assert breaker.allow()
        breaker.record_failure("timeout")
        assert breaker.state is OPEN
    assert cooldowns == [30, 60, 100, 100]


def test_cooldown_resets_after_a_calm_period(clock: Clock) -> None:
    breaker = CircuitBreaker(clock, BreakerPolicy(calm_s=Decimal(300)))
    breaker.record_failure("outage")
    clock.advance(30)
    assert breaker.allow()
    breaker.record_success()
    clock.advance(10)
    breaker.record_failure("outage")
    assert breaker.open_until == clock.t + 60
    clock.advance(60)
    assert breaker.allow()
    breaker.record_success()
    clock.advance(301)
    breaker.record_failure("outage")
    assert breaker.open_until == clock.t + 30


def test_an_unanswered_probe_counts_as_failed(breaker: CircuitBreaker, clock: Clock) -> None:
    breaker.record_failure("outage")
    clock.advance(30)
    assert breaker.allow()
    clock.advance(29)
    assert not breaker.allow()
    clock.advance(1)
    assert breaker.state is OPEN
    assert breaker.last_error == "probe unanswered"
    assert _moves(breaker.changes())[-1] == (HALF_OPEN, OPEN)


def test_late_answers_while_open_change_nothing(breaker: CircuitBreaker, clock: Clock) -> None:
    breaker.record_failure("outage")
    breaker.record_success()
    breaker.record_failure("error")
    assert breaker.state is OPEN
    assert breaker.open_until == Decimal(30)


def test_float_clock(clock: Clock) -> None:
    seconds = [0.0]
    breaker = CircuitBreaker(lambda: seconds[0])
    breaker.record_failure("outage")
    seconds[0] = 29.5
    assert not breaker.allow()
    seconds[0] = 30.25
    assert breaker.allow()


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="cooldown"):
        BreakerPolicy(cooldown_s=Decimal(60), max_cooldown_s=Decimal(30))
    with pytest.raises(ValueError, match="at least 1"):
        BreakerPolicy(failure_threshold=0)


KINDS: list[FailureKind] = ["outage", "rate_limit", "timeout", "error"]
EVENTS = st.one_of(
    st.tuples(
        st.just("advance"),
        st.one_of(
            st.decimals(min_value=0, max_value=120, places=2),
            st.sampled_from([Decimal("0.01"), Decimal(1), Decimal(29), Decimal("29.99")]),
        ),
    ),
    st.tuples(st.just("allow"), st.none()),
    st.tuples(st.just("success"), st.none()),
    st.tuples(st.just("failure"), st.sampled_from(KINDS)),
)


@settings(max_examples=300)
@given(st.lists(EVENTS, max_size=80))
def test_never_allows_while_cooling_down_and_probes_once(
    events: list[tuple[str, object]],
) -> None:
    clock = Clock()
    breaker = CircuitBreaker(clock)
    minimum = breaker.policy.cooldown_s
    opened_at: Decimal | None = None
    cooling_until: Decimal | None = None
    probes_this_half_open = 0
    for action, arg in events:
        allowed = False
        if action == "advance":
            assert isinstance(arg, Decimal)
            clock.t += arg
        elif action == "allow":
            allowed = breaker.allow()
            if cooling_until is not None and clock.t < cooling_until:
                assert not allowed
            if opened_at is not None and clock.t < opened_at + minimum:
                assert not allowed
        elif action == "success":
            breaker.record_success()
        else:
            assert arg in KINDS
            breaker.record_failure(arg)
        for change in breaker.changes():
            if change.new is OPEN:
                opened_at = change.at
                cooling_until = breaker.open_until
            if change.new is HALF_OPEN:
                probes_this_half_open = 0
                assert opened_at is not None
                assert change.at >= opened_at + minimum
            if change.new is CLOSED:
                opened_at = cooling_until = None
        if allowed and breaker.state is HALF_OPEN:
            probes_this_half_open += 1
            assert probes_this_half_open == 1


def test_a_recovery_outside_a_probe_closes_an_open_circuit_at_once() -> None:
    now = [Decimal(0)]
    breaker = CircuitBreaker(clock=lambda: now[0])
    breaker.record_failure("outage", "503 on exchangeInfo")
    assert breaker.state is CircuitState.OPEN
    now[0] = Decimal(1)
    breaker.record_recovery("markets loaded")
    assert breaker.state is CircuitState.CLOSED
    assert breaker.allow()
    moves = [(c.old, c.new, c.reason) for c in breaker.changes()]
    assert moves[-1] == (CircuitState.OPEN, CircuitState.CLOSED, "markets loaded")
