"""PPE violations (a head without a hard hat in a zone where one is required) and their review.

The vision process finds them; the main process records them here with their evidence (`record`): the
annotated snapshot stored like a hazard photo (by SHA-256, in photos/) and the raw frame (vision/frames/).
On the tablet a supervisor confirms one (→ a hazard through the hazards loop, the snapshot as its photo) or
rejects it (→ the snapshot, the frame and the box kept under vision/false_positives/ for the next training).
Every step is an event.

Retention (`prune_evidence`, nightly): a raw frame is kept while its violation is open and for
`vision.frames_keep_days` after the review (the snapshot, a hazard's photo, is never pruned here); frames no
violation refers to (a crash between the file and the row) go after a day; the false-positive training set is
held under `vision.false_positives_max_mb`, oldest first. Violations themselves are safety records and stay.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import cast

import peewee
from pydantic import Field

from appliance.core import events, photos
from appliance.core.db import BaseModel as Model
from appliance.core.errors import Conflict, NotFound, ValidationFailed
from appliance.core.people import Area, Input, Person

ACTOR = "system:vision"
DAY_MS = 86_400_000
ORPHAN_AGE_MS = DAY_MS  # a frame file with no violation row is a leftover once it is this old

log = logging.getLogger(__name__)


class Violation(Model):
    camera = peewee.TextField()
    zone = peewee.TextField()
    area = peewee.TextField(null=True)
    track = peewee.IntegerField()
    occurred_at = peewee.IntegerField()
    score = peewee.FloatField()
    box = peewee.TextField()
    width = peewee.IntegerField()
    height = peewee.IntegerField()
    snapshot = peewee.TextField()
    frame = peewee.TextField()
    state = peewee.TextField()
    decided_by = peewee.TextField(null=True)
    decided_at = peewee.IntegerField(null=True)
    note = peewee.TextField(null=True)
    hazard_id = peewee.IntegerField(null=True)
    # the person seen, named by the reviewer (migration 0035): on every violation of the confirmed group
    person_id = peewee.IntegerField(null=True)

    class Meta:
        table_name = "violations"


class ConfirmIn(Input):
    area_id: int | None = Field(None, gt=0, le=2**31)  # default: the area of the zone or camera
    grade: str = Field("general", pattern=r"^(general|major)$")
    note: str = Field("", max_length=2000)
    # the other open violations of the same scene (`rules.group_violations`), decided with this one
    group: list[int] = Field(default_factory=list, max_length=500)
    # the person seen, when the reviewer knows them (picked by name on the page): named in the hazard and in
    # the vision.confirmed event, which the training domain answers with a "learn now" offer to them
    person_id: int | None = Field(None, gt=0, le=2**31)


class PersonIn(Input):
    # name (or correct) the person seen on a confirmed violation; null: nobody known after all
    person_id: int | None = Field(..., gt=0, le=2**31)


class RejectIn(Input):
    note: str = Field("", max_length=2000)
    group: list[int] = Field(default_factory=list, max_length=500)


def people_of(rows: Iterable[Violation]) -> dict[int, Person]:
    """The people named on `rows`, by id (one query for a list)."""
    ids = {v.person_id for v in rows if v.person_id is not None}
    return {p.id: p for p in Person.select().where(Person.id.in_(ids))} if ids else {}


def violation_dict(v: Violation, people: dict[int, Person] | None = None) -> dict:
    """The violation as JSON; `person` is {id, name, employee_no, department, company} of the person named
    (None: nobody), from `people` when given (a list), else looked up."""
    p = None
    if v.person_id is not None:
        p = (people or {}).get(v.person_id) or Person.get_or_none(Person.id == v.person_id)
    return {"id": v.id, "camera": v.camera, "zone": v.zone, "area": v.area, "track": v.track,
            "occurred_at": v.occurred_at, "score": round(v.score, 3), "box": json.loads(v.box),
            "size": [v.width, v.height], "snapshot": v.snapshot, "state": v.state, "decided_by": v.decided_by,
            "decided_at": v.decided_at, "note": v.note, "hazard_id": v.hazard_id, "person_id": v.person_id,
            "person": {"id": p.id, "name": p.name, "employee_no": p.employee_no, "department": p.department,
                       "company": p.company} if p is not None else None}


def photo_root(data_dir: Path) -> Path:
    return Path(data_dir) / "photos"


def frame_root(data_dir: Path) -> Path:
    return Path(data_dir) / "vision" / "frames"


def false_positive_root(data_dir: Path) -> Path:
    return Path(data_dir) / "vision" / "false_positives"


def _store_frame(jpeg: bytes, data_dir: Path) -> str:
    """The raw frame as sent (our own JPEG), by SHA-256 of its bytes, written atomically."""
    digest = hashlib.sha256(jpeg).hexdigest()
    root = frame_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{digest}.jpg"
    if not path.exists():
        photos._atomic_write(path, jpeg)
    return digest


def record(meta: dict, snapshot_jpeg: bytes, frame_jpeg: bytes, data_dir: Path) -> Violation:
    """Store the evidence and write the violation and its event in one transaction."""
    snap = photos.store(snapshot_jpeg, photo_root(data_dir))
    frame = _store_frame(frame_jpeg, data_dir)
    with events.recording(ACTOR) as rec:
        v = Violation.create(camera=meta["camera"], zone=meta["zone"], area=meta.get("area"), track=meta["track"],
                             occurred_at=int(meta["at_ms"]), score=float(meta["score"]),
                             box=json.dumps([round(float(x), 1) for x in meta["box"]]), width=int(meta["width"]),
                             height=int(meta["height"]), snapshot=snap, frame=frame, state="open")
        rec.emit("vision.violation", entity=("violation", v.id), occurred_at=v.occurred_at,
                 payload={"id": v.id, "camera": v.camera, "zone": v.zone, "area": v.area or "",
                          "score": round(v.score, 3), "snapshot": snap, "track": v.track,
                          "frame_at": v.occurred_at})
    return v


def camera_title(name: str) -> str:
    """A camera's title from the config (its name where it has none or outside a request)."""
    from flask import current_app, has_app_context

    if has_app_context():
        for c in current_app.config["APPLIANCE"].cameras or []:
            if c.name == name:
                return c.title or c.name
    return name


