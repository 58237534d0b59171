"""The demo dataset of the design notes: identical in every environment.

Region 110000 (Beijing): four institutions, five persons (one insured in Hebei), five
catalogue items. Region 130102 (Hebei, illustrative): two hospitals and its own
catalogue, so that care away from home can be exercised in both directions.
One operator per role, with documented fixed tokens (stored hashed like any other;
``demo-approver2`` is the second approver): never use them outside a demo.
One app of the mobile-payment centre per institution (``demo_mpc_app``: appId and
appSecret derived from the code, a fixed SM2 key pair whose private key is published in
docs/online-payment-transport.md): DEMO ONLY, like the tokens.
Every institution accepts both gateway schemes: x-tif with its token ``demo-<code>`` and
AK/SK with AK = its code, SK = the same ``demo-<code>`` (DEMO ONLY).
Seeding is idempotent: rows already present are left alone.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Connection, Table, select, update

from yibao.domain import roles
from yibao.domain.mpc import App
from yibao.store.schema import (
    account,
    card,
    catalogue_item,
    channel,
    designation,
    gateway_key,
    institution,
    institution_disease_service,
    insurance,
    mpc_app,
    operator,
    operator_credential,
    person,
    practitioner,
    reference_list,
)

REGION = "110000"
HEBEI = "130102"
FACE_PILOT = "H11010500001"  # the one demo institution in the facial-recognition pilot
DISTRICT = "110105"

# code, name, kind, level, district, co-ordination area, networked (inter-provincial)
INSTITUTIONS = [
    ("H11010500001", "北京示范第一医院 (三级)", "hospital", 3, DISTRICT, REGION, True),
    ("H11010500002", "北京示范第二医院 (二级)", "hospital", 2, DISTRICT, REGION, True),
    ("H11010500003", "示范社区卫生服务中心 (一级)", "hospital", 1, DISTRICT, REGION, False),
    ("P11010500001", "示范医保定点药店", "pharmacy", 0, DISTRICT, REGION, False),
    ("P11010500002", "示范网上药店 (线上)", "pharmacy", 0, DISTRICT, REGION, False),
    ("H13010200001", "河北示范第一医院 (三级)", "hospital", 3, HEBEI, HEBEI, True),
    ("H13010200002", "河北示范第二医院 (二级)", "hospital", 2, HEBEI, HEBEI, False),
]

# the open-to-all kind of the demo institutions (the others must be designated:
# docs/designation.md); every demo person designated the one hospital of their insured
# place that is not open to all, since 2024 (so the demo's flows settle there)
OPEN_KINDS = {"H11010500001": "a_class", "H11010500003": "community",
              "H13010200001": "a_class"}
DESIGNATED = {REGION: "H11010500002", HEBEI: "H13010200002"}
DESIGNATED_SINCE = date(2024, 1, 1)

# name, certno, gend, birth, insured place, insutype, psn_type, account yuan, card
PERSONS = [
    ("王芳", "110105198503150027", "2", date(1985, 3, 15), REGION, "310", "1101", 300000, 1),
    ("李建国", "11010219600620003X", "1", date(1960, 6, 20), REGION, "310", "1201", 500000, 2),
    ("张德明", "110108194801010031", "1", date(1948, 1, 1), REGION, "310", "1201", 800000, 3),
    ("刘洋", "110106199007070053", "1", date(1990, 7, 7), REGION, "390", "1501", None, 4),
    ("赵磊", "130102197509090010", "1", date(1975, 9, 9), "130102", "310", "1101", 0, None),
]

DEMO_CERTNOS = frozenset(certno for _name, certno, *_rest in PERSONS)

# code, name, list_type, class, price cap (yuan), self-pay ratio
CATALOGUE = [
    ("XA01AAA0001", "阿莫西林胶囊 (示例, 甲类)", "101", "01", None, "0"),
    ("XB02BBB0002", "头孢克洛胶囊 (示例, 乙类)", "101", "02", None, "0.10"),
    ("XC03CCC0003", "维生素C泡腾片 (示例, 丙类)", "101", "03", None, "1"),
    ("001102000010000", "普通门诊诊查费 (示例, 限价)", "201", "01", "50.00", "0"),
    ("C01010101001", "一次性使用输液器 (示例, 乙类)", "301", "02", None, "0.20"),
]

# Beijing items with usage limits (issue 20, docs/supervision.md), so that the demo's
# 3101/3102 warn and its settlements show what Beijing blocks: code, name, class, limits
NO_LIMITS: dict[str, Any] = {"lmt_gend": "", "lmt_age_min": None, "lmt_age_max": None,
                             "lmt_daily_cnt": None, "per_day": False}
CATALOGUE_LIMITED: list[tuple[str, str, str, dict[str, Any]]] = [
    ("003105010010000", "妇科检查 (示例, 限女性)", "01", {"lmt_gend": "2"}),
    ("003107010020000", "儿童保健检查 (示例, 限0-14岁)", "01",
     {"lmt_age_min": 0, "lmt_age_max": 14}),
    ("001103000010000", "普通病房床位费 (示例, 按日)", "01", {"per_day": True}),
    ("003111010030000", "雾化吸入 (示例, 每日限3次)", "01", {"lmt_daily_cnt": "3"}),
]

# Hebei's catalogue (illustrative): the same codes classed and priced differently, and
# one item that only Hebei lists. Away from home the treatment place's catalogue applies.
CATALOGUE_HEBEI = [
    ("XA01AAA0001", "阿莫西林胶囊 (示例, 甲类)", "101", "01", None, "0"),
    ("XB02BBB0002", "头孢克洛胶囊 (示例, 乙类)", "101", "02", None, "0.05"),
    ("XC03CCC0003", "维生素C泡腾片 (示例, 丙类)", "101", "03", None, "1"),
    ("001102000010000", "普通门诊诊查费 (示例, 限价)", "201", "01", "30.00", "0"),
    ("C01010101001", "一次性使用输液器 (示例, 丙类)", "301", "03", None, "1"),
    ("XH13HEB0001", "河北目录药品 (示例, 乙类)", "101", "02", None, "0.15"),
]

# med_chrgitm_type (医疗收费项目类别, 01-14) of the demo items, in both catalogues
CHARGE_CATEGORIES = {
    "XA01AAA0001": "09", "XB02BBB0002": "09", "XC03CCC0003": "09", "XH13HEB0001": "09",
    "001102000010000": "02",  # 诊察费
    "C01010101001": "08",  # 卫生材料费
    "003105010010000": "03", "003107010020000": "03",  # 检查费
    "001103000010000": "01",  # 床位费
    "003111010030000": "05",  # 治疗费
}

ONLINE_PHARMACY = "P11010500002"  # sells online: a person may choose it in a channel (7202)
# institution, practitioner code, role, name, department: who prescribes and who reviews
# special-disease care away from home opened per institution and disease (the 2022
# notice): the two demo diseases (1309: M03900 高血压, M01600 糖尿病) at the networked
# hospitals, so that the filings of the tests and the demo settle
DISEASE_SERVICES = [(code, disease) for code in ("H11010500001", "H11010500002",
                                                 "H13010200001")
                    for disease in ("M03900", "M01600")]
DISEASE_SERVICES_SINCE = datetime(2020, 1, 1)

PRACTITIONERS = [
    ("H11010500001", "D110105000001", "doctor", "张医师", "K01"),
    ("H11010500001", "HY110105000001", "pharmacist", "李药师", "K90"),
    ("P11010500001", "HY110105000002", "pharmacist", "王药师", ""),
    ("P11010500002", "HY110105000003", "pharmacist", "赵药师", ""),
]

CHANNELS = [
    ("CH-NHSA", "国家医保服务平台"),
    ("CH-BJAPP", "北京医保APP"),
    ("CH-WECHAT", "微信"),
    ("CH-ALIPAY", "支付宝"),
]
# the sandbox an integrator tries the channel API with: its secret is published
# (docs/channel-api.md) and it acts only on the persons below (domain/channels.py)
SANDBOX_CHANNEL = ("CH-SANDBOX", "沙箱渠道 (接入测试)")

# kind, code, name: a few entries of the code lists served by 1307-1309
REFERENCE = [
    ("disease", "J18.900", "肺炎"),
    ("disease", "I10.x00", "特发性(原发性)高血压"),
    ("disease", "E11.900", "2型糖尿病"),
    ("disease", "K35.800", "急性阑尾炎"),
    ("operation", "47.0100", "腹腔镜下阑尾切除术"),
    ("chronic", "M03900", "高血压"),
    ("chronic", "M01600", "糖尿病"),
]


# operator name, roles; the token is "demo-" + the name
OPERATORS = [
    ("clerk", (roles.CLERK,)),
    ("reviewer", (roles.REVIEWER,)),
    ("approver", (roles.APPROVER,)),
    ("approver2", (roles.APPROVER,)),
    ("finance", (roles.FINANCE,)),
    ("auditor", (roles.AUDITOR,)),
    ("admin", (roles.ADMINISTRATOR,)),
]
OPERATORS_SINCE = datetime(2026, 1, 1)
OPERATORS_UNTIL = datetime(2099, 12, 31)


# The demo institutions' SM2 key pairs at the mobile-payment centre (private, public; base64).
# DEMO ONLY: the private keys are published. Each private key is
# 1 + SHA-256("yibao-demo-mpc-key:" + code) mod (n - 2), n the SM2 group order
# (tests/test_mpc_envelope.py checks the rule and that each public key is its pair's).
MPC_KEYS = {
    "H11010500001": ("F3h0PN9xcSHSd3giOpE2i/9VuHUK0p9ZWYbGWZy7VZ8=",
                     "BJj1Hru9fA12Ksxby36l7jKir4F8FJeFVO3Rmoqef32H"
                     "CoCmqgaW5bqphBSFfdmptqYlum+EqmzcMmyfIbUE250="),
    "H11010500002": ("sOCGRD0OP+54d16mN+hjgQnNFnnSY3W/ilclaGm+cK8=",
                     "BFfMSjGSJrGu7hERMASQ1C4dm6UUMaEsNZ84p7IF87P5"
                     "UHdA4bOq5wvgKx8T/iI9G7EYfN85hzxSuZ+UXzeyUz4="),
    "H11010500003": ("1UsFn2fpO0+atdKAR4jWr5Q4OHKyZJlAr5+qcCvl4hI=",
                     "BCzNNs7IbJNj7G52i3sjJVRAnfVqC1bo9nbePRt5Vhl0"
                     "uG4Z7Gj13fw/+XZAtGiSi50y5CKJ0jH6yiU3Im+9VTU="),
    "P11010500001": ("zl2xJNDkh7oE8T1KakB4u+nbNWW1GX14h9FjlmO2jYs=",
                     "BEeGTB79n3WYZzJK5lmJJMI/ECVseUiikMzl4rDpXJv8"
                     "TN2fbk7WVQYKoCfptUK9/3ZTf4SI90Ft2xz6Pyaxl0o="),
    "P11010500002": ("OnNxTh2Lyt7bCfXh5NVJRr/TDtVmfHHxDMMZy1nbONc=",
                     "BEjNFE8AW+S3cLyYwpyTZAXjaimCk8CmI2tYVb0MOkOS"
                     "qQ2yyrd/0CZ8j8FsedxOCwWDowJs+9nPMK79sLZkKLc="),
    "H13010200001": ("HWFKikWuYt/Rq1mmjR6RKy5k6hiCx2EizXh+qb8n/GI=",
                     "BGmtgJc5kHgQbiSwgaU+qimlfcaiL57EnPfqwURJT8ac"
                     "Kj1ByzG+hyo+Et8Qcalsi1BUduKTgQp3rx7DIJ7+swc="),
    "H13010200002": ("hvPL/1/dNJwcrOP4UNXhEtytuMO2ZTkBhyr7vMhE/rs=",
                     "BHbpWfR6dIuJCXV1u1WC+wsFu5bsPi9eyzH7EYxgsRnS"
                     "IJ6vtQxKzNCvX+myFO2tkT5PO9Ptza4aAGbaAj3KGSw="),
}
MPC_APPS_SINCE = datetime(2026, 1, 1)


def _demo_hex(label: str) -> str:
    return hashlib.sha256(label.encode("utf-8")).hexdigest()[:32].upper()


def demo_mpc_app(code: str) -> App:
    """The demo app of institution ``code``: appId the upper-case first 32 hex digits of
    SHA-256("yibao-demo-mpc-app-id:" + code), appSecret likewise of
    "yibao-demo-mpc-app-secret:" + code, public key from MPC_KEYS, no callback URL."""
    return App(app_id=_demo_hex(f"yibao-demo-mpc-app-id:{code}"),
               app_secret=_demo_hex(f"yibao-demo-mpc-app-secret:{code}"),
               public_key=MPC_KEYS[code][1], fixmedins_code=code)


def demo_mpc_private_key(code: str) -> str:
    """The demo institution's SM2 private key (base64): DEMO ONLY, it is published."""
    return MPC_KEYS[code][0]


