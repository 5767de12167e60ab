"""The reference receiver's webhook side (`sync/webhook.py` sends to it in tests and the demo):

- `POST /v1/hooks/<name>`: our JSON format. Kept once per Idempotency-Key (throttled like the rest, so a
  test can make the sender retry); `GET /v1/hooks/<name>` lists them in the order received. Started with a
  hook secret (`--hook-secret`), it verifies each request the way a receiver of ours should: X-Timestamp
  (UTC ms, within `max_skew_s` of its clock) and X-Signature = hex HMAC-SHA256(secret, timestamp + "." +
  the body's bytes as received), compared in constant time; 401 otherwise, nothing kept.
- `POST /wecom/cgi-bin/webhook/send?key=K` and `POST /dingtalk/robot/send?access_token=T&timestamp=&sign=`:
  stand-ins for a 企业微信 group robot and a 钉钉 custom robot, strict about what the real ones document (see
  `sync/webhook.py` for the sources): the message types text and markdown with their fields, the UTF-8 size
  limits, the key or access token, and DingTalk's 加签 (`sign` = Base64(HMAC-SHA256(secret, timestamp + "\n"
  + secret)), timestamp within an hour). Like the real robots they answer HTTP 200 with {"errcode",
  "errmsg"}: 0 is delivered, anything else is refused (93000 bad key, 310000 bad signature, 40008 bad
  message, 45009/130101 too fast). `GET /v1/robots/<wecom|dingtalk>` lists what they kept, with the raw
  body text and the query.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time

from flask import Flask, jsonify, request

from sync import crypto

ROBOT_SCHEMA = """
CREATE TABLE IF NOT EXISTS robot_messages (
    robot TEXT NOT NULL, raw TEXT NOT NULL, query TEXT NOT NULL, headers TEXT NOT NULL, received_at INTEGER NOT NULL);