def get(violation_id: int) -> Violation:
    v = Violation.get_or_none(Violation.id == violation_id)
    if v is None:
        raise NotFound(f"违章记录 {violation_id} 不存在", f"violation {violation_id} does not exist")
    return v


def _open(v: Violation) -> None:
    if v.state != "open":
        raise Conflict(f"违章记录 {v.id} 已处理（{v.state}）", f"violation {v.id} was already reviewed ({v.state})")


def confirm(violation_id: int, data: ConfirmIn, principal, data_dir: Path):
    """Confirm: report a hazard (the snapshot its photo) in the same transaction; returns (violation, hazard)."""
    from appliance.hazards import service as H

    with events.recording(principal.actor) as rec:
        v = get(violation_id)
        _open(v)
        area_id = data.area_id
        if area_id is None and v.area:
            a = Area.get_or_none((Area.code == v.area) & Area.active)
            area_id = a.id if a else None
        if area_id is None:
            raise ValidationFailed(f"area_id：摄像头 {v.camera} 未关联区域，请选择区域",
                                   f"area_id: camera {v.camera} has no area; choose one", details=[{"key": "area_id"}])
        person = _active_person(data.person_id)
        others = [o for o in (Violation.get_or_none(Violation.id == i) for i in data.group if i != v.id)
                  if o is not None and o.state == "open" and o.camera == v.camera and o.zone == v.zone]
        times = sorted([v.occurred_at, *(o.occurred_at for o in others)])
        # the camera by its title and the area by its name (issue 15 item 9: never "区域 dock")
        area = Area.get_or_none(Area.id == area_id)
        desc = (f"未佩戴安全帽（视频识别：摄像头「{camera_title(v.camera)}」，{area.name if area else ''}，"
                f"置信度 {v.score:.2f}")
        desc += (f"；同一场景 {len(times)} 次" if others else "") + "）"
        if person is not None:
            desc += f"，人员：{person.name}" + (f"（{person.company}）" if person.company else "")
        if data.note:
            desc += f"：{data.note}"
        hazard = H.report(H.ReportIn(area_id=area_id, category="安全", description=desc, grade=data.grade,
                                     photo=v.snapshot), actor=principal.actor, photo_root=photo_root(data_dir))
        t = events.now_ms()
        pid = person.id if person is not None else None
        Violation.update(state="confirmed", decided_by=principal.actor, decided_at=t, note=data.note,
                         hazard_id=hazard.id, person_id=pid).where(Violation.id == v.id).execute()
        who = {"person_id": person.id, "person": person.name} if person is not None else {}
        rec.emit("vision.confirmed", entity=("violation", v.id),
                 payload={"id": v.id, "camera": v.camera, "zone": v.zone, "hazard_id": hazard.id, **who})
        for o in others:   # the same scene: one hazard for all of them
            Violation.update(state="confirmed", decided_by=principal.actor, decided_at=t, note=data.note,
                             hazard_id=hazard.id, person_id=pid).where(Violation.id == o.id).execute()
            rec.emit("vision.confirmed", entity=("violation", o.id),
                     payload={"id": o.id, "camera": o.camera, "zone": o.zone, "hazard_id": hazard.id, "with": v.id})
    return get(v.id), hazard


