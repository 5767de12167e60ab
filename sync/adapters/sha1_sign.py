"""`sha1-sign`: the municipal data-reporting pattern (RULES.md §B.7 ③).

POST {url}/{table} with a plain JSON array of records (the same field mapping as `wwyt`, profile
`sync/profiles/wwyt_<profile>.json`) and the headers `appKey`, `timestamp` (Unix ms, which the server
accepts within ±1 h) and `signature = sha1(appKey + appSecret + timestamp)` in hex.
"""
from __future__ import annotations

import time

from sync import crypto
from sync.adapters.base import dumps
from sync.adapters.wwyt import Wwyt


class Sha1Sign(Wwyt):
    type_key = "sha1-sign"

    def encode(self, records: list[dict]) -> bytes:
        return dumps(records)

    def headers(self, body: bytes) -> dict:
        ts = str(time.time_ns() // 1_000_000)
        return {"appKey": self.cfg.app_key, "timestamp": ts, "Content-Type": "application/json;charset=UTF-8",
                "signature": crypto.sha1_signature(self.cfg.app_key, self.cfg.app_secret.get_secret_value(), ts)}
