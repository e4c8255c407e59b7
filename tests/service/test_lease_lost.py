"""A close another router took over is not a crash of this one: one warning, no
traceback, not counted as a failed close."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any, cast

import pytest

from router.engine.engine import Engine
from router.engine.lease import LeaseLost
from router.engine.outcome import CloseResult
from router.engine.request import CloseRequest
from router.journal.repository import Journal
from router.service.state import ServiceState

REQUEST = CloseRequest.model_validate(
    {"symbol": "BTC", "side": "sell", "quantity": "1", "idempotency_key": "desk-1"}
)


class _Failing:
    """An engine whose close ends with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def close(self, request: CloseRequest, **_: Any) -> CloseResult:
        raise self.error


def _state(error: Exception) -> ServiceState:
    return ServiceState(
        engine=cast(Engine, _Failing(error)),
        journal=cast(Journal, None),
        adapters={},
        health={},
        tokens={},
    )


def _errors_counted(state: ServiceState) -> float:
    value = state.metrics.registry.get_sample_value("router_closes_total", {"outcome": "ERROR"})
    return value or 0.0


async def _run_to_the_end(state: ServiceState) -> None:
    task = state.start(REQUEST)
    await asyncio.wait({task})
    del task
    await asyncio.sleep(0)
    gc.collect()


async def test_a_lost_lease_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    state = _state(LeaseLost("another router took close cl_1 over"))
    with caplog.at_level(logging.DEBUG):
        await _run_to_the_end(state)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "close desk-1 stopped here: another router took close cl_1 over")
    ]
    assert all(r.exc_info is None for r in caplog.records)
    assert _errors_counted(state) == 0


async def test_a_crash_is_still_an_error(caplog: pytest.LogCaptureFixture) -> None:
    state = _state(RuntimeError("boom"))
    with caplog.at_level(logging.DEBUG):
        await _run_to_the_end(state)
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in crashes] == ["close desk-1 failed"]
    assert crashes[0].exc_info is not None
    assert _errors_counted(state) == 1