def _active_person(person_id: int | None) -> Person | None:
    if person_id is None:
        return None
    person = Person.get_or_none((Person.id == person_id) & Person.active)
    if person is None:
        raise ValidationFailed(f"person_id：人员 {person_id} 不存在或已停用",
                               f"person_id: person {person_id} does not exist or is inactive",
                               details=[{"key": "person_id"}])
    return person


def name_person(violation_id: int, data: PersonIn, principal) -> Violation:
    """Name (or correct, or clear) the person seen on a confirmed violation, on every violation of its group
    (the same hazard). The `vision.person_named` event carries `person_id` like vision.confirmed does, so the
    training domain offers the related units to the person named (a cleared name offers nothing)."""
    with events.recording(principal.actor) as rec:
        v = get(violation_id)
        if v.state != "confirmed":
            raise Conflict(f"违章记录 {v.id} 未确认（{v.state}），不能登记人员",
                           f"violation {v.id} is not confirmed ({v.state}); no person can be named on it")
        person = _active_person(data.person_id)
        pid = person.id if person is not None else None
        if v.person_id == pid:
            return v
        q = Violation.hazard_id == v.hazard_id if v.hazard_id is not None else Violation.id == v.id
        ids = [r.id for r in Violation.select(Violation.id).where(q & (Violation.state == "confirmed"))]
        Violation.update(person_id=pid).where(Violation.id.in_(ids)).execute()
        who = {"person_id": pid, "person": person.name} if person is not None else {"person_id": None}
        rec.emit("vision.person_named", entity=("violation", v.id),
                 payload={"id": v.id, "camera": v.camera, "zone": v.zone, "hazard_id": v.hazard_id, "ids": ids,
                          "previous_person_id": v.person_id, **who})
    return get(v.id)


def reject(violation_id: int, data: RejectIn, principal, data_dir: Path) -> Violation:
    """Reject as a false alarm: the snapshot, the raw frame and the box are kept for the next training
    (each of the group's, the same scene's other open violations, too)."""
    first = _reject_one(violation_id, data, principal, data_dir)
    for i in data.group:
        o = Violation.get_or_none(Violation.id == i)
        if i != violation_id and o is not None and o.state == "open" and o.camera == first.camera \
                and o.zone == first.zone:
            _reject_one(i, data, principal, data_dir)
    return first


