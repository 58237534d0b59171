"""OpenAPI description of the national envelope (documentation and schemathesis; the
route parses the body itself, leniently, as real HIS send it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class EnvelopeIn(BaseModel):
    infno: str = Field(max_length=6, examples=["2207"], description="transaction code")
    msgid: str = Field(max_length=30, examples=["H11010500001202605110930000001"])
    fixmedins_code: str = Field(max_length=30, examples=["H11010500001"])
    mdtrtarea_admvs: str = Field("", max_length=6, examples=["110000"])
    insuplc_admdvs: str = Field("", max_length=6, examples=["110000"])
    recer_sys_code: str = ""
    dev_no: str = ""
    dev_safe_info: str = ""
    cainfo: str = ""
    signtype: str = Field("", examples=["SM2"])
    infver: str = Field("", examples=["1.0.0"])
    opter_type: str = Field("", examples=["1"])
    opter: str = ""
    opter_name: str = ""
    inf_time: str = Field("", examples=["2026-05-11 09:30:00"])
    fixmedins_name: str = ""
    sign_no: str = ""
    input: dict[str, Any] = Field(default_factory=dict, description="the transaction's nodes")


class EnvelopeOut(BaseModel):
    infcode: int = Field(description="0 success, -1 refused")
    inf_refmsgid: str
    refmsg_time: str
    respond_time: str
    err_msg: str = Field(description="starts with a code of docs/errors.md when refused")
    warn_msg: str
    cainfo: str
    signtype: str
    output: Any


def request_body() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": EnvelopeIn.model_json_schema()}},
        },
        # one scheme's set, as the institution is allowed (docs/interface.md, Gateway
        # authentication): the x-tif-* headers, or the AK/SK scheme's _api_* headers
        "parameters": [
            {"name": header, "in": "header", "required": False, "schema": {"type": "string"},
             "description": scheme}
            for headers, scheme in (
                (("x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature"),
                 "x-tif scheme"),
                (("_api_name", "_api_version", "_api_timestamp", "_api_access_key",
                  "_api_signature"), "AK/SK scheme (HmacSHA1, milliseconds)"))
            for header in headers
        ],
    }
