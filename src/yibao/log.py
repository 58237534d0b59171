"""Structured logs (JSON lines via structlog) that never carry personal data in full.

Use ``mask`` for anything that identifies a person (ID numbers, names, card numbers,
tokens); keys listed in SENSITIVE_KEYS are masked automatically.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
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


def configure(level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level, force=True)
    structlog.configure(
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


def get(name: str) -> Any:
    return structlog.get_logger(name)
