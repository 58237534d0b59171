"""Database connection: engine creation, transactions, migrations.

SQLite (WAL) is the embedded default; PostgreSQL (psycopg 3) is production. Write
transactions take the write lock up front on SQLite (``BEGIN IMMEDIATE``) and lock the
person's row with ``SELECT ... FOR UPDATE`` on PostgreSQL, so two settlements of the
same person never interleave.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_MS = 30_000
DEFAULT_URL = "sqlite:///yibao.db"


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// URLs and a bare SQLite file path."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    return url


class Database:
    """One database: an engine plus the transaction discipline of yibao."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.engine = _create(self.url, pool_size=pool_size)

    @contextmanager
    def write(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A write transaction: committed if the block returns, rolled back otherwise.
        ``snapshot``: every read sees the same moment (PostgreSQL REPEATABLE READ; a
        SQLite write transaction already does), for jobs that read a whole month."""
        options = {"yibao_write": True, **self._isolation(snapshot)}
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A read transaction. ``snapshot``: every statement sees the same moment
        (PostgreSQL REPEATABLE READ; a SQLite read transaction already does), for readers
        that run many statements (``ledger verify``)."""
        options = self._isolation(snapshot)
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            yield conn

    def _isolation(self, snapshot: bool) -> dict[str, object]:
        return {"isolation_level": "REPEATABLE READ"} if snapshot and not self.is_sqlite else {}

    def migrate(self) -> None:
        """Bring the schema to the newest migration (alembic upgrade head)."""
        self._alembic(command.upgrade, "head")

    def downgrade(self, revision: str) -> None:
        """Take the schema down to a migration ("base": nothing) (alembic downgrade)."""
        self._alembic(command.downgrade, revision)

    def _alembic(self, verb: Callable[[Config, str], None], revision: str) -> None:
        with self.engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            verb(config, revision)

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """Statements whose results are not read, sent without waiting for each answer: on
    PostgreSQL in psycopg's pipeline mode, one round trip when the block ends, where a
    database error then surfaces (as SQLAlchemy's DBAPIError, like any other); SQLite,
    in process, runs them one by one."""
    if conn.dialect.name != "postgresql":
        yield
        return
    raw = conn.connection.driver_connection
    dbapi = conn.dialect.loaded_dbapi
    try:
        with raw.pipeline():
            yield
    except dbapi.Error as exc:
        lost = raw.broken
        if lost:  # the database went away: this connection is not used again
            conn.invalidate(exc)
        raise DBAPIError.instance(None, None, exc, dbapi.Error,
                                  connection_invalidated=lost) from exc


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "yibao.store:migrations")
    return config


def _create(url: str, *, pool_size: int) -> Engine:
    if not url.startswith("sqlite"):
        # no pre-ping (a round trip per checkout): after a database restart the first
        # statement on a dead connection fails, SQLAlchemy sees the disconnect and
        # replaces every pooled connection older than it (docs/reliability.md)
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size)
    memory = url in ("sqlite://", "sqlite:///:memory:")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        poolclass=None if memory else NullPool,
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get("yibao_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
