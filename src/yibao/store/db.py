"""Database connection: engine creation, transactions, migrations.

SQLite (WAL) is the embedded default; PostgreSQL (psycopg 3) is production. Write
transactions take the write lock up front on SQLite (``BEGIN IMMEDIATE``) and lock the
person's row with ``SELECT ... FOR UPDATE`` on PostgreSQL, so two settlements of the
same person never interleave.

Behind a connection pooler in transaction mode (PgBouncer ``pool_mode = transaction``)
the URL says so: ``?pooler=transaction`` (``pooler_mode``; taken off the URL before the
driver sees it). Each transaction may then run on a different server connection, so
nothing may outlive a transaction on it: psycopg prepares no statement on the server
(``prepare_threshold=None``; the lean path's statements, store/lean.py, run on the same
driver connection and so honour it too). yibao keeps no other session state: no
``SET`` outside a transaction, no advisory lock, no ``LISTEN``, no cursor ``WITH
HOLD``; its isolation level is given with each ``BEGIN`` (docs/operations.md, "Through a
connection pooler").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_MS = 30_000
DEFAULT_URL = "sqlite:///yibao.db"
POOLER_OPTION = "pooler"  # the URL query option naming the pooler's mode
POOLER_MODES = frozenset({"transaction"})


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// URLs and a bare SQLite file path."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    return url


def pooler_mode(url: str) -> tuple[str, str | None]:
    """The URL without its ``pooler`` option, and the option's value (None: connected
    straight to PostgreSQL). Only ``transaction`` is known (a session-mode pooler needs
    nothing: a session keeps its server connection); anything else is refused, as is
    the option on SQLite."""
    if POOLER_OPTION + "=" not in url:
        return url, None
    parsed = make_url(url)
    mode = parsed.query.get(POOLER_OPTION)
    if isinstance(mode, tuple):
        raise ValueError(f"{POOLER_OPTION} given more than once in the database URL")
    if mode not in POOLER_MODES:
        raise ValueError(f"unknown {POOLER_OPTION}={mode} in the database URL "
                         f"(known: {', '.join(sorted(POOLER_MODES))})")
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"{POOLER_OPTION}={mode} is for PostgreSQL URLs")
    bare = parsed.difference_update_query([POOLER_OPTION])
    return bare.render_as_string(hide_password=False), mode


def connect_args(mode: str | None) -> dict[str, Any]:
    """The driver's connection arguments for a pooler mode: in transaction mode no
    statement is prepared on the server (a prepared statement belongs to one server
    connection, which the next transaction may not get)."""
    return {"prepare_threshold": None} if mode == "transaction" else {}


class Database:
    """One database: an engine plus the transaction discipline of yibao."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = normalize_url(url)  # as given, the pooler option kept (servers' workers)
        self.is_sqlite = self.url.startswith("sqlite")
        bare, self.pooler = pooler_mode(self.url)
        self.engine = _create(bare, pool_size=pool_size, args=connect_args(self.pooler))

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
        """On SQLite, adding a constraint recreates the table (Alembic's batch mode): the
        foreign keys are off meanwhile (dropping a referenced table would otherwise delete
        or refuse its children) and checked before the migration commits (SQLite's
        procedure for schema changes; the pragma works only outside a transaction)."""
        with self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection if self.is_sqlite else None
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    config = alembic_config()
                    config.attributes["connection"] = conn
                    verb(config, revision)
                    if raw is not None:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                        assert not broken, f"foreign keys broken: {broken[:5]}"
            finally:
                if raw is not None:  # a pooled (in-memory) connection is used again
                    raw.execute("PRAGMA foreign_keys=ON")

    def dispose(self) -> None:
        self.engine.dispose()

    def answers(self) -> bool:
        """Whether the database answers a trivial query (the /health check)."""
        try:
            with self.read() as conn:
                conn.exec_driver_sql("SELECT 1")
        except DBAPIError:
            return False
        return True


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """Statements whose results are not read, sent without waiting for each answer: on
    PostgreSQL in psycopg's pipeline mode, one round trip when the block ends, where a
    database error then surfaces (as SQLAlchemy's DBAPIError, like any other); SQLite,
    in process, runs them one by one."""
    if conn.dialect.name != "postgresql":
        yield
        return
    raw: Any = conn.connection.driver_connection  # psycopg's connection: pipeline()
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


