"""The supervision rule library (issue 20): the rules kept as data.

``src/yibao/data/supervision-rules.toml`` holds each rule: its id, titles, the notice or
regulation it enforces, the standard's severity (sev_deg) and behaviour class
(vola_bhvr_type), its scope and its parameters. A rule of scope ``visit`` can be decided
on one visit: 3101/3102 run it in real time and a region's policy may make its finding
block settlement. A rule of scope ``month`` needs the month's extract. Every rule also
runs as set-based SQL over the extract (analytics/supervision/), on DuckDB or Spark.

No I/O beyond reading the packaged library: pure records and their validation.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

RULE_ID = re.compile(r"SV[0-9]{2}")
SEVERITIES = ("1", "2", "3")  # sev_deg: clear violation, highly / mildly suspicious
BEHAVIOURS = ("1", "2")  # vola_bhvr_type: visit, item


class Scope(StrEnum):
    VISIT = "visit"  # decidable on one visit: real time (3101/3102, settlement)
    MONTH = "month"  # needs the month's extract


Param = int | Decimal


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title_zh: str
    title_en: str
    basis: str
    severity: str
    behaviour: str
    scope: Scope
    params: Mapping[str, Param]

    def title(self, lang: str) -> str:
        return self.title_zh if lang.startswith("zh") else self.title_en


class LibraryError(ValueError):
    """The rule library is not valid: which rule and why."""


def parse_library(text: str) -> tuple[Rule, ...]:
    """The rules of a library file's TOML text, in file order; LibraryError names the
    first rule that is not valid (ids unique and SVnn, severity, behaviour, scope
    known, titles and basis present, parameters numbers)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LibraryError(f"the rule library is not TOML: {exc}") from exc
    rules = tuple(_rule(entry) for entry in data.get("rule", []))
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise LibraryError(f"rule {rule.id} is defined twice")
        seen.add(rule.id)
    return rules


def _rule(entry: dict[str, Any]) -> Rule:
    rule_id = str(entry.get("id", ""))
    if not RULE_ID.fullmatch(rule_id):
        raise LibraryError(f"rule id {rule_id!r} is not SVnn")
    for name in ("title_zh", "title_en", "basis"):
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            raise LibraryError(f"rule {rule_id}: {name} is missing")
    if entry.get("severity") not in SEVERITIES:
        raise LibraryError(f"rule {rule_id}: severity must be one of {SEVERITIES}")
    if entry.get("behaviour") not in BEHAVIOURS:
        raise LibraryError(f"rule {rule_id}: behaviour must be one of {BEHAVIOURS}")
    try:
        scope = Scope(entry.get("scope", ""))
    except ValueError as exc:
        raise LibraryError(f"rule {rule_id}: scope must be visit or month") from exc
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise LibraryError(f"rule {rule_id}: params must be a table")
    return Rule(rule_id, entry["title_zh"], entry["title_en"], entry["basis"],
                entry["severity"], entry["behaviour"], scope,
                MappingProxyType({k: _param(rule_id, k, v) for k, v in params.items()}))


def _param(rule_id: str, name: str, value: object) -> Param:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise LibraryError(f"rule {rule_id}: parameter {name} must be a number")
    if isinstance(value, int):
        return value
    try:
        number = Decimal(str(value))
    except ArithmeticError as exc:
        raise LibraryError(f"rule {rule_id}: parameter {name} must be a number") from exc
    if not number.is_finite():
        raise LibraryError(f"rule {rule_id}: parameter {name} must be finite")
    return number


@cache
def library() -> tuple[Rule, ...]:
    """The packaged rule library."""
    source = resources.files("yibao") / "data" / "supervision-rules.toml"
    return parse_library(source.read_text(encoding="utf-8"))


def rule(rule_id: str) -> Rule:
    """The library's rule ``rule_id``; KeyError when there is none."""
    for candidate in library():
        if candidate.id == rule_id:
            return candidate
    raise KeyError(rule_id)


def visit_rules() -> tuple[Rule, ...]:
    """The rules decidable on one visit (3101/3102 and settlement run them)."""
    return tuple(r for r in library() if r.scope is Scope.VISIT)
