"""Field mapping as data: a profile (sync/profiles/<adapter>_<name>.json) says, per record kind, which
regulator table it goes to, the SQL that reads the record's current state, and how each field is made.
`map_record` is a pure function (tested with tables); `Mapper` reads the rows and groups the records.

Records are sent as their current state (the regulator upserts by id), so several events of one record in
a batch become one record. Ids are stable UUIDs derived from the appliance id, kind and local id.
"""
from __future__ import annotations

import json
import uuid
import zoneinfo
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

NAMESPACE = uuid.UUID("6f1c2a8e-3d5b-4e7a-9c0d-1b2e3f4a5b6c")


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    from_: str | None = Field(None, alias="from")
    fallback: str | None = None  # another source column, used when `from` is empty
    const: Any = None
    config: str | None = None
    uuid: str | None = None
    event: Literal["actor", "type", "id", "seq"] | None = None
    map: dict[str, Any] | None = None
    time: Literal["datetime", "date"] | None = None
    str_: bool = Field(False, alias="str")
    required: bool = False
    max_len: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one_source(self):
        sources = [self.from_ is not None and self.uuid is None, self.const is not None, self.config is not None,
                   self.uuid is not None, self.event is not None]
        if sum(sources) != 1:
            raise ValueError("each field takes exactly one of from, const, config, uuid (with from), event")
        return self


class KindSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str = Field(pattern=r"^[A-Za-z0-9_]{1,64}$")
    source: str = Field(pattern=r"(?is)^\s*SELECT\s")
    fields: dict[str, FieldSpec]

    @model_validator(mode="after")
    def _has_id(self):
        if "id" not in self.fields:
            raise ValueError("a record kind must map its id")
        return self


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    kinds: dict[str, KindSpec]


def load_profile(adapter: str, name: str) -> Profile:
    from appliance.core.errors import ConfigError

    res = resources.files("sync.profiles").joinpath(f"{adapter}_{name}.json")
    try:
        return Profile.model_validate(json.loads(res.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"没有字段映射 {adapter}_{name}.json", f"no field mapping {adapter}_{name}.json",
                          code="config_profile") from None
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"字段映射 {adapter}_{name}.json 无效：{exc}", f"field mapping {adapter}_{name}.json is "
                          f"invalid: {exc}", code="config_profile") from None


def record_id(appliance_id: str, kind: str, local_id) -> str:
    """A stable 36-character UUID for a local record (the regulator wants 32 or 36 characters)."""
    return str(uuid.uuid5(NAMESPACE, f"{appliance_id}/{kind}/{local_id}"))


def fmt_time(ms: int, kind: str, tz: str) -> str:
    dt = datetime.fromtimestamp(ms / 1000, UTC).astimezone(zoneinfo.ZoneInfo(tz))
    return dt.strftime("%Y%m%d%H%M%S" if kind == "datetime" else "%Y%m%d")


def map_record(spec: KindSpec, src: dict, event: dict, settings: dict, appliance_id: str,
               tz: str) -> tuple[dict, list[str]]:
    """(record, problems): each problem names the target field and what is wrong with it."""
    out, problems = {}, []
    for name, f in spec.fields.items():
        if f.const is not None:
            v = f.const
        elif f.config is not None:
            v = settings.get(f.config)
        elif f.event is not None:
            v = event.get(f.event)
        else:
            v = src.get(f.from_)
            if v in (None, "") and f.fallback:
                v = src.get(f.fallback)
            if f.uuid is not None and v is not None:
                v = record_id(appliance_id, f.uuid, v)
        if v is not None and f.map is not None:
            key = str(v)
            if key not in f.map:
                problems.append(f"{name}: value {v!r} has no code in the mapping")
                continue
            v = f.map[key]
        if v is not None and f.time is not None:
            try:
                v = fmt_time(int(v), f.time, tz)
            except (TypeError, ValueError, OverflowError):
                problems.append(f"{name}: {v!r} is not a time")
                continue
        if v is not None and f.str_:
            v = str(v)
        if f.required and (v is None or v == ""):
            problems.append(f"{name}: required, but empty")
            continue
        if f.max_len is not None and isinstance(v, str) and len(v) > f.max_len:
            problems.append(f"{name}: longer than {f.max_len} characters")
            continue
        out[name] = v
    return out, problems


class Mapper:
    """Maps a batch of event rows to {table: {record id: (record, seq, event id)}} and failures."""

    def __init__(self, profile: Profile, settings: dict, appliance_id: str, tz: str):
        self.profile, self.settings, self.appliance_id, self.tz = profile, settings, appliance_id, tz

    def map_rows(self, rows: list) -> tuple[dict[str, dict[str, tuple]], list[tuple[int, str, str]]]:
        from appliance.core.db import database

        tables: dict[str, dict[str, tuple]] = {}
        failures = []
        for row in rows:
            spec = self.profile.kinds.get(row.entity_type or "")
            if spec is None:
                continue  # not a kind this endpoint takes
            cur = database.execute_sql(spec.source, (row.entity_id,))
            found = cur.fetchone()
            if found is None:
                failures.append((row.seq, row.id, f"{row.entity_type} {row.entity_id} is not in the database"))
                continue
            src = dict(zip([d[0] for d in cur.description], found, strict=False))
            rec, problems = map_record(spec, src, row.as_dict(), self.settings, self.appliance_id, self.tz)
            if problems:
                failures.append((row.seq, row.id, f"{spec.table}: " + "; ".join(problems)))
                continue
            tables.setdefault(spec.table, {})[rec["id"]] = (rec, row.seq, row.id)
        return tables, failures