"""
WECOM_LIMITS = {"text": 2048, "markdown": 4096}        # bytes of content, UTF-8


def _robot_ok(errcode: int, errmsg: str):
    return jsonify({"errcode": errcode, "errmsg": errmsg}), 200


def register(app: Flask, store, throttle, error, *, hook_secret: str | None = None, wecom_key: str | None = None,
             dingtalk_token: str | None = None, dingtalk_secret: str | None = None, max_skew_s: float = 300,
             clock_offset_s: float = 0) -> None:
    store.conn().executescript(ROBOT_SCHEMA)

    def throttled(name: str):
        wait = throttle.check(name)
        if wait is None:
            return None
        with store.lock:
            store.bump(store.conn(), "throttled")
        return error(429, "throttled", "too many requests; come back later",
                     {"Retry-After": str(max(1, int(wait + 0.999)))})

    @app.post("/v1/hooks/<name>")
    def hook(name: str):
        busy = throttled(f"hook:{name}")
        if busy is not None:
            return busy
        raw = request.get_data(cache=True)
        if hook_secret is not None:
            ts = request.headers.get("X-Timestamp", "")
            if not ts.isdigit() or not crypto.verify(hook_secret, ts, raw, request.headers.get("X-Signature", "")):
                with store.lock:
                    store.bump(store.conn(), "hook_unauthorised")
                return error(401, "bad_signature", "X-Signature missing or wrong (check the webhook secret)")
            skew = abs(int(ts) / 1000 - (time.time() + clock_offset_s))
            if skew > max_skew_s:
                return error(401, "clock_skew", f"X-Timestamp is {skew:.0f} s from the receiver's clock")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return error(400, "not_json", "the body must be a JSON object")
        text = json.dumps(body, ensure_ascii=False, sort_keys=True)
        key = request.headers.get("Idempotency-Key") or hashlib.sha256(text.encode()).hexdigest()
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith(("x-", "idempotency", "content-type"))}
        with store.lock:
            c = store.conn()
            cur = c.execute("INSERT OR IGNORE INTO hooks (name, key, body, headers, received_at) VALUES (?, ?, ?, ?, ?)",
                            (name, key, text, json.dumps(headers), int(time.time() * 1000)))
            duplicate = cur.rowcount == 0
            if duplicate:
                store.bump(c, "hook_duplicates")
        return jsonify({"ok": True, "duplicate": duplicate}), 200 if duplicate else 201

    @app.get("/v1/hooks/<name>")
    def hooks(name: str):
        rows = store.conn().execute("SELECT body, headers, received_at FROM hooks WHERE name = ? ORDER BY rowid",
                                    (name,)).fetchall()
        return jsonify({"hooks": [{"body": json.loads(b), "headers": json.loads(h), "received_at": t}
                                  for b, h, t in rows]})

    def keep(robot: str, raw: bytes) -> None:
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith(("x-", "idempotency", "content-type"))}
        with store.lock:
            store.conn().execute("INSERT INTO robot_messages (robot, raw, query, headers, received_at) VALUES (?, ?, ?, ?, ?)",
                                 (robot, raw.decode("utf-8"), request.query_string.decode("ascii"), json.dumps(headers),
                                  int(time.time() * 1000)))

    def message(raw: bytes, fields: dict[str, tuple[str, ...]]):
        """The robot message, or the errcode/errmsg a robot answers a malformed one with."""
        try:
            m = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None, (40008, "invalid message type: body is not UTF-8 JSON")
        kind = m.get("msgtype") if isinstance(m, dict) else None
        if kind not in fields:
            return None, (40008, f"invalid message type {kind!r}")
        part = m.get(kind)
        if not isinstance(part, dict) or any(not isinstance(part.get(f), str) or not part[f] for f in fields[kind]):
            return None, (40008, f"{kind} needs {', '.join(fields[kind])}")
        return m, None

    @app.post("/wecom/cgi-bin/webhook/send")
    def wecom():
        if throttle.check("wecom") is not None:
            return _robot_ok(45009, "api freq out of limit")
        if not wecom_key or request.args.get("key") != wecom_key:
            return _robot_ok(93000, "invalid webhook url")
        raw = request.get_data()
        m, bad = message(raw, {"text": ("content",), "markdown": ("content",)})
        if bad:
            return _robot_ok(*bad)
        content = m[m["msgtype"]]["content"]
        if len(content.encode("utf-8")) > WECOM_LIMITS[m["msgtype"]]:
            return _robot_ok(40058, f"content exceeds {WECOM_LIMITS[m['msgtype']]} bytes")
        keep("wecom", raw)
        return _robot_ok(0, "ok")

    @app.post("/dingtalk/robot/send")
    def dingtalk():
        if throttle.check("dingtalk") is not None:
            return _robot_ok(130101, "send too fast, exceed 20 times per minute")
        if not dingtalk_token or request.args.get("access_token") != dingtalk_token:
            return _robot_ok(300001, "token is not exist")
        if dingtalk_secret is not None:
            ts, sign = request.args.get("timestamp", ""), request.args.get("sign", "")
            if not ts.isdigit() or abs(int(ts) / 1000 - (time.time() + clock_offset_s)) > 3600:
                return _robot_ok(310000, "timestamp is out of the hour allowed")
            if not hmac.compare_digest(crypto.dingtalk_signature(dingtalk_secret, ts), sign):
                return _robot_ok(310000, "sign not match")
        raw = request.get_data()
        m, bad = message(raw, {"text": ("content",), "markdown": ("title", "text")})
        if bad:
            return _robot_ok(*bad)
        keep("dingtalk", raw)
        return _robot_ok(0, "ok")

    @app.get("/v1/robots/<robot>")
    def robot_messages(robot: str):
        rows = store.conn().execute("SELECT raw, query, headers, received_at FROM robot_messages WHERE robot = ? "
                                    "ORDER BY rowid", (robot,)).fetchall()
        return jsonify({"messages": [{"raw": r, "body": json.loads(r), "query": q, "headers": json.loads(h),
                                      "received_at": t} for r, q, h, t in rows]})
