"""An institution's credentials at the mobile-payment centre's envelope (SM2/SM4): the
record the codec (api/mpc_envelope.py) and the repository (store/mpc_apps.py) share.
Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

APP_ID_LENGTH_MIN = 16  # the SM4 key is derived with the first 16 ASCII bytes of the appId
APP_ID_LENGTH_MAX = 40  # the mpc_app column
APP_SECRET_LENGTH_MAX = 64  # the mpc_app column


@dataclass(frozen=True, slots=True)
class App:
    """One app (appId) of an institution: its shared secret (signed into every sign
    string and the source of the SM4 key), the institution's SM2 public key (base64 of
    the 64-byte point, or 65 with the 04 prefix: it verifies the institution's requests)
    and where the centre's callbacks (6204, 6302) go."""

    app_id: str
    app_secret: str
    public_key: str
    fixmedins_code: str
    callback_url: str = ""

    def __post_init__(self) -> None:
        assert APP_ID_LENGTH_MIN <= len(self.app_id) <= APP_ID_LENGTH_MAX, "appId length"
        assert self.app_id.isascii(), "appId is ASCII"
        assert 0 < len(self.app_secret) <= APP_SECRET_LENGTH_MAX, "appSecret length"
        assert self.fixmedins_code, "an app belongs to an institution"
