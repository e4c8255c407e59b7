"""Logging of ``router serve``: structured lines on stderr.

structlog and the standard library log through one handler: JSON lines (one object per
line) when stderr is not a terminal, ``key=value`` lines (logfmt) when it is. Every
line carries ``timestamp`` (UTC, ISO-8601), ``level``, ``logger`` and ``event``, plus
whatever was bound for the current request (its ``request_id``). Values under keys
that name credentials (``authorization``, ``token``, ``secret``, ``password``,
``api_key``) are replaced by ``***`` before a line is written.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import Processor

SECRET_KEYS = ("authorization", "token", "secret", "password", "api_key", "apikey")
REDACTED = "***"


def drop_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Blank every value whose key names a credential."""
    for key in list(event):
        if any(word in key.lower() for word in SECRET_KEYS):
            event[key] = REDACTED
    return event


class _Stderr(logging.StreamHandler[TextIO]):
    """A handler writing to whatever ``sys.stderr`` is when a record is emitted."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        return None


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _foreign() -> list[Processor]:
    """For standard-library records: the shared fields and the record's ``extra`` ones
    (the access log's method, route, status, ...)."""
    return [*_shared(), structlog.stdlib.ExtraAdder()]


def configure_logging(*, level: int = logging.INFO, json_lines: bool | None = None) -> None:
    """Route structlog and the standard library to one stderr handler.

    ``json_lines``: JSON lines (``True``) or logfmt (``False``); by default JSON unless
    stderr is a terminal. Calling it again replaces the handler it installed.
    """
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.processors.LogfmtRenderer(
            key_order=["timestamp", "level", "logger", "event"]
        )
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_foreign(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            drop_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = _Stderr()
    handler.set_name("router")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "router"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
