"""The partitioned schema (PostgreSQL declarative partitioning; docs/scaling.md).

``partition`` turns a migrated database's big tables into partitioned ones, in one
transaction, moving the rows they hold; the application's queries run on it unchanged:

- ``visit`` and ``settlement``: LIST by the treatment co-ordination area
  (``mdtrtarea_admvs``), one partition per area (the institutions' ``pool_area``, the
  areas already in the rows, the areas asked for) and a DEFAULT partition for any other.
- ``message``: RANGE by ``fixmedins_code``, one partition per code prefix of kind and
  province (``H11`` holds ``H11…`` up to ``H11Z``) and a DEFAULT partition; or left as
  it is (``message=False``, decided the first time).

PostgreSQL wants the partition key in every unique constraint of a partitioned table, so
the ids the code relies on stay unique in small key tables kept by triggers:
``visit_key`` (``mdtrt_id``, its primary key named ``pk_visit``) and ``settlement_key``
(``setl_id`` as ``pk_settlement``, ``reverses`` as ``uq_settlement_reverses``): a
duplicate id in another area's partition is refused with the name it had before. The
foreign keys that pointed at ``visit`` and ``settlement`` point at the key tables, whose
rows exist exactly while the visit's or settlement's row does; the partitioned tables'
own primary keys are (id, area). A row never changes area (refused: moving it would
delete its key under its children). ``message`` keeps its primary key (it holds its
partition key).

SQLite has no partitioning: ``partition`` refuses it (``NotApplicable``). On a database
already partitioned (``Outcome.already``) it only adds the partitions of areas (and code
prefixes) that have joined since, moving their rows out of the DEFAULT partitions
(``Outcome.added``); with none, nothing changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from yibao.store.db import Database

AREA = re.compile(r"^\d{6}$")  # a co-ordination area (admdvs code)
PREFIX = re.compile(r"^[A-Z]\d\d")  # an institution code's kind letter and province
KINDS = ("H", "P")  # hospitals and pharmacies: the prefixes made for an area asked for
PREFIX_END = "Z"  # a prefix's range ends below prefix + "Z": digits follow the prefix


@dataclass(frozen=True, slots=True)
class ByArea:
    """A table LIST-partitioned by the co-ordination area, its ids unique in ``key``."""

    table: str
    area: str  # the partition key column
    ids: tuple[str, ...]  # the key table's primary key (the table's old one)
    unique: tuple[str, ...] = ()  # other columns unique over every partition

    @property
    def key(self) -> str:
        return f"{self.table}_key"


VISIT = ByArea("visit", "mdtrtarea_admvs", ("mdtrt_id",))
SETTLEMENT = ByArea("settlement", "mdtrtarea_admvs", ("setl_id",), ("reverses",))
BY_AREA = (VISIT, SETTLEMENT)  # parents first: settlement's foreign key names visit_key
BY_CODE = "message"  # RANGE by fixmedins_code prefix
CODE = "fixmedins_code"
TABLES = (*(spec.table for spec in BY_AREA), BY_CODE)
UNPARTITIONED = "_unpartitioned"  # the old table's name while its rows move


class NotApplicable(Exception):
    """The database cannot be partitioned (SQLite); the message says why."""


@dataclass(frozen=True, slots=True)
class Partition:
    table: str
    name: str
    bound: str  # PostgreSQL's words: FOR VALUES IN ('110000'), DEFAULT, ...
    rows: int


@dataclass(frozen=True, slots=True)
class Outcome:
    already: bool  # the database was partitioned before
    moved: dict[str, int]  # rows moved per table (out of DEFAULT when already)
    partitions: tuple[Partition, ...]
    unplaced: tuple[str, ...]  # institutions' areas with no partition of their own
    added: tuple[str, ...] = ()  # partitions added to a partitioned database


def partition(db: Database, *, areas: Iterable[str] = (), message: bool = True) -> Outcome:
    """Partition the big tables of ``db`` (migrated to the newest revision), moving their
    rows, in one transaction; ``areas``: co-ordination areas to give a partition beside
    those the data names; ``message``: partition ``message`` too (the first time: it
    costs the most per settlement, docs/scaling.md). On a partitioned database
    (``already``) only the partitions of areas and prefixes that have none yet are
    added, their rows moved out of DEFAULT."""
    if db.is_sqlite:
        raise NotApplicable(
            "SQLite has no table partitioning: `yibao db partition` needs PostgreSQL "
            "(the SQLite schema stays as migrated)")
    wanted = sorted(set(areas))
    bad = [area for area in wanted if not AREA.match(area)]
    if bad:
        raise ValueError(f"not a co-ordination area (six digits): {', '.join(bad)}")
    with db.write() as conn:
        conn.exec_driver_sql("LOCK TABLE " + ", ".join(TABLES) + " IN ACCESS EXCLUSIVE MODE")
        found = _areas(conn) | set(wanted)
        if is_partitioned(conn):
            added, moved = _split_defaults(conn, found)
            return Outcome(True, moved, layout(conn), unplaced(conn), added)
        moved = {spec.table: _by_area(conn, spec, sorted(found)) for spec in BY_AREA}
        if message:
            moved[BY_CODE] = _by_code(conn, _prefixes(conn, found))
        for table in TABLES:
            conn.exec_driver_sql(f"ANALYZE {table}")
        return Outcome(False, moved, layout(conn), unplaced(conn))


def partitioned_tables(conn: Connection) -> frozenset[str]:
    """Which of the big tables are partitioned."""
    return frozenset(str(name) for name in conn.execute(text(
        "SELECT relname FROM pg_class WHERE relname = ANY(:names) AND relkind = 'p' "
        "AND relnamespace = current_schema()::regnamespace"),
        {"names": list(TABLES)}).scalars())


def is_partitioned(conn: Connection) -> bool:
    """Whether the database is partitioned: visit and settlement are (``partition`` is
    one transaction, so both or neither; message too unless it was left out)."""
    return {spec.table for spec in BY_AREA} <= partitioned_tables(conn)


def layout(conn: Connection) -> tuple[Partition, ...]:
    """Every partition of the partitioned tables, its bound and its rows (a count)."""
    found = conn.execute(text(
        "SELECT p.relname, c.relname, pg_get_expr(c.relpartbound, c.oid) "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relname = ANY(:names) AND p.relnamespace = current_schema()::regnamespace "
        "ORDER BY p.relname, c.relname"), {"names": list(TABLES)}).all()
    return tuple(Partition(table, name, bound, int(conn.exec_driver_sql(
        f"SELECT count(*) FROM {_ident(name)}").scalar_one()))
        for table, name, bound in found)


def unplaced(conn: Connection) -> tuple[str, ...]:
    """The institutions' co-ordination areas that have no partition of their own (their
    visits and settlements land in the DEFAULT partition)."""
    have = {bound for p in layout_bounds(conn, VISIT.table) for bound in p}
    return tuple(sorted(area for area in _institution_areas(conn) if area not in have))


def layout_bounds(conn: Connection, table: str) -> list[tuple[str, ...]]:
    """The LIST values of each partition of ``table`` (empty for DEFAULT)."""
    bounds = conn.execute(text(
        "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"),
        {"t": table}).scalars().all()
    return [tuple(re.findall(r"'([^']*)'", bound)) for bound in bounds]


def _institution_areas(conn: Connection) -> set[str]:
    return {area for area in conn.exec_driver_sql(
        "SELECT DISTINCT pool_area FROM institution").scalars() if AREA.match(area)}


def _areas(conn: Connection) -> set[str]:
    """The areas the data names: the institutions' and those of the rows held."""
    held = conn.exec_driver_sql(
        "SELECT mdtrtarea_admvs FROM visit UNION SELECT mdtrtarea_admvs FROM settlement"
    ).scalars()
    return _institution_areas(conn) | {area for area in held if AREA.match(area)}


