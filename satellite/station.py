"""A satellite reader station (`safety-appliance reader --config FILE`): a small board at a far checkpoint
that reads badges with the same reader drivers as the appliance, stores each tap durably before it
acknowledges it to the worker, and posts the taps signed to the appliance (found by zeroconf or a
configured URL). With the LAN down it keeps accepting taps; when the LAN returns it delivers them all,
once each: every tap carries the station's own id, and the appliance records a re-sent id only once.

    [station]
    name = "st-north"                    # as registered on the appliance (admin: create-station)
    key_env = "SA_STATION_KEY"           # or key = "<64 hex>" (then keep this file private)
    appliance_url = "http://10.0.0.2:8080"   # optional; found by mDNS when left out
    data_dir = "/var/lib/safety-station"

    [[readers]]
    type = "pcsc"
    name = "CP-NORTH-GATE"
    reader = "ACR122"
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

import drivers
from appliance.core.config import LoggingConfig, Section, load_toml
from drivers.base import REGISTRY, Tap
from satellite.protocol import answer_signature, station_signature

log = logging.getLogger(__name__)

RETRY_MIN_S = 0.5
KEEP_DELIVERED_MS = 30 * 86_400_000


class StationSettings(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    key: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$")
    key_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]{0,63}$")
    appliance_url: str | None = Field(None, pattern=r"^https?://[^\s/]+(:\d+)?/?$")
    # found by mDNS when appliance_url is left out: the appliance's [site] appliance_id, and the interfaces
    appliance_id: str | None = Field(None, max_length=64)
    discovery_interfaces: list[str] = Field(default_factory=list)
    data_dir: Path = Path("/var/lib/safety-station")
    batch: int = Field(100, ge=1, le=500)
    retry_max_s: float = Field(30.0, ge=1, le=3600)
    discovery_timeout_s: float = Field(5.0, ge=0.5, le=120)
    timeout_s: float = Field(10.0, ge=1, le=120)

    @model_validator(mode="after")
    def _one_key(self):
        if (self.key is None) == (self.key_env is None):
            raise ValueError("give either key or key_env")
        return self

    def secret(self) -> bytes:
        """The HMAC key, from the file or the environment (never logged)."""
        if self.key:
            return bytes.fromhex(self.key)
        raw = os.environ.get(self.key_env or "", "")
        try:
            if len(raw) != 64:
                raise ValueError
            return bytes.fromhex(raw)
        except ValueError:
            from appliance.core.errors import ConfigError
            raise ConfigError(f"station.key_env：环境变量 {self.key_env} 未设置或不是 64 位十六进制",
                              f"station.key_env: environment variable {self.key_env} is unset or not 64 hex digits",
                              code="config_invalid") from None


class StationConfig(Section):
    station: StationSettings
    readers: list[drivers.config_union("reader")] = Field(default_factory=list)  # type: ignore[valid-type]
    logging: LoggingConfig = LoggingConfig()


def load_station_config(path) -> StationConfig:
    return load_toml(path, StationConfig)


def backoff_s(failures: int, cap: float) -> float:
    """Seconds to wait after `failures` failed posts in a row: 0.5, 1, 2, … up to `cap`."""
    return min(cap, RETRY_MIN_S * 2 ** max(0, failures - 1)) if failures else 0.0


class Outbox:
    """Taps not yet acknowledged by the appliance, in a SQLite file written with synchronous=FULL: a tap
    acknowledged to the worker survives a power cut."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("""CREATE TABLE IF NOT EXISTS taps (
                n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, reader TEXT NOT NULL, uid TEXT NOT NULL,
                at INTEGER NOT NULL, delivered_at INTEGER, outcome TEXT, message TEXT)""")
            self._db.execute("CREATE INDEX IF NOT EXISTS taps_queued ON taps(delivered_at)")
            # delivered taps are kept a month for the station's own display and diagnosis, then go
            self._db.execute("DELETE FROM taps WHERE delivered_at < ?", (int(time.time() * 1000) - KEEP_DELIVERED_MS,))

    def add(self, tap: Tap) -> str:
        tap_id = uuid.uuid4().hex
        with self._lock:
            self._db.execute("INSERT INTO taps (id, reader, uid, at) VALUES (?, ?, ?, ?)",
                             (tap_id, tap.reader, tap.uid, tap.at_ms))
        return tap_id

    def pending(self, limit: int) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT id, reader, uid, at FROM taps WHERE delivered_at IS NULL ORDER BY n LIMIT ?",
                                    (limit,)).fetchall()
        return [{"id": r[0], "reader": r[1], "uid": r[2], "at": r[3]} for r in rows]

    def delivered(self, results: list[tuple[str, str, str]]) -> None:
        """(tap id, outcome, message) for each tap the appliance answered for."""
        t = int(time.time() * 1000)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("UPDATE taps SET delivered_at = ?, outcome = ?, message = ? WHERE id = ?",
                                 [(t, o, m, i) for i, o, m in results])
            self._db.execute("COMMIT")

    def counts(self) -> dict:
        with self._lock:
            queued, done = self._db.execute(
                "SELECT SUM(delivered_at IS NULL), SUM(delivered_at IS NOT NULL) FROM taps").fetchone()
        return {"queued": queued or 0, "delivered": done or 0}

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Refused(Exception):
    """The appliance answered with a refusal that a retry will not fix by itself (wrong key, unknown
    station): kept queued, shown, retried slowly until an admin fixes it."""


class Station:
    def __init__(self, config: StationConfig, clock: Callable[[], float] = time.time):
        self.config = config
        # A Pi has no RTC: on an offline LAN its clock may be far off. The appliance's signed refusal of a
        # stale post carries its own time; the station keeps the offset and corrects its posts and taps by it.
        self.clock = clock
        self.clock_offset_s = 0.0
        s = config.station
        self.key = s.secret()
        self.outbox = Outbox(Path(s.data_dir) / "outbox.db")
        self.url = s.appliance_url.rstrip("/") if s.appliance_url else None
        self.drivers: list = []
        self.stopped = threading.Event()
        self._wake = threading.Event()
        self.state: dict[str, Any] = {"status": "starting", "last_error": None, "last_delivery": None}
        self._thread: threading.Thread | None = None
        self._shown: dict | None = None   # the status last written (written again only when it changes)
        if not s.appliance_url and not s.appliance_id:
            log.warning("no appliance_url and no appliance_id: the first appliance found by mDNS gets the taps")

    # -- the reader side: store first, then acknowledge
    def on_tap(self, tap: Tap) -> None:
        tap = Tap(tap.reader, tap.uid, int(self.clock() * 1000))   # this station's clock, corrected when sent
        try:
            self.outbox.add(tap)
        except sqlite3.Error as exc:   # a full or failing SD card: the worker must not believe it counted
            log.error("tap NOT stored", extra={"reader": tap.reader, "error": str(exc)})
            self._status(f"存储失败 / not stored: {exc}")
            return
        log.info("已记录 / tap stored", extra={"reader": tap.reader, "uid_tail": tap.uid[-4:]})
        self._status(None)
        self._wake.set()

    # -- the sending side
    def start(self) -> Station:
        for rcfg in self.config.readers:
            cls = REGISTRY[rcfg.type]
            why = cls.available()
            if why:
                log.error("reader unavailable", extra={"reader": rcfg.name, "reason": why})
                continue
            d = cls(rcfg, self.on_tap)
            self.drivers.append(d)
            d.start()
        self._thread = threading.Thread(target=self._run, name="station-sender", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self._wake.set()
        for d in self.drivers:
            d.stop()
        if self._thread:
            self._thread.join(15)
        self.outbox.close()

    def _find(self) -> str | None:
        if self.url:
            return self.url
        from appliance.core.discovery import find_appliance

        s = self.config.station
        return find_appliance(s.discovery_timeout_s, s.discovery_interfaces or None, s.appliance_id)

    def _post(self, url: str, taps: list[dict]) -> list[dict]:
        shift = int(self.clock_offset_s * 1000)
        sent = [{**t, "at": t["at"] + shift} for t in taps] if shift else taps
        body = json.dumps({"taps": sent}, separators=(",", ":")).encode()
        ts, nonce = str(int(self.clock() + self.clock_offset_s)), uuid.uuid4().hex
        req = urllib.request.Request(f"{url}/api/v1/patrol/station-taps", data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Station": self.config.station.name, "X-Timestamp": ts,
            "X-Nonce": nonce, "X-Signature": station_signature(self.key, ts, nonce, body)})
        self._last_refusal = b""
        try:
            with urllib.request.urlopen(req, timeout=self.config.station.timeout_s) as r:
                answer = r.read()
                # only our appliance knows the key: an answer it did not sign keeps the taps queued
                if not hmac.compare_digest(answer_signature(self.key, nonce, answer), r.headers.get("X-Signature", "")):
                    raise Refused("the answer is not signed by the appliance (a wrong address, or not our appliance)")
                return json.loads(answer)["results"]
        except urllib.error.HTTPError as exc:
            self._last_refusal = exc.read()
            try:
                err = json.loads(self._last_refusal).get("error", {})
            except ValueError:
                err = {}
            if exc.code == 401 and err.get("code") == "station_stale" and self._take_time(exc, nonce):
                raise Refused(f"clock corrected by {self.clock_offset_s:+.0f} s; sending again") from None
            if exc.code == 401:
                raise Refused(f"{err.get('code', 'refused')}: {err.get('message', '')}") from None
            if exc.code == 422 and len(taps) == 1:
                # this one tap is malformed (it passed the reader but not the appliance): keep it as
                # rejected, visible in the outbox, instead of blocking every tap behind it
                return [{"outcome": "rejected", "message": err.get("message", "")}]
            if exc.code == 422:
                return [r for t in taps for r in self._post(url, [t])]
            raise OSError(f"HTTP {exc.code}: {err.get('message', '')}") from None

    def _take_time(self, exc: urllib.error.HTTPError, nonce: str) -> bool:
        """From a stale-post refusal signed by our appliance, take its time as the offset to our clock."""
        body = self._last_refusal
        if not hmac.compare_digest(answer_signature(self.key, nonce, body), exc.headers.get("X-Signature", "")):
            return False   # not our appliance: never take the time from it
        try:
            appliance_ms = int(json.loads(body)["appliance_time_ms"])
        except (ValueError, KeyError, TypeError):
            return False
        self.clock_offset_s = appliance_ms / 1000 - self.clock()
        log.warning("station clock is off; corrected by the appliance's signed time",
                    extra={"offset_s": round(self.clock_offset_s, 1)})
        return True

    def _run(self) -> None:
        failures = 0
        url = None
        while not self.stopped.is_set():
            batch = self.outbox.pending(self.config.station.batch)
            if not batch:
                self._status(self.state.get("last_error") if self.state.get("status") == "fault" else None)
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                url = url or self._find()
                if url is None:
                    raise OSError("no appliance found on the LAN (mDNS) and no appliance_url configured")
                results = self._post(url, batch)
                self.outbox.delivered([(t["id"], r.get("outcome", "?"), r.get("message", ""))
                                       for t, r in zip(batch, results, strict=False)])
                failures = 0
                self.state.update(status="ok", last_error=None, last_delivery=int(time.time() * 1000), url=url)
                self._status(None)
            except (OSError, Refused, ValueError, KeyError) as exc:
                failures += 1
                if not self.config.station.appliance_url:
                    url = None   # look the appliance up again: its address may have changed
                if failures == 1 or failures % 20 == 0:
                    log.warning("taps not delivered yet; kept", extra={"error": str(exc), "queued": len(batch),
                                                                      "failures": failures})
                self.state.update(status="fault", last_error=str(exc))
                self._status(str(exc))
                self.stopped.wait(backoff_s(failures, self.config.station.retry_max_s))

    def _status(self, error: str | None) -> None:
        """A small status file for the station's own display: queue length and the last problem."""
        status = {**self.outbox.counts(), "state": self.state.get("status"), "error": error,
                  "clock_offset_s": round(self.clock_offset_s),
                  "readers": {d.config.name: d.health().get("status") for d in self.drivers}}
        if status == self._shown:
            return   # an SD card does not need the same file rewritten every second
        self._shown = status
        status = {**status, "at": int(time.time() * 1000)}
        path = Path(self.config.station.data_dir) / "status.json"
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(status, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass

    def run_forever(self) -> None:
        def on_signal(signum, frame):
            self.stopped.set()
            self._wake.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        log.info("reader station running", extra={"station": self.config.station.name,
                                                 "readers": [r.name for r in self.config.readers]})
        while not self.stopped.wait(1.0):
            pass
        self.stop()
