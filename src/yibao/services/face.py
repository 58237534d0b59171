"""Facial-recognition pilot: 1:1 comparison of a live photo with the template enrolled
at activation, using dlib's ResNet face descriptor (128 numbers; weights from the
face-recognition-models package, loaded on first use, never at import).

Templates are sealed with AES-GCM (key: YIBAO_TEMPLATE_KEY, 32 bytes base64); photos are
never stored. The match threshold on the Euclidean distance is configurable
(YIBAO_FACE_THRESHOLD, default 0.45); docs/ecert.md reports measured error rates.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from yibao.domain.errors import Refused
from yibao.services import audit
from yibao.store.schema import face_template

MODEL = "dlib_face_recognition_resnet_model_v1"
THRESHOLD_DEFAULT = 0.45
IMAGE_BYTES_MAX = 1024 * 1024  # the spec's recog_pic is at most 1M
IMAGE_SIDE_MIN = 200  # small photos are upscaled to this before detection
# A development key so that tests and the demo run; production sets YIBAO_TEMPLATE_KEY.
DEVELOPMENT_KEY = base64.b64encode(b"yibao-development-template-key!!").decode()


@dataclass(frozen=True, slots=True)
class Match:
    matched: bool
    distance: float


def threshold() -> float:
    return float(os.environ.get("YIBAO_FACE_THRESHOLD", THRESHOLD_DEFAULT))


class _Model:
    """dlib's detector, landmark predictor and descriptor network, loaded once."""

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as models

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

    key = base64.b64decode(os.environ.get("YIBAO_TEMPLATE_KEY", DEVELOPMENT_KEY))
    return AESGCM(key)


def seal(vector: np.ndarray, psn_no: str) -> bytes:
    nonce = os.urandom(12)
    data = vector.astype("<f8").tobytes()
    return nonce + _cipher().encrypt(nonce, data, psn_no.encode())


def unseal(sealed: bytes, psn_no: str) -> np.ndarray:
    data = _cipher().decrypt(sealed[:12], sealed[12:], psn_no.encode())
    return np.frombuffer(data, dtype="<f8")


def enroll(conn: Connection, psn_no: str, image_base64: str, *, actor: str,
           now: datetime) -> None:
    vector = model().descriptor(decode(image_base64))
    insert_for = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    row = dict(psn_no=psn_no, sealed=seal(vector, psn_no), model=MODEL, enrolled_at=now)
    statement = insert_for(face_template).values(**row)
    conn.execute(statement.on_conflict_do_update(
        index_elements=["psn_no"], set_={k: statement.excluded[k] for k in row if k != "psn_no"}))
    audit.record(conn, kind="face_enrolled", psn_no=psn_no, actor=actor, at=now)


def compare(conn: Connection, psn_no: str, image_base64: str) -> Match:
    sealed = conn.execute(select(face_template.c.sealed).where(
        face_template.c.psn_no == psn_no)).scalar_one_or_none()
    if sealed is None:
        raise Refused("E-FACE-003", "no face enrolled for this person")
    live = model().descriptor(decode(image_base64))
    distance = float(np.linalg.norm(live - unseal(sealed, psn_no)))
    return Match(distance <= threshold(), round(distance, 4))
