"""A synthetic region at scale (`yibao world generate`): persons with valid ID numbers
and a realistic age and insurance mix, institutions across levels, a large catalogue.

Deterministic for a seed. Rows are written in batches (PostgreSQL: COPY), with a
progress bar; one million persons take minutes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Table

from yibao.store.db import Database
from yibao.store.demo import REGION
from yibao.store.schema import account, card, catalogue_item, institution, insurance, person

BATCH_ROWS = 20_000
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
DISTRICTS = ("110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111")
WORLD_PREFIX = "W"  # codes of generated rows never collide with the demo dataset


def id_check_digit(first17: str) -> str:
    """GB 11643 (ISO 7064 MOD 11-2) check character of an 18-digit ID number."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def id_number(district: str, birth: date, serial: int) -> str:
    first17 = f"{district}{birth:%Y%m%d}{serial % 1000:03d}"
    return first17 + id_check_digit(first17)


@dataclass(frozen=True, slots=True)
class Scale:
    persons: int = 10_000
    institutions: int = 1_000
    items: int = 20_000
    seed: int = 2026


def institution_code(index: int) -> str:
    return f"{WORLD_PREFIX}{index:011d}"


def world_token(code: str) -> str:
    return f"world-{code}"


def world_psn_no(index: int) -> str:
    return f"{WORLD_PREFIX}{REGION}{index:013d}"


def item_code(index: int) -> str:
    return f"{WORLD_PREFIX}X{index:09d}"


def _level(rng: random.Random) -> tuple[str, int]:
    roll = rng.random()
    if roll < 0.05:
        return "hospital", 3
    if roll < 0.20:
        return "hospital", 2
    if roll < 0.70:
        return "hospital", 1
    return "pharmacy", 0


# where the world's institutions are: over Beijing's plain (about 65 by 65 km), in pairs
# two kilometres apart (institution 2k+1 due north of 2k), so that a world has both
# distant institutions and near neighbours (the supervision rule SV01 tells them apart)
LAT_E6, LON_E6, SPAN_E6 = (39_650_000, 116_050_000, 600_000)
PAIR_OFFSET_E6 = 18_000  # 0.018 degrees of latitude: 2.0 km


