"""The error catalogue: every refusal carries a stable code (class + reason).

An HIS operator reads `err_msg`, which always starts with the code, e.g.
``E-PSN-002 insurance suspended: ...``. Codes never change meaning; new ones are added.
docs/errors.md is generated from ``CATALOGUE`` (``yibao errors``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """A code of the catalogue; ``http`` is the HTTP status a REST route answers it with
    (the national envelope always answers HTTP 200 with infcode -1)."""

    code: str
    title: str
    hint: str
    http: int


HTTP_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 413, 422, 423, 429, 500, 503})


def _codes(*rows: tuple[str, str, str, int]) -> dict[str, ErrorCode]:
    for row in rows:
        assert row[3] in HTTP_STATUSES, row
    return {code: ErrorCode(code, title, hint, http) for code, title, hint, http in rows}


CATALOGUE: dict[str, ErrorCode] = _codes(
    # envelope and transport
    ("E-ENV-001", "body is not valid JSON", "send a JSON object, UTF-8 or GBK/GB18030 (declare "
     "the charset in Content-Type); the message names the position or byte", 400),
    ("E-ENV-002", "envelope field missing or invalid", "see docs/interface.md, envelope", 400),
    ("E-ENV-003", "unknown or unsupported infno", "see docs/interface.md for the list", 400),
    ("E-ENV-004", "required input field missing", "the message names the field", 400),
    ("E-ENV-005", "input field has a wrong type or format", "the message names the field", 400),
    ("E-ENV-006", "request too large or too deeply nested", "limits are in docs/interface.md", 413),
    ("E-ENV-007", "unknown code value", "use a value from the code table (1901)", 400),
    ("E-ENV-008", "unknown service path", "POST to /fsi/api/rsfComIfsService/callService, "
     "to it + /{infno}, or to a path of the service-path table (docs/interface.md)", 404),
    ("E-ENV-009", "service path is not for this infno", "send the envelope to its infno's "
     "path or to the single route; the message names both", 400),
    ("E-ENV-010", "the interface takes POST only", "send the envelope with POST", 405),
    # REST requests (/admin/v1, /channel/v1 and every route but the national interface's
    # and the mobile-payment centre's): the problem details of docs/errors.md
    ("E-REQ-001", "request not valid", "errors lists each field and what is wrong with it "
     "(the OpenAPI at /docs describes every route's input)", 422),
    ("E-REQ-002", "body is not JSON", "send UTF-8 JSON with Content-Type: application/json",
     400),
    ("E-REQ-003", "no such route", "the routes are listed at /docs (/openapi.json)", 404),
    ("E-REQ-004", "method not allowed on this route", "the Allow header lists the methods "
     "the route takes", 405),
    ("E-REQ-005", "body too large", "the detail names the route's limit (docs/security.md)",
     413),
    # gateway authentication
    ("E-AUTH-001", "gateway headers missing",
     "the message names them: x-tif-paasid/timestamp/nonce/signature, or the AK/SK scheme's "
     "_api_name/_api_version/_api_timestamp/_api_access_key/_api_signature", 401),
    ("E-AUTH-002", "unknown caller",
     "x-tif-paasid must be a registered institution code; _api_access_key an issued, "
     "unretired access key", 401),
    ("E-AUTH-003", "timestamp outside the allowed window",
     "clock must be within 300 s (x-tif, channels) or 30 minutes (AK/SK, milliseconds)", 401),
    ("E-AUTH-004", "nonce already used",
     "use a fresh random nonce per request; AK/SK: a new _api_timestamp", 401),
    ("E-AUTH-005", "signature does not match",
     "x-tif: sha256(timestamp+token+nonce+timestamp); AK/SK: base64 HmacSHA1 with the SK "
     "(docs/interface.md, Gateway authentication)", 401),
    ("E-AUTH-006", "fixmedins_code is not the caller's", "an institution acts only for itself",
     403),
    ("E-AUTH-007", "sign_no is not a live sign-in", "call 9001 and send its sign_no", 401),
    ("E-AUTH-008", "gateway scheme not allowed for this institution",
     "sign with the scheme the operator allowed (x-tif or AK/SK), or ask them to allow it",
     403),
    # message identity
    ("E-MSG-001", "msgid malformed", "1..30 ASCII letters/digits, unique per institution", 400),
    ("E-MSG-002", "msgid already used with a different body", "a retry must resend the same body",
     409),
    ("E-MSG-003", "msgid was reversed by 2601", "the message was undone; send a new msgid", 409),
    # persons and insurance
    ("E-PSN-001", "person not found", "check the certificate number or card", 404),
    ("E-PSN-002", "insurance suspended", "the person's insurance is not active", 409),
    ("E-PSN-003", "person has no such insurance type", "use an insutype returned by 1101", 409),
    ("E-PSN-004", "card not valid", "card number and card_sn must match a valid card", 409),
    ("E-PSN-005", "identity details do not match", "name or certificate differs from the record",
     409),
    ("E-PSN-006", "direct settlement suspended", "the bureau suspended it; see the end date", 409),
    ("E-PSN-007", "card not found", "no social security card has this number", 404),
    ("E-PSN-008", "suspension not found",
     "use the id POST /admin/v1/persons/{psn_no}/suspensions answered", 404),
    ("E-PSN-009", "suspension lifted already", "it no longer applies; nothing to lift", 409),
    ("E-PSN-010", "suspensions overlap",
     "a suspension not lifted covers some of these days; lift it or choose other dates", 409),
    # identity upkeep (人员编号变更, the 2022 notice): docs/identity-upkeep.md
    ("E-PSN-011", "personal number replaced", "the person now has the number the message "
     "names: use it (the national interface maps the old number by itself)", 404),
    ("E-PSN-012", "the two personal numbers are the same", "name two different numbers", 409),
    ("E-PSN-013", "the new personal number is taken", "a person holds it or held it before; "
     "choose a number never used", 409),
    ("E-PSN-014", "the two records are insured in different places", "records of two insured "
     "places are not merged: the insured place transfers the relationship first", 409),
    ("E-PSN-015", "a reason is required", "the ID numbers of the two records differ: state "
     "why they are one person (or the reason is too long)", 422),
    ("E-PSN-016", "an online order holds money", "wait until the order is paid, cancelled "
     "or expired (its lifetime), then change the number", 409),
    ("E-PSN-017", "personal number malformed", "1 to 30 letters, digits, '-' or '_'", 422),
    ("E-PSN-018", "contributions in arrears beyond the grace period",
     "benefits stopped when the grace days of the insured place's policy ended; a payment "
     "recorded restores them (within the grace: without a gap, see docs/contribution.md)",
     409),
    ("E-PSN-019", "contributions suspended",
     "the bureau suspended the person's contributions: no benefits until a payment is "
     "recorded (docs/contribution.md)", 409),
    # contributions, deferral decisions and declared periods (docs/contribution.md)
    ("E-CON-001", "contribution or declaration request not valid",
     "the message names the field: dates in order, within the limits of docs/contribution.md",
     400),
    ("E-CON-002", "nothing is due",
     "a payment is recorded for contributions in arrears or deferred; see the person's "
     "contribution history", 409),
    ("E-CON-003", "contribution status unchanged",
     "the insurance already has this status since this day; see the history", 409),
    # electronic certificate
    ("E-ECT-001", "real-name or real-person verification failed", "check name, ID, place", 400),
    ("E-ECT-002", "certificate already active in this channel", "deactivate it first", 409),
    ("E-ECT-003", "no active certificate", "activate the certificate in the channel", 404),
    ("E-ECT-004", "certificate locked", "reset the PIN with real-person verification", 423),
    ("E-ECT-005", "wrong PIN", "the message says how many attempts are left; the fifth "
     "wrong PIN in a row locks the certificate (E-ECT-004)", 403),
    ("E-ECT-006", "QR code not valid", "unknown, used or expired: show a fresh code", 409),
    ("E-ECT-007", "unknown ecToken", "scan the QR code again (1162)", 409),
    ("E-ECT-008", "ecToken of another institution", "scan the code at this institution", 409),
    ("E-ECT-009", "ecToken expired", "scan the QR code again (1162)", 409),
    ("E-ECT-010", "ecToken for another business type", "scan with the right businessType", 409),
    ("E-ECT-011", "family binding refused", "the relative's consent is required", 400),
    ("E-ECT-012", "real-person attestation not accepted", "a listed method, the channel's "
     "evidence reference (used once), attested in the last 10 minutes", 400),
    ("E-ECT-013", "channel still in its first period", "activated while active in another "
     "channel: wait until the time named, or use the other channel", 403),
    ("E-ECT-014", "payee account not in the person's name", "register an account in the "
     "holder's own name", 400),
    ("E-ECT-015", "payee not registered or not the registered one", "register the payee "
     "first (real-person check); a claim pays only to it", 409),
    ("E-ECT-016", "family relation not plausible", "a parent is at least 15 years older "
     "than the child; a spouse or guardian is an adult", 400),
    ("E-ECT-017", "family binding already exists", "the relative is bound or requested "
     "already", 409),
    ("E-ECT-018", "too many family bindings", "at most 5 active or pending per holder: "
     "remove one first", 409),
    ("E-ECT-019", "no such pending family request", "the relative accepts from their own "
     "certificate the request addressed to them", 404),
    # facial-recognition pilot
    ("E-FACE-001", "photo not usable", "a JPEG/PNG of one face, base64, at most 1 MiB", 400),
    ("E-FACE-002", "institution is not in the face pilot", "use the QR code, card or ID", 409),
    ("E-FACE-003", "no face enrolled", "enrol in the app first", 404),
    ("E-FACE-004", "face does not match", "use the QR code, card or ID", 409),
    ("E-FACE-005", "liveness check failed", "the photo must come from a live capture", 409),
    ("E-FACE-006", "face authentication locked for this person",
     "too many failed attempts: wait for the end time given, or use the QR code, card or ID",
     423),
    ("E-FACE-007", "face authentication locked at this institution or channel",
     "too many failed attempts this hour: wait for the end time given", 429),
    # ecTokens
    ("E-ECT-020", "ecToken revoked", "deactivation, PIN lock, suspension or card loss "
     "revoked it: scan a fresh code (1162)", 409),
    ("E-ECT-021", "family binding not found", "no binding with this id on this certificate",
     404),
    ("E-ECT-022", "the minor has two guardians bound already", "at most two holders show "
     "a minor child's codes: one of them removes the binding first", 409),
    ("E-ECT-023", "too many family requests", "at most 3 requests per holder to the same "
     "relative in 30 days and 5 per relative a day, removed ones counted", 429),
    ("E-ECT-024", "no guardianship awaiting confirmation", "only a pending binding of a "
     "minor child is confirmed at the window", 409),
    ("E-ECT-025", "PIN is not 6 digits", "a PIN is exactly 6 digits 0-9; a malformed PIN "
     "is not counted as a wrong one", 400),
    # visits
    ("E-VIS-001", "visit not found", "mdtrt_id unknown, or not this institution's", 404),
    ("E-VIS-002", "visit is in the wrong state for this transaction", "see the visit lifecycle",
     409),
    ("E-VIS-003", "medical type not allowed here", "outpatient and inpatient types differ", 409),
    ("E-VIS-004", "visit belongs to another person", "psn_no differs from the visit's", 409),
    ("E-VIS-005", "unknown population group (MDTRT_GRP_TYPE)", "exp_content.MDTRT_GRP_TYPE "
     "is one of table 598: 1 COVID-19 confirmed, 2 other public-health emergency, 3 "
     "suspected, 4 asymptomatic; leave it out for anyone else", 400),
    # fee details
    ("E-FEE-001", "fee line already uploaded", "feedetl_sn must be unique within the visit", 409),
    ("E-FEE-002", "fee amount does not equal price x count", "det_item_fee_sumamt = pric x cnt",
     409),
    ("E-FEE-003", "refund line refers to an unknown or settled line", "check init_feedetl_sn", 409),
    ("E-FEE-004", "no unsettled fee lines", "upload details (2204/2301) before settling", 409),
    ("E-FEE-005", "too many fee lines", "split the upload into batches", 409),
    ("E-FEE-006", "fee line cannot be cancelled", "settled lines are cancelled by 2208/2305", 409),
    ("E-FEE-007", "fee line not found", "bkkp_sn is the feedetl_sn of an active line of the "
     "visit, with its med_list_codg", 404),
    # the institution's catalogue matchings (3301 / 3302)
    ("E-CAT-001", "item not in the catalogue", "med_list_codg must be an item of the "
     "catalogue of your area (1312), of that list_type, valid from begndate", 409),
    ("E-CAT-002", "catalogue matching not found", "3302 names a matching 3301 uploaded "
     "(see 1317)", 404),
    # settlement
    ("E-SETL-001", "amounts do not match the uploaded details", "recompute from 2204/2301", 409),
    ("E-SETL-002", "settlement not found", "setl_id unknown, or not this institution's", 404),
    ("E-SETL-003", "settlement already cancelled", "nothing to do", 409),
    ("E-SETL-004", "a later settlement of this visit must be cancelled first", "cancel newest",
     409),
    ("E-SETL-005", "visit has an open settlement", "cancel the settlement first", 409),
    # pharmacy purchases (2101 / 2102 / 2103, docs/pharmacy.md)
    ("E-PHA-001", "only a retail pharmacy sends pharmacy purchases",
     "2101/2102/2103 are for institutions of kind pharmacy; a hospital settles by "
     "2201/2204/2207", 403),
    ("E-PHA-002", "line disagrees with the pharmacy's catalogue matching",
     "medins_list_codg is matched (3301, see 1317) to another med_list_codg: send that "
     "code, or match the item again", 409),
    ("E-PHA-003", "not registered with this pharmacy for the special disease",
     "a special-disease purchase (med_type 14) names dise_codg and needs the person's "
     "special-disease filing (2503) with this pharmacy for it", 409),
    ("E-PHA-004", "mutual-aid account payment not allowed",
     "the insured place's policy does not let a family member's account pay "
     "(acct_used_flag 2): send 0 or 1", 409),
    ("E-PHA-005", "no bound family member to pay by mutual aid",
     "the payer must be bound as family (the person's app: bind a relative, the relative "
     "accepts) and insured in the same place; with several, name one in "
     "exp_content.mulaid_psn_no", 409),
    ("E-PHA-006", "the family member's account has no balance",
     "pay with the person's own account (acct_used_flag 1) or in cash", 409),
    ("E-PHA-007", "not a pharmacy purchase of this pharmacy",
     "2103 cancels a 2102 purchase; a 2207 settlement is cancelled by 2208", 409),
    ("E-PHA-010", "quantity beyond the longest supply",
     "prd_days exceeds the policy's longest supply for the item (docs/pharmacy.md): sell "
     "less, or register the chronic condition (2503) for a long prescription", 409),
    ("E-PHA-011", "early refill",
     "an earlier supply of the item still covers more than the policy's tolerance: sell "
     "it again when less is left", 409),
    # policy
    ("E-POL-001", "no policy in force", "no policy for this region, insurance type and date", 409),
    ("E-POL-002", "medical type not covered by the policy", "check med_type and insutype", 409),
    # fund supervision in real time (3101/3102/3103, settlement: docs/supervision.md)
    ("E-SUP-010", "a supervision rule blocks this settlement",
     "the message names the rule and the item: correct or cancel the line (2205/2302) and "
     "settle again; the region's policy decides which rules block", 409),
    ("E-SUP-011", "warning not found",
     "warn_rslt_id must be a jr_id that 3101/3102 answered this institution", 404),
    ("E-SUP-012", "warning of the other stage",
     "warn_type 1 is for 3101's warnings, 2 for 3102's", 400),
    ("E-SUP-013", "feedback not valid",
     "dspo_way 1 (continue, with dspo_way_rea) or 2 (return to modify)", 400),
    ("E-SUP-014", "warning already fed back otherwise",
     "a warning's feedback is recorded once; the same feedback again is answered the same",
     409),
    # away from home (inter-provincial direct settlement) and filing
    ("E-FIL-001", "institution not networked for direct settlement away from home",
     "pay in full here and apply for manual reimbursement at the insured place", 409),
    ("E-FIL-002", "no filing for this co-ordination area",
     "file (app, referring hospital 2501, agency) before discharge; emergencies count as "
     "filed; a claim names a filing for the area of its care (or none)", 409),
    ("E-FIL-003", "filed after discharge: not settled directly (retired)",
     "retired by issue 19: under the 2022 notice a filing registered before the "
     "settlement, even after discharge, counts (docs/away.md); no longer answered", 409),
    ("E-FIL-004", "special-disease filing limit reached",
     "at most two institutions per disease: cancel one filing first (2504)", 409),
    ("E-FIL-005", "filing not found", "trt_dcla_detl_sn unknown, or not this person's or caller's",
     404),
    ("E-FIL-006", "filing made under a different insured relationship",
     "insured place, employer or insurance type changed: file again", 409),
    ("E-FIL-007", "injury with a liable third party",
     "the liable third party pays; the fund does not settle it directly", 409),
    ("E-FIL-008", "filing request not valid",
     "see docs/away.md: type, area, validity (end not before today, at most 10 years)", 400),
    ("E-FIL-009", "filing cannot be cancelled",
     "it has ended; or a live settlement or approved claim used it (as its filing or its "
     "injury declaration): cancel the settlement first; or a claim not yet decided names "
     "it; or a visit away from home that it covers is not settled (a stay, or an "
     "outpatient visit begun today): the institution settles it or cancels the visit first", 409),
    ("E-FIL-010", "no declaration for this injury",
     "record the person's no-third-party declaration (2507, app, window) for the area of "
     "treatment before settling; a claim counts one made after the care", 409),
    ("E-FIL-011", "institution not filed for this special disease",
     "special-disease care away from home settles only at the filed institutions (2503); "
     "a claim names such a filing in force at the care (or none)", 409),
    ("E-FIL-012", "injury declaration for another co-ordination area",
     "declare the injury for the area of treatment (2507 by the treating institution)", 409),
    # designated institutions at home (就医定点医疗机构, docs/designation.md)
    ("E-DES-001", "institution not designated for the person",
     "at home, a hospital that is not open to all settles only the care of persons who "
     "designated it (app, 2505, window); emergencies are exempt; pay in full or go to a "
     "designated or open-to-all institution", 409),
    ("E-DES-002", "designated institution limit reached",
     "the insured place's policy allows a few designations ([designation] choices_max): "
     "change or cancel one first", 409),
    ("E-DES-003", "institution cannot be designated",
     "designate a hospital of the insured place that is not open to all (pharmacies and "
     "open-to-all institutions need no designation)", 400),
    ("E-DES-004", "designation dates or order number not valid",
     "the begin date is today or later, the end date not before it; fix_srt_no within the "
     "policy's number", 400),
    ("E-DES-005", "institution already designated",
     "the institution (or the order number) is already among the person's designations", 409),
    ("E-DES-006", "designation not found",
     "trt_dcla_detl_sn unknown, or not this person's (or, for 2506, not the caller's)", 404),
    ("E-DES-007", "designation already ended", "it was cancelled or has ended: nothing to "
     "end", 409),
    ("E-DES-008", "open-to-all kind not valid",
     "one of a_class, specialist, tcm, community, or empty (must be designated)", 400),
    ("E-FIL-013", "no special-disease registration at home",
     "special-disease care (med_type 14) at home settles on a registration in force "
     "(2503 by an institution of the insured place), for the disease the visit names",
     409),
    ("E-FIL-014", "personal commitment letter required",
     "the insured place files this type on the person's signed commitment letter "
     "(个人承诺书): send commitment_signed true and the letter's commitment_version", 400),
    ("E-FIL-015", "institution has not opened this special disease away from home",
     "special-disease care away from home settles directly only at an institution that "
     "opened the service for that disease (the 2022 notice; docs/away.md): pay in full "
     "and apply for manual reimbursement, or go to an institution that opened it", 409),
    # manual reimbursement
    ("E-CLM-001", "claim or payment not found", "claim_id, order id or invoice unknown", 404),
    ("E-CLM-002", "invoice already claimed", "one claim per invoice; see the existing claim", 409),
    ("E-CLM-003", "invoice settled in real time", "a settled bill is not reimbursed again", 409),
    ("E-CLM-004", "claim or payment in the wrong state for this step",
     "see docs/reimbursement.md for the workflow", 409),
    ("E-CLM-005", "no fault period covers this bill",
     "declare the fault period first (2902 or the operator window)", 409),
    ("E-CLM-006", "claim request not valid", "the message names what is missing or wrong", 400),
    ("E-CLM-007", "care dated in the future",
     "begntime, endtime and the lines' fee_ocur_time are when the care was given, not "
     "later than now", 400),
    ("E-CLM-008", "care ends before it begins", "endtime must not be before begntime", 400),
    ("E-CLM-009", "fault period not found",
     "fault_id unknown; an institution's periods: GET /admin/v1/institutions/{code}/faults", 404),
    ("E-CLM-010", "fault period already cancelled",
     "a period is cancelled once; declare it again if it was right after all", 409),
    ("E-CLM-011", "no such uploaded visit of this person",
     "name the visit by its mdtrt_id and the institution that registered it (2201/2401); "
     "a visit of another person is not shown", 404),
    ("E-CLM-012", "visit settled in real time",
     "the institution settled it (2207/2304): nothing to reimburse; if the settlement was "
     "wrong, the institution cancels it (2208/2305) first", 409),
    ("E-CLM-013", "stay not discharged",
     "a stay is claimed once the institution discharged it (2402): apply after discharge",
     409),
    ("E-CLM-014", "visit already claimed",
     "one claim per visit (its fee lines are reimbursed once): see the existing claim",
     409),
    # clearing and reconciliation
    ("E-CLR-001", "month already closed", "late changes count in the month they happen", 409),
    ("E-CLR-002", "month not valid or not run", "YYYY-MM; run the month before closing it", 400),
    ("E-CLR-003", "clearing application not found", "clr_appy_evt_id of this institution", 404),
    ("E-CLR-004", "another run of this month came first", "run it again: it sees that run", 409),
    # the advance fund between regions, prepayment by need (docs/clearing.md)
    ("E-ADV-001", "not a pair of regions",
     "an advance fund is placed by an insured place with another, treatment place: two "
     "different 6-digit division codes", 400),
    ("E-ADV-002", "amount or reason not valid",
     "an amount of 0.01..99999999.99 yuan; a prepayment by need also names its reason "
     "(1..200 characters)", 400),
    ("E-ADV-003", "prepayment proposal not found",
     "the proposal_id the proposal answered; the list: GET /admin/v1/prepayments", 404),
    ("E-ADV-004", "prepayment proposal already decided",
     "a proposal is approved or rejected once; propose again if needed", 409),
    ("E-ADV-005", "the advance fund changed meanwhile",
     "an advance or another close of the same pair of regions came first: do it again, it "
     "sees that change", 409),
    # supervision cases: from clue to case (issue 20, docs/supervision.md)
    ("E-CAS-001", "supervision case not found", "the case_id the case was opened with; the "
     "list: GET /admin/v1/supervision/cases", 404),
    ("E-CAS-002", "these clues cannot make one case", "1..50 open clues that name one "
     "institution or one person", 400),
    ("E-CAS-003", "clue not open", "a clue taken into a case or dismissed is not taken or "
     "dismissed again: see its case", 409),
    ("E-CAS-004", "clue not found", "the clue_id of GET /admin/v1/supervision/clues", 404),
    ("E-CAS-005", "case already concluded", "a concluded case changes no more; open a new "
     "case from new clues", 409),
    ("E-CAS-006", "not an operator who may investigate", "assign the case to an active "
     "operator holding supervision.triage (reviewer)", 400),
    ("E-CAS-007", "text or file not valid", "the detail names the field and its limits", 400),
    ("E-CAS-008", "regions not valid", "a verification is asked between two different "
     "6-digit division codes (insured place and treatment place)", 400),
    ("E-CAS-009", "case cannot be concluded yet", "assign it first, and wait for every "
     "verification's answer", 409),
    ("E-CAS-010", "the case's investigator cannot conclude it", "separation of duties: "
     "another operator with the approver role concludes", 403),
    ("E-CAS-011", "conclusion not valid", "at least one outcome; no problem alone; a "
     "recovery, fine or institution suspension needs a case about one institution, a "
     "person's suspension a case about one person", 400),
    ("E-CAS-012", "recovery above the amount at risk without a reason",
     "give recovery_reason (what the investigation found beyond the clues)", 400),
    ("E-CAS-013", "suspension not 3 to 12 months", "the 2020 notice suspends direct "
     "settlement for 3..12 months", 400),
    ("E-CAS-014", "verification request not found", "the verification_id of the case", 404),
    ("E-CAS-015", "verification already answered", "a request is answered once; ask "
     "again if needed", 409),
    ("E-CAS-016", "evidence file not found", "the file_id of the case's evidence row", 404),
    ("E-REC-001", "reconciliation file not found or not readable",
     "upload the detail file with 9101 and send its file_qury_no", 404),
    # stored files
    ("E-UPL-001", "file is not a ZIP archive of TXT files",
     "9101 takes a ZIP of tab-separated TXT files (docs/interface.md, files)", 400),
    ("E-UPL-002", "file too large, or too large once unzipped",
     "limits are in docs/interface.md, files", 413),
    ("E-UPL-003", "upload quota of this institution reached",
     "files and bytes per 24 hours are in docs/interface.md, files", 429),
    ("E-UPL-004", "file not found for this institution",
     "file_qury_no and filename as 9101, 1301-1315 or 3202 answered them", 404),
    ("E-UPL-005", "download deadline passed",
     "fetch before dld_endtime; run 1301-1315 or 3202 again for a new file", 404),
    # reversal
    ("E-REV-001", "original message not found", "omsgid must be a message this institution sent",
     404),
    ("E-REV-002", "original message cannot be reversed", "only state-changing messages", 409),
    ("E-REV-003", "uploaded bill already applied for",
     "the person applied for the 2901 bill: only the bureau's window can reject or correct "
     "the claim", 409),
    ("E-REV-004", "bills rely on this fault period",
     "withdraw the period's 2901 bills first (2601 of each); a bill the person applied for "
     "keeps the period", 409),
    # operators' views and changes
    ("E-ADM-001", "institution not found", "fixmedins_code is not a registered institution", 404),
    ("E-ADM-002", "no valid operator credential",
     "send Authorization: Bearer <token>; a token expires, and is revoked or rotated away "
     "(yibao operators rotate NAME)", 401),
    ("E-ADM-003", "the operator's roles do not allow this",
     "the message names the role needed (docs/security.md, Operators)", 403),
    ("E-ADM-004", "separation of duties",
     "whoever submitted or reviewed a claim cannot approve it; a second approval needs a "
     "second, different approver; whoever proposed a prepayment by need cannot approve it",
     403),
    ("E-ADM-005", "the exporter approved a pending payment",
     "an operator who approved a claim cannot export its payment: another finance operator "
     "exports the file", 403),
    ("E-ADM-006", "operator not found or name taken",
     "yibao operators list; a name is 1..60 letters, digits, '.', '_' or '-'", 409),
    ("E-ADM-007", "the claim's account is not the registered payee",
     "check the account with the person, then approve with payee_confirmed: true", 409),
    ("E-ADM-008", "gateway setting invalid",
     "the message names it: at least one scheme; an access key of 1..100 letters, digits, "
     "'.', '_', '-'; a secret of 16..128 printable ASCII; a grace of 0..7 days", 400),
    ("E-ADM-009", "access key already issued",
     "access keys are unique across institutions: choose another or let yibao make one", 409),
    ("E-ADM-010", "the console form is stale or not from this session",
     "reload the page and send the form again; signed out, sign in first", 403),
    ("E-ADM-011", "department code invalid", "a fever-clinic department is the dept_code "
     "the HIS sends in 2201 (adm_dept_codg in 2401): 1..30 printable characters", 400),
    ("E-ADM-012", "special-disease service setting invalid",
     "opsp_dise_code is 1-30 characters; only a disease the institution opened can be "
     "closed (docs/away.md, \"Special diseases away from home\")", 400),
    # online orders (the mobile-payment centre, 6201-6401: docs/online-payment.md)
    ("E-ORD-001", "no such online order", "send the payOrdId 6201 answered, with its payToken",
     404),
    ("E-ORD-002", "payToken does not match the order", "send the payToken 6201 answered", 403),
    ("E-ORD-003", "the order's state does not allow this",
     "query it with 6301; the message names its state", 409),
    ("E-ORD-004", "medOrgOrd already used with other fees",
     "a retry must resend the same fees; a changed bill needs 6401 and a new medOrgOrd", 409),
    ("E-ORD-005", "the order has expired", "its holds were released; upload the fees again",
     409),
    ("E-ORD-006", "refund amounts do not match the order",
     "totlRefdAmt is the order's total; each part is what that part paid", 400),
    ("E-ORD-007", "appRefdSn already used with another refund", "send a new appRefdSn", 409),
    ("E-ORD-008", "the person is not the order's", "idNo, idType and userName of the order", 403),
    # electronic prescriptions (the prescription centre, 7101-7211: docs/prescriptions.md)
    ("E-RX-001", "no such prescription for this institution",
     "send the hiRxno 7101 answered (a pharmacy: the one 7204 downloaded)", 404),
    ("E-RX-002", "the prescription's state does not allow this",
     "query it (7105); the message names its state and the step asked for", 409),
    ("E-RX-003", "the prescription was already filled",
     "a prescription is filled once; the person needs a new prescription", 409),
    ("E-RX-004", "the prescription has expired",
     "it could be filled only until its valiEndTime; the person needs a new prescription", 409),
    ("E-RX-005", "the prescription was revoked", "the prescribing institution revoked it "
     "(7104); the person needs a new prescription", 409),
    ("E-RX-006", "the prescription is another person's",
     "the credential, name and ID number must be those of the prescription's person", 403),
    ("E-RX-007", "the drug was not prescribed",
     "dispense only the medListCodg the downloaded prescription (7204) lists", 400),
    ("E-RX-008", "more than prescribed", "dispense at most the prescribed drugCnt of each "
     "drug, in all lines together", 400),
    ("E-RX-009", "the pharmacy is not authorised for this prescription",
     "the person authorises one pharmacy (7201, 7202, 7203); send that authorisation's "
     "authRxno and epcToken, before they expire", 403),
    ("E-RX-010", "the prescription's signature is missing or does not verify",
     "sign with 7102 and upload exactly the signed fields and file; a pharmacy must not "
     "dispense a prescription that fails 7205", 409),
    ("E-RX-011", "the practitioner is not registered at this institution",
     "drCode must be a prescribing doctor, pharCode a pharmacist of the sending institution",
     403),
    ("E-RX-012", "the drug is not in the catalogue",
     "medListCodg must be a drug of the catalogue (1312) valid on the prescription's day", 400),
    ("E-RX-013", "the prescription's content is invalid",
     "the message names the field: quantities above 0, each drug once, valiEndTime = "
     "prscTime + valiDays", 400),
    ("E-RX-014", "hospRxno already used with another prescription",
     "a retry must resend the same prescription; a new one needs a new hospRxno", 409),
    ("E-RX-015", "not an online order of an online pharmacy",
     "delivery (7209, 7210) is for a prescription an online pharmacy received through a "
     "channel (7202)", 409),
    ("E-RX-016", "the prescription QR code or online authorisation is not valid",
     "ask the person for a fresh code, or to authorise the pharmacy again in the app", 403),
    ("E-RX-017", "the prescription's online order is not paid",
     "deliver after the person paid the order that carries this hiRxno (6201 extData)", 409),
    ("E-RX-018", "the prescription's delivery was received",
     "a received order is not refunded online; the pharmacy takes the goods back itself",
     409),
    ("E-RX-019", "the prescription already has an order",
     "pay or cancel (6401) its order first; one order per prescription", 409),
    ("E-RX-020", "the prescription is not ready to be paid online",
     "an online pharmacy uploads the order after it dispensed the prescription (7207)",
     409),
    # payment authorisation (payAuthNo)
    ("E-PAU-001", "payAuthNo not valid", "authorise again in the app (single use, 10 minutes)",
     403),
    ("E-PAU-002", "payAuthNo is for another person, institution or order",
     "authorise this order in the app", 403),
    ("E-PAU-003", "payAuthNo or ecToken required", "send the payAuthNo the app issued", 400),
    # the cashier page (/cashier): the person's browser session of one order
    ("E-CSH-001", "no cashier session for this order",
     "open the order again from the app (a new payment authorisation)", 401),
    ("E-CSH-002", "the confirmation form is not this session's",
     "reload the cashier page and confirm again", 403),
    # the mobile-payment centre's envelope (SM2/SM4) and callbacks
    ("E-MPC-001", "unknown appId", "use the appId the bureau registered for the institution",
     401),
    ("E-MPC-002", "signData does not verify", "SM3withSM2 over the sorted k=v string, "
     "docs/online-payment.md", 401),
    ("E-MPC-003", "encData does not decrypt", "SM4-ECB with the derived key, upper-case hex",
     400),
    ("E-MPC-004", "timestamp outside the allowed window", "clock must be within 300 s", 401),
    ("E-MPC-005", "request already received", "send a new request (new timestamp)", 401),
    # the third-party payment platform (the person's own part)
    ("E-PAY-001", "payment platform unavailable", "the order stays pending; query it later",
     503),
    ("E-PAY-002", "payment notification not valid", "signature, serial or ciphertext wrong",
     401),
    ("E-PAY-003", "payment does not match the order", "amount or order number differ", 409),
    # the open interface for channels (/channel/v1: docs/channel-api.md)
    ("E-CHN-001", "the channel's credential lacks the scope of this route",
     "ask the bureau for the scope (activation, payment, own_data, claims)", 403),
    ("E-CHN-002", "Idempotency-Key missing or malformed",
     "send 1..64 printable ASCII characters, a new key for every new write", 400),
    ("E-CHN-003", "Idempotency-Key already used with another request",
     "a retry resends the same path and body; a new request needs a new key", 409),
    ("E-CHN-004", "too many requests from this channel",
     "wait the seconds Retry-After names; the limit is per channel", 429),
    ("E-CHN-005", "a sandbox channel acts only on the demo persons",
     "use the demo dataset's persons (docs/channel-api.md, Sandbox)", 403),
    ("E-CHN-006", "webhook URL not valid", "an http or https URL of at most 400 characters, "
     "or empty to stop the webhooks", 400),
    ("E-CHN-007", "no such channel", "yibao channels list", 404),
    # outbox
    ("E-OUT-001", "no such outbox message", "list the messages: GET /admin/v1/outbox", 404),
    ("E-OUT-002", "outbox message is not failed", "pending messages are retried automatically",
     409),
    # supervision: screening (issue 20, docs/supervision.md)
    ("E-SUP-001", "month not valid for screening", "YYYY-MM, e.g. 2026-05", 400),
    ("E-SUP-002", "no such screening engine", "duckdb, or spark (the extra yibao[spark])",
     400),
    ("E-SUP-003", "no such rule", "the library's rule ids: GET /admin/v1/supervision/rules",
     400),
    ("E-SUP-004", "rule has no SQL", "add analytics/supervision/<rule id>.sql, or leave "
     "the rule out", 500),
    ("E-SUP-005", "screening engine not installed here",
     "pip install 'yibao[spark]', or screen with duckdb", 503),
    ("E-SUP-006", "no such clue", "list the clues: GET /admin/v1/supervision/clues", 404),
    # supervision: the insured place's analysis of its funds spent elsewhere
    # (docs/supervision.md; E-SUP-020..029)
    ("E-SUP-020", "region code invalid", "the insured place as settlements store it "
     "(insuplc_admdvs): 6 digits, e.g. 130102", 400),
    ("E-SUP-021", "month invalid", "YYYY-MM, e.g. 2026-05", 400),
    ("E-SUP-022", "month not yet begun", "analyse the current month or an earlier one", 400),
    ("E-SUP-023", "report format or language unknown", "format json, csv or html; "
     "lang zh or en", 400),
    # system
    ("E-SYS-001", "service temporarily unavailable", "retry the same msgid later", 503),
    ("E-SYS-002", "internal error", "report the inf_refmsgid to the operator", 500),
)


MARKDOWN_HEAD = """# Error catalogue

