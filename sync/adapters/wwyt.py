"""`wwyt`: the Jiangsu 五位一体 receiver pattern (RULES.md §B.7 ①).

POST {url}/{table} with `Authorization: Basic …` and `{"datas": Base64(AES/CBC/PKCS5Padding(JSON array))}`,
one request per table, records as their current state (the platform upserts by id), field names, enum
codes and `yyyyMMddHHmmss` times from the profile's mapping (sync/profiles/wwyt_<profile>.json). The
platform allows one request per table per 3 minutes (`min_interval_s`), enforced here per table.
Answer: {"code": 0, "msg", "inserted", "updated", "errors": [{"index", "id", "field", "message"}]}; each
error becomes a dead letter for the event whose record it was.
"""
from __future__ import annotations

import base64
import time

from sync import crypto
from sync.adapters.base import Ack, Adapter, SyncError, dumps, error_from
from sync.mapping import Mapper, load_profile


class Wwyt(Adapter):
    type_key = "wwyt"
    profile_adapter = "wwyt"

    def __init__(self, cfg, ctx) -> None:
        super().__init__(cfg, ctx)
        self.mapper = Mapper(load_profile(self.profile_adapter, cfg.profile),
                             {"credit_code": cfg.credit_code, "company_code": cfg.company_code},
                             ctx.appliance_id, ctx.timezone)
        self._last_table: dict[str, float] = {}

    def _pace(self, table: str) -> None:
        gap = self.cfg.min_interval_s
        last = self._last_table.get(table)
        if gap and last is not None and last + gap > time.monotonic():
            left = last + gap - time.monotonic()
            raise SyncError("paced", f"rate limit of {table}: next request in {left:.1f} s", left)

    def encode(self, records: list[dict]) -> bytes:
        key = crypto.key_bytes(self.cfg.aes_key.get_secret_value(), (16, 24, 32), "aes_key")
        iv = crypto.key_bytes(self.cfg.aes_iv.get_secret_value(), (16,), "aes_iv")
        return dumps({"datas": crypto.aes_cbc_encrypt(key, iv, dumps(records))})

    def headers(self, body: bytes) -> dict:
        basic = base64.b64encode(f"{self.cfg.username}:{self.cfg.password.get_secret_value()}".encode()).decode()
        return {"Authorization": f"Basic {basic}", "Content-Type": "application/json;charset=UTF-8"}

    def send_events(self, lane: str, after: int, rows: list, replay: bool = False) -> Ack:
        tables, failures = self.mapper.map_rows(rows)
        for table in tables:
            self._pace(table)  # check every table before sending any, so a batch is not half sent
        for table, recs in sorted(tables.items()):
            items = list(recs.values())
            body = self.encode([rec for rec, _, _ in items])
            self._last_table[table] = time.monotonic()
            resp = self.request("POST", f"/{table}", body, self.headers(body), paced=False)
            if resp.status != 200:
                raise error_from(resp)
            answer = resp.json() or {}
            for err in answer.get("errors") or []:
                i = err.get("index")
                if isinstance(i, int) and 1 <= i <= len(items):  # the platform counts records from 1
                    _, seq, eid = items[i - 1]
                    failures.append((seq, eid, f"{table}: {err.get('message') or err}"))
        return Ack(rows[-1].seq, failures, note=f"{sum(len(r) for r in tables.values())} records upserted")

    def preview(self, rows: list) -> dict:
        tables, failures = self.mapper.map_rows(rows)
        return {"requests": [{"method": "POST", "path": f"/{t}", "records": [r for r, _, _ in recs.values()]}
                             for t, recs in sorted(tables.items())],
                "failures": [{"seq": s, "id": i, "reason": why} for s, i, why in failures]}
