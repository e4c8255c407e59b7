"""Column types that keep money exact and time in UTC on every database.

PostgreSQL stores decimals as ``NUMERIC(38, 18)``. SQLite has no exact decimal type
(its NUMERIC affinity turns "0.1" into a binary float), so there the same column holds
the decimal's canonical text, and sums are done in Python. On both, a value that does
not fit 20 integer digits and 18 decimals is refused rather than silently rounded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

PRECISION = 38
SCALE = 18
LIMIT = Decimal(10) ** (PRECISION - SCALE)
QUANTUM = Decimal(1).scaleb(-SCALE)
WIDE = Context(prec=PRECISION + 10)


class ExactDecimal(TypeDecorator[Decimal]):
    """``Decimal`` in Python; NUMERIC(38, 18) on PostgreSQL, canonical text on SQLite."""

    impl = Numeric(PRECISION, SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(PRECISION, SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"journal amounts must be Decimal, got {type(value).__name__}")
        if not value.is_finite():
            raise ValueError(f"journal amounts must be finite, got {value}")
        if abs(value) >= LIMIT or value != value.quantize(QUANTUM, context=WIDE):
            raise ValueError(
                f"journal amounts have at most {PRECISION - SCALE} integer digits and "
                f"{SCALE} decimals, got {value}"
            )
        if dialect.name == "sqlite":
            return format(value, "f")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("journal timestamps must be timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
