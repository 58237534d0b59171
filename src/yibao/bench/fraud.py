"""The fraud world (``yibao world generate --fraud RATE``, ``yibao bench supervision``):
a month of care in the synthetic region, legitimate but for the 14 patterns of the
supervision library planted at a known rate, each next to legitimate look-alikes that
the rules must not flag, and the ground truth written down (the manifest).

Every planted finding and every look-alike has its own person (or, for SV12, its own
institution), who has no other care in the month: a clue names its person (or
institution), so the manifest says per rule which persons (institutions) a clue of that
rule should name (``planted``) and which it must not (``lookalikes``); a clue naming
anyone else is a false positive on the background. A rule's clue_key may be any text:
the comparison is by the entity the clue names (``entity``: ``psn_no``, or
``fixmedins_code`` for SV12). The background: every other person has one or two visits
on days at least two days apart, each with its own diagnosis, billed within every limit,
at fees typical of the institution's level (so that no institution stands out).

The records are the store's own (visit, diagnosis, fee_line, settlement with its fund
line and ledger posting, filing, suspension, card, ec_token), written in batches as the
world generator writes (PostgreSQL: COPY); ``ledger verify`` agrees with them.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, update

from yibao.bench import world
from yibao.bench.world import (
    BED_DAY,
    CAPPED_50,
    CHILD_ONLY,
    DAILY_3,
    FEMALE_ONLY,
    Scale,
    write_batch,
)
from yibao.domain import supervision
from yibao.services.ledger import settlement_posting
from yibao.store.db import Database
from yibao.store.demo import REGION
from yibao.store.schema import (
    card,
    diagnosis,
    ec_token,
    fee_line,
    filing,
    ledger_entry,
    person,
    settlement,
    settlement_fund,
    suspension,
    visit,
)

AWAY_REGION = "130102"  # where the world's away-from-home patients are insured (Hebei)
OTHER_AREA = "310000"  # a filing's area of treatment that is not the world's (Shanghai)
DIAGNOSES = tuple(f"{letter}{n:02d}.{m}00" for letter in "EIJKMN" for n in (1, 10, 20, 40)
                  for m in range(6))
FEE_BY_LEVEL = {0: 12_000, 1: 25_000, 2: 40_000, 3: 60_000}  # typical visit fee, fen
FUND_SHARE = (7, 10)  # the fund pays 70 % of every synthetic visit (the rest is cash)
ENTITY = {rule_id: "psn_no" for rule_id in (f"SV{n:02d}" for n in range(1, 15))} | {
    "SV12": "fixmedins_code"}


@dataclass(frozen=True, slots=True)
class Person:
    psn_no: str
    gend: str
    age: int
    insutype: str
    card_no: str


@dataclass(frozen=True, slots=True)
class Place:
    code: str
    kind: str
    level: int
    lat_e6: int
    lon_e6: int


@dataclass(frozen=True, slots=True)
class Line:
    code: str
    cnt: int
    pric: int  # fen per unit
    day: int = 0  # days after admission
    list_type: str = "101"


@dataclass
class Manifest:
    """The ground truth: per rule the entities of its planted findings and look-alikes."""

    month: str
    rate: float
    persons: int
    institutions: int
    planted: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    lookalikes: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def add(self, rule_id: str, truth: bool, entity: str, what: str) -> None:
        target = self.planted if truth else self.lookalikes
        target.setdefault(rule_id, []).append({ENTITY[rule_id]: entity, "what": what})

    def as_json(self) -> dict[str, Any]:
        return {"month": self.month, "rate": self.rate, "persons": self.persons,
                "institutions": self.institutions, "entity": ENTITY,
                "planted": self.planted, "lookalikes": self.lookalikes}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), ensure_ascii=False, indent=1),
                        encoding="utf-8")


def km(a: Place, b: Place) -> float:
    """Great-circle distance (haversine, mean Earth radius 6371 km)."""
    la1, lo1, la2, lo2 = (math.radians(v / 1e6) for v in (a.lat_e6, a.lon_e6, b.lat_e6,
                                                            b.lon_e6))
    h = (math.sin((la2 - la1) / 2) ** 2
         + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2)
    return 2 * 6371 * math.asin(math.sqrt(h))


class Month:
    """The month's rows, gathered before they are written."""

    def __init__(self, month: str, factor: dict[str, float], codes: list[str]) -> None:
        self.codes = codes  # the catalogue's ordinary items: no limit, no price cap
        self.begin = datetime.strptime(month + "-01", "%Y-%m-%d")
        self.rows: dict[Table, list[dict[str, Any]]] = {}
        self.factor = factor  # an institution's fees as a multiple of its level's
        self.serial = 0
        self.card_changes: list[dict[str, Any]] = []

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        """Day ``day`` of the month (1-based; 0 or less: the month before) at h:m."""
        return self.begin + timedelta(days=day - 1, hours=hour, minutes=minute)

    def add(self, table: Table, row: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(row)

    def visit(self, who: Person, place: Place, begin: datetime, lines: list[Line], *,
              days: int = 0, diag: str = "J06.900", cert: tuple[str, str] = ("02", ""),
              insuplc: str = REGION, away: tuple[str, str] | None = None) -> str:
        """A visit (inpatient when ``days``: discharged ``days`` days after admission, one
        hour later in the day) with its diagnosis, fee lines and settlement."""
        self.serial += 1
        mdtrt_id, setl_id = f"WM{self.serial:010d}", f"WS{self.serial:010d}"
        end = begin + (timedelta(days=days, hours=1) if days else timedelta(minutes=10))
        inpatient = days > 0
        self.add(visit, dict(
            mdtrt_id=mdtrt_id, psn_no=who.psn_no, fixmedins_code=place.code,
            insutype=who.insutype, med_type="21" if inpatient else "11",
            visit_class="inpatient" if inpatient else "outpatient", status="discharged",
            begntime=begin, endtime=end, ipt_otp_no=mdtrt_id, mdtrt_cert_type=cert[0],
            mdtrt_cert_no=cert[1], insuplc_admdvs=insuplc, mdtrtarea_admvs=REGION,
            msgid="world"))
        self.add(diagnosis, dict(
            mdtrt_id=mdtrt_id, psn_no=who.psn_no, diag_type="1", diag_srt_no=1,
            diag_code=diag, diag_name=f"合成诊断{diag}", diag_time=begin,
            stage="discharge" if inpatient else "visit"))
        total = 0
        for n, item in enumerate(lines):
            amount = item.cnt * item.pric
            total += amount
            self.add(fee_line, dict(
                psn_no=who.psn_no, mdtrt_id=mdtrt_id, feedetl_sn=f"{n + 1}",
                chrg_bchno="1", med_list_codg=item.code, medins_list_codg=item.code,
                cnt=str(item.cnt), pric=f"{item.pric // 100}.{item.pric % 100:02d}",
                det_item_fee_sumamt=amount, inscp_scp_amt=amount, chrgitm_lv="01",
                selfpay_prop="0", pric_uplmt_amt="50.00" if item.code == CAPPED_50 else None,
                list_type=item.list_type, fee_ocur_time=begin + timedelta(days=item.day),
                status="active", setl_id=setl_id, msgid="world"))
        self._settle(who, place, mdtrt_id, setl_id, end, total, cert[0], insuplc, away,
                     inpatient)
        return mdtrt_id

    def _settle(self, who: Person, place: Place, mdtrt_id: str, setl_id: str,
                when: datetime, total: int, cert_type: str, insuplc: str,
                away: tuple[str, str] | None, inpatient: bool) -> None:
        fund = total * FUND_SHARE[0] // FUND_SHARE[1]
        row = dict(
            setl_id=setl_id, psn_no=who.psn_no, mdtrt_id=mdtrt_id, fixmedins_code=place.code,
            kind="settle", insutype=who.insutype, psn_type="1101",
            med_type="21" if inpatient else "11", seq=1, setl_time=when, year=when.year,
            policy_id="world", clr_type="21" if inpatient else "11", msgid="world",
            pool_prop_selfpay="0", mdtrt_cert_type=cert_type, insuplc_admdvs=insuplc,
            mdtrtarea_admvs=REGION, trt_dcla_detl_sn=away[0] if away else None,
            away_basis=away[1] if away else "", medfee_sumamt=total, inscp_scp_amt=total,
            hifp_pay=fund, fund_pay_sumamt=fund, psn_part_amt=total - fund,
            psn_cash_pay=total - fund, acct_pay=0)
        funds = [dict(setl_id=setl_id, seq=0, psn_no=who.psn_no,
                      fund_pay_type="310100" if who.insutype == "310" else "390100",
                      inscp_scp_amt=total, fund_payamt=fund)] if fund else []
        self.add(settlement, row)
        for f in funds:
            self.add(settlement_fund, f)
        for entry in settlement_posting(row, funds):
            self.add(ledger_entry, entry)

    def plain(self, rng: random.Random, place: Place, count: int = 2) -> list[Line]:
        """Ordinary drug lines at the fee typical of the institution (no limits, no cap)."""
        target = FEE_BY_LEVEL[place.level] * self.factor.get(place.code, 1.0)
        share = target * rng.uniform(0.9, 1.1) / count
        return [Line(code, 1, max(100, int(share))) for code in rng.sample(self.codes, count)]

    def drug(self, rng: random.Random) -> str:
        return rng.choice(self.codes)


class Pool:
    """The world's persons, handed out once each: to a scenario or the background."""

    def __init__(self, people: Iterable[Person]) -> None:
        self.free = list(people)

    def take(self, *, gend: str = "", age_min: int = 0, age_max: int = 200) -> Person:
        for n, who in enumerate(self.free):
            if (not gend or who.gend == gend) and age_min <= who.age <= age_max:
                return self.free.pop(n)
        raise ValueError(f"the world has no free person of sex {gend or 'any'} aged "
                         f"{age_min}..{age_max}: generate more persons")


def world_people(scale: Scale, on: date) -> list[Person]:
    people = []
    for p, ins, _, c in world.persons(scale):
        birth: date = p["brdy"]
        age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
        people.append(Person(p["psn_no"], p["gend"], age, ins["insutype"], c["card_no"]))
    return people


def world_places(scale: Scale) -> list[Place]:
    return [Place(r["fixmedins_code"], r["kind"], r["level"], r["lat_e6"], r["lon_e6"])
            for r in world.institutions(scale)]


def plant(db: Database, scale: Scale, rate: float, month: str = "2026-05",
          manifest_path: Path | None = None) -> Manifest:
    """Write the month (background, planted patterns, look-alikes) into a database that
    holds the world of ``scale``; returns (and saves) the manifest."""
    assert 0 < rate < 1, rate
    rng = random.Random(scale.seed + 20)
    places = world_places(scale)
    hospitals = [p for p in places if p.kind == "hospital"]
    month_start = datetime.strptime(month + "-01", "%Y-%m-%d").date()
    pool = Pool(world_people(scale, month_start))
    manifest = Manifest(month, rate, scale.persons, scale.institutions)
    per_rule = max(1, round(rate * scale.persons))
    outliers = _outliers(hospitals, max(1, round(rate * scale.institutions)), manifest)
    codes = [item["code"] for item in world.items(scale)
             if item["price_cap"] is None and not item["lmt_gend"] and not item["per_day"]
             and item["lmt_age_max"] is None and item["lmt_daily_cnt"] is None][:200]
    book = Month(month, outliers, codes)
    for rule in supervision.library():
        plant_rule = PLANTERS[rule.id]
        for n in range(per_rule):
            for truth in (True, False):
                if rule.id != "SV12":
                    plant_rule(book, rng, pool, places, hospitals, manifest, truth, n)
    _background(book, rng, pool, places, hospitals)
    _write(db, book)
    if manifest_path is not None:
        manifest.save(manifest_path)
    return manifest


def _outliers(hospitals: list[Place], count: int, manifest: Manifest) -> dict[str, float]:
    """SV12: tier-1 hospitals whose fees are 3 times their peers' (planted) or 1.5 times
    (look-alikes, under the rule's ratio of 2); the rest of their tier stays typical."""
    tier = [p for p in hospitals if p.level == 1]
    if len(tier) < 2 * count + 3:
        raise ValueError(f"SV12 needs {2 * count + 3} tier-1 hospitals, the world has "
                         f"{len(tier)}: generate more institutions")
    factor = {}
    for n in range(count):
        factor[tier[2 * n].code] = 3.0
        manifest.add("SV12", True, tier[2 * n].code, "fund per visit 3 x its peers'")
        factor[tier[2 * n + 1].code] = 1.5
        manifest.add("SV12", False, tier[2 * n + 1].code, "fund per visit 1.5 x its peers'")
    return factor


def _background(book: Month, rng: random.Random, pool: Pool, places: list[Place],
                hospitals: list[Place]) -> None:
    """Everyone left: one or two visits at least two days apart (after a discharge too),
    distinct diagnoses; one visit in twenty an inpatient stay of 2..8 days with its
    bed-days and drugs."""
    for who in pool.free:
        days = sorted(rng.sample(range(1, 29, 2), 2 if rng.random() < 0.3 else 1))
        free_from = 1  # the next visit comes two days after a discharge at the earliest
        for day, diag in zip(days, rng.sample(DIAGNOSES, len(days)), strict=False):
            day = max(day, free_from)
            begin = book.at(day, rng.randrange(8, 17), rng.randrange(60))
            if rng.random() < 0.05:
                place, stay = rng.choice(hospitals), rng.randrange(2, 9)
                free_from = day + stay + 2
                lines = [Line(BED_DAY, stay, 5_000, 0, "201"),
                         *(Line(x.code, 1, x.pric, rng.randrange(stay), "101")
                           for x in book.plain(rng, place, 3))]
                book.visit(who, place, begin, lines, days=stay, diag=diag)
            else:
                place = rng.choice(places)
                book.visit(who, place, begin, book.plain(rng, place), diag=diag)


def _write(db: Database, book: Month) -> None:
    order = (person, visit, diagnosis, fee_line, settlement, settlement_fund, ledger_entry, filing,
             suspension, ec_token)
    for table in order:
        rows = book.rows.get(table, [])
        for start in range(0, len(rows), world.BATCH_ROWS):
            write_batch(db, table, rows[start:start + world.BATCH_ROWS])
    with db.write() as conn:
        for change in book.card_changes:
            conn.execute(update(card).where(card.c.card_no == change["card_no"]).values(
                status="lost", status_at=change["at"]))


# --- the planted patterns and their look-alikes, one function per rule -----------------
# Each takes (book, rng, pool, places, hospitals, manifest, truth, n): truth says planted
# (True) or look-alike (False); n numbers the scenario (look-alikes alternate variants).

def _sv01(book: Month, rng: random.Random, pool: Pool, places: list[Place],
          hospitals: list[Place], manifest: Manifest, truth: bool, n: int) -> None:
    """Two settlements 25 minutes apart at institutions >= 25 km apart (the rule:
    min_km 20 within max_minutes 60); look-alikes: a neighbour 2 km away 25 minutes later,
    or the distant one five hours later."""
    who, day = pool.take(), 2 + n % 26
    a = places[(2 * n) % (len(places) // 2 * 2)]  # institution 2k: 2k+1 is 2 km north
    if truth or n % 2:
        b = max(places, key=lambda p: km(a, p))
        assert km(a, b) >= 25, (a, b)
    else:
        b = places[places.index(a) + 1]
        assert km(a, b) < 5, (a, b)
    gap = 25 if truth or not n % 2 else 300
    book.visit(who, a, book.at(day, 9), book.plain(rng, a))
    book.visit(who, b, book.at(day, 9, gap), book.plain(rng, b))
    manifest.add("SV01", truth, who.psn_no, f"{km(a, b):.1f} km, {gap} minutes apart")


def _sv02(book: Month, rng: random.Random, pool: Pool, places: list[Place],
          hospitals: list[Place], manifest: Manifest, truth: bool, n: int) -> None:
    """A card reported lost on day 5 then used on day 12, or a settlement during a
    suspension; look-alikes: the card used before its loss (day 20), a settlement after
    the suspension ended."""
    who, place = pool.take(), rng.choice(places)
    if n % 2 == 0:
        lost = book.at(5 if truth else 20, 8)
        book.card_changes.append(dict(card_no=who.card_no, at=lost))
        book.visit(who, place, book.at(12, 10), book.plain(rng, place),
                   cert=("03", who.card_no))
        what = "card used after its loss" if truth else "card used before its loss"
    else:
        first = book.at(1, 0).date()
        begin, end = (first, first + timedelta(days=29)) if truth else (
            first - timedelta(days=30), first - timedelta(days=2))
        book.add(suspension, dict(psn_no=who.psn_no, begin_date=begin, end_date=end,
                                  reason="合成: 出借医保凭证", operator="world",
                                  created_at=datetime.combine(begin, datetime.min.time())))
        book.visit(who, place, book.at(15, 10), book.plain(rng, place))
        what = "settled while suspended" if truth else "settled after the suspension"
    manifest.add("SV02", truth, who.psn_no, what)


def _sv03(book: Month, rng: random.Random, pool: Pool, places: list[Place],
          hospitals: list[Place], manifest: Manifest, truth: bool, n: int) -> None:
    """One electronic certificate's tokens at 5 institutions in one day, three hours
    apart (the rule: more than max_institutions 3); look-alikes: 5 institutions on 5
    days, or 3 in one day (the limit itself)."""
    who = pool.take()
    cert_id = f"WE{who.psn_no[-12:]}"
    count = 3 if not truth and n % 2 else 5
    chosen = rng.sample(places, count)
    for k, place in enumerate(chosen):
        when = book.at(10, 8 + 3 * k) if truth or n % 2 else book.at(3 + 4 * k, 9)
        token_hash = hashlib.sha256(f"world-{cert_id}-{k}".encode()).hexdigest()
        book.add(ec_token, dict(
            token_hash=token_hash, psn_no=who.psn_no,
            cert_id=cert_id, fixmedins_code=place.code, business_type="01101",
            issued_at=when, expires_at=when + timedelta(hours=24)))
        book.visit(who, place, when + timedelta(minutes=5), book.plain(rng, place),
                   cert=("01", token_hash))  # as the store keeps a token: hashed
    manifest.add("SV03", truth, who.psn_no, "5 institutions in a day" if truth else
                 ("3 institutions in a day" if n % 2 else "5 institutions on 5 days"))


def _stay(book: Month, rng: random.Random, who: Person, place: Place, day: int, days: int,
          diag: str, extra: Iterable[Line] = (), *, beds: int | None = None,
          insuplc: str = REGION, away: tuple[str, str] | None = None) -> str:
    """An inpatient stay admitted on ``day`` at 09:00, discharged ``days`` later at
    10:00, billed a bed-day per day of stay (or ``beds``) and a drug."""
    lines = [Line(BED_DAY, days if beds is None else beds, 5_000, 0, "201"),
             Line(book.drug(rng), 1, 20_000, 1), *extra]
    return book.visit(who, place, book.at(day, 9), lines, days=days, diag=diag,
                      insuplc=insuplc, away=away)


def _sv04(book: Month, rng: random.Random, pool: Pool, places: list[Place],
          hospitals: list[Place], manifest: Manifest, truth: bool, n: int) -> None:
    """Readmitted 4 days after discharge with the same main diagnosis (the rule: within
    15 days); look-alikes: readmitted 15 days 23 hours after (on the 16th day), or after
    4 days for another disease."""
    who, place, diag = pool.take(), rng.choice(hospitals), rng.choice(DIAGNOSES)
    _stay(book, rng, who, place, 2, 4, diag)
    later = 22 if not truth and n % 2 == 0 else 10
    other = diag if truth or n % 2 == 0 else DIAGNOSES[(DIAGNOSES.index(diag) + 1)
                                                         % len(DIAGNOSES)]
    _stay(book, rng, who, place, later, 2, other)
    manifest.add("SV04", truth, who.psn_no, "same diagnosis 4 days after" if truth else
                 ("same diagnosis on the 16th day after" if n % 2 == 0 else
                  "another diagnosis 4 days after"))


def _sv05(book: Month, rng: random.Random, pool: Pool, places: list[Place],
          hospitals: list[Place], manifest: Manifest, truth: bool, n: int) -> None:
    """A stay of 5 days billed 9 bed-days; look-alike: billed 5."""
    who = pool.take()
    _stay(book, rng, who, rng.choice(hospitals), 3 + n % 20, 5, rng.choice(DIAGNOSES),
          beds=9 if truth else 5)
    manifest.add("SV05", truth, who.psn_no, "9 bed-days in 5 days" if truth else
                 "5 bed-days in 5 days")


def _sv06(book: Month, rng: random.Random, pool: Pool, places: list[Place],
          hospitals: list[Place], manifest: Manifest, truth: bool, n: int) -> None:
    """The same drug twice on the same day of a visit (same count and price);
    look-alike: the same drug on two days of a stay."""
    who, place = pool.take(), rng.choice(hospitals)
    drug = Line(book.drug(rng), 2, 3_000, 1)
    twice = [drug, Line(drug.code, drug.cnt, drug.pric, 1 if truth else 2)]
    _stay(book, rng, who, place, 4 + n % 20, 4, rng.choice(DIAGNOSES), twice)
    manifest.add("SV06", truth, who.psn_no, "billed twice on one day" if truth else
                 "the same drug on two days")


def _limited(book: Month, rng: random.Random, who: Person, places: list[Place],
             lines: list[Line]) -> None:
    place = rng.choice([p for p in places if p.kind == "hospital"])
    book.visit(who, place, book.at(1 + rng.randrange(28), 10), lines)


def _sv07(book: Month, rng: random.Random, pool: Pool, places: list[Place],
          hospitals: list[Place], manifest: Manifest, truth: bool, n: int) -> None:
    """A female-only item billed for a man; look-alike: for a woman."""
    who = pool.take(gend="1" if truth else "2", age_min=18)
    _limited(book, rng, who, places, [Line(FEMALE_ONLY, 1, 8_000, 0, "201")])
    manifest.add("SV07", truth, who.psn_no, "female-only item, man" if truth else
                 "female-only item, woman")


def _sv08(book: Month, rng: random.Random, pool: Pool, places: list[Place],
          hospitals: list[Place], manifest: Manifest, truth: bool, n: int) -> None:
    """A children's drug (ages up to 14) billed for an adult of 30 or more; look-alike:
    for a child of 3..12."""
    who = pool.take(age_min=30, age_max=80) if truth else pool.take(age_min=3, age_max=12)
    _limited(book, rng, who, places, [Line(CHILD_ONLY, 1, 2_500)])
    manifest.add("SV08", truth, who.psn_no, f"children's drug, aged {who.age}")


def _sv09(book: Month, rng: random.Random, pool: Pool, places: list[Place],
          hospitals: list[Place], manifest: Manifest, truth: bool, n: int) -> None:
    """An item limited to 3 a day billed 5 on one day; look-alike: 3 on each of two
    days of a stay."""
    who = pool.take()
    if truth:
        _limited(book, rng, who, places, [Line(DAILY_3, 5, 1_500, 0, "201")])
    else:
        _stay(book, rng, who, rng.choice(hospitals), 5 + n % 20, 3, rng.choice(DIAGNOSES),
              [Line(DAILY_3, 3, 1_500, 1, "201"), Line(DAILY_3, 3, 1_500, 2, "201")])
    manifest.add("SV09", truth, who.psn_no, "5 in a day, limit 3" if truth else
                 "3 a day on two days")


def _sv10(book: Month, rng: random.Random, pool: Pool, places: list[Place],
          hospitals: list[Place], manifest: Manifest, truth: bool, n: int) -> None:
    """A service capped at 50.00 billed at 68.00; look-alike: at 50.00."""
    who = pool.take()
    _limited(book, rng, who, places, [Line(CAPPED_50, 1, 6_800 if truth else 5_000, 0,
                                           "201")])
    manifest.add("SV10", truth, who.psn_no, "68.00 over a cap of 50.00" if truth else
                 "at the cap")


def _sv11(book: Month, rng: random.Random, pool: Pool, places: list[Place],
          hospitals: list[Place], manifest: Manifest, truth: bool, n: int) -> None:
    """9 outpatient visits for one disease in 25 days (the rule: min_visits 8 in 30
    days); look-alike: 7."""
    who, place, diag = pool.take(), rng.choice(places), rng.choice(DIAGNOSES)
    count = 9 if truth else 7
    for k in range(count):
        book.visit(who, place, book.at(1 + 3 * k, 10), book.plain(rng, place), diag=diag)
    manifest.add("SV11", truth, who.psn_no, f"{count} visits for {diag}")


def _away(book: Month, who: Person, filing_type: str, area: str, registered: datetime) -> str:
    sn = f"WF{who.psn_no[-12:]}"
    book.add(person, dict(psn_no=who.psn_no, psn_cert_type="01", certno=sn, name="合成异地",
                          gend=who.gend, naty="01", brdy=date(1960, 1, 1),
                          insuplc_admdvs=AWAY_REGION))
    book.add(filing, dict(
        trt_dcla_detl_sn=sn, psn_no=who.psn_no, kind="area", filing_type=filing_type,
        insutype="310", insuplc_admdvs=AWAY_REGION, mdtrtarea_admdvs=area,
        begin_at=registered, end_at=registered + timedelta(days=90), status="active",
        source="02", actor="world"))
    return sn


def _sv13(book: Month, rng: random.Random, pool: Pool, places: list[Place],
          hospitals: list[Place], manifest: Manifest, truth: bool, n: int) -> None:
    """A patient insured in Hebei, filed for Shanghai, settling in Beijing on that
    filing; look-alike: filed for Beijing."""
    who = _away_person(n, truth, 13)
    sn = _away(book, who, "resident", OTHER_AREA if truth else REGION, book.at(-20, 9))
    place = rng.choice(places)
    book.visit(who, place, book.at(6 + n % 20, 10), book.plain(rng, place),
               insuplc=AWAY_REGION, away=(sn, "long_term"))
    manifest.add("SV13", truth, who.psn_no, "filed for 310000, treated in 110000" if truth
                 else "filed for 110000, treated in 110000")


def _sv14(book: Month, rng: random.Random, pool: Pool, places: list[Place],
          hospitals: list[Place], manifest: Manifest, truth: bool, n: int) -> None:
    """A temporary filing registered the day before a 30-day stay (the rule: within 3
    days, at least 30 days); look-alike: registered 4 days before."""
    who = _away_person(n, truth, 14)
    sn = _away(book, who, "temporary", REGION, book.at(0 if truth else -3, 9))
    _stay(book, rng, who, rng.choice(hospitals), 1, 30, rng.choice(DIAGNOSES),
          insuplc=AWAY_REGION, away=(sn, "temporary"))
    manifest.add("SV14", truth, who.psn_no, "30-day stay 1 day after a temporary filing"
                 if truth else "30-day stay 4 days after a temporary filing")


def _away_person(n: int, truth: bool, rule: int) -> Person:
    """A person insured in Hebei (not one of the world's: added with the month)."""
    return Person(f"W{AWAY_REGION}{rule:02d}{int(truth)}{n:010d}", "1", 60, "310", "")


def _sv12(*_: Any) -> None:  # institutions, chosen in _outliers
    raise AssertionError("SV12 is planted through the institutions' fees")


PLANTERS = {"SV01": _sv01, "SV02": _sv02, "SV03": _sv03, "SV04": _sv04, "SV05": _sv05,
            "SV06": _sv06, "SV07": _sv07, "SV08": _sv08, "SV09": _sv09, "SV10": _sv10,
            "SV11": _sv11, "SV12": _sv12, "SV13": _sv13, "SV14": _sv14}
