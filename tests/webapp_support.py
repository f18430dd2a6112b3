"""Helpers for the Mini App tests: initData signed as Telegram signs it, and a served app."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

TOKEN = "123456789:TEST-token-for-the-mini-app-tests_x"


def sign_init_data(
    user_id: int, *, token: str = TOKEN, language_code: str = "zh", auth_date: int | None = None
) -> str:
    """initData for `user_id` signed with `token` (Telegram's algorithm: HMAC of the sorted fields)."""
    fields = {
        "auth_date": str(int(time.time()) if auth_date is None else auth_date),
        "query_id": "AAE-test",
        "user": json.dumps(
            {"id": user_id, "first_name": "Test", "language_code": language_code}, separators=(",", ":")
        ),
    }
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)