def _prefixes(conn: Connection, areas: Iterable[str]) -> list[str]:
    """The code prefixes ``message`` is partitioned by: each institution's kind letter and
    province, and hospitals' and pharmacies' of each area."""
    codes = conn.exec_driver_sql(
        "SELECT DISTINCT left(fixmedins_code, 3) FROM institution "
        "UNION SELECT DISTINCT left(fixmedins_code, 3) FROM message").scalars()
    found = {code for code in codes if PREFIX.match(code)}
    return sorted(found | {kind + area[:2] for area in areas for kind in KINDS})


# ------------------------------------------------------------------ the steps


def _split_defaults(conn: Connection, areas: set[str]) -> tuple[tuple[str, ...],
                                                                dict[str, int]]:
    """The partitions of ``areas`` (and of their code prefixes) that do not exist yet,
    added: DEFAULT detached, the new partition filled from it as a plain table and
    attached, DEFAULT attached again. The rows keep their ids, so the key tables and the
    foreign keys are untouched and no trigger fires."""
    added: list[str] = []
    moved: dict[str, int] = {}
    for spec in BY_AREA:
        have = {value for values in layout_bounds(conn, spec.table) for value in values}
        for area in sorted(areas - have):
            name = f"{spec.table}_{area}"
            moved[spec.table] = moved.get(spec.table, 0) + _split(
                conn, spec.table, name, f"{spec.area} = '{area}'", _area_bound(area))
            added.append(name)
    have = {values[0] for values in layout_bounds(conn, BY_CODE) if values}
    left_out = BY_CODE not in partitioned_tables(conn)
    for prefix in [] if left_out else _prefixes(conn, areas):
        if prefix in have:
            continue
        name, end = f"{BY_CODE}_{prefix.lower()}", f"{prefix}{PREFIX_END}"
        moved[BY_CODE] = moved.get(BY_CODE, 0) + _split(
            conn, BY_CODE, name, f"{CODE} >= '{prefix}' AND {CODE} < '{end}'",
            _code_bound(prefix))
        added.append(name)
    return tuple(added), moved


