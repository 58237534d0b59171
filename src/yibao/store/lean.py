"""Lean statements: the settlement path's queries, run on the driver's cursor.

A ``Lean`` wraps one SQLAlchemy Core statement (the query is still written once, in
SQLAlchemy, under ``store/`` or beside the service that owns it). On PostgreSQL it is
compiled once to psycopg's SQL text and run on the driver's cursor of the connection's
transaction: no execution context, no result object, about a third of the client CPU of
``Connection.execute`` (docs/performance.md, "The lean path"). psycopg prepares it on the
server after a few runs (``prepare_threshold``), so PostgreSQL skips parsing and
planning too; behind a transaction-mode pooler (``?pooler=transaction``, store/db.py) the
connection's threshold is None and the cursor, which asks for the connection's default
(``prepare=None``), prepares nothing. On SQLite it runs through SQLAlchemy, whose type
processors it needs (dates stored as text).

What it keeps of SQLAlchemy's execution: a database error is raised as SQLAlchemy's
``DBAPIError`` (what the callers classify: store/db.py ``classify``), a lost connection is
invalidated, and the engine's ``before_cursor_execute`` listeners see every statement
(tests count statements with them). Rows come back as plain dicts keyed by column name.
An ``IN`` over an expanding bind parameter becomes ``= ANY(array)`` (one statement text,
prepared once, whatever the number of values).

An insert runs lean only when the rows give every column that has a Python-side default
(SQLAlchemy computes those at execution); otherwise it runs through SQLAlchemy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Insert, UpdateBase

# a row by column name: a dict here, SQLAlchemy's RowMapping elsewhere (both are read alike)
Row = Mapping[Any, Any]
Params = Mapping[str, Any]
Statement = Select[Any] | UpdateBase

_POSTCOMPILE = re.compile(r"(NOT )?IN \(__\[POSTCOMPILE_(\w+)\]\)")


def _any(match: re.Match[str]) -> str:
    return f"<> ALL(%({match.group(2)})s)" if match.group(1) else f"= ANY(%({match.group(2)})s)"


class _Compiled:
    """One statement's PostgreSQL text and the values its literal binds carry."""

    __slots__ = ("defaults", "sql")

    def __init__(self, statement: Statement, conn: Connection,
                 keys: tuple[str, ...] | None) -> None:
        compiled = statement.compile(
            dialect=conn.dialect, column_keys=list(keys) if keys is not None else None,
            for_executemany=keys is not None)  # an insert: no key fetched before it
        self.sql: str = _POSTCOMPILE.sub(_any, compiled.string)
        self.defaults: dict[str, Any] = {
            k: v for k, v in compiled.params.items() if v is not None}


class Lean:
    """One statement on the lean path (the module's text)."""

    __slots__ = ("_compiled", "_python_defaults", "statement")

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, ...] | None, _Compiled] = {}
        self._python_defaults: frozenset[str] = frozenset(
            c.key for c in statement.table.columns
            if c.default is not None and not c.server_default
        ) if isinstance(statement, Insert) else frozenset()

    def all(self, conn: Connection, params: Params) -> list[Row]:
        """Every row, each a dict by column name."""
        if conn.dialect.name != "postgresql":
            return [dict(r) for r in conn.execute(self.statement, dict(params)).mappings()]
        cursor = self._run(conn, params, many=False)
        names = [c.name for c in cursor.description or ()]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]

    def first(self, conn: Connection, params: Params) -> Row | None:
        """The first row, or None."""
        if conn.dialect.name != "postgresql":
            found = conn.execute(self.statement, dict(params)).mappings().first()
            return None if found is None else dict(found)
        cursor = self._run(conn, params, many=False)
        values = cursor.fetchone()
        if values is None:
            return None
        return dict(zip([c.name for c in cursor.description or ()], values, strict=True))

    def run(self, conn: Connection, params: Params | Sequence[Params]) -> int:
        """An insert, update or delete, for one row's parameters or many (executemany);
        the rows it changed (-1 for many, or where the driver cannot tell yet, inside a
        pipeline: ``counted``)."""
        return self.counted(conn, params)()

    def counted(self, conn: Connection,
                params: Params | Sequence[Params]) -> Callable[[], int]:
        """Run it (as ``run``) and return what tells the rows it changed: inside a
        pipeline (store/db.py ``pipelined``), only once the pipeline has ended."""
        rows: list[Params] = [params] if isinstance(params, Mapping) else list(params)
        many = not isinstance(params, Mapping)
        if not rows:
            return lambda: 0
        if conn.dialect.name != "postgresql" or not self._python_defaults <= rows[0].keys():
            result = conn.execute(self.statement, [dict(r) for r in rows] if many else
                                  dict(rows[0]))
            changed = -1 if many else int(result.rowcount)
            return lambda: changed
        cursor = self._run(conn, rows if many else rows[0], many=many)
        return lambda: -1 if many else int(cursor.rowcount)

    def _text(self, conn: Connection, keys: tuple[str, ...] | None) -> _Compiled:
        compiled = self._compiled.get(keys)
        if compiled is None:
            compiled = self._compiled[keys] = _Compiled(self.statement, conn, keys)
        return compiled

    def _run(self, conn: Connection, params: Params | list[Params], *, many: bool) -> Any:
        rows: list[Params] = params if isinstance(params, list) else [params]
        first = rows[0]
        keys = tuple(first) if isinstance(self.statement, Insert) else None
        compiled = self._text(conn, keys)
        if compiled.defaults:
            bound: Any = ([{**compiled.defaults, **p} for p in rows] if many
                          else {**compiled.defaults, **first})
        else:
            bound = params
        raw: Any = conn.connection.driver_connection
        cursor = raw.cursor()
        if conn._has_events or conn.engine._has_events:
            conn.dispatch.before_cursor_execute(conn, cursor, compiled.sql, bound, None, many)
        dbapi = conn.dialect.loaded_dbapi
        try:
            if many:
                cursor.executemany(compiled.sql, bound)
            else:
                cursor.execute(compiled.sql, bound)
        except dbapi.Error as exc:
            lost = bool(raw.broken)
            if lost:  # the database went away: this connection is not used again
                conn.invalidate(exc)
            raise DBAPIError.instance(compiled.sql, bound, exc, dbapi.Error,
                                      connection_invalidated=lost) from exc
        return cursor