def _reject_one(violation_id: int, data: RejectIn, principal, data_dir: Path) -> Violation:
    v = get(violation_id)
    _open(v)
    dest = false_positive_root(data_dir) / f"{v.id:06d}"
    dest.mkdir(parents=True, exist_ok=True)
    for src, name in ((photos.path_of(photo_root(data_dir), v.snapshot), "snapshot.jpg"),
                      (frame_root(data_dir) / f"{v.frame}.jpg", "frame.jpg")):
        if src is None or not src.exists():
            raise ValidationFailed(f"违章 {v.id} 的证据文件缺失（{name}）", f"the evidence of violation {v.id} is missing ({name})")
        shutil.copyfile(src, dest / name)
    meta = {**violation_dict(v), "label": "no_hardhat", "verdict": "false_positive", "note": data.note,
            "rejected_by": principal.actor}
    photos._atomic_write(dest / "meta.json", json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
    with events.recording(principal.actor) as rec:
        v = get(violation_id)
        _open(v)  # a concurrent review may have won while the files were copied
        Violation.update(state="rejected", decided_by=principal.actor, decided_at=events.now_ms(),
                         note=data.note).where(Violation.id == v.id).execute()
        rec.emit("vision.rejected", entity=("violation", v.id),
                 payload={"id": v.id, "camera": v.camera, "zone": v.zone, "kept": str(dest.relative_to(data_dir))})
    return get(v.id)


def prune_evidence(data_dir: Path, frames_keep_days: int, false_positives_max_mb: int,
                   now_ms: int | None = None) -> dict:
    """Delete raw frames that are no longer needed and hold the false-positive set under its cap.

    A frame is kept while any violation that refers to it is open, or was decided less than
    `frames_keep_days` ago. Returns what was removed, for the log and the tests.
    """
    now = events.now_ms() if now_ms is None else now_ms
    cutoff = now - frames_keep_days * DAY_MS
    keep, known = set(), set()
    rows = cast(Iterable[tuple[str, str, int | None]],
                Violation.select(Violation.frame, Violation.state, Violation.decided_at).tuples())
    for frame, state, decided_at in rows:
        known.add(frame)
        if state == "open" or decided_at is None or decided_at > cutoff:
            keep.add(frame)
    removed = {"frames": 0, "orphans": 0, "false_positives": 0, "bytes": 0}
    root = frame_root(data_dir)
    if root.is_dir():
        for path in root.glob("*.jpg"):
            digest = path.stem
            if digest in keep:
                continue
            try:
                st = path.stat()
                if digest not in known and st.st_mtime * 1000 > now - ORPHAN_AGE_MS:
                    continue  # maybe a violation being recorded right now
                path.unlink()
            except FileNotFoundError:
                continue
            removed["orphans" if digest not in known else "frames"] += 1
            removed["bytes"] += st.st_size
        for tmp in root.glob("*.tmp"):  # a write cut by a power failure
            try:
                if tmp.stat().st_mtime * 1000 < now - ORPHAN_AGE_MS:
                    tmp.unlink()
            except FileNotFoundError:
                continue
    fp = false_positive_root(data_dir)
    if fp.is_dir():
        examples = sorted((d for d in fp.iterdir() if d.is_dir()), key=lambda d: d.name)  # ids: oldest first
        sizes = {d: sum(f.stat().st_size for f in d.iterdir() if f.is_file()) for d in examples}
        total, cap = sum(sizes.values()), false_positives_max_mb * 1024 * 1024
        for d in examples:
            if total <= cap:
                break
            shutil.rmtree(d, ignore_errors=True)
            total -= sizes[d]
            removed["false_positives"] += 1
            removed["bytes"] += sizes[d]
    if any(removed[k] for k in ("frames", "orphans", "false_positives")):
        log.info("vision evidence pruned", extra=removed)
    return removed
