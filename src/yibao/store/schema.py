"""SQLAlchemy Core tables. Money columns are integer fen (BigInteger).

Hot tables carry ``psn_no`` (the distribution key: one person's visit, fee lines,
settlements and accumulators live together on one shard in a Citus-style cluster).
Reference tables (institutions, catalogue, policies) are small and replicated.
Settlements are never updated: a cancellation is a new row that reverses one.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from yibao.domain import designation as designation_rules
from yibao.domain import states
from yibao.domain import supervision_case as case_rules
from yibao.domain.codes import INSUTYPES, MED_TYPES

ALL_SCOPES = ",".join(states.CHANNEL_SCOPES)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def money(name: str) -> Column[int]:
    return Column(name, BigInteger, nullable=False, server_default=text("0"))


institution = Table(
    "institution",
    metadata,
    Column("fixmedins_code", String(30), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # hospital | pharmacy
    Column("level", Integer, nullable=False),  # 1..3 hospital tier, 0 pharmacy
    Column("admdvs", String(6), nullable=False),  # district
    Column("pool_area", String(6), nullable=False),  # co-ordination area (policy region)
    Column("token", String(128), nullable=False),  # gateway secret
    Column("face_pilot", Boolean, nullable=False, server_default=text("false")),
    # networked for inter-provincial (away-from-home) direct settlement
    Column("networked", Boolean, nullable=False, server_default=text("false")),
    # receives next month's fund in advance (monthly clearing nets it off)
    Column("prepay", Boolean, nullable=False, server_default=text("false")),
    # the gateway schemes it may sign with (api/gateway.py): x-tif-* (SHA-256 with
    # ``token``) and AK/SK (_api_*, HmacSHA1 with a ``gateway_key``)
    Column("xtif_allowed", Boolean, nullable=False, server_default=text("true")),
    Column("aksk_allowed", Boolean, nullable=False, server_default=text("false")),
    # 统一社会信用代码 (1201 answers it)
    Column("uscc", String(50), nullable=False, server_default=""),
    # a pharmacy that sells online: a person may choose it in a channel (7202)
    Column("online", Boolean, nullable=False, server_default=text("false")),
    # the kind of institution a policy may open to everyone without designation
    # (domain/designation.OpenKind: a_class, specialist, tcm, community; '' none)
    Column("open_kind", String(12), nullable=False, server_default=""),
    # where it is, in millionths of a degree (WGS-84), for supervision's distance rule
    # (SV01); NULL: not recorded (the rule then compares districts)
    Column("lat_e6", Integer),
    Column("lon_e6", Integer),
)

# An institution's AK/SK pairs for the AK/SK gateway scheme: the access key (sent in
# _api_access_key, unique across institutions) and its secret, stored as issued (HMAC
# needs it, like ``institution.token``). At most one current pair per institution
# (retires_at_unix NULL); a rotated pair may keep working until retires_at_unix (unix
# seconds of the gateway's clock) during a grace period.
gateway_key = Table(
    "gateway_key",
    metadata,
    Column("access_key", String(100), primary_key=True),
    Column("fixmedins_code", String(30), ForeignKey("institution.fixmedins_code"),
           nullable=False),
    Column("secret_key", String(128), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("retires_at_unix", BigInteger),
    Index("uq_gateway_key_current", "fixmedins_code", unique=True,
          sqlite_where=text("retires_at_unix IS NULL"),
          postgresql_where=text("retires_at_unix IS NULL")),
    Index(None, "fixmedins_code"),
)

person = Table(
    "person",
    metadata,
    Column("psn_no", String(30), primary_key=True),
    Column("psn_cert_type", String(6), nullable=False),
    Column("certno", String(50), nullable=False, unique=True),
    Column("name", String(50), nullable=False),
    Column("gend", String(6), nullable=False),
    Column("naty", String(6), nullable=False),
    Column("brdy", Date, nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False),
)

insurance = Table(
    "insurance",
    metadata,
    Column("psn_no", String(30), ForeignKey("person.psn_no"), primary_key=True),
    Column("insutype", String(6), primary_key=True),
    Column("psn_type", String(6), nullable=False),
    Column("psn_insu_stas", String(3), nullable=False),  # 1 normal, 2 suspended, 4 ended
    Column("psn_insu_date", Date, nullable=False),
    Column("paus_insu_date", Date),
    Column("cvlserv_flag", String(3), nullable=False, server_default="0"),
    Column("emp_name", String(200), nullable=False, server_default=""),
    # the employer's number (a deferral decision names it); "" for residents
    Column("emp_no", String(30), nullable=False, server_default=""),
    # the contribution status now (domain/contribution.py Standing), read by the
    # settlement with the insurance; the history is contribution_period
    Column("contrib_stas", String(12), nullable=False, server_default="paid"),
    Column("contrib_since", Date),
    Column("contrib_until", Date),  # a deferral's last day
    Index(None, "emp_no"),
)

# 缴费状态 over time, per person and insurance: begin inclusive, end exclusive (NULL: the
# current one); what made it (a deferral decision, an operator's entry, a payment),
# who and when; a payment's late fee (滞纳金, fen) and whether it closed arrears within
# the grace (continuous: no gap)
contribution_period = Table(
    "contribution_period",
    metadata,
    Column("period_id", String(30), primary_key=True),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("status", String(12), nullable=False),
    Column("begin_date", Date, nullable=False),
    Column("end_date", Date),
    Column("until_date", Date),  # a deferral's last day
    Column("decision", String(12), nullable=False),
    Column("decision_ref", String(30), nullable=False, server_default=""),
    Column("continuous", Boolean, nullable=False, server_default=text("false")),
    money("owed"),
    money("late_fee"),
    Column("note", String(200), nullable=False, server_default=""),
    Column("actor", String(60), nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Index(None, "psn_no", "insutype"),
)

# 缓缴: a bureau's deferral decision, for an employer (emp_no) or for everyone ("")
deferral = Table(
    "deferral",
    metadata,
    Column("deferral_id", String(30), primary_key=True),
    Column("emp_no", String(30), nullable=False, server_default=""),
    Column("insutype", String(6), nullable=False),
    Column("begin_date", Date, nullable=False),
    Column("until_date", Date, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("persons", Integer, nullable=False, server_default=text("0")),
    Column("actor", String(60), nullable=False),
    Column("decided_at", DateTime, nullable=False),
)

# a bureau's declaration of a public-health emergency for an area: registrations due
# for renewal inside it continue (domain/contribution.extended_end)
declared_period = Table(
    "declared_period",
    metadata,
    Column("declared_id", String(30), primary_key=True),
    Column("area", String(6), nullable=False),
    Column("title", String(200), nullable=False),
    Column("begin_date", Date, nullable=False),
    Column("until_date", Date, nullable=False),
    Column("actor", String(60), nullable=False),
    Column("declared_at", DateTime, nullable=False),
    Index(None, "area"),
)

account = Table(
    "account",
    metadata,
    Column("psn_no", String(30), ForeignKey("person.psn_no"), primary_key=True),
    money("balance"),
)

card = Table(
    "card",
    metadata,
    Column("card_no", String(50), primary_key=True),
    Column("card_sn", String(50), nullable=False),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("status", String(16), nullable=False),  # valid | lost
    Column("status_at", DateTime),
)

card_history = Table(  # card_sn values a card number had before a replacement
    "card_history",
    metadata,
    Column("card_no", String(50), primary_key=True),
    Column("card_sn", String(50), primary_key=True),
    Column("replaced_at", DateTime, nullable=False),
)

suspension = Table(  # the bureau suspends a person's direct settlement for a period
    "suspension",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("begin_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("operator", String(50), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("lifted_at", DateTime),
    Index(None, "psn_no"),
)

channel = Table(  # certified apps (national app, city app, WeChat, Alipay, banks)
    "channel",
    metadata,
    Column("channel_id", String(30), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("secret", String(128), nullable=False),  # HMAC key of its signed requests
    # what its credential lets it do: domain/channels.py SCOPES, comma-separated (a
    # channel made before scopes existed holds all of them: migration 0020)
    Column("scopes", String(100), nullable=False, server_default=ALL_SCOPES),
    # a sandbox channel acts only on the demo dataset's persons (docs/channel-api.md)
    Column("sandbox", Boolean, nullable=False, server_default=text("false")),
    # where its webhooks go (order and claim status); empty: none
    Column("webhook_url", String(400), nullable=False, server_default=""),
)

channel_request = Table(  # a channel's write, by its Idempotency-Key: answered once
    "channel_request",
    metadata,
    Column("channel_id", String(30), primary_key=True),
    Column("idem_key", String(64), primary_key=True),
    Column("request_hash", String(64), nullable=False),  # SHA-256 of method, path, body
    Column("status", Integer, nullable=False),  # the HTTP status answered
    Column("body", Text, nullable=False),  # the JSON answered
    Column("created_at", DateTime, nullable=False),
    Index(None, "created_at"),  # the purge: kept 24 hours (services/retention.py)
)

ecert = Table(  # one activation of the electronic certificate in one channel
    "ecert",
    metadata,
    Column("cert_id", String(30), primary_key=True),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("channel_id", String(30), ForeignKey("channel.channel_id"), nullable=False),
    Column("status", String(16), nullable=False),  # active | deactivated
    Column("pin_hash", String(128), nullable=False),  # scrypt, salt included
    Column("pin_failures", Integer, nullable=False, server_default=text("0")),
    Column("locked_at", DateTime),
    Column("created_at", DateTime, nullable=False),
    # activated while active in another channel: no claims, payees, filings, family
    # bindings or face until then (domain/trust.py)
    Column("probation_until", DateTime),
    Index(None, "psn_no"),
)

family_binding = Table(  # a certificate holder shows a relative's QR codes
    "family_binding",
    metadata,
    Column("binding_id", String(30), primary_key=True),
    Column("cert_id", String(30), ForeignKey("ecert.cert_id"), nullable=False),
    Column("relative_psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("relation", String(20), nullable=False),
    Column("consent_method", String(30), nullable=False),
    Column("status", String(16), nullable=False),  # pending | active | removed
    Column("created_at", DateTime, nullable=False),
    Column("accepted_at", DateTime),  # the relative accepted (or a minor bound at once)
    Column("removed_at", DateTime),
)

face_template = Table(  # 128-d face descriptors, AES-GCM encrypted; images never stored
    "face_template",
    metadata,
    Column("psn_no", String(30), ForeignKey("person.psn_no"), primary_key=True),
    Column("sealed", LargeBinary, nullable=False),  # nonce (12 bytes) + ciphertext
    Column("model", String(40), nullable=False),
    Column("enrolled_at", DateTime, nullable=False),
)

qr_code = Table(  # dynamic QR codes: only the SHA-256 of the code is kept
    "qr_code",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("cert_id", String(30), ForeignKey("ecert.cert_id"), nullable=False),
    Column("psn_no", String(30), nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime),
    Column("binding_id", String(30)),  # a relative's code: valid while the binding is
)

ec_token = Table(  # identity tokens issued by 1162, bound to institution and business
    "ec_token",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("psn_no", String(30), nullable=False),
    Column("cert_id", String(30), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("business_type", String(6), nullable=False),
    Column("issued_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    # ecTokens: set when a deactivation, PIN lock, suspension or card loss revokes it
    Column("revoked_at", DateTime),
    Column("revoked_why", String(30), nullable=False, server_default=""),
    # a relative's token: the family binding its QR code was issued through (revoked with
    # the binding, and with the holder's certificate: cert_id is the holder's)
    Column("binding_id", String(30)),
    # the sign-in (9001) the 1162 message named: its terminal (mac, ip) is the device the
    # certificate was used on (supervision, SV03); '' when the message named none
    Column("sign_no", String(30), nullable=False, server_default=""),
    Index(None, "psn_no"),
    Index(None, "cert_id"),
)

audit_event = Table(  # identity events: who did what, where, when (no personal data)
    "audit_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("psn_no", String(30)),
    Column("actor", String(60), nullable=False),  # operator, institution or channel
    Column("place", String(60), nullable=False, server_default=""),
    Column("detail", String(300), nullable=False, server_default=""),
    Index(None, "psn_no"),
    Index(None, "kind", "place", "at"),  # face pilot: refused attempts per institution
)

catalogue_item = Table(
    "catalogue_item",
    metadata,
    Column("region", String(6), primary_key=True),
    Column("code", String(50), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("list_type", String(6), nullable=False),  # 101 drug, 201 service, 301 consumable
    Column("chrgitm_lv", String(3), nullable=False),
    # 医疗收费项目类别 01-14 (dictionary med_chrgitm_type); "" = by list_type
    Column("med_chrgitm_type", String(6), nullable=False, server_default=""),
    Column("price_cap", String(24)),  # yuan per unit as exact decimal text; NULL = none
    Column("selfpay_ratio", String(12), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
    Column("ver", String(30), nullable=False),
    # usage limits supervision checks (issue 20, domain/supervision.py): the sex the
    # item is for ('' any, else the gend code: 1 male, 2 female), the ages (whole years,
    # inclusive; NULL none), the quantity per day of care (exact decimal text), the
    # days of a course (first to last day billed in one visit, inclusive), the times it
    # may be billed in one visit; ``per_day``: billed once per day of stay (a bed-day,
    # nursing), so its count cannot exceed the days of the stay
    Column("lmt_gend", String(1), nullable=False, server_default=""),
    Column("lmt_age_min", Integer),
    Column("lmt_age_max", Integer),
    Column("lmt_daily_cnt", String(24)),
    Column("lmt_course_days", Integer),
    Column("lmt_visit_times", Integer),
    Column("per_day", Boolean, nullable=False, server_default=text("false")),
)

reference_list = Table(
    "reference_list",
    metadata,
    Column("kind", String(16), primary_key=True),  # disease, operation, chronic, ...
    Column("code", String(50), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
    Column("ver", String(30), nullable=False),
)

signin = Table(
    "signin",
    metadata,
    Column("sign_no", String(30), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("opter_no", String(30), nullable=False),
    Column("mac", String(30), nullable=False, server_default=""),
    Column("ip", String(60), nullable=False, server_default=""),
    Column("sign_time", DateTime, nullable=False),
    Column("signout_time", DateTime),
)

visit = Table(
    "visit",
    metadata,
    Column("mdtrt_id", String(30), primary_key=True),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("med_type", String(6), nullable=False),
    Column("visit_class", String(12), nullable=False),  # outpatient | inpatient
    Column("status", String(16), nullable=False),  # open | discharged | cancelled
    Column("begntime", DateTime, nullable=False),
    Column("endtime", DateTime),
    Column("ipt_otp_no", String(30), nullable=False),
    Column("mdtrt_cert_type", String(3), nullable=False),
    Column("mdtrt_cert_no", String(600), nullable=False, server_default=""),
    Column("atddr_no", String(30), nullable=False, server_default=""),
    Column("dr_name", String(50), nullable=False, server_default=""),
    Column("dept_code", String(30), nullable=False, server_default=""),
    Column("dept_name", String(100), nullable=False, server_default=""),
    Column("caty", String(10), nullable=False, server_default=""),
    Column("dscg_way", String(6), nullable=False, server_default=""),
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("mdtrtarea_admvs", String(6), nullable=False),
    Column("msgid", String(30), nullable=False),
    # exp_content flags of the national inter-provincial extension (see docs/away.md)
    Column("emergency", String(1), nullable=False, server_default="0"),
    Column("trum_flag", String(1), nullable=False, server_default="0"),
    Column("rel_ttp_flag", String(1), nullable=False, server_default=""),
    # issue 19 (docs/fever.md): registered in a department the institution marked as a
    # fever clinic (发热门诊), and the population group (MDTRT_GRP_TYPE, table 598; "" none)
    Column("fever", Boolean, nullable=False, server_default=text("false")),
    Column("mdtrt_grp_type", String(1), nullable=False, server_default=""),
    Index(None, "psn_no"),
    Index(None, "fixmedins_code", "ipt_otp_no"),
)

fever_dept = Table(  # an institution's departments that are fever clinics (docs/fever.md)
    "fever_dept",
    metadata,
    Column("fixmedins_code", String(30), ForeignKey("institution.fixmedins_code"),
           primary_key=True),
    Column("dept_code", String(30), primary_key=True),  # as 2201 / 2401 send it
    Column("marked_by", String(64), nullable=False),
    Column("marked_at", DateTime, nullable=False),
)

admission_detail = Table(  # an admission's other fields of the standard (2401 / 2403)
    "admission_detail",
    metadata,
    Column("mdtrt_id", String(30), ForeignKey("visit.mdtrt_id"), primary_key=True),
    Column("detail", Text, nullable=False),  # a JSON object: adm_bed, adm_diag_dscr, ...
)

diagnosis = Table(
    "diagnosis",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mdtrt_id", String(30), ForeignKey("visit.mdtrt_id"), nullable=False),
    Column("psn_no", String(30), nullable=False),
    Column("diag_type", String(6), nullable=False),
    Column("diag_srt_no", Integer, nullable=False),
    Column("diag_code", String(30), nullable=False),
    Column("diag_name", String(200), nullable=False),
    Column("diag_dept", String(100), nullable=False, server_default=""),
    Column("dise_dor_no", String(30), nullable=False, server_default=""),
    Column("dise_dor_name", String(50), nullable=False, server_default=""),
    Column("diag_time", DateTime),
    Column("vali_flag", String(3), nullable=False, server_default="1"),
    Column("stage", String(12), nullable=False),  # visit | discharge
    Index(None, "mdtrt_id"),
)

fee_line = Table(
    "fee_line",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("psn_no", String(30), nullable=False),
    Column("mdtrt_id", String(30), ForeignKey("visit.mdtrt_id"), nullable=False),
    Column("feedetl_sn", String(30), nullable=False),
    Column("init_feedetl_sn", String(30), nullable=False, server_default=""),
    Column("chrg_bchno", String(30), nullable=False),
    Column("med_list_codg", String(50), nullable=False),
    Column("medins_list_codg", String(150), nullable=False),
    Column("med_list_name", String(200), nullable=False, server_default=""),
    Column("cnt", String(24), nullable=False),
    Column("pric", String(24), nullable=False),
    money("det_item_fee_sumamt"),
    money("fulamt_ownpay_amt"),
    money("overlmt_amt"),
    money("preselfpay_amt"),
    money("inscp_scp_amt"),
    Column("chrgitm_lv", String(3), nullable=False),
    Column("selfpay_prop", String(12), nullable=False),
    Column("pric_uplmt_amt", String(24)),
    Column("list_type", String(6), nullable=False, server_default=""),
    Column("med_chrgitm_type", String(6), nullable=False, server_default=""),
    Column("memo", String(500), nullable=False, server_default=""),  # 2306 (a trace code)
    Column("fee_ocur_time", DateTime),
    Column("status", String(12), nullable=False),  # active | cancelled
    Column("setl_id", String(30)),
    Column("msgid", String(30), nullable=False),
    Index(None, "mdtrt_id", "status"),
    Index(
        "uq_fee_line_active_sn",
        "mdtrt_id",
        "feedetl_sn",
        unique=True,
        sqlite_where=text("status = 'active'"),
        postgresql_where=text("status = 'active'"),
    ),
)

_SETTLEMENT_AMOUNTS = (
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
    "act_pay_dedc", "hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay",
    "hifob_pay", "maf_pay", "oth_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay",
    "psn_cash_pay", "hosp_part_amt", "balc", "acct_mulaid_pay",
)  # fmt: skip

settlement = Table(
    "settlement",
    metadata,
    Column("setl_id", String(30), primary_key=True),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("mdtrt_id", String(30), ForeignKey("visit.mdtrt_id"), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("kind", String(8), nullable=False),  # settle | cancel | claim (reimbursement)
    Column("reverses", String(30), unique=True),  # the settle row a cancel row reverses
    Column("insutype", String(6), nullable=False),
    Column("psn_type", String(6), nullable=False),
    Column("med_type", String(6), nullable=False),
    Column("mid_setl_flag", String(1), nullable=False, server_default="0"),
    Column("seq", Integer, nullable=False),  # order of settle rows within the visit
    Column("setl_time", DateTime, nullable=False),
    Column("year", Integer, nullable=False),
    Column("policy_id", String(40), nullable=False),
    Column("clr_type", String(6), nullable=False),
    Column("msgid", String(30), nullable=False),
    Column("pool_prop_selfpay", String(8), nullable=False),  # fund ratio, 4 decimals
    Column("mdtrt_cert_type", String(3), nullable=False),
    # away from home: the two co-ordination areas, the filing used and on what basis,
    # and for an injury the declaration (a filing of kind trauma) it needed
    Column("insuplc_admdvs", String(6), nullable=False, server_default=""),
    Column("mdtrtarea_admvs", String(6), nullable=False, server_default=""),
    Column("trt_dcla_detl_sn", String(30)),
    Column("trum_dcla_detl_sn", String(30)),
    Column("away_basis", String(12), nullable=False, server_default=""),  # "" = at home
    Column("invono", String(50), nullable=False, server_default=""),  # the HIS's invoice
    # the visit's fever-clinic flag and the population group the settlement used
    # (docs/fever.md): reports read them without a join
    Column("fever", Boolean, nullable=False, server_default=text("false")),
    Column("mdtrt_grp_type", String(1), nullable=False, server_default=""),
    *(money(name) for name in _SETTLEMENT_AMOUNTS),
    Index(None, "psn_no"),
    Index(None, "mdtrt_id"),
    Index(None, "fixmedins_code", "setl_time"),
)
SETTLEMENT_AMOUNTS = _SETTLEMENT_AMOUNTS

settlement_line = Table(
    "settlement_line",
    metadata,
    Column("setl_id", String(30), ForeignKey("settlement.setl_id"), primary_key=True),
    Column("fee_line_id", Integer, ForeignKey("fee_line.id"), primary_key=True),
    Column("psn_no", String(30), nullable=False),
)

settlement_fund = Table(
    "settlement_fund",
    metadata,
    Column("setl_id", String(30), ForeignKey("settlement.setl_id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("psn_no", String(30), nullable=False),
    Column("fund_pay_type", String(6), nullable=False),
    money("inscp_scp_amt"),
    money("crt_payb_lmt_amt"),
    money("fund_payamt"),
    Column("setl_proc_info", String(500), nullable=False, server_default=""),
)

accumulator = Table(
    "accumulator",
    metadata,
    Column("psn_no", String(30), ForeignKey("person.psn_no"), primary_key=True),
    Column("insutype", String(6), primary_key=True),
    Column("period", String(40), primary_key=True),  # "2026" or "stay:<mdtrt_id>"
    Column("cum_key", String(40), primary_key=True),
    money("cum"),
)

accumulator_delta = Table(
    "accumulator_delta",
    metadata,
    Column("setl_id", String(30), ForeignKey("settlement.setl_id"), primary_key=True),
    Column("period", String(40), primary_key=True),
    Column("cum_key", String(40), primary_key=True),
    Column("psn_no", String(30), nullable=False),
    Column("insutype", String(6), nullable=False),
    money("delta"),
    Index(None, "psn_no"),
)

message = Table(
    "message",
    metadata,
    Column("fixmedins_code", String(30), primary_key=True),
    Column("msgid", String(30), primary_key=True),
    Column("infno", String(6), nullable=False),
    Column("body_hash", String(64), nullable=False),
    Column("infcode", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("effect", String(80)),  # what a state-changing message did, for 2601
    Column("created_at", DateTime, nullable=False),
)

visit_sp_flag = Table(  # 2406 就医特殊属性: a special attribute of a visit, 2407 lists them
    "visit_sp_flag",
    metadata,
    Column("detl_id", String(40), primary_key=True),  # ipt_psn_sp_flag_detl_id
    Column("mdtrt_id", String(30), ForeignKey("visit.mdtrt_id"), nullable=False),
    Column("psn_no", String(30), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("ipt_otp_no", String(30), nullable=False),
    Column("flag_type", String(6), nullable=False),  # ipt_psn_sp_flag_type
    Column("flag", String(6), nullable=False),  # ipt_psn_sp_flag
    Column("memo", String(500), nullable=False, server_default=""),
    Column("admdvs", String(6), nullable=False, server_default=""),
    Column("msgid", String(30), nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("mdtrt_id", "flag_type", "flag"),
    Index(None, "fixmedins_code", "created_at"),
)

medins_matching = Table(  # 3301 目录对照: the institution's item -> a catalogue item (1317)
    "medins_matching",
    metadata,
    Column("fixmedins_code", String(30), primary_key=True),
    Column("medins_list_codg", String(30), primary_key=True),  # fixmedins_hilist_id
    Column("list_type", String(30), primary_key=True),
    Column("med_list_codg", String(30), primary_key=True),
    Column("medins_list_name", String(200), nullable=False),
    Column("insu_admdvs", String(6), nullable=False),
    Column("begndate", Date, nullable=False),
    Column("enddate", Date, nullable=False),
    # aprvno, dosform, exct_cont, item_cont, prcunt, spec, pacspec, memo as sent (JSON)
    Column("detail", Text, nullable=False, server_default="{}"),
    Column("vali_flag", String(1), nullable=False),  # 1 in force, 0 cancelled by 3302
    Column("rid", String(40), nullable=False, unique=True),
    Column("crte_time", DateTime, nullable=False),
    Column("updt_time", DateTime, nullable=False),
    Column("opter_name", String(50), nullable=False, server_default=""),
    Column("msgid", String(30), nullable=False),
    Index(None, "fixmedins_code", "updt_time"),
)

reversal = Table(
    "reversal",
    metadata,
    Column("fixmedins_code", String(30), primary_key=True),
    Column("omsgid", String(30), primary_key=True),
    Column("msgid", String(30), nullable=False),
    Column("outcome", String(200), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

gateway_nonce = Table(
    "gateway_nonce",
    metadata,
    Column("paasid", String(30), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("ts", BigInteger, nullable=False),
    Index(None, "ts"),
)

stored_file = Table(
    "stored_file",
    metadata,
    Column("file_qury_no", String(60), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", DateTime, nullable=False),
    # files, storage and exports: upload (9101) | result (3202) | catalogue (1301-1315)
    Column("kind", String(12), nullable=False, server_default="upload"),
    Column("content_key", String(64), unique=True),  # a catalogue file's version key
    Column("dld_endtime", DateTime, nullable=False),  # 9102 refuses it afterwards
    Index(None, "fixmedins_code", "created_at"),
    Index(None, "dld_endtime"),
)

account_entry = Table(  # one per account a settlement moves: the person's, and the
    "account_entry",      # family member's whose account paid by mutual aid (共济)
    metadata,
    Column("setl_id", String(30), ForeignKey("settlement.setl_id"), primary_key=True),
    Column("psn_no", String(30), primary_key=True),
    money("amount"),  # negative: paid out of the account
    money("balance_after"),
    Column("created_at", DateTime, nullable=False),
)

drug_supply = Table(  # long prescriptions: the days a purchased drug line supplies
    "drug_supply",
    metadata,
    Column("setl_id", String(30), ForeignKey("settlement.setl_id"), primary_key=True),
    Column("feedetl_sn", String(30), primary_key=True),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("med_list_codg", String(50), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("begntime", DateTime, nullable=False),  # the purchase
    Column("days", Integer, nullable=False),  # prd_days, whole days
    Column("cancelled_by", String(30)),  # the cancellation (2103, 2601) that withdrew it
    Index(None, "psn_no", "med_list_codg"),
)

filing = Table(  # 备案: away-from-home (by area), special disease (by institution), trauma
    "filing",
    metadata,
    Column("trt_dcla_detl_sn", String(30), primary_key=True),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("kind", String(12), nullable=False),  # area | disease | trauma
    Column("filing_type", String(12), nullable=False),  # see domain/filing.py
    # the insured relationship the filing was made under
    Column("insutype", String(6), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("emp_name", String(200), nullable=False, server_default=""),
    Column("mdtrtarea_admdvs", String(6), nullable=False),  # co-ordination area of treatment
    Column("fixmedins_code", String(30), nullable=False, server_default=""),  # disease only
    Column("dise_code", String(30), nullable=False, server_default=""),
    Column("dise_name", String(300), nullable=False, server_default=""),
    Column("reason", String(500), nullable=False, server_default=""),
    Column("trum_time", DateTime),
    Column("trum_site", String(200), nullable=False, server_default=""),
    Column("begin_at", DateTime, nullable=False),  # registration time
    Column("end_at", DateTime),  # chosen end of validity; NULL = until ended
    Column("status", String(12), nullable=False),  # active | cancelled | superseded
    Column("ended_at", DateTime),  # when cancelled or superseded
    Column("ended_reason", String(500), nullable=False, server_default=""),
    Column("source", String(6), nullable=False),  # dcla_souc: 01 institution, 02 agency, 04 app
    Column("actor", String(60), nullable=False),
    Column("msgid", String(30), nullable=False, server_default=""),
    # the personal commitment letter (个人承诺书) signed with the filing (issue 19, the
    # 2022 notice): when, which letter (its version / text id), through which entry
    Column("commitment_signed", Boolean, nullable=False, server_default=text("false")),
    Column("commitment_at", DateTime),
    Column("commitment_version", String(30), nullable=False, server_default=""),
    Column("commitment_entry", String(60), nullable=False, server_default=""),
    Index(None, "psn_no"),
)

designation = Table(  # 就医定点医疗机构: a person's designated institution over a period
    "designation",
    metadata,
    Column("trt_dcla_detl_sn", String(30), primary_key=True),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("fix_srt_no", Integer, nullable=False),  # 定点排序号, 1..the policy's number
    Column("fixmedins_code", String(30), ForeignKey("institution.fixmedins_code"),
           nullable=False),
    Column("begin_date", Date, nullable=False),  # first day it counts
    Column("end_date", Date),  # last day it counts; NULL: until changed or cancelled
    Column("status", String(12), nullable=False),  # active | cancelled (never counted)
    Column("source", String(6), nullable=False),  # dcla_souc: 01 institution, 02 window, 04 app
    Column("actor", String(60), nullable=False),
    Column("entry", String(16), nullable=False),  # national | channel | operator | cli
    Column("msgid", String(30), nullable=False, server_default=""),
    Column("memo", String(500), nullable=False, server_default=""),
    Column("created_at", DateTime, nullable=False),
    Column("ended_at", DateTime),  # when ended early, changed or cancelled
    Column("ended_reason", String(500), nullable=False, server_default=""),
    Index(None, "psn_no"),
)

# special-disease care away from home (门诊慢特病跨省直接结算) an institution opened, per
# disease (issue 19, the 2022 notice): set by operators; closed_at ends it
institution_disease_service = Table(
    "institution_disease_service",
    metadata,
    Column("fixmedins_code", String(30), ForeignKey("institution.fixmedins_code"),
           primary_key=True),
    Column("opsp_dise_code", String(30), primary_key=True),
    Column("opened_from", DateTime, nullable=False),  # from when it settles the disease
    Column("opened_by", String(60), nullable=False),  # the operator
    Column("opened_at", DateTime, nullable=False),  # when that was recorded
    Column("closed_at", DateTime),
    Column("closed_by", String(60), nullable=False, server_default=""),
)

outbox = Table(  # messages to deliver at least once (inter-provincial cost information)
    "outbox",
    metadata,
    Column("id", String(40), primary_key=True),  # the receiver's idempotency key
    Column("kind", String(20), nullable=False),
    Column("psn_no", String(30), nullable=False),
    Column("payload", Text, nullable=False),  # JSON
    Column("status", String(12), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("lease_until", DateTime),
    Column("last_error", String(500), nullable=False, server_default=""),
    Column("created_at", DateTime, nullable=False),
    Column("delivered_at", DateTime),
    # where to: empty for the national platform (the deliverer's configured URL), else
    # an institution's callback (6204 / 6302, sealed for it when sent)
    Column("url", String(400), nullable=False, server_default=""),
    Index(None, "status", "next_attempt_at"),
)

online_order = Table(  # an order of the mobile-payment centre (payOrdId): domain/orders.py
    "online_order",
    metadata,
    Column("pay_ord_id", String(40), primary_key=True),
    Column("pay_token_hash", String(64), nullable=False),  # SHA-256 hex of the payToken
    Column("fixmedins_code", String(30), nullable=False),
    Column("med_org_ord", String(40), nullable=False),  # the institution's order number
    Column("request_hash", String(64), nullable=False),  # SHA-256 of the upload (retries)
    Column("psn_no", String(30), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("mdtrt_id", String(30), nullable=False),
    Column("chrg_bchno", String(30), nullable=False),
    Column("med_type", String(6), nullable=False),
    Column("acct_used", Boolean, nullable=False),  # acctUsedFlag: the account may pay
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),  # not settled by then: released
    money("medfee_sumamt"),
    # the split, once held (zero before)
    money("fund_pay"),
    money("acct_pay"),
    money("cash_pay"),
    Column("held_at", DateTime),
    Column("held_settlement", Text, nullable=False, server_default=""),  # JSON: row + funds
    Column("hold_ref", String(40), nullable=False, server_default=""),  # orgBizSer / cashier
    Column("channel_id", String(30), nullable=False, server_default=""),  # authorised in
    Column("setl_id", String(30)),  # the settlement, once paid
    Column("settled_at", DateTime),
    # the platform's page (an Alipay wap.pay URL with its signed parameters: ~1,000)
    Column("pay_url", String(2000), nullable=False, server_default=""),
    Column("trade_no", String(64), nullable=False, server_default=""),  # the platform's
    money("cash_paid"),  # what the platform confirmed (a late payment: refunded)
    # the institution's reversal authorisation (6302/6301), valid REVS_TOKEN_LIFETIME
    Column("revs_token", String(64), nullable=False, server_default=""),
    Column("closed_at", DateTime),  # cancelled, expired or refunded
    # the electronic prescription this order pays (online drug purchase), if any
    Column("hi_rxno", String(30), index=True),
    UniqueConstraint("fixmedins_code", "med_org_ord"),
    Index(None, "psn_no", "status"),
    Index(None, "status", "expires_at"),
)

online_hold = Table(  # year and stay room held by a held order (released with it)
    "online_hold",
    metadata,
    Column("pay_ord_id", String(40), ForeignKey("online_order.pay_ord_id"), primary_key=True),
    Column("period", String(40), primary_key=True),
    Column("cum_key", String(30), primary_key=True),
    Column("psn_no", String(30), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Index(None, "psn_no"),
)

pay_auth = Table(  # a payAuthNo: the person's authorisation of one order, used once
    "pay_auth",
    metadata,
    Column("auth_hash", String(64), primary_key=True),  # SHA-256 hex of the payAuthNo
    Column("pay_ord_id", String(40), ForeignKey("online_order.pay_ord_id"), nullable=False),
    Column("psn_no", String(30), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("channel_id", String(30), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime),
    Index(None, "pay_ord_id"),
)

online_refund = Table(  # a 6203 refund (or the revsToken reversal) of an online order
    "online_refund",
    metadata,
    Column("refd_sn", String(40), primary_key=True),
    Column("pay_ord_id", String(40), ForeignKey("online_order.pay_ord_id"), nullable=False),
    Column("app_refd_sn", String(40), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("refd_type", String(8), nullable=False),  # ALL | HI | CASH | LATE (auto)
    money("fund_refd"),
    money("acct_refd"),
    money("cash_refd"),
    Column("cancel_setl_id", String(30)),  # the cancellation giving fund and account back
    Column("status", String(8), nullable=False),  # SUCC | FAIL | EXP (cash pending)
    Column("platform_refund_no", String(64), nullable=False, server_default=""),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("pay_ord_id", "app_refd_sn"),
)

mpc_app = Table(  # an institution's credentials at the mobile-payment centre's envelope
    "mpc_app",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("fixmedins_code", String(30), ForeignKey("institution.fixmedins_code"),
           nullable=False),
    Column("app_secret", String(64), nullable=False),
    Column("public_key", String(200), nullable=False),  # the institution's SM2 key, base64
    Column("callback_url", String(400), nullable=False, server_default=""),  # 6204 / 6302
    Column("created_at", DateTime, nullable=False),
    Index(None, "fixmedins_code"),
)

fault_period = Table(  # the institution could not settle in real time (link or platform down)
    "fault_period",
    metadata,
    Column("fault_id", String(30), primary_key=True),
    Column("fixmedins_code", String(30), ForeignKey("institution.fixmedins_code"),
           nullable=False),
    Column("begin_at", DateTime, nullable=False),
    Column("end_at", DateTime, nullable=False),
    Column("reason", String(300), nullable=False),
    Column("actor", String(60), nullable=False),  # the institution or an operator
    Column("created_at", DateTime, nullable=False),
    Column("cancelled_at", DateTime),  # NULL = in force; a 2601 of its 2902, or an operator
    Column("cancelled_reason", String(300), nullable=False, server_default=""),
    Index(None, "fixmedins_code", "begin_at"),
)

# a claim in one of these statuses no longer holds its invoice (it may be claimed again)
CLAIM_RELEASED = ("rejected", "withdrawn")
_CLAIM_HOLDS_INVOICE = text(
    "status NOT IN (" + ", ".join(f"'{status}'" for status in CLAIM_RELEASED) + ")"
)

claim = Table(  # 手工报销: a self-paid bill and the application to reimburse it
    "claim",
    metadata,
    Column("claim_id", String(30), primary_key=True),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("mdtrt_id", String(30), ForeignKey("visit.mdtrt_id"), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),  # where the care took place
    Column("invono", String(50), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("med_type", String(6), nullable=False),
    Column("reason", String(20), nullable=False),  # see services/reimbursement.py
    Column("trt_dcla_detl_sn", String(30)),  # the filing, for care away from home
    Column("status", String(16), nullable=False),
    Column("source", String(6), nullable=False),  # 01 institution, 02 agency, 04 app
    Column("applicant", String(60), nullable=False, server_default=""),
    Column("bank_name", String(100), nullable=False, server_default=""),
    Column("bank_account", String(40), nullable=False, server_default=""),
    Column("payee_id", Integer),  # an app's claim: the registered payee (payee_account.id)
    # a window's claim paying another account than the registered payee: that payee's id
    # (the claim's view flags it, its approvers confirm it; fixops, migration 0018)
    Column("registered_payee_id", Integer),
    money("medfee_sumamt"),
    money("approved_amount"),  # what the fund pays the person
    Column("setl_id", String(30)),  # the computed settlement (kind claim)
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index(None, "psn_no"),
    Index(
        "uq_claim_live_invoice",
        "fixmedins_code",
        "invono",
        unique=True,
        sqlite_where=_CLAIM_HOLDS_INVOICE,
        postgresql_where=_CLAIM_HOLDS_INVOICE,
    ),
)

claim_step = Table(  # every step of a claim: who, when, why (the applicant sees these)
    "claim_step",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("claim_id", String(30), ForeignKey("claim.claim_id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("actor", String(60), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("reason", String(1000), nullable=False, server_default=""),
    Index(None, "claim_id"),
)

payment_order = Table(  # an approved amount paid to the person's bank account
    "payment_order",
    metadata,
    Column("order_id", String(30), primary_key=True),
    Column("claim_id", String(30), ForeignKey("claim.claim_id"), nullable=False, unique=True),
    Column("psn_no", String(30), nullable=False),
    money("amount"),
    Column("bank_name", String(100), nullable=False),
    Column("bank_account", String(40), nullable=False),
    Column("status", String(12), nullable=False),  # pending | exported | paid | failed
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("batch", String(40), nullable=False, server_default=""),
    Column("last_error", String(300), nullable=False, server_default=""),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("exported_by", String(60)),  # the operator who last put it in a bank file
    Column("result_by", String(60)),  # the operator who recorded the bank's answer
    Index(None, "status"),
)

ledger_entry = Table(  # the fund ledger: signed fen, each posting (txn) sums to zero
    "ledger_entry",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("txn", String(40), nullable=False),  # "setl:<setl_id>", "pay:<order_id>", ...
    Column("kind", String(16), nullable=False),  # settle | cancel | claim | payout | prepay
    Column("account", String(60), nullable=False),  # see domain/ledger.py
    Column("amount", BigInteger, nullable=False),  # debit > 0, credit < 0
    Column("at", DateTime, nullable=False),
    Index("uq_ledger_entry_txn_account", "txn", "account", unique=True),
    Index(None, "account"),
)

clearing_month = Table(  # a month's clearing: re-run while open, never rewritten once closed
    "clearing_month",
    metadata,
    Column("month", String(7), primary_key=True),  # YYYY-MM
    Column("status", String(8), nullable=False),  # open | closed
    Column("runs", Integer, nullable=False),
    Column("settlements", Integer, nullable=False),
    Column("run_at", DateTime, nullable=False),
    Column("run_by", String(60), nullable=False),
    Column("closed_at", DateTime),
    Column("closed_by", String(60)),
)

clearing_line = Table(  # what one fund owes one institution for one clearing type
    "clearing_line",
    metadata,
    Column("month", String(7), ForeignKey("clearing_month.month"), primary_key=True),
    Column("fixmedins_code", String(30), primary_key=True),
    Column("fund_pay_type", String(6), primary_key=True),
    Column("clr_type", String(6), primary_key=True),
    Column("region", String(6), nullable=False),
    money("settled"),
    money("cancelled"),
    money("net"),
)

clearing_institution = Table(  # one institution's month: counts, totals, prepaid, due
    "clearing_institution",
    metadata,
    Column("month", String(7), ForeignKey("clearing_month.month"), primary_key=True),
    Column("fixmedins_code", String(30), primary_key=True),
    Column("region", String(6), nullable=False),
    Column("settlements", Integer, nullable=False),
    Column("cancellations", Integer, nullable=False),
    money("medfee"),
    money("fund"),
    money("acct"),
    money("cash"),
    money("prepaid"),
    money("due"),  # fund + acct - prepaid - recovered: what the clearing pays
    # recoveries of supervision cases netted off this month (issue 20, docs/clearing.md)
    money("recovered"),
)

clearing_region = Table(  # what an insured place owes a treatment place for the month
    "clearing_region",
    metadata,
    Column("month", String(7), ForeignKey("clearing_month.month"), primary_key=True),
    Column("insured", String(6), primary_key=True),
    Column("treatment", String(6), primary_key=True),
    money("amount"),
    Column("settlements", Integer, nullable=False),
    Column("cancellations", Integer, nullable=False),
    # the advance fund of the pair (docs/clearing.md): its balance before the month's
    # draw, and what the month's amount took from it (as the run saw it; fixed at close)
    money("advance_before"),
    money("drawn"),
)

prepayment = Table(  # next month's fund paid in advance to a large institution
    "prepayment",
    metadata,
    Column("month", String(7), primary_key=True),  # the month it is for
    Column("fixmedins_code", String(30), primary_key=True),
    money("amount"),
    Column("basis", String(200), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("actor", String(60), nullable=False),
)

advance_pair = Table(  # a pair of regions with an advance fund: the row its changes lock
    "advance_pair",
    metadata,
    Column("insured", String(6), primary_key=True),
    Column("treatment", String(6), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    # every change of the fund counts here: the row is written, not only locked, so that
    # a close reading one snapshot (REPEATABLE READ) is refused after a concurrent change
    Column("changes", Integer, nullable=False, server_default=text("0")),
)

region_advance = Table(  # an insured place places (or tops up) its advance fund
    "region_advance",
    metadata,
    Column("advance_id", String(30), primary_key=True),
    Column("insured", String(6), nullable=False),
    Column("treatment", String(6), nullable=False),
    money("amount"),
    Column("note", String(200), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("actor", String(60), nullable=False),
    Index(None, "insured", "treatment"),
)

advance_interest = Table(  # a closed month's interest on an advance fund, to the treatment place
    "advance_interest",
    metadata,
    Column("month", String(7), ForeignKey("clearing_month.month"), primary_key=True),
    Column("insured", String(6), primary_key=True),
    Column("treatment", String(6), primary_key=True),
    Column("balance_days", BigInteger, nullable=False),  # fen x days
    Column("rate", String(12), nullable=False),  # the annual rate applied, e.g. "0.0035"
    Column("day_count", Integer, nullable=False),
    money("amount"),
)

prepayment_proposal = Table(  # prepayment by need: proposed, then approved or rejected
    "prepayment_proposal",
    metadata,
    Column("proposal_id", Integer, primary_key=True, autoincrement=True),
    Column("fixmedins_code", String(30), ForeignKey("institution.fixmedins_code"),
           nullable=False),
    money("amount"),
    Column("reason", String(200), nullable=False),
    Column("status", String(10), nullable=False),  # proposed | approved | rejected
    Column("month", String(7)),  # approved: the month whose clearing nets it off
    Column("proposed_by", String(60), nullable=False),
    Column("proposed_at", DateTime, nullable=False),
    Column("decided_by", String(60)),
    Column("decided_at", DateTime),
    Column("decision_note", String(200), nullable=False, server_default=""),
)

clearing_application = Table(  # 3203 / 3204: an institution applies for a month's clearing
    "clearing_application",
    metadata,
    Column("clr_appy_evt_id", String(30), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("setlym", String(6), nullable=False),
    Column("clr_type", String(6), nullable=False),
    Column("psntime", Integer, nullable=False),
    money("medfee_sumamt"),
    money("fund_appy_sum"),
    money("acct_pay"),
    money("cash_payamt"),
    Column("status", String(12), nullable=False),  # applied | cancelled
    Column("created_at", DateTime, nullable=False),
    Index(None, "fixmedins_code", "setlym"),
)


# ---------------------------------------------------------------- channels' trust (issue 13)

attestation = Table(  # a channel's real-person check: how, its reference, when, what for
    "attestation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("channel_id", String(30), nullable=False),
    Column("purpose", String(20), nullable=False),  # activation|unlock|payee|family_consent
    Column("subject", String(30), nullable=False, server_default=""),  # cert, binding, payee
    Column("method", String(20), nullable=False),
    Column("evidence_ref", String(64), nullable=False),
    Column("attested_at", DateTime, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Index(None, "psn_no"),
    Index(None, "channel_id", "evidence_ref", unique=True),  # one check, relied on once
)

person_notice = Table(  # what happened to the person's identity, readable in every channel
    "person_notice",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("channel_id", String(30), nullable=False),
    Column("detail", String(300), nullable=False, server_default=""),
    Index(None, "psn_no"),
    # an insert reads no answer (no RETURNING of the new id): settlement._write sends it
    # in a pipelined block (store.db.pipelined), where reading an answer fails
    implicit_returning=False,
)

payee_account = Table(  # the account an app's claims pay to; one current row per person
    "payee_account",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("bank_name", String(100), nullable=False),
    Column("bank_account", String(40), nullable=False),
    Column("channel_id", String(30), nullable=False),  # who registered it
    Column("attestation_id", Integer, ForeignKey("attestation.id"), nullable=False),
    Column("set_at", DateTime, nullable=False),
    Column("replaced_at", DateTime),  # a later registration replaced it
    Index(None, "psn_no"),
)

# ---------------------------------------------------------------- operators (issue 13:
# roles, separation of duties, attribution)

operator = Table(  # a bureau operator: a unique name (the id) and roles (comma-separated)
    "operator",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("roles", String(200), nullable=False),  # domain/roles.py ROLES
    Column("status", String(10), nullable=False),  # active | disabled
    Column("created_at", DateTime, nullable=False),
)

operator_credential = Table(  # a bearer token, stored as its SHA-256 only
    "operator_credential",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operator", String(60), ForeignKey("operator.name"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Column("rotated_from", Integer),  # the credential this one replaced
    Index(None, "operator"),
)

operator_session = Table(  # a console sign-in: its cookie stored as SHA-256 only
    "operator_session",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 (hex) of the cookie's value
    Column("operator", String(60), ForeignKey("operator.name"), nullable=False),
    # the credential signed in with: revoked or rotated, the session ends with it
    Column("credential", Integer, ForeignKey("operator_credential.id"), nullable=False),
    Column("csrf", String(64), nullable=False),  # the forms' token of this session
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("closed_at", DateTime),  # signed out
    Index(None, "operator"),
)

refusal_count = Table(  # national messages refused, per day, institution, infno and code
    "refusal_count",
    metadata,
    Column("day", Date, primary_key=True),  # the business day (China time)
    Column("fixmedins_code", String(30), primary_key=True),
    Column("infno", String(6), primary_key=True),  # "" when the envelope was unreadable
    Column("code", String(16), primary_key=True),  # the catalogue's E-... code
    Column("count", Integer, nullable=False),
)

operator_action = Table(  # every money-moving or configuration action: who, as what, when
    "operator_action",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(60), nullable=False),
    Column("role", String(20), nullable=False),
    Column("action", String(40), nullable=False),
    Column("subject", String(60), nullable=False),
    Column("detail", Text, nullable=False, server_default="{}"),  # JSON, no personal data
    Index(None, "actor"),
    Index(None, "subject"),
)
# ---------------------------------------------------------------- invariants (issue 13)
#
# Invariants kept by the database, not only by Python: a row a bug or a hand-written
# statement would write against them is refused (IntegrityError). Each constraint is
# named ck_<table>_<what>; migration 0015 creates the same names (tests/test_db_invariants
# reads them back from the migrated database). Settlements are never updated: a
# cancellation is a new row whose amounts are the negated amounts of the row it reverses,
# so the sign rules are per kind. On PostgreSQL a deferred constraint trigger also checks
# that every ledger posting (txn) sums to zero (migration 0015; SQLite has no deferred
# triggers: there the posting code and ``ledger verify`` keep it).


def _quoted(values: tuple[str, ...]) -> str:
    assert values and all("'" not in v for v in values), values
    return ", ".join(f"'{v}'" for v in values)


# issue 17: the electronic-prescription centre (7101-7211, domain/prescriptions.py)
practitioner = Table(  # an institution's prescribing doctors and pharmacists
    "practitioner",
    metadata,
    Column("fixmedins_code", String(30), ForeignKey("institution.fixmedins_code"),
           primary_key=True),
    Column("prac_code", String(30), primary_key=True),  # 国家医保医师/药师代码
    Column("role", String(12), nullable=False),  # doctor | pharmacist
    Column("name", String(50), nullable=False),
    Column("dept_code", String(30), nullable=False, server_default=""),
)

rx_signing_key = Table(  # the SM2 key the centre signs an institution's prescriptions with
    "rx_signing_key",
    metadata,
    Column("fixmedins_code", String(30), ForeignKey("institution.fixmedins_code"),
           primary_key=True),
    Column("cert_sn", String(64), nullable=False, unique=True),
    Column("cert_dn", String(300), nullable=False),
    Column("public_key", String(100), nullable=False),  # base64 04 || x || y
    Column("private_key", String(60), nullable=False),  # base64 d (DEMO: see docs)
    Column("created_at", DateTime, nullable=False),
)

prescription = Table(  # one electronic prescription (hiRxno)
    "prescription",
    metadata,
    Column("hi_rxno", String(30), primary_key=True),
    Column("rx_trace_code", String(20), nullable=False, unique=True),
    Column("fixmedins_code", String(30), nullable=False),  # the prescribing institution
    Column("hosp_rxno", String(40), nullable=False),
    Column("request_hash", String(64), nullable=False),  # 7101's body, for a retry
    Column("psn_no", String(30), nullable=False, index=True),
    Column("mdtrt_id", String(30), nullable=False),
    Column("dr_code", String(30), nullable=False),
    Column("prsc_time", DateTime, nullable=False),
    Column("vali_end", DateTime, nullable=False),
    Column("status", String(12), nullable=False),
    Column("content", Text, nullable=False),  # JSON: what 7101 pre-checked
    Column("content_digest", String(64), nullable=False),  # SM3 hex of ``content``
    Column("signed_fields", Text, nullable=False, server_default=""),  # JSON (7102)
    Column("sign_digest", String(200), nullable=False, server_default=""),
    Column("file_digest", String(64), nullable=False, server_default=""),  # SM3 hex
    Column("rx_file", Text, nullable=False, server_default=""),  # base64 (7103)
    Column("pharmacy_code", String(30), nullable=False, server_default=""),  # 7204's
    Column("online", Boolean, nullable=False, server_default=text("false")),  # via 7202
    Column("verify_sn", String(40), nullable=False, server_default=""),  # 7205
    Column("review", Text, nullable=False, server_default=""),  # JSON (7206)
    Column("sale", Text, nullable=False, server_default=""),  # JSON (7207)
    Column("delivery", Text, nullable=False, server_default=""),  # JSON (7209, 7210)
    Column("filled_at", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("fixmedins_code", "hosp_rxno"),
)

rx_auth = Table(  # a pharmacy's access to one prescription (authRxno + epcToken)
    "rx_auth",
    metadata,
    Column("auth_rxno", String(30), primary_key=True),
    Column("hi_rxno", String(30), ForeignKey("prescription.hi_rxno"), nullable=False,
           index=True),
    Column("fixmedins_code", String(30), nullable=False),  # the pharmacy
    # one 7201 lists several prescriptions: downloading one ends the others
    Column("batch", String(30), nullable=False),
    Column("epc_token_hash", String(64), nullable=False, unique=True),  # SHA-256 hex
    Column("via", String(6), nullable=False),  # 7201 | 7202 | 7203
    Column("issued_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
)

rx_code = Table(  # what the person got in a channel: a QR code, an online authorisation
    "rx_code",
    metadata,
    Column("code_hash", String(64), primary_key=True),  # SHA-256 hex
    Column("kind", String(8), nullable=False),  # qr | online
    Column("hi_rxno", String(30), ForeignKey("prescription.hi_rxno"), nullable=False),
    Column("psn_no", String(30), nullable=False),
    Column("channel_id", String(30), nullable=False),
    Column("pharmacy_code", String(30), nullable=False, server_default=""),  # online: chosen
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime),
)

rx_event = Table(  # every change of a prescription: who, when, what
    "rx_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hi_rxno", String(30), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("infno", String(6), nullable=False),
    Column("actor", String(40), nullable=False),
    Column("status", String(12), nullable=False),  # the status it left
    Column("detail", String(400), nullable=False, server_default=""),
)


# issue 19: identity upkeep (人员编号变更, the 2022 notice; docs/identity-upkeep.md). One
# row per retired number: renumbered (kind renumber) or a duplicate record merged into
# the surviving one (kind merge). The old number (and a merged record's ID number) keep
# answering: they are looked up here only when no person has them.
psn_no_change = Table(
    "psn_no_change",
    metadata,
    Column("old_psn_no", String(30), primary_key=True),  # retired: never given again
    Column("new_psn_no", String(30), nullable=False, index=True),  # at the time
    Column("kind", String(10), nullable=False),  # renumber | merge
    Column("old_certno", String(50), nullable=False, server_default=""),  # merge only
    Column("reason", String(300), nullable=False, server_default=""),
    Column("actor", String(60), nullable=False),
    Column("at", DateTime, nullable=False),
    money("acct_moved"),  # the duplicate's account balance added to the survivor's
    Column("moved", Text, nullable=False, server_default="{}"),  # JSON: rows per table
    Index(None, "old_certno"),
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({_quoted(values)})"


def _each(columns: tuple[str, ...], condition: str) -> str:
    return " AND ".join(f"{c} {condition}" for c in columns)


_FEE_PARTS = ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")
_SETTLEMENT_SIGNED = tuple(n for n in _SETTLEMENT_AMOUNTS if n != "balc")
_SETTLEMENT_FUNDS = ("hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay",
                     "maf_pay", "oth_pay")
_CANCEL = f"kind = '{states.SETTLEMENT_CANCEL}'"
_INSUTYPE = _one_of("insutype", tuple(INSUTYPES))

ONLINE_ORDER_SPLIT = (
    "medfee_sumamt >= 0 AND fund_pay >= 0 AND acct_pay >= 0 AND cash_pay >= 0 AND "
    "cash_paid >= 0 AND ((held_at IS NULL AND fund_pay + acct_pay + cash_pay = 0) OR "
    "(held_at IS NOT NULL AND medfee_sumamt = fund_pay + acct_pay + cash_pay))")


CHECKS: dict[Table, dict[str, str]] = {
    institution: {"kind": _one_of("kind", states.INSTITUTION_KINDS)},
    insurance: {"status": _one_of("psn_insu_stas", states.INSURANCE), "insutype": _INSUTYPE},
    account: {"balance": "balance >= 0"},
    account_entry: {"balance_after": "balance_after >= 0"},
    card: {"status": _one_of("status", states.CARD)},
    ecert: {"status": _one_of("status", states.ECERT), "pin_failures": "pin_failures >= 0"},
    family_binding: {"status": _one_of("status", states.FAMILY_BINDING)},
    visit: {
        "status": _one_of("status", states.VISIT),
        "class": _one_of("visit_class", states.VISIT_CLASSES),
        "insutype": _INSUTYPE,
        "med_type": _one_of("med_type", tuple(MED_TYPES)),
    },
    fee_line: {
        "status": _one_of("status", states.FEE_LINE),
        "parts": f"det_item_fee_sumamt = {' + '.join(_FEE_PARTS)}",
        # a negative line refunds (part of) the line it names
        "signs": f"(det_item_fee_sumamt >= 0 AND {_each(_FEE_PARTS, '>= 0')}) OR "
                 f"(det_item_fee_sumamt < 0 AND init_feedetl_sn <> '' AND "
                 f"{_each(_FEE_PARTS, '<= 0')})",
    },
    settlement: {
        "kind": _one_of("kind", states.SETTLEMENT_KINDS),
        "insutype": _INSUTYPE,
        # a cancellation, and only a cancellation, reverses a row
        "reverses": f"({_CANCEL} AND reverses IS NOT NULL) OR "
                    f"(NOT {_CANCEL} AND reverses IS NULL)",
        "signs": f"({_CANCEL} AND {_each(_SETTLEMENT_SIGNED, '<= 0')}) OR "
                 f"(NOT {_CANCEL} AND {_each(_SETTLEMENT_SIGNED, '>= 0')})",
        "parts": "medfee_sumamt = fund_pay_sumamt + psn_part_amt + hosp_part_amt AND "
                 "psn_part_amt = acct_pay + psn_cash_pay AND "
                 f"fund_pay_sumamt = {' + '.join(_SETTLEMENT_FUNDS)}",
        "balc": "balc >= 0",
    },
    filing: {
        "status": _one_of("status", states.FILING),
        "kind": _one_of("kind", states.FILING_KINDS),
        "insutype": _INSUTYPE,
    },
    outbox: {"status": _one_of("status", states.OUTBOX), "attempts": "attempts >= 0"},
    claim: {
        "status": _one_of("status", states.CLAIM),
        "insutype": _INSUTYPE,
        "amounts": "medfee_sumamt >= 0 AND approved_amount >= 0 AND "
                   "approved_amount <= medfee_sumamt",
    },
    claim_step: {"status": _one_of("status", states.CLAIM_STEP)},
    payment_order: {
        "status": _one_of("status", states.PAYMENT_ORDER),
        "amount": "amount > 0",
        "attempts": "attempts >= 0",
    },
    ledger_entry: {"kind": _one_of("kind", states.LEDGER_KINDS), "amount": "amount <> 0"},
    clearing_month: {"status": _one_of("status", states.CLEARING_MONTH),
                     "runs": "runs >= 0 AND settlements >= 0"},
    prepayment: {"amount": "amount > 0"},
    clearing_region: {"drawn": "drawn >= 0 AND (drawn = 0 OR (drawn <= advance_before AND "
                               "drawn <= amount))"},
    region_advance: {"amount": "amount > 0"},
    advance_interest: {"amount": "amount >= 0 AND balance_days >= 0"},
    prepayment_proposal: {
        "status": _one_of("status", states.PREPAYMENT_PROPOSAL),
        "amount": "amount > 0",
        "decided": "(status = 'proposed') = (decided_by IS NULL) AND "
                   "(status = 'approved') = (month IS NOT NULL)",
    },
    clearing_application: {
        "status": _one_of("status", states.CLEARING_APPLICATION),
        "amounts": "psntime >= 0 AND medfee_sumamt >= 0 AND fund_appy_sum >= 0 AND "
                   "acct_pay >= 0 AND cash_payamt >= 0",
    },
    online_order: {
        "status": _one_of("status", states.ONLINE_ORDER),
        # never held: no split; held once: its parts are its total
        "split": ONLINE_ORDER_SPLIT,
    },
    online_refund: {
        "refd_type": _one_of("refd_type", states.ONLINE_REFUND_TYPES),
        "status": _one_of("status", states.ONLINE_REFUND),
        "amounts": "fund_refd >= 0 AND acct_refd >= 0 AND cash_refd >= 0",
    },
}


def _each_one_of(column: str, values: tuple[str, ...]) -> str:
    """A comma-separated list (no empty item) whose every item is one of ``values``:
    with each item between doubled commas, removing every ',value,' leaves only commas."""
    padded = f"',' || REPLACE({column}, ',', ',,') || ','"
    for value in values:
        padded = f"REPLACE({padded}, ',{value},', '')"
    return (f"{column} <> '' AND {column} NOT LIKE ',%' AND {column} NOT LIKE '%,' AND "
            f"{column} NOT LIKE '%,,%' AND REPLACE({padded}, ',', '') = ''")


# issue 13 review (fixops): the code sets of the channels' trust, operators and files
CHECKS |= {
    attestation: {"purpose": _one_of("purpose", states.ATTESTATION_PURPOSES),
                  "method": _one_of("method", states.ATTESTATION_METHODS)},
    operator: {"status": _one_of("status", states.OPERATOR),
               "roles": _each_one_of("roles", states.OPERATOR_ROLES)},
    ec_token: {"business_type": _one_of("business_type", states.EC_TOKEN_BUSINESS_TYPES)},
    stored_file: {"kind": _one_of("kind", states.STORED_FILE_KINDS)},
    payee_account: {"account": "bank_name <> '' AND bank_account <> ''"},
    claim: {**CHECKS[claim], "source": _one_of("source", states.CLAIM_SOURCES)},
}

# issue 15: a channel's scopes (domain/channels.py), an idempotent answer's status
CHECKS |= {
    channel: {"scopes": _each_one_of("scopes", states.CHANNEL_SCOPES)},
    # 0 only inside the transaction that reserved the key (never committed so)
    channel_request: {"status": "status = 0 OR (status >= 200 AND status <= 499)"},
}


# issue 19: identity upkeep (domain/person_numbers.py)
CHECKS |= {
    psn_no_change: {"kind": _one_of("kind", states.PSN_NO_CHANGE_KINDS),
                    "acct_moved": "acct_moved >= 0",
                    "numbers": "old_psn_no <> new_psn_no"},
}

# issue 19: contributions, deferral decisions, declared periods (domain/contribution.py)
CHECKS |= {
    insurance: {**CHECKS[insurance],
                "contrib": _one_of("contrib_stas", states.CONTRIBUTION) + " AND "
                "(contrib_stas = 'paid' OR contrib_since IS NOT NULL)"},
    contribution_period: {
        "status": _one_of("status", states.CONTRIBUTION),
        "decision": _one_of("decision", states.CONTRIBUTION_DECISIONS),
        "amounts": "owed >= 0 AND late_fee >= 0",
        "dates": "end_date IS NULL OR end_date >= begin_date",
    },
    deferral: {"dates": "until_date >= begin_date", "persons": "persons >= 0"},
    declared_period: {"dates": "until_date >= begin_date"},
}
# issue 19: a signed commitment letter says when and which; a closed service was open
CHECKS |= {
    filing: {**CHECKS[filing], "commitment": (
        "(commitment_signed AND commitment_at IS NOT NULL AND commitment_version <> '' "
        "AND commitment_entry <> '') OR (NOT commitment_signed AND commitment_at IS NULL "
        "AND commitment_version = '')")},
    institution_disease_service: {"closed": "closed_at IS NULL OR closed_at >= opened_from"},
}


# issue 17: electronic prescriptions (domain/prescriptions.py)
CHECKS |= {
    practitioner: {"role": _one_of("role", states.PRACTITIONER_ROLES)},
    prescription: {"status": _one_of("status", states.PRESCRIPTION)},
    rx_auth: {"via": _one_of("via", states.RX_AUTH_VIA)},
    rx_code: {"kind": _one_of("kind", states.RX_CODE_KINDS)},
}


# issue 19: designated institutions (domain/designation.py)
CHECKS |= {
    institution: {**CHECKS[institution], "open_kind": _one_of(
        "open_kind", ("", *designation_rules.OPEN_KINDS))},
    designation: {"status": _one_of("status", designation_rules.STATUSES),
                  "insutype": _INSUTYPE, "fix_srt_no": "fix_srt_no >= 1",
                  "dates": "end_date IS NULL OR end_date >= begin_date"},
}


# ---------------------------------------------------------------- supervision (issue 20)

supervision_run = Table(  # one screening of a month's extract by the rule library
    "supervision_run",
    metadata,
    Column("run_id", String(30), primary_key=True),
    Column("month", String(7), nullable=False),  # YYYY-MM
    Column("engine", String(8), nullable=False),  # duckdb | spark
    Column("rules", String(400), nullable=False),  # the rule ids run, comma-separated
    Column("lines", BigInteger, nullable=False),  # fee lines screened
    Column("clues", Integer, nullable=False),  # new clues this run added
    Column("operator", String(64), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=False),
)

# A clue (线索): what one rule found, with its evidence rows and the amount at risk. The
# same finding found again (a month screened twice) is the same clue: (rule_id,
# clue_key) is unique. It is open until an operator dismisses it or takes it into a case.
clue = Table(
    "clue",
    metadata,
    Column("clue_id", String(30), primary_key=True),
    Column("run_id", String(30), ForeignKey("supervision_run.run_id"), nullable=False),
    Column("rule_id", String(10), nullable=False),
    Column("clue_key", String(200), nullable=False),  # what makes the finding one
    Column("month", String(7), nullable=False),
    Column("fixmedins_code", String(30), nullable=False, server_default=""),
    Column("psn_no", String(30), nullable=False, server_default=""),
    Column("mdtrt_id", String(30), nullable=False, server_default=""),
    money("amount_at_risk"),
    Column("summary", String(500), nullable=False),
    Column("evidence", Text, nullable=False),  # a JSON list of the rule's rows
    Column("status", String(10), nullable=False),  # open | in_case | dismissed
    Column("case_id", String(30)),
    Column("created_at", DateTime, nullable=False),
    Column("status_by", String(64), nullable=False, server_default=""),
    Column("status_at", DateTime),
    UniqueConstraint("rule_id", "clue_key"),
    Index(None, "status", "rule_id"),
    Index(None, "fixmedins_code"),
    Index(None, "psn_no"),
)

CHECKS |= {
    catalogue_item: {
        "limits": "lmt_gend IN ('', '1', '2') AND (lmt_age_min IS NULL OR lmt_age_min >= 0) "
                  "AND (lmt_age_max IS NULL OR lmt_age_max >= 0) AND (lmt_age_min IS NULL "
                  "OR lmt_age_max IS NULL OR lmt_age_min <= lmt_age_max) AND "
                  "(lmt_course_days IS NULL OR lmt_course_days >= 1) AND "
                  "(lmt_visit_times IS NULL OR lmt_visit_times >= 1)"},
    supervision_run: {"engine": _one_of("engine", states.SUPERVISION_ENGINES),
                      "counts": "lines >= 0 AND clues >= 0"},
    clue: {"status": _one_of("status", states.CLUE),
           "amount": "amount_at_risk >= 0",
           "case": "(status = 'in_case') = (case_id IS NOT NULL)"},
}


# A finding 3101 (stage 1, before a prescription is saved) or 3102 (stage 2, before
# settling) answered an institution (its jr_id), and what the institution then did with
# it (3103: dspo_way 1 continue / 2 return to modify, the reason, when it told)
review_warning = Table(
    "review_warning",
    metadata,
    Column("jr_id", String(30), primary_key=True),
    Column("stage", String(1), nullable=False),  # 1 pre (3101) | 2 in (3102)
    Column("fixmedins_code", String(30), nullable=False),
    Column("psn_no", String(50), nullable=False),  # the message's patn_id
    Column("mdtrt_id", String(50), nullable=False),
    Column("rule_id", String(10), nullable=False),
    Column("hilist_code", String(50), nullable=False, server_default=""),
    money("amount"),
    Column("msgid", String(30), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("dspo_way", String(1), nullable=False, server_default=""),  # '' not yet told
    Column("dspo_way_rea", String(500), nullable=False, server_default=""),
    Column("fed_back_at", DateTime),
    Index(None, "fixmedins_code", "created_at"),
)

CHECKS |= {
    review_warning: {
        "stage": "stage IN ('1', '2')",
        "amount": "amount >= 0",
        "feedback": "dspo_way IN ('', '1', '2') AND (dspo_way = '') = (fed_back_at IS NULL) "
                    "AND (dspo_way <> '1' OR dspo_way_rea <> '')"},
}

# ---------------------------------------------------------------- supervision cases
# (issue 20, domain/supervision_case.py): a case gathers clues; each step is an event;
# verification requests between regions; the conclusion, once.

supervision_case = Table(
    "supervision_case",
    metadata,
    Column("case_id", String(30), primary_key=True),
    Column("status", String(14), nullable=False),  # open|investigating|verifying|concluded
    Column("fixmedins_code", String(30), nullable=False, server_default=""),
    Column("psn_no", String(30), nullable=False, server_default=""),
    money("amount_at_risk"),  # the sum of its clues' (fen)
    Column("clues", Integer, nullable=False),
    Column("assigned_to", String(60)),
    Column("opened_by", String(60), nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("concluded_by", String(60)),
    Column("concluded_at", DateTime),
    Index(None, "status"),
)

case_file = Table(  # an evidence file (kept with the case: never purged)
    "case_file",
    metadata,
    Column("file_id", String(30), primary_key=True),
    Column("case_id", String(30), ForeignKey("supervision_case.case_id"), nullable=False),
    Column("filename", String(120), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("added_by", String(60), nullable=False),
    Column("added_at", DateTime, nullable=False),
)

case_event = Table(  # one step of a case: who, when, what
    "case_event",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(30), ForeignKey("supervision_case.case_id"), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("actor", String(60), nullable=False),
    Column("role", String(20), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("detail", String(1000), nullable=False, server_default=""),
    Column("clue_id", String(30)),
    Column("file_id", String(30), ForeignKey("case_file.file_id")),
    Index(None, "case_id", "event_id"),
)

case_verification = Table(  # a request for verification between two regions
    "case_verification",
    metadata,
    Column("verification_id", String(30), primary_key=True),
    Column("case_id", String(30), ForeignKey("supervision_case.case_id"), nullable=False),
    Column("from_region", String(6), nullable=False),
    Column("to_region", String(6), nullable=False),
    Column("question", String(1000), nullable=False),
    Column("status", String(10), nullable=False),  # asked | answered
    Column("asked_by", String(60), nullable=False),
    Column("asked_at", DateTime, nullable=False),
    Column("answer", String(1000), nullable=False, server_default=""),
    Column("answered_by", String(60)),
    Column("answered_at", DateTime),
    Index(None, "case_id"),
)

case_conclusion = Table(  # a case's conclusion: once (its key is the case)
    "case_conclusion",
    metadata,
    Column("case_id", String(30), ForeignKey("supervision_case.case_id"), primary_key=True),
    Column("outcomes", String(100), nullable=False),  # comma-separated
    Column("fixmedins_code", String(30), nullable=False, server_default=""),
    Column("region", String(6), nullable=False, server_default=""),  # the fund recovering
    money("recovery"),  # fen, posted rcv:<case_id>, netted off in the next clearing
    Column("recovery_reason", String(200), nullable=False, server_default=""),
    money("fine"),  # fen, paid to the treasury: recorded, never posted in the fund ledger
    Column("suspend_months", Integer, nullable=False, server_default=text("0")),
    Column("suspension_id", Integer),
    Column("suspend_institution", Boolean, nullable=False, server_default=text("false")),
    Column("note", String(1000), nullable=False, server_default=""),
    Column("concluded_by", String(60), nullable=False),
    Column("concluded_at", DateTime, nullable=False),
    Index(None, "fixmedins_code"),
)

CASE_OUTCOMES = ("no_problem", "recovery", "fine", "suspend_person", "suspend_institution")
CHECKS |= {
    supervision_case: {
        "status": _one_of("status", case_rules.STATUSES),
        "amount": "amount_at_risk >= 0 AND clues >= 1",
        "subject": "fixmedins_code <> '' OR psn_no <> ''",
        "assigned": "status = 'open' OR assigned_to IS NOT NULL",
        "concluded": "(status = 'concluded') = (concluded_by IS NOT NULL AND "
                     "concluded_at IS NOT NULL)"},
    case_file: {"size": "size >= 1"},
    case_event: {"kind": _one_of("kind", case_rules.EVENTS)},
    case_verification: {
        "status": _one_of("status", case_rules.VERIFICATION_STATUSES),
        "regions": "from_region <> to_region",
        "answered": "(status = 'answered') = (answered_by IS NOT NULL AND "
                    "answered_at IS NOT NULL)"},
    case_conclusion: {
        "outcomes": _each_one_of("outcomes", CASE_OUTCOMES),
        "amounts": "recovery >= 0 AND fine >= 0",
        "months": "suspend_months = 0 OR (suspend_months >= 3 AND suspend_months <= 12)",
        "recovery": "recovery = 0 OR (fixmedins_code <> '' AND region <> '')"},
    clearing_institution: {"recovered": "recovered >= 0"},
}


def check_name(table: Table, what: str) -> str:
    return f"ck_{table.name}_{what}"


for _table, _checks in CHECKS.items():
    for _what, _condition in _checks.items():
        _table.append_constraint(CheckConstraint(_condition, name=check_name(_table, _what)))