Every refusal is answered with `infcode` -1 and an `err_msg` that starts with one of these
codes, then the title, then (after a colon) the detail of this case, for example
`E-SETL-001 amounts do not match the uploaded details: medfee_sumamt sent 100.00, ...`.
Codes never change meaning. A refused message changes nothing and is not remembered:
the same msgid may be sent again once the cause is fixed.

The REST routes (/admin/v1, /channel/v1, /errors, /health; a path or method no route
serves; a body over a route's limit) answer an error with the HTTP status in the last
column and RFC 9457 problem details, media type `application/problem+json`:

```json
{"type": "/errors/E-CHN-004", "title": "too many requests from this channel",
 "status": 429, "detail": "E-CHN-004 too many requests from this channel: retry after 2 s",
 "instance": "/channel/v1/certificates", "code": "E-CHN-004", "retry_after": 2}
```

`type` is the code's entry, served by yibao (`GET /errors/E-CHN-004`: JSON, or a page in
a browser); `title` the meaning below; `detail` this case, the same text as the national
`err_msg` (the code, the title, then what happened); `instance` the request's path;
`code` the code. An invalid request (E-REQ-001, 422) lists each field:
`"errors": [{"field": "body.amount", "message": "..."}]` (`field` is where: `body.…`,
`query.…`, `path.…`, `header.…`). A rate limit (E-CHN-004) adds `retry_after` (seconds,
as the header `Retry-After`); a 401 names its scheme in `WWW-Authenticate` (`Bearer` for
operators, `YB-HMAC-SHA256` for channels).
The national interface (/fsi/api…) keeps its envelope, the mobile-payment centre
(/org/local/api/hos/…) its own, and the payment platforms' notification routes answer
as their platform expects. This page is generated by
`yibao errors --output docs/errors.md` (a test keeps it equal to the code).

`yibao errors` prints the same catalogue: in a terminal as a table; piped or redirected
as plain text, one line per code, never wrapped and without colour codes, the four
columns separated by tabs (code, meaning, what to do, HTTP status; no header line), so
that `yibao errors | grep E-ECT` or `cut -f1,4` work.

| code | meaning | what to do | HTTP (REST) |
|---|---|---|---|
"""


def catalogue_markdown() -> str:
    rows = [f"| {e.code} | {e.title} | {e.hint} | {e.http} |" for e in CATALOGUE.values()]
    return MARKDOWN_HEAD + "\n".join(rows) + "\n"


class Refused(Exception):
    """An expected refusal: the transaction is rolled back and answered with infcode -1."""

    def __init__(self, code: str, detail: str = "") -> None:
        assert code in CATALOGUE, code
        self.code = code
        self.detail = detail
        super().__init__(self.message)

    @property
    def http_status(self) -> int:
        return CATALOGUE[self.code].http

    @property
    def message(self) -> str:
        title = CATALOGUE[self.code].title
        text = f"{self.code} {title}"
        if self.detail:
            text += f": {self.detail}"
        return text[:200]