def coordinates(scale: Scale, index: int) -> tuple[int, int]:
    """(lat_e6, lon_e6) of the world's institution ``index``."""
    rng = random.Random(scale.seed * 100_003 + index // 2)
    lat, lon = LAT_E6 + rng.randrange(SPAN_E6), LON_E6 + rng.randrange(SPAN_E6)
    return (lat + PAIR_OFFSET_E6 * (index % 2), lon)


def institutions(scale: Scale) -> Iterator[dict[str, Any]]:
    rng = random.Random(scale.seed)
    for i in range(scale.institutions):
        kind, level = _level(rng)
        code = institution_code(i)
        lat_e6, lon_e6 = coordinates(scale, i)
        # open to all (no person of the world designates institutions): a community
        # centre at tier 1, an A-class hospital above (docs/designation.md)
        open_kind = "" if kind == "pharmacy" else "community" if level == 1 else "a_class"
        yield dict(fixmedins_code=code, name=f"合成机构{i}", kind=kind, level=level,
                   admdvs=rng.choice(DISTRICTS), pool_area=REGION, token=world_token(code),
                   open_kind=open_kind, lat_e6=lat_e6, lon_e6=lon_e6)


def _person_type(rng: random.Random, age: int) -> tuple[str, str]:
    """(insutype, psn_type): about 60 % employees (retirees by age), 40 % residents."""
    if age < 18:
        return "390", "1403"
    if rng.random() < 0.6:
        return "310", "1201" if age >= 60 else "1101"
    return "390", "1501"


Row = dict[str, Any]


def persons(scale: Scale) -> Iterator[tuple[Row, Row, Row | None, Row]]:
    """(person, insurance, account or None, card) rows; ID numbers are valid and unique."""
    rng = random.Random(scale.seed + 1)
    today = date(2026, 1, 1)
    taken: set[str] = set()
    for i in range(scale.persons):
        age = min(99, max(0, int(rng.gauss(42, 20))))
        birth = today - timedelta(days=age * 365 + rng.randrange(365))
        insutype, psn_type = _person_type(rng, age)
        district = rng.choice(DISTRICTS)
        serial = rng.randrange(1000)
        certno = id_number(district, birth, serial)
        while certno in taken:
            serial += 1
            certno = id_number(district, birth, serial)
        taken.add(certno)
        psn_no = world_psn_no(i)
        yield (
            dict(psn_no=psn_no, psn_cert_type="01", certno=certno, name=f"合成{i}",
                 gend="1" if int(certno[16]) % 2 else "2", naty="01", brdy=birth,
                 insuplc_admdvs=REGION),
            dict(psn_no=psn_no, insutype=insutype, psn_type=psn_type, psn_insu_stas="1",
                 psn_insu_date=date(2010, 1, 1), cvlserv_flag="0", emp_name="合成单位"),
            dict(psn_no=psn_no, balance=rng.randrange(0, 1_000_000)) if insutype == "310"
            else None,
            dict(card_no=f"{WORLD_PREFIX}C{i:010d}", card_sn=f"{WORLD_PREFIX}S{i:010d}",
                 psn_no=psn_no, status="valid"),
        )


def items(scale: Scale) -> Iterator[dict[str, Any]]:
    """Drugs (甲 40 %, 乙 40 %, 丙 20 %), services (a third with a price cap), consumables."""
    rng = random.Random(scale.seed + 2)
    for i in range(scale.items):
        roll = rng.random()
        list_type = "101" if roll < 0.6 else "201" if roll < 0.9 else "301"
        level = rng.choices(("01", "02", "03"), weights=(4, 4, 2))[0]
        cap = None
        if list_type == "201" and rng.random() < 0.33:
            cap = f"{rng.randrange(5, 500)}.00"
        ratio = {"01": "0", "02": rng.choice(("0.05", "0.10", "0.20")), "03": "1"}[level]
        yield dict(region=REGION, code=item_code(i), name=f"合成目录{i}", list_type=list_type,
                   chrgitm_lv=level, price_cap=cap, selfpay_ratio=ratio,
                   valid_from=date(2020, 1, 1), ver="20240101") | NO_LIMITS
    for code, (name, list_type, limits) in LIMITED_ITEMS.items():
        yield dict(region=REGION, code=code, name=name, list_type=list_type, chrgitm_lv="02",
                   price_cap=None, selfpay_ratio="0.10", valid_from=date(2020, 1, 1),
                   ver="20240101") | NO_LIMITS | limits


# Items with the catalogue's usage limits (supervision, docs/supervision.md), after the
# generated ones: the rules SV05, SV07..SV10 read them.
NO_LIMITS: dict[str, Any] = dict(lmt_gend="", lmt_age_min=None, lmt_age_max=None,
                                 lmt_daily_cnt=None, lmt_course_days=None,
                                 lmt_visit_times=None, per_day=False)
FEMALE_ONLY, MALE_ONLY, CHILD_ONLY = "WL000000001", "WL000000002", "WL000000003"
DAILY_3, BED_DAY, CAPPED_50 = "WL000000004", "WL000000005", "WL000000006"
LIMITED_ITEMS: dict[str, tuple[str, str, dict[str, Any]]] = {
    FEMALE_ONLY: ("合成限女性项目", "201", dict(lmt_gend="2")),
    MALE_ONLY: ("合成限男性项目", "201", dict(lmt_gend="1")),
    CHILD_ONLY: ("合成限儿童药品", "101", dict(lmt_age_max=14)),
    DAILY_3: ("合成日限3次项目", "201", dict(lmt_daily_cnt="3")),
    BED_DAY: ("合成床位费", "201", dict(per_day=True)),
    CAPPED_50: ("合成限价项目", "201", dict(price_cap="50.00")),
}


Progress = Callable[[str, int], None]


def _write(db: Database, table: Table, rows: Iterator[dict[str, Any]], progress: Progress,
           label: str) -> int:
    count = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            count += write_batch(db, table, batch)
            progress(label, len(batch))
            batch = []
    if batch:
        count += write_batch(db, table, batch)
        progress(label, len(batch))
    return count


def write_batch(db: Database, table: Table, batch: list[dict[str, Any]]) -> int:
    """Rows into ``table`` in one transaction (PostgreSQL: COPY)."""
    with db.write() as conn:
        if db.is_sqlite:
            conn.execute(table.insert(), batch)
            return len(batch)
        columns = list(batch[0])
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(
            f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for row in batch:
                copy.write_row([row[c] for c in columns])
    return len(batch)


def generate(db: Database, scale: Scale, progress: Progress) -> dict[str, int]:
    """Write the synthetic region into a migrated database; returns rows per table."""
    counts = {"institution": _write(db, institution, institutions(scale), progress,
                                    "institutions")}
    counts["catalogue_item"] = _write(db, catalogue_item, items(scale), progress, "items")
    people, insured, accounts, cards = [], [], [], []
    counts |= dict.fromkeys(("person", "insurance", "account", "card"), 0)
    for p, ins, acct, c in persons(scale):
        people.append(p)
        insured.append(ins)
        cards.append(c)
        if acct is not None:
            accounts.append(acct)
        if len(people) >= BATCH_ROWS:
            _persons_batch(db, counts, people, insured, accounts, cards, progress)
            people, insured, accounts, cards = [], [], [], []
    if people:
        _persons_batch(db, counts, people, insured, accounts, cards, progress)
    return counts


def _persons_batch(db: Database, counts: dict[str, int], people: list[Row], insured: list[Row],
                   accounts: list[Row], cards: list[Row], progress: Progress) -> None:
    for table, rows in ((person, people), (insurance, insured), (account, accounts),
                        (card, cards)):
        if rows:
            counts[table.name] += write_batch(db, table, rows)
    progress("persons", len(people))
