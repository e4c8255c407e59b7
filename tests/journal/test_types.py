"""Amounts the database could not keep exactly are refused, not rounded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from router.journal.types import ExactDecimal


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
@pytest.mark.parametrize(
    "value",
    [Decimal(1) / Decimal(3), Decimal("1e21"), Decimal("-1e20"), Decimal("0.0000000000000000001")],
)
def test_values_beyond_numeric_38_18_are_refused(dialect: object, value: Decimal) -> None:
    with pytest.raises(ValueError, match="18 decimals"):
        ExactDecimal().process_bind_param(value, dialect)  # type: ignore[arg-type]


def test_values_within_are_kept() -> None:
    kept = ExactDecimal().process_bind_param(
        Decimal("99999999999999999999.123456789012345678"), sqlite.dialect()
    )
    assert kept == "99999999999999999999.123456789012345678"
