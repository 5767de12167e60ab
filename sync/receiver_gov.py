"""The receiver's government modes, so the regulator adapters are tested against a real server.

`wwyt`: the Jiangsu 五位一体 shape — POST /api/wwyt/{table}, Basic auth, body {"datas": Base64(AES-CBC(JSON
array or object))}, each record checked against the table's own rules (id of 32 or 36 characters,
TYSHXYDM of 18, COMPANY_CODE of 9, required fields, enum codes, yyyyMMddHHmmss times) and upserted by id
into one SQLite table per record kind; a refused record is reported as "第{n}条数据中字段:{field}…".
`sha1-sign`: the municipal pattern — the same tables, a plain JSON array, headers appKey, timestamp (±1 h)
and signature = sha1(appKey + appSecret + timestamp).
Both answer 429 with Retry-After past their rate limit and 507 when the disk is full.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request

from sync import crypto
from sync.receiver import DiskFull, Throttle, _disk_full

_DT = re.compile(r"^\d{14}$")
_COMMON = ("id", "TYSHXYDM", "create_time", "create_by", "update_time", "update_by", "delete_mark")

# The platform's own rules per table (its schema, kept apart from the appliance's mapping on purpose).
TABLES: dict[str, dict] = {
    "t_aqfxfxdy": {"name": "安全风险分析单元", "required": _COMMON + (
        "COMPANY_CODE", "HAZARD_DEP", "HAZARD_LIABLE_PERSON", "RISK_UNIT_NAME", "RISK_CLASS"),
        "enums": {"RISK_CLASS": {1, 2, 3, 4}}},
    "t_aqfxsj": {"name": "安全风险事件", "required": _COMMON + ("COMPANY_CODE", "RISK_UNIT_ID", "RISK_EVENT_NAME"),
                 "enums": {}},
    "t_aqfxgkcs": {"name": "安全风险管控措施", "required": _COMMON + (
        "COMPANY_CODE", "RISK_EVENT_ID", "DATA_SRC", "RISK_MEASURE_DESC", "CLASSIFY1", "CLASSIFY2",
        "TROUBLESHOOT_CONTENT"),
        "enums": {"DATA_SRC": {"1", "2"}, "CLASSIFY1": {"1", "2", "3", "4"},
                  "CLASSIFY2": {"1-1", "1-2", "1-3", "1-4", "1-5", "2-1", "2-2", "3-1", "3-2", "3-3", "4-1", "4-2",
                                "4-3", "4-4", "4-5"}}},
    "t_yhzlxx": {"name": "隐患治理信息", "required": _COMMON + (
        "COMPANY_CODE", "DANGER_LEVEL", "HAZARD_DANGER_TYPE", "DANGER_DESC", "DANGER_STATE", "REGISTRANT",
        "REGIST_TIME"),
        "enums": {"DANGER_LEVEL": {0, 1}, "DANGER_SRC": set(range(1, 11)), "DANGER_MANAGE_TYPE": {0, 1},
                  "HAZARD_DANGER_TYPE": set(range(1, 9)), "DANGER_STATE": {-1, 0, 1, 9}}},
}
TIME_FIELDS = ("create_time", "update_time", "REGIST_TIME", "CHECK_ACCEPT_TIME", "DANGER_MANAGE_DEADLINE")


def check_record(table: str, rec) -> tuple[str, str] | None:
    """(field, problem) for the first thing wrong with a record, or None."""
    rules = TABLES[table]
    if not isinstance(rec, dict):
        return ("(record)", "不是 JSON 对象 / not a JSON object")
    for f in rules["required"]:
        if rec.get(f) in (None, ""):
            return (f, "不能为空 / is required")
    if len(str(rec["id"])) not in (32, 36):
        return ("id", "长度应为32或36位 / must be 32 or 36 characters")
    if len(str(rec["TYSHXYDM"])) != 18:
        return ("TYSHXYDM", "长度应为18位 / must be 18 characters")
    if "COMPANY_CODE" in rec and len(str(rec["COMPANY_CODE"])) != 9:
        return ("COMPANY_CODE", "长度应为9位 / must be 9 characters")
    for f, allowed in rules["enums"].items():
        if f in rec and rec[f] is not None and rec[f] not in allowed:
            return (f, f"取值 {rec[f]!r} 不在代码表中 / {rec[f]!r} is not one of its codes")
    for f in TIME_FIELDS:
        if rec.get(f) not in (None, "") and not _DT.match(str(rec[f])):
            return (f, "时间格式应为 yyyyMMddHHmmss / time must be yyyyMMddHHmmss")
    return None


class GovStore:
    def __init__(self, data_dir: Path, max_db_mb: float | None):
        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "gov.db"
        self.max_bytes = int(max_db_mb * 1024 * 1024) if max_db_mb else None
        self.lock = threading.Lock()
        self._local = threading.local()
        c = self.conn()
        for t in TABLES:
            c.execute(f'CREATE TABLE IF NOT EXISTS "{t}" (id TEXT PRIMARY KEY, data TEXT NOT NULL, '
                      f'inserted_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, updates INTEGER NOT NULL DEFAULT 0)')
        c.execute("CREATE TABLE IF NOT EXISTS requests (n INTEGER NOT NULL)")

    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=FULL")
            self._local.conn = c
        return c

    def upsert(self, table: str, records: list[dict]) -> tuple[int, int]:
        with self.lock:
            if self.max_bytes is not None and self.path.stat().st_size >= self.max_bytes:
                raise DiskFull(f"size limit {self.max_bytes // (1024 * 1024)} MB reached")
            c = self.conn()
            now = int(time.time() * 1000)
            ins = upd = 0
            c.execute("BEGIN IMMEDIATE")
            try:
                for r in records:
                    if c.execute(f'SELECT 1 FROM "{table}" WHERE id = ?', (r["id"],)).fetchone():
                        c.execute(f'UPDATE "{table}" SET data = ?, updated_at = ?, updates = updates + 1 WHERE id = ?',
                                  (json.dumps(r, ensure_ascii=False), now, r["id"]))
                        upd += 1
                    else:
                        c.execute(f'INSERT INTO "{table}" (id, data, inserted_at, updated_at) VALUES (?, ?, ?, ?)',
                                  (r["id"], json.dumps(r, ensure_ascii=False), now, now))
                        ins += 1
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return ins, upd

    def rows(self, table: str) -> list[dict]:
        return [json.loads(d) for (d,) in self.conn().execute(f'SELECT data FROM "{table}" ORDER BY inserted_at, id')]

    def summary(self) -> dict:
        c = self.conn()
        return {t: {"records": c.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0],
                    "updates": c.execute(f'SELECT coalesce(sum(updates), 0) FROM "{t}"').fetchone()[0]}
                for t in TABLES}


def _answer(code: int, msg: str, status: int = 200, headers: dict | None = None, **extra):
    resp = jsonify({"code": code, "msg": msg, **extra})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def create_gov_receiver(data_dir, mode: str, *, throttle: Throttle | None = None, max_db_mb: float | None = None,
                        username: str = "", password: str = "", aes_key: str = "", aes_iv: str = "",
                        app_key: str = "", app_secret: str = "") -> Flask:
    store = GovStore(Path(data_dir), max_db_mb)
    throttle = throttle or Throttle()
    if mode == "wwyt":
        if not password:
            raise SystemExit("wwyt mode needs --password or WWYT_PASSWORD")
        key = crypto.key_bytes(aes_key, (16, 24, 32), "--aes-key")
        iv = crypto.key_bytes(aes_iv, (16,), "--aes-iv")
    elif not app_secret:
        raise SystemExit("sha1-sign mode needs --app-secret or SHA1_APP_SECRET")
    app = Flask(__name__)
    app.extensions["gov_receiver"] = store

    def authorised() -> str | None:
        """Who is asking, or None."""
        if mode == "wwyt":
            auth = request.headers.get("Authorization", "")
            try:
                user, _, pw = base64.b64decode(auth.removeprefix("Basic "), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return None
            ok = auth.startswith("Basic ") and hmac.compare_digest(user, username) and hmac.compare_digest(pw, password)
            return user if ok else None
        ts, sig = request.headers.get("timestamp", ""), request.headers.get("signature", "")
        if request.headers.get("appKey") != app_key or not ts.isdigit() or abs(int(ts) / 1000 - time.time()) > 3600:
            return None
        return app_key if hmac.compare_digest(crypto.sha1_signature(app_key, app_secret, ts), sig) else None

    def records_of(raw: bytes):
        body = json.loads(raw)
        if mode == "wwyt":
            if not isinstance(body, dict) or not isinstance(body.get("datas"), str):
                raise ValueError('body must be {"datas": "<Base64 AES-CBC>"}')
            body = json.loads(crypto.aes_cbc_decrypt(key, iv, body["datas"]))
        return body if isinstance(body, list) else [body]

    prefix = "/api/wwyt" if mode == "wwyt" else "/api/report"

    @app.post(f"{prefix}/<table>")
    def receive(table: str):
        who = authorised()
        if who is None:
            return _answer(401, "认证失败 / authentication failed", 401)
        if table not in TABLES:
            return _answer(404, f"未知的数据表 {table} / unknown table", 404)
        wait = throttle.check(f"{who}:{table}")
        if wait is not None:
            return _answer(429, "请求过于频繁，请稍后再试 / too many requests", 429,
                           {"Retry-After": str(max(1, int(wait + 0.999)))})
        try:
            records = records_of(request.get_data())
        except ValueError as exc:
            return _answer(400, f"数据无法解析 / unreadable data: {exc}", 400)
        good: list[dict] = []
        errors: list[dict[str, Any]] = []
        for n, rec in enumerate(records, start=1):
            problem = check_record(table, rec)
            if problem:
                field, why = problem
                errors.append({"index": n, "id": rec.get("id") if isinstance(rec, dict) else None, "field": field,
                               "message": f"第{n}条数据中字段:{field} {why}"})
            else:
                good.append(rec)
        try:
            ins, upd = store.upsert(table, good) if good else (0, 0)
        except Exception as exc:
            if _disk_full(exc):
                return _answer(507, f"存储空间已满，未保存 / disk full, nothing stored ({exc})", 507, {"Retry-After": "60"})
            raise
        msg = "成功 / ok" if not errors else "；".join(e["message"] for e in errors[:5])
        return _answer(0 if not errors else 1, msg, inserted=ins, updated=upd, errors=errors)

    @app.get(f"{prefix}/<table>")
    def list_table(table: str):
        if authorised() is None:
            return _answer(401, "认证失败 / authentication failed", 401)
        if table not in TABLES:
            return _answer(404, f"未知的数据表 {table} / unknown table", 404)
        return _answer(0, "成功 / ok", datas=store.rows(table))

    @app.route("/", methods=["GET", "HEAD"])
    def index():
        return jsonify({"mode": mode, "tables": store.summary()})

    return app