def _area_bound(area: str) -> str:
    return f"FOR VALUES IN ('{area}')"


def _code_bound(prefix: str) -> str:
    return f"FOR VALUES FROM ('{prefix}') TO ('{prefix}{PREFIX_END}')"


def _remade_partitioned(conn: Connection, table: str, by: str,
                        partitions: Sequence[tuple[str, str]],
                        indexes: Sequence[tuple[str, str, bool, bool]]) -> None:
    """``table`` made again from the copy set aside, partitioned ``by``: a partition per
    (name, bound) and a DEFAULT one; ``indexes``' plain ones made again (their unique
    ones and the primary key are the caller's: they must hold the partition key)."""
    conn.exec_driver_sql(
        f"CREATE TABLE {table} (LIKE {table}{UNPARTITIONED} INCLUDING DEFAULTS INCLUDING "
        f"CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY {by}")
    for name, bound in partitions:
        conn.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF {table} {bound}")
    conn.exec_driver_sql(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    for _, definition, is_unique, _ in indexes:
        if not is_unique:
            conn.exec_driver_sql(definition)


def _split(conn: Connection, table: str, name: str, rows: str, bound: str) -> int:
    """One partition ``name`` of ``table`` taking the DEFAULT partition's ``rows``."""
    default = f"{table}_default"
    conn.exec_driver_sql(f"ALTER TABLE {table} DETACH PARTITION {default}")
    conn.exec_driver_sql(
        f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        f"INCLUDING STORAGE INCLUDING COMMENTS)")
    moved = conn.exec_driver_sql(
        f"WITH gone AS (DELETE FROM {default} WHERE {rows} RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM gone").rowcount
    conn.exec_driver_sql(f"ALTER TABLE {table} ATTACH PARTITION {name} {bound}")
    conn.exec_driver_sql(f"ALTER TABLE {table} ATTACH PARTITION {default} DEFAULT")
    return int(moved)


def _by_area(conn: Connection, spec: ByArea, areas: Sequence[str]) -> int:
    """``spec.table`` rebuilt LIST-partitioned by area, its rows moved, its ids kept
    unique in the key table the foreign keys now name."""
    table, old = spec.table, spec.table + UNPARTITIONED
    indexes = _indexes(conn, table)
    inbound = _foreign_keys(conn, "confrelid", table)
    outbound = _foreign_keys(conn, "conrelid", table)
    unique = {name for name, _, is_unique, primary in indexes if is_unique and not primary}
    assert unique <= {f"uq_{table}_{column}" for column in spec.unique}, unique
    types = _types(conn, table, (*spec.ids, *spec.unique))
    for child, name, _ in inbound:
        conn.exec_driver_sql(f"ALTER TABLE {child} DROP CONSTRAINT {name}")
    _set_aside(conn, table, indexes)
    _remade_partitioned(conn, table, f"LIST ({spec.area})",
                        [(f"{table}_{area}", _area_bound(area)) for area in areas], indexes)
    ids = ", ".join(spec.ids)
    conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table}_by_area "
                         f"PRIMARY KEY ({ids}, {spec.area})")
    columns = ", ".join(f"{column} {types[column]}" + (" NOT NULL" if column in spec.ids
                                                       else "")
                        for column in (*spec.ids, *spec.unique))
    uniques = "".join(f", CONSTRAINT uq_{table}_{column} UNIQUE ({column})"
                      for column in spec.unique)
    conn.exec_driver_sql(f"CREATE TABLE {spec.key} ({columns}, "
                         f"CONSTRAINT pk_{table} PRIMARY KEY ({ids}){uniques})")
    moved = conn.exec_driver_sql(f"INSERT INTO {table} SELECT * FROM {old}").rowcount
    kept = ", ".join((*spec.ids, *spec.unique))
    conn.exec_driver_sql(f"INSERT INTO {spec.key} ({kept}) SELECT {kept} FROM {old}")
    _key_triggers(conn, spec)
    for _, name, definition in outbound:
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    referenced = re.compile(rf"REFERENCES (\w+\.)?{table}\(")
    for child, name, definition in inbound:
        assert referenced.search(definition), definition
        conn.exec_driver_sql(f"ALTER TABLE {child} ADD CONSTRAINT {name} "
                             + referenced.sub(f"REFERENCES {spec.key}(", definition))
    _grant_as(conn, old, (table, spec.key))
    conn.exec_driver_sql(f"DROP TABLE {old}")
    return int(moved)


