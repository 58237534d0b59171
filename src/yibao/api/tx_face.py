"""9601 face authentication (人脸认证) for pilot institutions: the photo is compared 1:1
with the person's enrolled template; a match yields an ecToken as 1162 does."""

from __future__ import annotations

from typing import Any

from yibao.api.fields import Fields
from yibao.api.registry import transaction
from yibao.domain.errors import Refused
from yibao.services import audit, ecert, face, persons
from yibao.services.context import Ctx


@transaction("9601", "人脸认证", writes=True)
def authenticate(ctx: Ctx, inp: Fields) -> dict[str, Any]:
    info = inp.child("recogInfo")
    if not ctx.institution.face_pilot:
        raise Refused("E-FACE-002", ctx.institution.code)
    if info.text("liveness", required=False, max_len=1) == "0":
        raise Refused("E-FACE-005")
    psn_no = info.text("psn_no", max_len=30)
    found = persons.get_person(ctx.conn, psn_no)
    if info.text("certno", max_len=50) != found["certno"]:
        raise Refused("E-PSN-005", "certno differs from the person's")
    match = face.compare(ctx.conn, psn_no, info.blob("recog_pic", max_len=1_400_000))
    actor = ecert.Actor(ctx.institution.code, ctx.now)
    audit.record(ctx.conn, kind="face_checked", psn_no=psn_no, actor=actor.name, at=ctx.now,
                 place=actor.name, detail=f"distance {match.distance}")
    if not match.matched:
        raise Refused("E-FACE-004", f"distance {match.distance} above {face.threshold()}")
    business = info.text("businessType", required=False, max_len=6) or "01101"
    token = ecert.issue_token(ctx.conn, actor, psn_no, "face", business)
    ctx.effect = f"face:{psn_no}"
    return {"recogRslt": {"recog_rslt": "1", "recog_rslt_dscr": "matched",
                          "distance": match.distance, "ecToken": token}}
