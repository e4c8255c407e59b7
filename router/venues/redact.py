"""Keys out of ccxt's log records.

ccxt logs every request at DEBUG with its headers (Binance's ``X-MBX-APIKEY`` carries
the API key) and its signed query. :func:`redact_logs` puts a filter on a client's
logger that rewrites each record with the client's credentials and signatures removed.
"""

from __future__ import annotations

import logging
import re
from typing import Any

CREDENTIALS = ("apiKey", "secret", "password", "privateKey", "uid", "token")


class Redactor(logging.Filter):
    """Rewrites records with every registered secret replaced by ``[redacted]``."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_SIGNED = re.compile(r"(signature|apiKey|api_key|secret)=[^&\s'\"]*", re.IGNORECASE)


def _redact(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return _SIGNED.sub(r"\1=[redacted]", text)


def redact_logs(client: Any) -> None:
    """Filter ``client``'s logger (ccxt's module logger, shared by its clients) so that
    ``client``'s credentials never reach a log handler."""
    logger = getattr(client, "logger", None)
    if not isinstance(logger, logging.Logger):
        return
    redactor = next((f for f in logger.filters if isinstance(f, Redactor)), None)
    if redactor is None:
        redactor = Redactor()
        logger.addFilter(redactor)
    for name in CREDENTIALS:
        value = getattr(client, name, None)
        if isinstance(value, str) and len(value) >= 8:
            redactor.secrets.add(value)
