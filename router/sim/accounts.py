"""The venue account's spot balances and USD-M position and margin."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from router.sim import errors

ZERO = Decimal(0)


@dataclass
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass
class SpotAccount:
    balances: dict[str, Balance] = field(default_factory=dict)

    @classmethod
    def with_balances(cls, amounts: dict[str, Decimal]) -> SpotAccount:
        return cls({asset: Balance(free=amount) for asset, amount in amounts.items()})

    def get(self, asset: str) -> Balance:
        return self.balances.setdefault(asset, Balance())

    def lock(self, asset: str, amount: Decimal) -> None:
        balance = self.get(asset)
        if balance.free < amount:
            raise errors.insufficient_balance()
        balance.free -= amount
        balance.locked += amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        balance = self.get(asset)
        amount = min(amount, balance.locked)
        balance.locked -= amount
        balance.free += amount

    def spend_locked(self, asset: str, amount: Decimal) -> None:
        balance = self.get(asset)
        if balance.locked < amount:
            raise AssertionError(f"locked {asset} {balance.locked} < {amount}")
        balance.locked -= amount

    def spend_free(self, asset: str, amount: Decimal) -> None:
        balance = self.get(asset)
        if balance.free < amount:
            raise AssertionError(f"free {asset} {balance.free} < {amount}")
        balance.free -= amount

    def credit(self, asset: str, amount: Decimal) -> None:
        self.get(asset).free += amount


@dataclass
class FuturesAccount:
    """One-way mode, cross margin, one symbol: enough for the router's hedges."""

    wallet: Decimal
    leverage: int
    position: Decimal = ZERO
    entry_price: Decimal = ZERO
    update_ms: int = 0

    def unrealized(self, mark: Decimal) -> Decimal:
        return self.position * (mark - self.entry_price)

    def position_margin(self, mark: Decimal) -> Decimal:
        return abs(self.position) * mark / self.leverage

    def available(self, mark: Decimal, open_order_margin: Decimal) -> Decimal:
        return self.wallet + self.unrealized(mark) - self.position_margin(mark) - open_order_margin

    def opening_part(self, side: str, qty: Decimal) -> Decimal:
        """How much of an order of ``qty`` would increase exposure (needs margin)."""
        signed = qty if side == "BUY" else -qty
        if self.position == 0 or (self.position > 0) == (signed > 0):
            return qty
        return max(ZERO, qty - abs(self.position))

    def apply_fill(self, side: str, qty: Decimal, price: Decimal, fee: Decimal) -> Decimal:
        """Update position and wallet; return the realized PnL of the fill."""
        signed = qty if side == "BUY" else -qty
        realized = ZERO
        if self.position == 0 or (self.position > 0) == (signed > 0):
            total = abs(self.position) + qty
            self.entry_price = (abs(self.position) * self.entry_price + qty * price) / total
            self.position += signed
        else:
            closing = min(qty, abs(self.position))
            direction = Decimal(1) if self.position > 0 else Decimal(-1)
            realized = closing * (price - self.entry_price) * direction
            self.position += signed
            if self.position == 0:
                self.entry_price = ZERO
            elif (self.position > 0) != (direction > 0):
                self.entry_price = price
        self.wallet += realized - fee
        return realized