def psn_no_of(index: int, region: str) -> str:
    return f"{region}{index:014d}"


def demo_token(code: str) -> str:
    return f"demo-{code}"


def _insert_missing(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    keys = [c.name for c in table.primary_key.columns]
    added = 0
    for row in rows:
        where = [table.c[k] == row[k] for k in keys]
        if conn.execute(select(table.c[keys[0]]).where(*where)).first() is None:
            conn.execute(table.insert().values(**row))
            added += 1
    return added


def _seed_open_kinds(conn: Connection) -> None:
    """The demo institutions' open-to-all kinds, also on a database seeded before the
    kind existed (migration 0030 leaves every institution's kind empty)."""
    for code, kind in OPEN_KINDS.items():
        conn.execute(institution.update().where(
            institution.c.fixmedins_code == code, institution.c.open_kind == "")
            .values(open_kind=kind))


def _seed_gateway_keys(conn: Connection) -> int:
    """Each demo institution's AK/SK pair (AK = code, SK = its demo token); an institution
    seeded before AK/SK existed is allowed the scheme when its pair is added."""
    added = 0
    for code, *_ in INSTITUTIONS:
        if _insert_missing(conn, gateway_key, [dict(
                access_key=code, fixmedins_code=code, secret_key=demo_token(code),
                created_at=OPERATORS_SINCE)]):
            conn.execute(update(institution).where(institution.c.fixmedins_code == code)
                         .values(aksk_allowed=True))
            added += 1
    return added


def demo_uscc(code: str) -> str:
    """A demo institution's unified social credit code (18 characters, marked DEMO)."""
    return f"DEMO{code}"[:18].ljust(18, "0")


def seed_demo(conn: Connection) -> int:
    """Insert the demo dataset; returns the number of rows added."""
    added = _insert_missing(conn, institution, [
        dict(fixmedins_code=code, name=name, kind=kind, level=level, admdvs=district,
             pool_area=area, token=demo_token(code), face_pilot=code == FACE_PILOT,
             networked=networked, xtif_allowed=True, aksk_allowed=True,
             uscc=demo_uscc(code), online=code == ONLINE_PHARMACY,
             open_kind=OPEN_KINDS.get(code, ""))
        for code, name, kind, level, district, area, networked in INSTITUTIONS
    ])
    added += _insert_missing(conn, practitioner, [
        dict(fixmedins_code=code, prac_code=prac, role=role, name=name, dept_code=dept)
        for code, prac, role, name, dept in PRACTITIONERS])
    added += _seed_gateway_keys(conn)
    _seed_open_kinds(conn)
    added += _insert_missing(conn, institution_disease_service, [
        dict(fixmedins_code=code, opsp_dise_code=disease, opened_from=DISEASE_SERVICES_SINCE,
             opened_by="demo", opened_at=DISEASE_SERVICES_SINCE)
        for code, disease in DISEASE_SERVICES])
    for i, (name, certno, gend, birth, place, insutype, psn_type, balance, card_no) in enumerate(
        PERSONS, start=1
    ):
        psn_no = psn_no_of(i, place)
        added += _insert_missing(conn, person, [dict(
            psn_no=psn_no, psn_cert_type="01", certno=certno, name=name, gend=gend,
            naty="01", brdy=birth, insuplc_admdvs=place)])
        added += _insert_missing(conn, insurance, [dict(
            psn_no=psn_no, insutype=insutype, psn_type=psn_type, psn_insu_stas="1",
            psn_insu_date=date(2000, 1, 1), cvlserv_flag="0", emp_name="示范单位",
            emp_no=f"E{place}000001" if insutype == "310" else "")])
        if balance is not None:
            added += _insert_missing(conn, account, [dict(psn_no=psn_no, balance=balance)])
        added += _insert_missing(conn, designation, [dict(
            trt_dcla_detl_sn=f"DEMO-D{i:02d}", psn_no=psn_no, insutype=insutype,
            fix_srt_no=1, fixmedins_code=DESIGNATED[place], begin_date=DESIGNATED_SINCE,
            status="active", source="02", actor="demo", entry="cli",
            created_at=datetime.combine(DESIGNATED_SINCE, time()))])
        if card_no is not None:
            added += _insert_missing(conn, card, [dict(
                card_no=f"BJ{card_no:010d}", card_sn=f"SN{card_no:010d}", psn_no=psn_no,
                status="valid")])
    added += _insert_missing(conn, catalogue_item, [
        dict(region=region, code=code, name=name, list_type=list_type, chrgitm_lv=lv,
             med_chrgitm_type=CHARGE_CATEGORIES[code], price_cap=cap, selfpay_ratio=ratio,
             valid_from=date(2020, 1, 1), ver="20240101")
        for region, items in ((REGION, CATALOGUE), (HEBEI, CATALOGUE_HEBEI))
        for code, name, list_type, lv, cap, ratio in items
    ] + [
        dict(region=REGION, code=code, name=name, list_type="201", chrgitm_lv=lv,
             med_chrgitm_type=CHARGE_CATEGORIES[code], price_cap=None,
             selfpay_ratio="0" if lv == "01" else "0.10", valid_from=date(2020, 1, 1),
             ver="20240101", **(NO_LIMITS | limits))
        for code, name, lv, limits in CATALOGUE_LIMITED
    ])
    added += _insert_missing(conn, channel, [
        dict(channel_id=code, name=name, secret=demo_token(code), sandbox=False)
        for code, name in CHANNELS
    ] + [dict(channel_id=SANDBOX_CHANNEL[0], name=SANDBOX_CHANNEL[1],
              secret=demo_token(SANDBOX_CHANNEL[0]), sandbox=True)])
    added += _insert_missing(conn, reference_list, [
        dict(kind=kind, code=code, name=name, valid_from=date(2020, 1, 1), ver="20240101")
        for kind, code, name in REFERENCE
    ])
    added += _insert_missing(conn, mpc_app, [
        dict(app_id=app.app_id, fixmedins_code=code, app_secret=app.app_secret,
             public_key=app.public_key, callback_url=app.callback_url,
             created_at=MPC_APPS_SINCE)
        for code, *_rest in INSTITUTIONS for app in (demo_mpc_app(code),)
    ])
    return added + _seed_operators(conn)


def _seed_operators(conn: Connection) -> int:
    added = _insert_missing(conn, operator, [
        dict(name=name, roles=",".join(held), status="active", created_at=OPERATORS_SINCE)
        for name, held in OPERATORS])
    for name, _held in OPERATORS:
        digest = roles.token_hash(demo_token(name))
        if conn.execute(select(operator_credential.c.id).where(
                operator_credential.c.token_hash == digest)).first() is None:
            conn.execute(operator_credential.insert().values(
                operator=name, token_hash=digest, created_at=OPERATORS_SINCE,
                expires_at=OPERATORS_UNTIL))
            added += 1
    return added