@contextmanager
def committing(conn: Connection) -> Iterator[None]:
    """The block's statements (results not read) and the transaction's COMMIT in one
    round trip: on PostgreSQL in psycopg's pipeline mode, the commit sent inside it (the
    enclosing ``Database.write`` then finds nothing left to commit); a failure of the
    COMMIT itself (a deferred constraint) surfaces here as DBAPIError. On SQLite the block
    runs and the write commits when it ends, as always. Nothing may run in the
    transaction after this block."""
    if conn.dialect.name != "postgresql":
        yield
        return
    with pipelined(conn):
        yield
        conn.connection.driver_connection.commit()  # type: ignore[union-attr]


class Failure(Enum):
    """What a database error says about the request that met it."""

    COLLISION = "collision"  # a concurrent transaction won: the same request may succeed
    DUPLICATE = "duplicate"  # a unique key is taken: a concurrent twin, or the input's own
    UNAVAILABLE = "unavailable"  # the database cannot be reached or refuses work for now
    BROKEN = "broken"  # a row the database refuses (NOT NULL, CHECK, foreign key), bad SQL
    INPUT = "input"  # a value out of the column type's range (an unchecked input's fault)


# PostgreSQL SQLSTATEs: 40001 serialization failure, 40P01 deadlock; 23505 unique
# violation; class 08 connection exceptions, 53 insufficient resources, 57P0x shutdown
_PG_COLLISION = frozenset({"40001", "40P01"})
_PG_INPUT = frozenset({"22003"})  # numeric value out of range (e.g. an id past INTEGER)
_PG_UNAVAILABLE_PREFIXES = ("08", "53", "57P")
# SQLite result codes (Python's sqlite_errorname): busy/locked is the write lock held by
# another connection past the busy timeout; I/O and open failures are the file
_SQLITE_COLLISION_PREFIXES = ("SQLITE_BUSY", "SQLITE_LOCKED")
_SQLITE_DUPLICATE = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})
_SQLITE_UNAVAILABLE_PREFIXES = ("SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_FULL")


def classify(exc: DBAPIError) -> Failure:
    """Tell a concurrency collision (worth running the same request again) from a lost
    database and from a statement the database refuses whatever the timing (a missing
    value, a broken CHECK: the input or the code is at fault, never retried)."""
    if exc.connection_invalidated:
        return Failure.UNAVAILABLE
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return _classify_pg(sqlstate)
    name = getattr(exc.orig, "sqlite_errorname", None)
    if name is not None:
        return _classify_sqlite(name)
    # no server answer at all (psycopg could not connect): the database is away
    return Failure.UNAVAILABLE if not isinstance(exc, IntegrityError) else Failure.BROKEN


def constraint_of(exc: DBAPIError) -> str:
    """The name of the constraint (or the table.column) a refused row broke, for the
    logs: never a value of the row."""
    diag = getattr(exc.orig, "diag", None)
    if diag is not None:
        return str(diag.constraint_name or diag.column_name or "")
    text = str(exc.orig)
    return text.split("failed: ", 1)[1][:120] if "constraint failed: " in text else ""


def _classify_pg(sqlstate: str) -> Failure:
    if sqlstate in _PG_COLLISION:
        return Failure.COLLISION
    if sqlstate == "23505":
        return Failure.DUPLICATE
    if sqlstate in _PG_INPUT:
        return Failure.INPUT
    if sqlstate.startswith(_PG_UNAVAILABLE_PREFIXES):
        return Failure.UNAVAILABLE
    return Failure.BROKEN


def _classify_sqlite(name: str) -> Failure:
    if name.startswith(_SQLITE_COLLISION_PREFIXES):
        return Failure.COLLISION
    if name in _SQLITE_DUPLICATE:
        return Failure.DUPLICATE
    if name.startswith(_SQLITE_UNAVAILABLE_PREFIXES):
        return Failure.UNAVAILABLE
    return Failure.BROKEN


class Need(Enum):
    """What a command needs of its database before it starts (``problem``)."""

    SERVER = "server"  # it creates the SQLite file and the schema (migrate, seed, serve, demo)
    DATABASE = "database"  # the database exists; the command migrates it (world, bench)
    SCHEMA = "schema"  # the database exists at the newest migration (every other command)


