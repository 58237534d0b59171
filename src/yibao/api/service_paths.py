"""The URL forms of the national interface: which paths answer, and for which infno.

A HIS reaches yibao in one of three forms (docs/interface.md, "Connecting your HIS"):

- the single route ``ROUTE``: any infno;
- the single route with the transaction number appended (``ROUTE/1101``): the appended
  number must be the envelope's infno;
- a per-service path from the table (``/fsi/api/fsiPsnInfoService/queryPsnInfo`` for
  1101): the envelope's infno must be one the table lists for that path. A path listed
  for several infnos (two rows of a vendor's table sharing it) accepts each of them.

In every form the envelope's infno decides which transaction runs; the path only has to
agree with it. The table ships in ``yibao/data/service-paths.json``; YIBAO_SERVICE_PATHS
names a file that replaces it (or extends it, with ``"include_shipped": true``). The file
is read and checked once, when the application is built: a bad file stops the start
with a message naming the file and the entry.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

ROUTE = "/fsi/api/rsfComIfsService/callService"  # the standard's single route
PREFIX = "/fsi/api"  # the interface prefix: every path under it answers an envelope
SETTING = "YIBAO_SERVICE_PATHS"
INFNO = re.compile(r"[0-9]{4}[A-Z]?", re.ASCII)  # 2207, and a vendor's variants: 2207A
PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+", re.ASCII)
PATH_LENGTH_MAX = 200
SHOWN_LENGTH_MAX = 80  # of a caller's path quoted in a refusal
# the paths and prefixes of yibao's other route families (app.py checks the routes too)
OWN_PREFIXES = ("/admin/v1", "/channel/v1", "/org/local/api/hos", "/cashier",
                "/thirdpay", "/health", "/docs", "/redoc", "/openapi.json", "/errors")


class ServicePathsError(ValueError):
    """A service-path table that cannot be used: the message names the file and entry."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a request's path admits: ``infnos`` None (the single route: any infno) or the
    infnos it is for; ``path`` is the path as a refusal quotes it (``shown``)."""

    infnos: frozenset[str] | None
    path: str

    def admits(self, infno: str) -> bool:
        return self.infnos is None or infno in self.infnos


SINGLE = Target(None, ROUTE)


@dataclass(frozen=True, slots=True)
class ServicePaths:
    """The table of per-service paths: path -> the infnos it accepts."""

    paths: Mapping[str, frozenset[str]]
    source: str

    def target(self, path: str) -> Target | None:
        """What ``path`` admits, or None when it is not a path of the interface. One
        trailing slash is ignored."""
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        if path == ROUTE:
            return SINGLE
        if path.startswith(ROUTE + "/"):
            number = path[len(ROUTE) + 1:]
            if "/" in number or not number:
                return None
            return Target(frozenset({number}), shown(path))
        infnos = self.paths.get(path)
        return None if infnos is None else Target(infnos, path)

    def outside_prefix(self) -> list[str]:
        """The table's paths not under PREFIX (each needs a route of its own)."""
        return sorted(p for p in self.paths if not p.startswith(PREFIX + "/"))


def shown(path: str) -> str:
    """A caller's path as quoted in a refusal: printable ASCII, at most
    SHOWN_LENGTH_MAX characters."""
    text = "".join(c if c.isascii() and c.isprintable() else "?" for c in path)
    return text if len(text) <= SHOWN_LENGTH_MAX else text[:SHOWN_LENGTH_MAX] + "…"


def parse(text: str, *, source: str, shipped: ServicePaths | None = None) -> ServicePaths:
    """The table in ``text`` (JSON: ``{"paths": {path: [infno, ...]}, "notes": {...},
    "include_shipped": bool}``), checked; ``shipped`` is merged in when the file asks for
    it. Raises ServicePathsError naming ``source`` and the entry at fault."""
    try:
        data = json.loads(text, parse_float=Decimal)  # as every reader under api/
    except ValueError as exc:
        raise ServicePathsError(f"{source}: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ServicePathsError(f"{source}: must be a JSON object with a \"paths\" object")
    unknown = sorted(set(data) - {"about", "paths", "notes", "include_shipped"})
    if unknown:
        raise ServicePathsError(f"{source}: unknown key {unknown[0]!r} (about, paths, notes, "
                                "include_shipped)")
    rows = data.get("paths")
    if not isinstance(rows, dict) or (not rows and not data.get("include_shipped")):
        raise ServicePathsError(f"{source}: \"paths\" must be an object of path -> [infno, ...]")
    include = data.get("include_shipped", False)
    if not isinstance(include, bool):
        raise ServicePathsError(f"{source}: \"include_shipped\" must be true or false")
    notes = data.get("notes", {})
    if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
        raise ServicePathsError(f"{source}: \"notes\" must be an object of path -> text")
    paths = {path: _infnos(source, path, infnos) for path, infnos in rows.items()}
    for path in paths:
        _check_path(source, path)
    if include:
        if shipped is None:
            raise ServicePathsError(f"{source}: \"include_shipped\" in the shipped table")
        merged = {p: set(i) for p, i in shipped.paths.items()}
        for path, infnos in paths.items():
            merged.setdefault(path, set()).update(infnos)
        paths = {p: frozenset(i) for p, i in merged.items()}
    return ServicePaths(paths, source)


def _infnos(source: str, path: Any, infnos: Any) -> frozenset[str]:
    if not isinstance(infnos, list) or not infnos:
        raise ServicePathsError(f"{source}: {path}: must list the infnos it accepts, "
                                "e.g. [\"1101\"]")
    for infno in infnos:
        if not isinstance(infno, str) or not INFNO.fullmatch(infno):
            raise ServicePathsError(f"{source}: {path}: {infno!r} is not an infno (4 digits, "
                                    "optionally one capital letter: 2207, 2207A)")
    if len(set(infnos)) != len(infnos):
        raise ServicePathsError(f"{source}: {path}: an infno is listed twice")
    return frozenset(infnos)


def _check_path(source: str, path: str) -> None:
    if len(path) > PATH_LENGTH_MAX or not PATH.fullmatch(path):
        raise ServicePathsError(
            f"{source}: {shown(path)!r} is not a path (/segment/segment: letters, digits, "
            f". _ ~ -; at most {PATH_LENGTH_MAX} characters)")
    if path == ROUTE or path.startswith(ROUTE + "/"):
        raise ServicePathsError(f"{source}: {path}: the single route and its /{{infno}} "
                                "form are always served; list per-service paths only")
    if any(path == own or path.startswith(own + "/") for own in OWN_PREFIXES):
        raise ServicePathsError(f"{source}: {path} is a path of yibao's own (list paths "
                                "of the national interface)")


def shipped() -> ServicePaths:
    """The table shipped in the package."""
    source = resources.files("yibao") / "data" / "service-paths.json"
    return parse(source.read_text(encoding="utf-8"), source="yibao/data/service-paths.json")


def from_env(env: Mapping[str, str] | None = None) -> ServicePaths:
    """The table in use: the file YIBAO_SERVICE_PATHS names, else the shipped one.
    Raises ServicePathsError (a file that cannot be read included)."""
    name = (os.environ if env is None else env).get(SETTING, "")
    own = shipped()
    if not name:
        return own
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ServicePathsError(f"{SETTING}={name}: cannot be read ({exc})") from exc
    return parse(text, source=name, shipped=own)


def problem(env: Mapping[str, str] | None = None) -> str | None:
    """Why the service-path table in use cannot be used, or None (``yibao serve`` checks
    this before it starts)."""
    try:
        from_env(env)
    except ServicePathsError as exc:
        return f"service-path table refused: {exc}"
    return None
