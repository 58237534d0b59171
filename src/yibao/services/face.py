"""Facial-recognition pilot: 1:1 comparison of a live photo with the template enrolled
at activation, using dlib's ResNet face descriptor (128 numbers; weights from the
face-recognition-models package, loaded on first use, never at import).

Templates are sealed with AES-GCM (key: YIBAO_TEMPLATE_KEY, 32 bytes base64); photos are
never stored. The match threshold on the Euclidean distance is configurable
(YIBAO_FACE_THRESHOLD, default 0.45); docs/ecert.md reports measured error rates.

Every 9601 attempt is an audit row, a refused one too (kept after the message's rollback):
``face_matched``, ``face_refused`` (a failed attempt: counted) or ``face_blocked`` (refused
before any check of the person: not in the pilot, or locked out; not counted). Failed
attempts lock the person out after YIBAO_FACE_PERSON_FAILURES_MAX (5) in 24 hours and the
institution after YIBAO_FACE_INSTITUTION_FAILURES_MAX (20) in an hour. A refusal never
tells the distance; the audit row keeps it for the bureau (docs/security.md).
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from yibao.domain.errors import Refused
from yibao.services import audit, ecert, persons
from yibao.services.context import Call, KeptRefusal
from yibao.store.schema import audit_event, face_template

MODEL = "dlib_face_recognition_resnet_model_v1"
THRESHOLD_DEFAULT = 0.45
IMAGE_BYTES_MAX = 1024 * 1024  # the spec's recog_pic is at most 1M
IMAGE_SIDE_MIN = 200  # small photos are upscaled to this before detection
# A development key so that tests and the demo run; production sets YIBAO_TEMPLATE_KEY.
DEVELOPMENT_KEY = base64.b64encode(b"yibao-development-template-key!!").decode()


PERSON_FAILURES_MAX_DEFAULT = 5
PERSON_WINDOW = timedelta(hours=24)
INSTITUTION_FAILURES_MAX_DEFAULT = 20
INSTITUTION_WINDOW = timedelta(hours=1)
MATCHED, REFUSED, BLOCKED = "face_matched", "face_refused", "face_blocked"
ATTEMPT_KINDS = (MATCHED, REFUSED, BLOCKED)  # audit_event kinds of a 9601 attempt


@dataclass(frozen=True, slots=True)
class Match:
    matched: bool
    distance: float


def threshold() -> float:
    return float(os.environ.get("YIBAO_FACE_THRESHOLD", THRESHOLD_DEFAULT))


def person_failures_max() -> int:
    return int(os.environ.get("YIBAO_FACE_PERSON_FAILURES_MAX", PERSON_FAILURES_MAX_DEFAULT))


def institution_failures_max() -> int:
    return int(os.environ.get("YIBAO_FACE_INSTITUTION_FAILURES_MAX",
                              INSTITUTION_FAILURES_MAX_DEFAULT))


def template_key() -> str:
    """The template key (base64): YIBAO_TEMPLATE_KEY, or the built-in development key."""
    return os.environ.get("YIBAO_TEMPLATE_KEY", DEVELOPMENT_KEY)


KEY_LENGTHS = (16, 24, 32)  # AES-128/192/256: the bytes the key decodes to
DEMO_SWITCH = "YIBAO_DEMO"  # "1": a server may run with the development key (demos, tests)


def template_key_bytes() -> bytes:
    """The key's bytes as the cipher decodes them (whitespace and stray characters are
    ignored by the decoder, so the comparison below is of these bytes, not the text)."""
    return base64.b64decode(template_key())


def key_problem(*, demo: bool) -> str:
    """Why a server must not start with the configured template key ("" when it may): a
    key that is not base64 of 16, 24 or 32 bytes (an empty one included) is refused
    always; the built-in development key, whatever its spelling, unless ``demo``."""
    try:
        key = template_key_bytes()
    except (binascii.Error, ValueError):
        key = b""
    if len(key) not in KEY_LENGTHS:
        return ("YIBAO_TEMPLATE_KEY is not a valid key: it must be base64 of 32 random "
                "bytes (16 or 24 also work)")
    if key == base64.b64decode(DEVELOPMENT_KEY) and not demo:
        return ("refusing to serve with the built-in development face template key: set "
                "YIBAO_TEMPLATE_KEY (32 random bytes, base64; keep it secret and stable: it "
                "seals the enrolled templates), or run in demo mode (yibao serve --demo, "
                f"or {DEMO_SWITCH}=1)")
    return ""


def demo_switched_on() -> bool:
    return os.environ.get(DEMO_SWITCH, "") == "1"


class _Model:
    """dlib's detector, landmark predictor and descriptor network, loaded once."""

    def __init__(self) -> None:
        import dlib  # type: ignore[import-untyped]
        import face_recognition_models as models  # type: ignore[import-untyped]

        self.detector = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(models.pose_predictor_model_location())
        self.network = dlib.face_recognition_model_v1(models.face_recognition_model_location())
        self.lock = threading.Lock()  # dlib objects are not documented as thread-safe

    def descriptor(self, rgb: np.ndarray) -> np.ndarray:
        with self.lock:
            boxes = self.detector(rgb, 1)
            if not boxes:
                raise Refused("E-FACE-001", "no face found in the photo")
            box = max(boxes, key=lambda b: b.width() * b.height())
            shape = self.landmarks(rgb, box)
            return np.array(self.network.compute_face_descriptor(rgb, shape))


