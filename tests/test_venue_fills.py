"""The per-venue fill summary the operator's commands print."""

from __future__ import annotations

from decimal import Decimal

from router.cli.operator_commands import venue_fills


def test_average_price_is_weighted_and_shown_to_8_decimals() -> None:
    status = {
        "fills": [
            {"venue": "alpha", "market": "spot", "quantity": "1", "price": "100"},
            {"venue": "alpha", "market": "spot", "quantity": "2", "price": "101"},
            {"venue": "bravo", "market": "spot", "quantity": "0.5", "price": "99.5"},
        ]
    }
    rows = venue_fills(status)
    assert [(r["venue"], r["quantity"], r["fills"]) for r in rows] == [
        ("alpha", "3", 2),
        ("bravo", "0.5", 1),
    ]
    # (100 + 202) / 3 = 100.666..., shown rounded to 8 decimals
    assert rows[0]["average_price"] == "100.66666667"
    assert Decimal(rows[1]["average_price"]) == Decimal("99.5")
