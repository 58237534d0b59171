"""9601 face authentication (人脸认证) for pilot institutions: the photo is compared 1:1
with the person's enrolled template; a match yields an ecToken as 1162 does. Limits,
liveness and the audit of every attempt: services/face.py."""

from __future__ import annotations

from yibao.api.fields import Fields
from yibao.api.registry import Answer
from yibao.services import face
from yibao.services.context import Call, Effect, EffectKind


def authenticate(call: Call, inp: Fields) -> Answer:
    info = inp.child("recogInfo")
    attempt = face.Attempt(
        psn_no=info.text("psn_no", max_len=30),
        certno=info.text("certno", max_len=50),
        photo=info.blob("recog_pic", max_len=1_400_000),
        liveness=info.text("liveness", required=False, max_len=1),
        business_type=info.text("businessType", required=False, max_len=6) or "01101",
    )
    match, token = face.authenticate(call, attempt)
    return Answer({"recogRslt": {"recog_rslt": "1", "recog_rslt_dscr": "matched",
                          "distance": match.distance, "ecToken": token}},
                  Effect(EffectKind.FACE, attempt.psn_no))