def _key_triggers(conn: Connection, spec: ByArea) -> None:
    """The key table follows the partitioned table's rows: a row inserted adds its key
    (a duplicate id is refused there), a row deleted removes it, an id changed changes
    it; the area of a row never changes."""
    table, columns = spec.table, (*spec.ids, *spec.unique)
    listed = ", ".join(columns)
    match = " AND ".join(f"{column} = OLD.{column}" for column in spec.ids)
    sets = ", ".join(f"{column} = NEW.{column}" for column in columns)
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
    conn.exec_driver_sql(f"""
CREATE FUNCTION {spec.key}_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {spec.key} ({listed}) VALUES ({", ".join(f"NEW.{c}" for c in columns)});
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM {spec.key} WHERE {match};
    ELSE
        UPDATE {spec.key} SET {sets} WHERE {match};
    END IF;
    RETURN NULL;
END
$$;
CREATE FUNCTION {table}_area_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{table} %% cannot move from area %% to %%', OLD.{spec.ids[0]},
        OLD.{spec.area}, NEW.{spec.area}
        USING ERRCODE = 'check_violation', CONSTRAINT = 'ct_{table}_area_fixed';
END
$$;
CREATE TRIGGER tg_{spec.key}_insert AFTER INSERT ON {table}
    FOR EACH ROW EXECUTE FUNCTION {spec.key}_sync();
CREATE TRIGGER tg_{spec.key}_delete AFTER DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {spec.key}_sync();
CREATE TRIGGER tg_{spec.key}_update AFTER UPDATE OF {listed} ON {table}
    FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {spec.key}_sync();
CREATE TRIGGER tg_{table}_area_fixed BEFORE UPDATE OF {spec.area} ON {table}
    FOR EACH ROW WHEN (OLD.{spec.area} IS DISTINCT FROM NEW.{spec.area})
    EXECUTE FUNCTION {table}_area_fixed();
""")


