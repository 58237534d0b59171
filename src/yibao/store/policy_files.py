"""Loading the versioned policy files shipped in ``yibao/policies`` (or a directory)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from yibao.domain.policy import Policy, PolicyError, parse_policy


def load_policy_file(path: Path) -> Policy:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path.name}: {exc}") from exc
    return parse_policy(raw)


def load_policies(directory: Path | None = None) -> tuple[Policy, ...]:
    """All policies in a directory (default: the shipped ones), sorted by id."""
    if directory is None:
        with resources.as_file(resources.files("yibao") / "policies") as shipped:
            return load_policies(shipped)
    policies = tuple(load_policy_file(p) for p in sorted(directory.glob("*.toml")))
    ids = [p.policy_id for p in policies]
    if len(ids) != len(set(ids)):
        raise PolicyError(f"duplicate policy ids in {directory}")
    return policies
