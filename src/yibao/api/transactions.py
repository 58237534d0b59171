"""The transaction table of the national interface: every infno with its handler, title
and flags (``writes``: it changes something, so 2601 can reverse it; ``signin``: it needs
a sign-in, 9001 first). ``table()`` builds it; create_app passes it to the hospital route.
Importing this module or a tx_* module registers nothing anywhere."""

from __future__ import annotations

from functools import partial

from yibao.api import (
    tx_attributes,
    tx_basic,
    tx_catalogue,
    tx_claims,
    tx_designation,
    tx_face,
    tx_fees,
    tx_filing,
    tx_online,
    tx_pharmacy,
    tx_queries,
    tx_reconciliation,
    tx_review,
    tx_rx,
    tx_settlement,
    tx_visits,
)
from yibao.api.registry import Transaction, index
from yibao.domain.codes import VisitClass

T = Transaction
settle = tx_settlement.compute
OUTPATIENT, INPATIENT = VisitClass.OUTPATIENT, VisitClass.INPATIENT
LISTED: tuple[Transaction, ...] = (
    # sign-in, person, entitlement, credentials (tx_basic, tx_face)
    T("9001", "签到", tx_basic.sign_in, writes=True, signin=False),
    T("9002", "签退", tx_basic.sign_out, writes=True, signin=False),
    T("1101", "人员信息获取", tx_basic.person_info, writes=False),
    T("2001", "人员待遇享受检查", tx_basic.entitlement_check, writes=False),
    T("1162", "电子凭证二维码解码", tx_basic.scan_qr, writes=True),
    # the online-payment chapter's name for the same decoding (its fields are 1162's)
    T("6101", "解析医保电子凭证二维码", tx_basic.scan_qr, writes=True),
    T("9601", "人脸认证", tx_face.authenticate, writes=True),
    # catalogue queries and files (tx_catalogue); the downloads: DOWNLOADS below
    T("1312", "医保目录信息查询", tx_catalogue.hilist, writes=False),
    T("1304", "民族药品目录查询", tx_catalogue.ethnic_drugs, writes=False),
    T("1316", "医疗目录与医保目录匹配信息查询", tx_catalogue.list_matching, writes=False),
    T("1318", "医保目录限价信息查询", tx_catalogue.price_limits, writes=False),
    T("1319", "医保目录先自付比例信息查询", tx_catalogue.selfpay_ratios, writes=False),
    T("1901", "字典表查询", tx_catalogue.dictionary, writes=False),
    T("1201", "医药机构信息获取", tx_catalogue.institutions, writes=False),
    # the institution's catalogue matchings (tx_catalogue)
    T("3301", "目录对照上传", tx_catalogue.upload_matching, writes=True),
    T("3302", "目录对照撤销", tx_catalogue.cancel_matching, writes=True),
    T("1317", "医药机构目录匹配信息查询", tx_catalogue.institution_matching, writes=False),
    T("9101", "文件上传", tx_catalogue.upload, writes=True),
    T("9102", "文件下载", tx_catalogue.download, writes=False),
    # manual reimbursement, yibao extensions (tx_claims)
    T("2902", "故障期间申报 (yibao extension)", tx_claims.declare_fault, writes=True),
    T("2901", "故障期间自费费用上传 (yibao extension)", tx_claims.fault_bill, writes=True),
    # fee details (tx_fees)
    T("2204", "门诊费用明细信息上传", tx_fees.upload_outpatient, writes=True),
    T("2301", "住院费用明细上传", tx_fees.upload_inpatient, writes=True),
    T("2205", "门诊费用明细信息撤销", tx_fees.cancel_outpatient, writes=True),
    T("2302", "住院费用明细撤销", tx_fees.cancel_inpatient, writes=True),
    T("2306", "费用明细修改备注", tx_fees.change_memos, writes=True),
    # filings for care away from home (tx_filing)
    T("2501", "转院备案", tx_filing.referral, writes=True),
    T("2502", "转院备案撤销", tx_filing.cancel_referral, writes=True),
    T("2503", "人员慢特病备案", tx_filing.special_disease, writes=True),
    T("2504", "人员慢特病备案撤销", tx_filing.cancel_special_disease, writes=True),
    T("2507", "人员意外伤害备案", tx_filing.injury, writes=True),
    T("5301", "人员慢特病备案查询", tx_filing.special_diseases, writes=False),
    # designated institutions (tx_designation, docs/designation.md)
    T("2505", "人员定点备案", tx_designation.register, writes=True),
    T("2506", "人员定点备案撤销", tx_designation.cancel, writes=True),
    T("5302", "人员定点信息查询", tx_designation.designations, writes=False),
    T("5304", "转院信息查询", tx_filing.referrals, writes=False),
    # the caller's records (tx_queries)
    T("5201", "就诊信息查询", tx_queries.visits, writes=False),
    T("5202", "诊断信息查询", tx_queries.diagnoses, writes=False),
    T("5203", "结算信息查询", tx_queries.settlement_info, writes=False),
    T("5204", "费用明细查询", tx_queries.settlement_lines, writes=False),
    T("5205", "人员慢特病用药记录查询", tx_queries.chronic_records, writes=False),
    T("5206", "人员累计信息查询", tx_queries.accumulations, writes=False),
    T("5303", "在院信息查询", tx_queries.in_hospital, writes=False),
    # review calls: the visit rules' warnings, and the institution's feedback (tx_review)
    T("3101", "明细审核事前分析服务", tx_review.pre_event, writes=True),
    T("3102", "明细审核事中分析服务", tx_review.in_event, writes=True),
    T("3103", "事前事中服务反馈服务", tx_review.feedback, writes=True),
    # reconciliation and clearing applications (tx_reconciliation)
    T("3201", "医药机构费用结算对总账", tx_reconciliation.totals, writes=False),
    T("3202", "医药机构费用结算对明细账", tx_reconciliation.detail, writes=True),
    T("3203", "清算申请", tx_reconciliation.file_application, writes=True),
    T("3204", "清算申请撤销", tx_reconciliation.withdraw, writes=True),
    # settlement (tx_settlement)
    T("2206", "门诊预结算", partial(settle, visit_class=OUTPATIENT, store=False), writes=False),
    T("2207", "门诊结算", partial(settle, visit_class=OUTPATIENT, store=True), writes=True),
    T("2208", "门诊结算撤销", tx_settlement.cancel, writes=True),
    T("2303", "住院预结算", partial(settle, visit_class=INPATIENT, store=False), writes=False),
    T("2304", "住院结算", partial(settle, visit_class=INPATIENT, store=True), writes=True),
    T("2305", "住院结算撤销", tx_settlement.cancel, writes=True),
    # pharmacy purchases: the drug lines in the settlement's message (tx_pharmacy)
    T("2101", "药店预结算", tx_pharmacy.presettle, writes=False),
    T("2102", "药店结算", tx_pharmacy.settle, writes=True),
    T("2103", "药店结算撤销", tx_pharmacy.cancel, writes=True),
    # visits (tx_visits)
    T("2201", "门诊挂号", tx_visits.register, writes=True),
    T("2202", "门诊挂号撤销", tx_visits.cancel_registration, writes=True),
    T("2203", "门诊就诊信息上传", tx_visits.visit_info, writes=True),
    T("2203A", "定点零售药店门诊就诊信息上传", tx_visits.pharmacy_visit_info, writes=True),
    T("2401", "入院办理", tx_visits.admit, writes=True),
    T("2402", "出院办理", tx_visits.discharge, writes=True),
    T("2403", "住院信息变更", tx_visits.change_admission, writes=True),
    T("2404", "入院撤销", tx_visits.cancel_admission, writes=True),
    T("2405", "出院撤销", tx_visits.cancel_discharge, writes=True),
    # special visit attributes (tx_attributes)
    T("2406", "就医特殊属性上传", tx_attributes.record, writes=True),
    T("2407", "就医特殊属性查询", tx_attributes.listed, writes=False),
    # the electronic-prescription centre, prescribing side (tx_rx)
    T("7101", "电子处方上传预核验", tx_rx.precheck, writes=True),
    T("7102", "电子处方医保电子签名", tx_rx.sign, writes=True),
    T("7103", "电子处方上传", tx_rx.upload, writes=True),
    T("7104", "电子处方撤销", tx_rx.revoke, writes=True),
    T("7105", "电子处方信息查询", tx_rx.info, writes=False),
    T("7106", "电子处方审核结果查询", tx_rx.review_result, writes=False),
    T("7107", "电子处方取药结果查询", tx_rx.fill_result, writes=False),
    # the electronic-prescription centre, filling side (tx_rx)
    T("7201", "电子处方线下流转授权", tx_rx.offline, writes=True),
    T("7202", "电子处方线上流转查询", tx_rx.online, writes=True),
    T("7203", "电子处方二维码解码", tx_rx.qr, writes=True),
    T("7204", "电子处方下载", tx_rx.download, writes=True),
    T("7205", "电子处方信息核验", tx_rx.verify, writes=True),
    T("7206", "电子处方审核信息上传", tx_rx.review, writes=True),
    T("7207", "药品销售出库明细上传", tx_rx.sell, writes=True),
    T("7208", "药品销售出库明细撤销", tx_rx.unsell, writes=True),
    T("7209", "药品配送信息同步", tx_rx.dispatch, writes=True),
    T("7210", "药品配送签收确认", tx_rx.receive, writes=True),
    T("7211", "电子处方药品目录查询", tx_rx.drugs, writes=False),
)
# catalogue and code-list downloads (1301-1315): each stores the file it answers with
DOWNLOADS: tuple[Transaction, ...] = (
    *(T(infno, title, tx_catalogue.item_download(infno, types), writes=True)
      for infno, (title, types) in tx_catalogue.ITEM_DOWNLOADS.items()),
    *(T(infno, title, tx_catalogue.reference_download(infno, kind), writes=True)
      for infno, (title, kind) in tx_catalogue.REFERENCE_DOWNLOADS.items()),
)
REVERSAL_INFNO, REVERSAL_TITLE = "2601", "冲正交易"


