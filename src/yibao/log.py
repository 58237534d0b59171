"""Structured logs (one JSON line per event) that never carry personal data in full.

Use ``mask`` for anything that identifies a person (ID numbers, names, card numbers,
tokens); keys listed in SENSITIVE_KEYS are masked automatically.

A line is ``{...the event's fields, "event", "level", "timestamp"}`` (and
``"exception"``, the traceback, for ``logger.exception``), as structlog's JSON renderer
wrote it. Once ``configure`` has run, a logger renders the line itself: structlog's
processor chain and stdlib logging's record cost the national route about 20 µs a line
(docs/performance.md, "The HTTP path"), so when the one handler ``configure`` installed
is the root logger's only handler, the line is written straight to its stream, under its
lock; with any other handler about (a test's capture, an operator's own), it goes
through stdlib logging as before. Before ``configure`` (a library use, a test that never
configures), structlog's defaults do the writing.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import structlog

SENSITIVE_KEYS = frozenset(
    {"certno", "psn_name", "name", "mdtrt_cert_no", "card_sn", "token", "card_no", "ecToken"}
)


def mask(value: str) -> str:
    """Keep the first and last two characters: '110105198503150027' -> '11**************27'."""
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def _mask_sensitive(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    for key in SENSITIVE_KEYS & event.keys():
        event[key] = mask(str(event[key]))
    return event


# the handler configure installed on the root logger (None: not configured)
_sink: logging.StreamHandler[Any] | None = None


def configure(level: str = "INFO") -> None:
    global _sink
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level, force=True)
    handler = logging.root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    _sink = handler
    structlog.configure(  # what a structlog logger of another library's code goes through
        processors=[
            structlog.stdlib.filter_by_level,  # below the level: no rendering at all
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_sensitive,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )


def render(level: str, event: str, fields: dict[str, Any]) -> str:
    """The JSON line of an event (``fields`` is changed: masked, stamped)."""
    exc_info = fields.pop("exc_info", None)
    for key in SENSITIVE_KEYS & fields.keys():
        fields[key] = mask(str(fields[key]))
    fields["event"] = event
    fields["level"] = level
    fields["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    if exc_info:
        fields["exception"] = structlog.processors.format_exc_info(
            None, "", {"exc_info": exc_info})["exception"]
    return json.dumps(fields, ensure_ascii=False, default=repr)


class Logger:
    """A named logger: ``info(event, **fields)`` and the like."""

    __slots__ = ("_std", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._std = logging.getLogger(name)

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, "debug", "debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, "info", "info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, "warning", "warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, "error", "error", event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        fields.setdefault("exc_info", True)
        self._log(logging.ERROR, "error", "exception", event, fields)

    def _log(self, level: int, name: str, method: str, event: str,
             fields: dict[str, Any]) -> None:
        sink = _sink
        if sink is None:  # not configured: structlog's defaults
            getattr(structlog.get_logger(self.name), method)(event, **fields)
            return
        std = self._std
        if not std.isEnabledFor(level):
            return
        if fields.get("exc_info") is True:
            fields["exc_info"] = sys.exc_info()
        line = render(name, event, fields)
        if logging.root.handlers == [sink] and not std.handlers and std.propagate:
            # a closed or broken stream: the line is lost
            with suppress(OSError, ValueError), sink.lock:  # type: ignore[union-attr]
                sink.stream.write(line + "\n")
                sink.stream.flush()
            return
        std.log(level, line)


def get(name: str) -> Logger:
    return Logger(name)
