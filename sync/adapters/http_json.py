"""`http-json`: the generic cloud endpoint, spoken by the reference receiver (`sync.receiver`).

POST {url}/events, gzip, with headers
  Idempotency-Key   {appliance}:{lane}:{first seq}-{last seq}[:replay]
  X-Appliance-Id, X-Lane, X-Seq-Range "first-last", X-After (the lane cursor the batch continues),
  X-Chain-Head      hash of the batch's last event
  X-Timestamp       UTC ms; X-Signature = hex HMAC-SHA256(secret, timestamp + "." + gzipped body)
Answers: 200 {"accepted", "duplicates", "rejected": [{"seq", "id", "reason"}], "head"};
409 {"error": {"code": "chain_gap"}, "expected_after": n}; 401 (bad signature, or "clock_skew" with
X-Server-Time); 429/503 with Retry-After; 507 when the receiver's disk is full.
Aggregates: POST {url}/aggregates {"appliance_id", "after", "rows": [{point, minute, min, avg, max, n}]}
(gzip, signed the same way), stored by (appliance, point, minute), so a resend overwrites itself.
Photos: HEAD {url}/photos/{sha256} (200: already there; 404 with Upload-Offset: bytes it holds), then
PUT with Content-Range from that offset, in pieces, so an upload resumes where a cut left it.
"""
from __future__ import annotations

import gzip
import time
from pathlib import Path

from sync import crypto
from sync.adapters.base import Ack, Adapter, SyncError, dumps, error_from

PHOTO_CHUNK = 256 * 1024


class HttpJson(Adapter):
    type_key = "http-json"
    supports_photos = True
    supports_aggregates = True

    def __init__(self, cfg, ctx):
        super().__init__(cfg, ctx)
        self.offset_ms = 0  # learnt from the receiver when our clock is off (a Pi without RTC)

    def _signed(self, body: bytes, extra: dict) -> dict:
        ts = str(time.time_ns() // 1_000_000 + self.offset_ms)
        return {"X-Appliance-Id": self.ctx.appliance_id, "X-Timestamp": ts,
                "X-Signature": crypto.sign(self.cfg.secret.get_secret_value(), ts, body), **extra}

    def _check(self, resp):
        if resp.status == 401:
            body = resp.json() or {}
            code = (body.get("error") or {}).get("code") if isinstance(body, dict) else None
            server = resp.headers.get("x-server-time")
            if code == "clock_skew" and server and server.isdigit():
                self.offset_ms = int(server) - time.time_ns() // 1_000_000
                raise SyncError("clock_skew", f"HTTP 401: clock differs from the receiver's by "
                                f"{self.offset_ms / 1000:+.0f} s; corrected", 0.0, 401)
        raise error_from(resp)

    def envelope(self, lane: str, after: int, rows: list, replay: bool) -> dict:
        return {"appliance_id": self.ctx.appliance_id, "lane": lane, "after": after, "replay": replay,
                "first_seq": rows[0].seq, "last_seq": rows[-1].seq, "head_hash": rows[-1].hash,
                "events": [r.as_dict() for r in rows]}

    def send_events(self, lane: str, after: int, rows: list, replay: bool = False) -> Ack:
        raw = dumps(self.envelope(lane, after, rows, replay))
        body = gzip.compress(raw, compresslevel=5)
        key = f"{self.ctx.appliance_id}:{lane}:{rows[0].seq}-{rows[-1].seq}" + (":replay" if replay else "")
        headers = self._signed(body, {
            "Content-Type": "application/json", "Content-Encoding": "gzip", "Idempotency-Key": key,
            "X-Lane": lane, "X-After": str(after), "X-Seq-Range": f"{rows[0].seq}-{rows[-1].seq}",
            "X-Chain-Head": rows[-1].hash})
        resp = self.request("POST", "/events", body, headers)
        if resp.status == 200:
            data = resp.json() or {}
            rejected = [(int(r["seq"]), str(r.get("id", "")), str(r.get("reason", "rejected")))
                        for r in data.get("rejected", [])]
            return Ack(rows[-1].seq, rejected,
                       note=f"accepted {data.get('accepted', '?')}, duplicates {data.get('duplicates', '?')}")
        if resp.status == 409:
            data = resp.json() or {}
            if isinstance(data.get("expected_after"), int):
                return Ack(after, rewind_to=data["expected_after"], note="receiver holds less: resending")
        self._check(resp)
        raise AssertionError("unreachable")

    def send_aggregates(self, after: int, rows: list[dict]) -> Ack:
        body = gzip.compress(dumps({"appliance_id": self.ctx.appliance_id, "after": after, "rows": rows}), 5)
        last = rows[-1]["minute"]
        resp = self.request("POST", "/aggregates", body, self._signed(body, {
            "Content-Type": "application/json", "Content-Encoding": "gzip",
            "Idempotency-Key": f"{self.ctx.appliance_id}:aggregates:{after}-{last}"}))
        if resp.status == 200:
            return Ack(last, note=f"{len(rows)} minute aggregates stored")
        self._check(resp)
        raise AssertionError("unreachable")

    def probe(self) -> None:
        self.request("GET", "/ping", paced=False)

    def send_photo(self, digest: str, path: Path) -> bool:
        """Upload a photo unless the endpoint has it; True when bytes were sent."""
        url = f"/photos/{digest}"
        resp = self.request("HEAD", url, None, self._signed(b"", {}))
        if resp.status == 200:
            return False
        if resp.status != 404:
            self._check(resp)
        offset = int(resp.headers.get("upload-offset", "0") or 0)
        total = path.stat().st_size
        offset = offset if 0 <= offset <= total else 0
        with open(path, "rb") as fh:
            while True:
                fh.seek(offset)
                chunk = fh.read(PHOTO_CHUNK)
                end = offset + len(chunk) - 1
                resp = self.request("PUT", url, chunk, self._signed(chunk, {
                    "Content-Type": "image/jpeg", "Content-Range": f"bytes {offset}-{end}/{total}"}))
                if resp.status in (200, 201):
                    return True
                if resp.status == 308:  # more wanted, from the offset it holds
                    offset = int(resp.headers.get("upload-offset", end + 1))
                    continue
                self._check(resp)