def online_transactions(setup: tx_online.Online) -> tuple[Transaction, ...]:
    """The mobile-payment centre's transactions (tx_online), bound to how it reaches the
    payment platform. No sign-in: the centre's clients do not sign in (9001)."""
    return (
        T("6201", "费用明细上传", partial(tx_online.upload, setup), writes=True, signin=False),
        T("6202", "支付下单", partial(tx_online.pay, setup), writes=True, signin=False),
        T("6203", "医保退费", partial(tx_online.refund, setup), writes=True, signin=False),
        T("6301", "医保订单结算结果查询", tx_online.query, writes=False, signin=False),
        T("6401", "费用明细上传撤销", tx_online.revoke, writes=True, signin=False),
    )


NO_PLATFORM = tx_online.Online(platform=None, notify_url="", cashier_base="")


def table(online: tx_online.Online = NO_PLATFORM) -> dict[str, Transaction]:
    """infno -> transaction, every one of them: LISTED, DOWNLOADS, the online ones and
    2601 (which refuses to reverse the infnos that change nothing, so it is told which
    those are)."""
    others = (*LISTED, *DOWNLOADS, *online_transactions(online))
    read_only = frozenset(entry.infno for entry in others if not entry.writes)
    reversal = T(REVERSAL_INFNO, REVERSAL_TITLE,
                 partial(tx_basic.reverse, read_only=read_only), writes=True)
    return index((*others, reversal))
