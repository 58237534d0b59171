"""The facial-recognition pilot with a real model (dlib) and real photos: the enrolled
person matches, a different person is refused, non-pilot institutions are refused, and
neither the photo nor the plain template is stored."""

from __future__ import annotations

from sqlalchemy import select

from faces import astronaut, lfw
from flows import ok, refused
from test_ecert import ChannelApp
from yibao.services import face
from yibao.store.schema import face_template, metadata


def recog(his, psn_no: str, photo: str, **extra) -> dict:
    return his.call("9601", {"recogInfo": dict({
        "medins_code": his.code, "medins_name": "demo", "psn_no": psn_no,
        "psn_cert_type": "01", "certno": "110105198503150027", "psn_name": "王芳",
        "recog_pic": photo, "recog_biz": "1", "liveness": "1"}, **extra)})


def enrolled(http) -> str:
    app = ChannelApp(http)
    cert_id = app.activate()
    reply = app.post(f"/channel/v1/certificates/{cert_id}/face", {"image": astronaut()})
    assert reply.status_code == 200, reply.text
    return "11000000000000000001"


def test_enrolled_person_matches_and_gets_a_token(http, his):
    psn_no = enrolled(http)
    darker = astronaut(top=40, left=100, size=250, brightness=0.8)
    result = ok(recog(his, psn_no, darker))["recogRslt"]
    assert result["recog_rslt"] == "1" and result["distance"] < face.threshold()
    info = ok(his.call("1101", {"data": {"mdtrt_cert_type": "01",
                                         "mdtrt_cert_no": result["ecToken"]}}))
    assert info["baseinfo"]["psn_no"] == psn_no


def test_a_different_real_face_is_refused(http, his):
    psn_no = enrolled(http)
    for index in (0, 7, 42):
        message = refused(recog(his, psn_no, lfw(index)), "E-FACE")
        assert message.startswith(("E-FACE-004", "E-FACE-001"))  # no match, or no face


def test_pilot_liveness_and_input_checks(http, his, his_factory):
    psn_no = enrolled(http)
    refused(recog(his_factory("H11010500002"), psn_no, astronaut()), "E-FACE-002")
    refused(recog(his, psn_no, astronaut(), liveness="0"), "E-FACE-005")
    refused(recog(his, psn_no, "not base64!"), "E-FACE-001")
    refused(recog(his, "11000000000000000002", astronaut(),
                  certno="11010219600620003X"), "E-FACE-003")


def test_templates_are_sealed_and_photos_never_stored(http, db):
    psn_no = enrolled(http)
    photo = astronaut()
    with db.read() as conn:
        sealed = conn.execute(select(face_template.c.sealed)).scalar_one()
        everything = "".join(repr(tuple(r)) for t in metadata.sorted_tables
                             for r in conn.execute(select(t)))
    vector = face.unseal(sealed, psn_no)
    assert vector.shape == (128,)
    assert vector.astype("<f8").tobytes() not in sealed
    assert photo[:200] not in everything
    try:
        face.unseal(sealed, "someone-else")
    except Exception as exc:  # AES-GCM refuses a template moved to another person
        assert type(exc).__name__ == "InvalidTag"
    else:
        raise AssertionError("a template opened under another person's id")
