"""Satellite reader stations registered with this appliance: their keys and readers, and the signed posts
of taps they relay (authenticated with `satellite.protocol`, each tap recorded once by the patrol domain)."""
from __future__ import annotations

import json
import secrets

import peewee
from pydantic import BaseModel, ConfigDict, Field, field_validator

from appliance.core import events
from appliance.core.db import BaseModel as Model
from appliance.core.errors import Conflict, NotFound, ValidationFailed
from appliance.core.people import Input
from appliance.patrol import taps
from satellite import protocol

_CODE = r"^[A-Za-z0-9_.-]{1,40}$"
MAX_TAP_AGE_MS = 30 * 86_400_000       # a relayed tap older than this is refused (a station clock gone wrong)
STATION_CHUNK = 25                     # station taps committed per transaction (keeps the write lock short)
MAX_STATION_TAPS = 500                 # per post


class Station(Model):
    name = peewee.TextField()
    key = peewee.TextField()
    readers = peewee.TextField()
    active = peewee.BooleanField()
    last_post_at = peewee.IntegerField(null=True)
    created_at = peewee.IntegerField()

    class Meta:
        table_name = "stations"


class StationNonce(Model):
    station = peewee.TextField()
    nonce = peewee.TextField()
    at = peewee.IntegerField()

    class Meta:
        table_name = "station_nonces"
        primary_key = peewee.CompositeKey("station", "nonce")


class StationIn(Input):
    name: str = Field(pattern=_CODE)
    readers: list[str] = Field(min_length=1, max_length=50)   # the reader names the station may post for

    @field_validator("readers")
    @classmethod
    def _names(cls, v):
        import re

        bad = [r for r in v if not re.fullmatch(_CODE, r)]
        if bad:
            raise ValueError(f"not reader names: {bad}")
        return sorted(set(v))


def create_station(data: StationIn, *, actor: str) -> tuple[Station, str]:
    """Register a station; its key is returned once, to be put in the station's config."""
    with events.recording(actor) as rec:
        if Station.get_or_none(Station.name == data.name):
            raise Conflict(f"读卡站已存在：{data.name}", f"station already exists: {data.name}")
        key = secrets.token_hex(32)
        s = Station.create(name=data.name, key=key, readers=json.dumps(data.readers), active=True,
                           created_at=events.now_ms())
        rec.emit("station.created", entity=("station", s.id), payload={"id": s.id, "name": s.name,
                                                                        "readers": data.readers})
    return s, key


def set_station_active(name: str, active: bool, *, actor: str) -> Station:
    with events.recording(actor) as rec:
        s = Station.get_or_none(Station.name == name)
        if s is None:
            raise NotFound(f"读卡站 {name} 不存在", f"station {name} does not exist")
        Station.update(active=active).where(Station.id == s.id).execute()
        rec.emit("station.activated" if active else "station.deactivated", entity=("station", s.id),
                 payload={"name": name})
    return Station.get_by_id(s.id)


class StationRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class StationTapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9-]{8,64}$")
    reader: str = Field(pattern=_CODE)
    uid: str = Field(min_length=1, max_length=40)
    at: int = Field(gt=0)


class StationPostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    taps: list[StationTapIn] = Field(max_length=MAX_STATION_TAPS)


def accept_station_post(name: str, timestamp: str, nonce: str, body: bytes, signature: str,
                        now_s: float) -> list[dict]:
    """Authenticate a station's signed post and record its taps exactly once each. Raises
    `StationRefused` (unknown station, bad signature, stale, replayed) or ValidationFailed (bad body).

    The signature is checked before anything is written; the nonce is the one write of the check (a replay
    finds it taken). Taps are committed in chunks, each tap once by the station's own id, so a long post
    never holds the write lock for long. A tap's time is the station's clock, moved by the offset between
    the station's and this appliance's clocks at the post; a tap for a reader the station was not
    registered with, or older than `MAX_TAP_AGE_MS`, is recorded as refused (kept, not counted)."""
    s = Station.get_or_none((Station.name == name) & Station.active)
    why = protocol.check_station_post(bytes.fromhex(s.key) if s else None, timestamp, nonce, body, signature, now_s, False)
    if why:
        raise StationRefused(why)
    assert s is not None   # check_station_post refuses an unknown station
    with events.recording(f"device:station:{name}"):
        cur = StationNonce._meta.database.execute_sql(
            "INSERT OR IGNORE INTO station_nonces (station, nonce, at) VALUES (?, ?, ?)", (name, nonce, int(now_s * 1000)))
        if cur.rowcount != 1:
            raise StationRefused("replayed")
        StationNonce.delete().where(StationNonce.at < int((now_s - 2 * protocol.MAX_SKEW_S) * 1000)).execute()
        Station.update(last_post_at=int(now_s * 1000)).where(Station.id == s.id).execute()
    try:
        post = StationPostIn.model_validate_json(body)
    except ValueError as exc:
        raise ValidationFailed(f"读卡站数据格式错误：{exc}", f"malformed station post: {exc}") from None
    allowed_readers = set(json.loads(s.readers or "[]"))
    offset = int(now_s * 1000) - int(timestamp) * 1000   # appliance clock − station clock, at this post
    now_ms = int(now_s * 1000)
    results = []
    for i in range(0, len(post.taps), STATION_CHUNK):
        # one transaction per chunk: one fsync for many taps, and the write lock is free again soon
        with events.recording(f"device:station:{name}"):
            for t in post.taps[i:i + STATION_CHUNK]:
                at = t.at + offset
                refused = ("foreign_reader" if t.reader not in allowed_readers
                           else "stale_tap" if not now_ms - MAX_TAP_AGE_MS <= at <= now_ms + protocol.MAX_SKEW_S * 1000
                           else None)
                results.append(taps.record_tap(t.reader, t.uid, at, station=name, station_tap=t.id, refused=refused))
    return results


def sign_answer(name: str, nonce: str, body: bytes) -> str:
    """`satellite.protocol.answer_signature` with the key of station `name` (authenticated already)."""
    s = Station.get(Station.name == name)
    return protocol.answer_signature(bytes.fromhex(s.key), nonce, body)
