"""An async client of the router's HTTP API, and Daimon's world-signature voter on top of it.

```python
async with RouterClient("http://127.0.0.1:8080", token) as router:
    accepted = await router.close(symbol="BTC", side="sell", quantity="2",
                                  idempotency_key="daimon-42")
    status = await router.status(accepted["close_id"])
    votes = await router.world_signature_votes({"symbol": "BTC", "has_position": True})
```
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

import aiohttp


class RouterApiError(Exception):
    """The router answered with an error status; ``body`` is its JSON error."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"router answered {status}: {body}")
        self.status = status
        self.body = body


def _text(value: Any) -> Any:
    """Numbers travel as plain decimal strings (``"0.0000001"``, never ``1e-07`` or a JSON
    number): the API refuses anything else, and no precision is lost on the way."""
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        return format(Decimal(str(value)), "f")
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


class RouterClient:
    """The router's API over one HTTP session (use as an async context manager)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> RouterClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._owns_session = True
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        async with self._client().request(
            method, self.base_url + path, json=json, params=params, headers=self._headers
        ) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = {"error": (await response.text())[:200]}
            if response.status >= 400:
                raise RouterApiError(response.status, body)
            return body

    async def close(self, **request: Any) -> dict[str, Any]:
        """Start a close (fields of ``CloseRequest``); ``{"close_id", "state",
        "idempotency_key", "existing"}``.

        Re-sending the same request under its ``idempotency_key`` answers the same close
        (``existing`` true); a different request under a used key raises
        :class:`RouterApiError` with status 409.
        """
        body = {key: _text(value) for key, value in request.items()}
        result: dict[str, Any] = await self._call("POST", "/v1/closes", json=body)
        return result

    async def status(self, close_id: str) -> dict[str, Any]:
        """The close's state, outcome, quantities, attempts and fills."""
        result: dict[str, Any] = await self._call("GET", f"/v1/closes/{close_id}")
        return result

    async def cancel(self, close_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", f"/v1/closes/{close_id}/cancel")
        return result

    async def closes(
        self,
        *,
        state: str | None = None,
        outcome: str | None = None,
        since: datetime | str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        """One page of closes, newest first: ``{"closes": [...], "next": cursor or None}``.

        ``state`` (ACCEPTED, RUNNING, NEEDS_OPERATOR, DONE) and ``outcome`` (FLAT, HEDGED,
        STRANDED) filter; ``since`` (a timezone-aware datetime or ISO-8601 text with its
        offset) keeps closes created at or after it; ``limit`` is 1..500 (100 by
        default); ``after`` is the ``next`` of the previous page.
        """
        if isinstance(since, datetime):
            if since.tzinfo is None:
                raise ValueError("since must be a timezone-aware datetime")
            since = since.isoformat()
        given = {
            "state": state,
            "outcome": outcome,
            "since": since,
            "limit": None if limit is None else str(limit),
            "after": after,
        }
        params = {name: value for name, value in given.items() if value is not None}
        result: dict[str, Any] = await self._call("GET", "/v1/closes", params=params or None)
        return result

    async def liquidity(
        self,
        symbol: str,
        *,
        side: str = "sell",
        danger: Decimal | float | str = 0,
        volatility: Decimal | float | str = 0,
        has_position: bool = False,
    ) -> dict[str, Any]:
        """Per-venue and consolidated liquidity, the escape window and the votes."""
        params = {
            "side": side,
            "danger": str(_text(danger)),
            "volatility": str(_text(volatility)),
            "has_position": "true" if has_position else "false",
        }
        result: dict[str, Any] = await self._call("GET", f"/v1/liquidity/{symbol}", params=params)
        return result

    async def hedges(self, *, open_only: bool = False) -> list[dict[str, Any]]:
        params = {"open": "true"} if open_only else None
        result = await self._call("GET", "/v1/hedges", params=params)
        hedges: list[dict[str, Any]] = result["hedges"]
        return hedges

    async def unwind(
        self, hedge_id: int, quantity: Decimal | None = None, *, with_spot: bool = False
    ) -> dict[str, Any]:
        """Buy a hedge back; ``with_spot``: sell the inventory it covers first, and buy
        back exactly what was sold.

        Returns the answer: ``hedge_id``, ``unwound`` (bought back now), ``open`` (still
        short), ``state`` and ``reason`` (why less than asked, or ``None``); decimals
        are strings. A refusal (closed, already running, quantity, 429 too soon after
        the last unwind, with ``retry_after_s``) raises :class:`RouterApiError`.
        """
        body: dict[str, Any] | None = None if quantity is None else {"quantity": _text(quantity)}
        if with_spot:
            body = {**(body or {}), "with_spot": True}
        result: dict[str, Any] = await self._call(
            "POST", f"/v1/hedges/{hedge_id}/unwind", json=body
        )
        return result

    async def venues(self) -> list[dict[str, Any]]:
        result = await self._call("GET", "/v1/venues")
        venues: list[dict[str, Any]] = result["venues"]
        return venues

    async def world_signature_votes(self, context: dict[str, Any]) -> list[dict[str, Any]]:
        """Daimon's world-signature voice: vote to close when liquidity is below 0.3 and a
        position is held.

        ``context``: ``has_position`` (required for any vote), ``symbol`` (default BTC),
        ``side`` of the close (``sell`` for a long, the default), ``danger`` and
        ``volatility``. Returns the seed's vote dicts, e.g. ``{"action": "close",
        "confidence": 0.95, "voter_category": "world_signature", "reason": ...}``.
        """
        if not context.get("has_position"):
            return []
        reading = await self.liquidity(
            str(context.get("symbol", "BTC")),
            side=str(context.get("side", "sell")),
            danger=context.get("danger", 0),
            volatility=context.get("volatility", 0),
            has_position=True,
        )
        return [dict(vote) for vote in reading["votes"]]
