"""Every command checks its database before it runs and says in one line what is wrong
and how to fix it (exit 2, no traceback, nothing created): a missing SQLite file, a
schema that is not migrated, a PostgreSQL server that does not answer or a database it
does not hold. migrate, seed, serve and demo create the SQLite file themselves; `yibao
errors` needs no database at all."""

from __future__ import annotations

import sys

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import make_url
from typer.testing import CliRunner, Result

from conftest import PG_URL
from yibao.bench.server import free_port
from yibao.cli import app as cli
from yibao.store.db import Database, alembic_config

LEDGER = ["ledger", "verify"]
CLEARING = ["clearing", "run", "--month", "2026-05"]
OUTBOX = ["outbox", "list"]
BENCH = ["bench", "settle", "--seconds", "1"]
# commands that need the schema at the newest migration; bench settle migrates itself
NEED_SCHEMA = [LEDGER, CLEARING, OUTBOX]
EVERY = [*NEED_SCHEMA, BENCH]
needs_pg = pytest.mark.skipif(not PG_URL, reason="YIBAO_TEST_PG_URL is not set")


def refused(command: list[str], db: str) -> str:
    """The one line ``command --db db`` printed on standard error, exiting 2."""
    result = CliRunner().invoke(cli, [*command, "--db", db])
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    assert_no_traceback(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def assert_no_traceback(result: Result) -> None:
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def heads() -> str:
    return ", ".join(ScriptDirectory.from_config(alembic_config()).get_heads())


@pytest.mark.parametrize("command", EVERY, ids=" ".join)
@pytest.mark.parametrize("spelt", ["{}", "sqlite:///{}"])
def test_a_missing_sqlite_file_is_named_and_not_created(tmp_path, command, spelt):
    path = tmp_path / "yibao-typo.db"
    given = spelt.format(path)
    line = refused(command, given)
    assert line == f"no database at {path}; create it with `yibao migrate --db {given}`"
    assert list(tmp_path.iterdir()) == []


def test_a_relative_path_is_named_in_full(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = refused(LEDGER, "typo.db")
    assert line == f"no database at {tmp_path / 'typo.db'}; create it with " \
                   "`yibao migrate --db typo.db`"
    assert list(tmp_path.iterdir()) == []


def test_a_missing_directory_is_named_even_for_migrate(tmp_path):
    path = tmp_path / "no-such-dir" / "yibao.db"
    for command in (["migrate"], LEDGER):
        line = refused(command, str(path))
        assert line == f"no directory {path.parent} for the database {path}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", NEED_SCHEMA, ids=" ".join)
def test_an_empty_sqlite_file_is_not_migrated(tmp_path, command):
    path = tmp_path / "empty.db"
    path.touch()
    line = refused(command, str(path))
    assert line == (f"the database at {path} is not migrated (at revision none, needs "
                    f"{heads()}): run `yibao migrate --db {path}`")


def test_a_file_that_is_no_database_is_said_so(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("not a database\n" * 200)
    assert refused(OUTBOX, str(path)) == \
        f"cannot read the database at {path}: file is not a database"


def test_after_migrate_the_same_command_runs(tmp_path):
    path = str(tmp_path / "yibao.db")
    runner = CliRunner()
    assert refused(LEDGER, path).startswith("no database at")
    assert runner.invoke(cli, ["migrate", "--db", path]).exit_code == 0
    verified = runner.invoke(cli, [*LEDGER, "--db", path])
    assert verified.exit_code == 0, verified.output
    assert "ledger verified" in verified.stdout


def test_a_schema_one_migration_behind_names_both_revisions(migrated: Database):
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_revision(heads())
    migrated.downgrade(str(head.down_revision))
    try:
        for command in NEED_SCHEMA:
            line = refused(command, migrated.url)
            assert f"is not migrated (at revision {head.down_revision}, needs {head.revision})" \
                in line
            assert line.endswith(f"run `yibao migrate --db {shown(migrated.url)}`")
    finally:
        migrated.migrate()


def shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@pytest.mark.parametrize("command", [*EVERY, ["migrate"]], ids=" ".join)
def test_postgresql_that_does_not_answer_is_named_by_host_and_port(command):
    port = free_port()
    line = refused(command, f"postgresql://postgres:s3cret@127.0.0.1:{port}/yibao")
    assert line == (f"cannot reach PostgreSQL at 127.0.0.1:{port} (Connection refused): "
                    "start the server, or correct the host and port in --db")


@needs_pg
@pytest.mark.parametrize("command", [*EVERY, ["migrate"]], ids=" ".join)
def test_a_postgresql_database_that_does_not_exist_says_how_to_create_it(command):
    url = make_url(PG_URL).set(database="yibao_no_such_db", password="s3cret")
    given = url.render_as_string(hide_password=False)
    line = refused(command, given)
    createdb = (f"createdb -h {url.host} -p {url.port or 5432} -U {url.username} "
                "yibao_no_such_db")
    then = "" if command == ["migrate"] else \
        f", then run `yibao migrate --db {shown(given)}`"
    assert line == (f"the PostgreSQL database yibao_no_such_db does not exist on "
                    f"{url.host}:{url.port or 5432}: create it with `{createdb}`{then}")
    assert "s3cret" not in line


@needs_pg
def test_an_unknown_postgresql_user_is_refused_in_one_line():
    url = make_url(PG_URL).set(username="yibao_no_such_user")
    line = refused(LEDGER, url.render_as_string(hide_password=False))
    assert line.startswith(f"PostgreSQL at {url.host}:{url.port or 5432} refused the "
                           'connection (role "yibao_no_such_user" does not exist)')


def test_errors_needs_no_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("YIBAO_DATABASE_URL", str(tmp_path / "missing" / "yibao.db"))
    result = CliRunner().invoke(cli, ["errors"])
    assert result.exit_code == 0 and "E-CLR-004" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_the_spark_engine_without_pyspark_names_the_extra(db, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if it were not installed
    line = refused([*CLEARING, "--engine", "spark"], db.url)
    assert line == ("the Spark engine needs pyspark, which is not installed: "
                    "pip install 'yibao[spark]'")