@cache
def model() -> _Model:
    return _Model()


def decode(image_base64: str) -> np.ndarray:
    """A base64 JPEG/PNG as an RGB array (upscaled when small)."""
    from PIL import Image, UnidentifiedImageError

    try:
        raw = base64.b64decode(image_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused("E-FACE-001", "the photo is not base64") from exc
    if len(raw) > IMAGE_BYTES_MAX:
        raise Refused("E-FACE-001", "the photo is larger than 1 MiB")
    try:
        image = Image.open(io.BytesIO(raw)).convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise Refused("E-FACE-001", "the photo is not an image") from exc
    side = min(image.size)
    if side < IMAGE_SIDE_MIN:
        scale = IMAGE_SIDE_MIN / side
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    return np.asarray(image)


def _cipher() -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(template_key_bytes())


def seal(vector: np.ndarray, psn_no: str) -> bytes:
    nonce = os.urandom(12)
    data = vector.astype("<f8").tobytes()
    sealed: bytes = _cipher().encrypt(nonce, data, psn_no.encode())
    return nonce + sealed


def unseal(sealed: bytes, psn_no: str) -> np.ndarray:
    data = _cipher().decrypt(sealed[:12], sealed[12:], psn_no.encode())
    return np.frombuffer(data, dtype="<f8")


ENROLLED, REPLACED = "face_enrolled", "face_replaced"


def enroll(call: Call, psn_no: str, image_base64: str) -> str:
    """Seal the face's template (replacing an earlier one); audited. ``ENROLLED`` or
    ``REPLACED``. The caller checked the holder (PIN, fresh real-person attestation)."""
    conn, now = call.conn, call.now
    vector = model().descriptor(decode(image_base64))
    before = conn.execute(select(face_template.c.psn_no).where(
        face_template.c.psn_no == psn_no).with_for_update()).first()
    insert_for = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    row = dict(psn_no=psn_no, sealed=seal(vector, psn_no), model=MODEL, enrolled_at=now)
    statement = insert_for(face_template).values(**row)
    conn.execute(statement.on_conflict_do_update(
        index_elements=["psn_no"], set_={k: statement.excluded[k] for k in row if k != "psn_no"}))
    kind = ENROLLED if before is None else REPLACED
    audit.record(conn, kind=kind, psn_no=psn_no, actor=call.actor.name, at=now)
    return kind


def compare(conn: Connection, psn_no: str, image_base64: str) -> Match:
    sealed = conn.execute(select(face_template.c.sealed).where(
        face_template.c.psn_no == psn_no)).scalar_one_or_none()
    if sealed is None:
        raise Refused("E-FACE-003", "no face enrolled for this person")
    live = model().descriptor(decode(image_base64))
    distance = float(np.linalg.norm(live - unseal(sealed, psn_no)))
    return Match(distance <= threshold(), round(distance, 4))


@dataclass(frozen=True, slots=True)
class Attempt:
    """A 9601 message: who the photo should be, the photo, and the terminal's liveness
    result ("1" passed; anything else, or nothing, is refused)."""

    psn_no: str
    certno: str
    photo: str
    liveness: str
    business_type: str


@dataclass(frozen=True, slots=True)
class Where:
    """Where a face is compared: who is recorded as trying, the place whose failures lock
    it out (an institution's terminal for 9601, a channel for a payment's authorisation),
    and whether the attempt is within the pilot (the institution's flag)."""

    actor: str
    place: str
    pilot: bool


@dataclass(slots=True)
class _Progress:
    """How far an attempt got: whether it counts as a failure, the distance if compared."""

    counted: bool = False
    distance: float | None = None


def authenticate(call: Call, attempt: Attempt) -> tuple[Match, str]:
    """9601: the match and an ecToken for the caller, or a refusal whose audit row is kept
    (``KeptRefusal``) and which never tells the distance."""
    code = call.institution.code
    match = attempted(call, attempt.psn_no, Where(code, code, call.institution.face_pilot),
                      attempt.photo, attempt.liveness, partial(_check_message, call, attempt))
    return match, ecert.issue_token(call, attempt.psn_no, "face", attempt.business_type)


def _check_message(call: Call, attempt: Attempt) -> None:
    if attempt.business_type not in ecert.BUSINESS_TYPES:
        raise Refused("E-ENV-007", f"businessType {attempt.business_type[:8]}")
    if attempt.certno != persons.get_person(call.conn, attempt.psn_no)["certno"]:
        raise Refused("E-PSN-005", "certno differs from the person's")


def attempted(call: Call, psn_no: str, where: Where, photo: str, liveness: str,
              checks: Callable[[], None] = lambda: None) -> Match:
    """One attempt to prove ``psn_no`` by face at ``where`` (``checks``: the caller's own,
    once the person and the place are not locked out): the match, audited, or a refusal
    whose audit row is kept (``KeptRefusal``), counted as a failure once it got past the
    pilot and the lockouts, and never telling the distance."""
    progress = _Progress()
    try:
        match = _check(call, psn_no, where, photo, liveness, checks, progress)
    except Refused as refusal:
        detail = refusal.code if progress.distance is None else (
            f"{refusal.code} distance {progress.distance}")
        raise KeptRefusal(refusal, partial(
            audit.record, kind=REFUSED if progress.counted else BLOCKED, psn_no=psn_no,
            actor=where.actor, at=call.now, place=where.place, detail=detail)) from None
    audit.record(call.conn, kind=MATCHED, psn_no=psn_no, actor=where.actor, at=call.now,
                 place=where.place, detail=f"distance {match.distance}")
    return match


def _check(call: Call, psn_no: str, where: Where, photo: str, liveness: str,
           checks: Callable[[], None], progress: _Progress) -> Match:
    if not where.pilot:
        raise Refused("E-FACE-002", where.place)
    check_not_locked(call.conn, psn_no, where.place, call.now)
    progress.counted = True
    checks()
    if liveness != "1":
        raise Refused("E-FACE-005", "liveness must be 1 (passed)" if liveness
                      else "the terminal's liveness result is required")
    match = compare(call.conn, psn_no, photo)
    progress.distance = match.distance
    if not match.matched:
        raise Refused("E-FACE-004")  # never the distance: it would guide a forger
    return match


def check_not_locked(conn: Connection, psn_no: str, institution: str, now: datetime) -> None:
    """Refused while the person, or the institution, has too many recent failed attempts;
    the message says until when."""
    until = _locked_until(conn, audit_event.c.psn_no == psn_no, person_failures_max(),
                          PERSON_WINDOW, now)
    if until is not None:
        raise Refused("E-FACE-006", f"until {until:%Y-%m-%d %H:%M:%S}")
    until = _locked_until(conn, audit_event.c.place == institution,
                          institution_failures_max(), INSTITUTION_WINDOW, now)
    if until is not None:
        raise Refused("E-FACE-007", f"until {until:%Y-%m-%d %H:%M:%S}")


def _locked_until(conn: Connection, whose: ColumnElement[bool], failures_max: int,
                  window: timedelta, now: datetime) -> datetime | None:
    """When the failures_max-th most recent failure within the window leaves it, if there
    are that many."""
    recent = conn.execute(
        select(audit_event.c.at).where(audit_event.c.kind == REFUSED, whose,
                                       audit_event.c.at > now - window)
        .order_by(audit_event.c.at.desc()).limit(failures_max)).scalars().all()
    return recent[-1] + window if len(recent) >= failures_max else None