def _by_code(conn: Connection, prefixes: Sequence[str]) -> int:
    """``message`` rebuilt RANGE-partitioned by the institution code, one partition per
    prefix and a DEFAULT one; its primary key (code, msgid) holds the key already."""
    table, old = BY_CODE, BY_CODE + UNPARTITIONED
    indexes = _indexes(conn, table)
    assert not _foreign_keys(conn, "confrelid", table)
    assert not _foreign_keys(conn, "conrelid", table)
    primary = [columns for name, columns in _primary(conn, table)]
    assert len(primary) == 1 and CODE in primary[0], primary
    _set_aside(conn, table, indexes)
    _remade_partitioned(conn, table, f"RANGE ({CODE})",
                        [(f"{table}_{p.lower()}", _code_bound(p)) for p in prefixes], indexes)
    conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} "
                         f"PRIMARY KEY ({primary[0]})")
    moved = conn.exec_driver_sql(f"INSERT INTO {table} SELECT * FROM {old}").rowcount
    _grant_as(conn, old, (table,))
    conn.exec_driver_sql(f"DROP TABLE {old}")
    return int(moved)


def _grant_as(conn: Connection, old: str, tables: Sequence[str]) -> None:
    """The privileges other roles held on the old table, granted on the new one and its
    key table (the key triggers run as the role that writes the row; statements through
    the partitioned table need no grant on its partitions)."""
    grants = conn.execute(text(
        "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
        "ELSE quote_ident(r.rolname) END FROM pg_class c "
        "CROSS JOIN aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE c.oid = CAST(:t AS regclass) AND a.grantee <> c.relowner"), {"t": old}).all()
    for privilege, grantee in grants:
        conn.exec_driver_sql(f"GRANT {privilege} ON {', '.join(tables)} TO {grantee}")


def _set_aside(conn: Connection, table: str, indexes: list[tuple[str, str, bool, bool]]
               ) -> None:
    """The old table and its indexes renamed, freeing their names for the new ones."""
    conn.exec_driver_sql(f"ALTER TABLE {table} RENAME TO {table}{UNPARTITIONED}")
    for name, *_ in indexes:
        conn.exec_driver_sql(f"ALTER INDEX {name} RENAME TO {name}{UNPARTITIONED}")


def _indexes(conn: Connection, table: str) -> list[tuple[str, str, bool, bool]]:
    """Each index of ``table``: its name, definition, whether unique, whether primary."""
    return [(str(name), str(definition), bool(unique), bool(primary))
            for name, definition, unique, primary in conn.execute(text(
                "SELECT i.relname, pg_get_indexdef(i.oid), x.indisunique, x.indisprimary "
                "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = CAST(:t AS regclass) ORDER BY i.relname"), {"t": table})]


def _foreign_keys(conn: Connection, side: str, table: str) -> list[tuple[str, str, str]]:
    """The foreign keys into (``confrelid``) or out of (``conrelid``) ``table``: the
    constrained table, the name and the definition."""
    assert side in ("confrelid", "conrelid")
    return [(str(child), str(name), str(definition)) for child, name, definition in
            conn.execute(text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                f"FROM pg_constraint WHERE contype = 'f' AND {side} = CAST(:t AS regclass) "
                "ORDER BY conname"), {"t": table})]


def _primary(conn: Connection, table: str) -> list[tuple[str, str]]:
    """The primary key of ``table``: its name and its columns, comma-separated."""
    return [(str(name), ", ".join(columns)) for name, columns in conn.execute(text(
        "SELECT c.conname, array_agg(a.attname ORDER BY k.n) FROM pg_constraint c "
        "CROSS JOIN unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
        "WHERE c.contype = 'p' AND c.conrelid = CAST(:t AS regclass) GROUP BY c.conname"),
        {"t": table})]


def _types(conn: Connection, table: str, columns: Sequence[str]) -> dict[str, str]:
    """The SQL type of each of ``columns`` of ``table``."""
    found = {str(name): str(kind) for name, kind in conn.execute(text(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped"),
        {"t": table})}
    return {column: found[column] for column in columns}


def _ident(name: str) -> str:
    assert re.fullmatch(r"[a-z0-9_]+", name), name
    return name
