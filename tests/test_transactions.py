"""The transaction table (api/transactions.py) is built explicitly: it lists every infno
of the interface page exactly once, importing the interface registers nothing anywhere,
and the hospital route dispatches on the table it is given."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from conftest import ROOT
from flows import ok, refused
from yibao.api import transactions
from yibao.api.hospital import HospitalInterface
from yibao.api.registry import Transaction, index
from yibao.store.schema import message

INFNO_RANGE = re.compile(r"(\d{4})\s*[–-]\s*(\d{4})")
INFNO = re.compile(r"\b\d{4}[A-Z]?\b")  # 2203A: a variant of 2203


def documented_infnos() -> set[str]:
    """Every infno in the first column of docs/interface.md's table of transactions
    ("2206 / 2207 / 2208", "5201–5205", "1307–1311, 1313–1315", "2203 / 2203A" ...)."""
    text = (ROOT / "docs" / "interface.md").read_text(encoding="utf-8")
    section = text.split("\n## Transactions\n", 1)[1].split("\n## ", 1)[0]
    found: set[str] = set()
    for row in section.splitlines():
        if not row.startswith("| ") or row.startswith("| infno"):
            continue
        cell = row.split("|")[1]
        for first, last in INFNO_RANGE.findall(cell):
            found.update(f"{n:04d}" for n in range(int(first), int(last) + 1))
        found.update(INFNO.findall(INFNO_RANGE.sub("", cell)))
    return found


def test_the_table_holds_every_documented_infno_and_nothing_else():
    documented = documented_infnos()
    assert len(documented) > 50  # the page was read, not an empty section
    assert set(transactions.table()) == documented


def test_each_infno_is_listed_once_with_a_callable_handler():
    table = transactions.table()
    entries = (*transactions.LISTED, *transactions.DOWNLOADS,
               *transactions.online_transactions(transactions.NO_PLATFORM))
    infnos = [entry.infno for entry in entries]
    assert len(infnos) == len(set(infnos)) and transactions.REVERSAL_INFNO not in infnos
    assert len(table) == len(entries) + 1
    for infno, entry in table.items():
        assert entry.infno == infno and re.fullmatch(r"\d{4}A?", infno)
        assert callable(entry.handler) and entry.title


def test_a_second_entry_for_one_infno_is_refused():
    entry = transactions.table()["2207"]
    with pytest.raises(ValueError, match="2207 listed twice"):
        index((entry, Transaction("2207", "another", entry.handler, writes=False)))


def test_2601_is_told_exactly_the_infnos_that_change_nothing():
    table = transactions.table()
    read_only = table["2601"].handler.keywords["read_only"]  # type: ignore[attr-defined]
    assert read_only == {infno for infno, entry in table.items() if not entry.writes}
    assert "2206" in read_only and "2207" not in read_only


NOTHING_REGISTERED = """
import importlib, sys
import yibao.api.app
from yibao.api import transactions
from yibao.api.registry import Transaction

def holders():
    found = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("yibao"):
            continue
        for attr, value in vars(module).items():
            items = value.values() if isinstance(value, dict) else value
            if isinstance(value, (dict, list, set)) and any(
                    isinstance(item, Transaction) for item in items):
                found.append(f"{name}.{attr}")
    return found

first = transactions.table()
for name in [n for n in sys.modules if n.startswith("yibao.api.tx_")] * 2:
    importlib.reload(sys.modules[name])
importlib.reload(transactions)
again = transactions.table()
assert again is not first and again.keys() == first.keys(), "table changed by a reload"
again.clear()
assert len(transactions.table()) == len(first), "tables share state"
print(holders())
"""


def test_importing_the_interface_registers_nothing_globally():
    """In a fresh interpreter: import the whole application, reload every tx module twice
    (a registering decorator would then see each infno again); no module of the package
    holds transactions in a dict, list or set, and each table() is a new one."""
    done = subprocess.run([sys.executable, "-c", NOTHING_REGISTERED], capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _messages(db) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(message)).scalar_one())


def test_the_hospital_route_serves_the_table_it_is_given(db, app, his, clock):
    """A hospital interface given a table without 1901 refuses it (E-ENV-003) and stores
    nothing; the application's own, given the whole table, answers it."""
    served = app.state.hospital
    narrow = HospitalInterface(db, served.policies, clock=clock, ids=served.ids,
                               transactions={k: v for k, v in served.transactions.items()
                                             if k != "1901"})
    before = _messages(db)

    def body() -> bytes:
        envelope = his.envelope("1901", {"data": {"type": "insutype", "parentValue": ""}})
        return json.dumps(envelope, ensure_ascii=False).encode()

    refused(narrow.handle(his.headers(), body()), "E-ENV-003")
    assert _messages(db) == before
    assert ok(served.handle(his.headers(), body()))["list"]
    assert served.transactions.keys() - narrow.transactions.keys() == {"1901"}