PROBE_CONNECT_SECONDS = 10


def problem(given: str, need: Need) -> str | None:
    """What keeps a command from using the database ``given`` (a URL or a SQLite path),
    in one line that says how to fix it; None when nothing does. Creates nothing: a
    missing SQLite file stays missing. No password appears in the line."""
    try:
        bare, mode = pooler_mode(normalize_url(given))
    except ValueError as exc:
        return str(exc)
    target = make_url(bare)
    fix = f"`yibao migrate --db {_shown(given)}`"
    sqlite = target.get_backend_name() == "sqlite"
    path = _sqlite_file(target)
    if path is not None and not path.parent.is_dir():
        return f"no directory {path.parent} for the database {path}"
    if path is not None and not path.exists():
        return None if need is Need.SERVER else f"no database at {path}; create it with {fix}"
    if path is not None and need is Need.SERVER:
        return None
    where = str(path or "memory") if sqlite else _server(target)
    engine = create_engine(target, poolclass=NullPool,
                           connect_args={} if sqlite else
                           {"connect_timeout": PROBE_CONNECT_SECONDS, **connect_args(mode)})
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
    except DBAPIError as exc:
        return _unusable(target, where, exc, fix if need is not Need.SERVER else "")
    finally:
        engine.dispose()
    return _schema_problem(where, current, fix) if need is Need.SCHEMA else None


def _sqlite_file(target: URL) -> Path | None:
    """The file of a SQLite database (None: in memory, or not SQLite)."""
    if target.get_backend_name() != "sqlite" or target.database in (None, "", ":memory:"):
        return None
    return Path(str(target.database)).absolute()


def _schema_problem(where: str, current: tuple[str, ...], fix: str) -> str | None:
    """Whether the schema is at the newest migration this yibao knows."""
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    if set(current) == set(heads):
        return None
    at, needs = ", ".join(current) or "none", ", ".join(heads)
    known = {revision.revision for revision in script.walk_revisions()}
    if not set(current) <= known:
        return (f"the database at {where} is at revision {at}, which this yibao does not "
                f"know (its newest is {needs}): use the yibao that migrated it")
    return f"the database at {where} is not migrated (at revision {at}, needs {needs}): run {fix}"


def _unusable(target: URL, where: str, exc: DBAPIError, fix: str) -> str:
    """A connection that failed, told by the driver's reason: no such database, the
    server refused the user, the server is away; or a SQLite file that is no database."""
    reason = str(exc.orig).splitlines()[0].rsplit("failed: ", 1)[-1].replace("FATAL:  ", "")
    if target.get_backend_name() == "sqlite":
        return f"cannot read the database at {where}: {reason}"
    then = f", then run {fix}" if fix else ""
    if f'database "{target.database}" does not exist' in reason:
        createdb = " ".join(["createdb", f"-h {target.host or 'localhost'}",
                             f"-p {target.port or 5432}",
                             *([f"-U {target.username}"] if target.username else []),
                             str(target.database)])
        return (f"the PostgreSQL database {target.database} does not exist on "
                f"{_server(target, database=False)}: create it with `{createdb}`{then}")
    if "FATAL" in str(exc.orig):
        return (f"PostgreSQL at {_server(target, database=False)} refused the connection "
                f"({reason}): correct the user or password in --db")
    return (f"cannot reach PostgreSQL at {_server(target, database=False)} ({reason}): "
            "start the server, or correct the host and port in --db")


def _server(target: URL, *, database: bool = True) -> str:
    place = f"{target.host or 'localhost'}:{target.port or 5432}"
    return f"{target.database} on {place}" if database else place


def _shown(given: str) -> str:
    """The --db value as given, its password hidden."""
    if "://" not in given:
        return given
    return make_url(given).render_as_string(hide_password=True)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "yibao.store:migrations")
    return config


def _create(url: str, *, pool_size: int, args: dict[str, Any]) -> Engine:
    if not url.startswith("sqlite"):
        # no pre-ping (a round trip per checkout): after a database restart the first
        # statement on a dead connection fails, SQLAlchemy sees the disconnect and
        # replaces every pooled connection older than it (docs/reliability.md)
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size,
                             connect_args=args)
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
