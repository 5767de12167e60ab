"""Import of the risk register from a plant's spreadsheet: read (`spreadsheet`), check every row
(`register_rows`), then either report what would change (dry run) or, with no bad row, apply it in short
transactions of whole risk objects (a file with a bad row writes nothing).

Records are matched, not duplicated: a risk object by its code, a unit by its name within the object, an
event by its name within the unit, a measure by its text within the event. A matched record whose fields
differ is updated (with an event saying so); one that is the same is left alone, so importing the same
file twice changes nothing the second time. Records absent from the file are kept (an import adds and
corrects; it never deletes).
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

from appliance.core import db, events, offload, spreadsheet
from appliance.core.db import database
from appliance.core.errors import ValidationFailed
from appliance.core.people import Area
from appliance.risk import rows as RW
from appliance.risk import settings
from appliance.risk.register import CLASSIFY1, CLASSIFY2, RiskEvent, RiskMeasure, RiskObject, RiskUnit, event_dict

KINDS = ("objects", "units", "events", "measures")


class RegisterRowsInvalid(ValidationFailed):
    """One or more rows of the register spreadsheet are bad; `details` lists each with its row number."""

    code = "register_rows_invalid"


def parse_file(data: bytes, area_codes: set[str], lec: dict, ls: dict) -> tuple[list[RW.Object], list[RW.RowError], int, int]:
    """(tree, errors, data rows, header row number) of a spreadsheet file's bytes, graded with the profiles
    given; file-level problems raise (4xx). Pure (no database)."""
    rows = spreadsheet.read_rows(data)
    if not rows:
        raise spreadsheet.BadSpreadsheet("文件为空", "the file is empty")
    h = RW.find_header(rows)
    header_row = rows[h][0]
    colmap, errors = RW.map_header(rows[h][1], header_row)
    if errors:
        return [], errors, 0, header_row
    data_rows = [(n, {key: cells[i] for i, key in colmap.items() if i < len(cells)}) for n, cells in rows[h + 1:]]
    tree, errors = RW.validate(data_rows, area_codes, header_row, lec, ls)
    return tree, errors, sum(1 for _, c in data_rows if any(RW.text(v) for v in c.values())), header_row


def _fields_event(e: RW.Event) -> dict:
    return {"method": e.method, "profile": e.profile, "factors": e.factors, "score": e.score,
            "inherent_level": e.level, "residual_factors": e.residual_factors, "residual_score": e.residual_score,
            "residual_level": e.residual_level}


def _stored_event(row: dict) -> dict:
    return {"method": row["method"], "profile": row["profile"], "factors": json.loads(row["factors"]),
            "score": row["score"], "inherent_level": row["inherent_level"],
            "residual_factors": json.loads(row["residual_factors"]) if row["residual_factors"] else None,
            "residual_score": row["residual_score"], "residual_level": row["residual_level"]}


def _fields_measure(m: RW.Measure) -> dict:
    return {"classify1": m.classify1, "classify2": m.classify2, "classify3": m.classify3, "data_src": m.data_src,
            "troubleshoot_content": m.troubleshoot_content, "check_cycle": m.check_cycle,
            "check_cycle_unit": m.check_cycle_unit}


def _apply(tree: list[RW.Object], areas: dict[str, int], rec: events.Recorder | None) -> dict:
    """Walk the tree against the database; write (and emit) only when `rec` is given. Returns counts of
    created / updated / unchanged per kind. A record under a new parent is new itself."""
    counts = {k: {"created": 0, "updated": 0, "unchanged": 0} for k in KINDS}
    t = events.now_ms()
    objects, units, evs, measures = _existing(tree)

    def upsert(kind, model, found, fields, compare, created_type, updated_type, payload):
        """The id of the matched or new record (None for a new one on a dry run). Inserts are plain SQL:
        building 5 000 peewee queries cost ten times the writes (bench/register_import.py)."""
        table = model._meta.table_name
        if found is None:
            counts[kind]["created"] += 1
            if rec is None:
                return None
            cols = [*fields, "created_at", "updated_at"]
            new_id = database.execute_sql(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                          [*fields.values(), t, t]).lastrowid
            rec.emit(created_type, entity=(table[:-1], new_id), payload=payload(new_id, fields))
            return new_id
        if compare(found):
            counts[kind]["unchanged"] += 1
            return found["id"]
        counts[kind]["updated"] += 1
        if rec is not None:
            database.execute_sql(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in fields)}, updated_at = ? WHERE id = ?",
                                 [*fields.values(), t, found["id"]])
            rec.emit(updated_type, entity=(table[:-1], found["id"]), payload=payload(found["id"], fields))
        return found["id"]

    for o in tree:
        of = {"code": o.code, "name": o.name, "major_hazard": o.major_hazard, "active": True}
        oid = upsert("objects", RiskObject, objects.get(o.code), of,
                     lambda f: (f["name"], bool(f["major_hazard"]), bool(f["active"])) == (o.name, o.major_hazard, True),
                     "risk.object_created", "risk.object_updated",
                     lambda i, f: {"code": f["code"], "name": f["name"], "major_hazard": f["major_hazard"],
                                   "area_id": objects[o.code]["area_id"] if o.code in objects else None})
        for u in o.units.values():
            area_id = areas.get(u.area_code) if u.area_code else None
            uf = {"object_id": oid, "name": u.name, "department": u.department, "liable_person": u.liable_person,
                  "area_id": area_id}
            uid = upsert("units", RiskUnit, units.get((oid, u.name)) if oid else None, uf,
                         lambda f: (f["department"], f["liable_person"], f["area_id"]) == (u.department, u.liable_person, area_id),
                         "risk.unit_created", "risk.unit_updated",
                         lambda i, f: f)
            for e in u.events.values():
                ef = _fields_event(e)
                stored = {**ef, "factors": json.dumps(ef["factors"]),
                          "residual_factors": json.dumps(ef["residual_factors"]) if ef["residual_factors"] else None}
                eid = upsert("events", RiskEvent, evs.get((uid, e.name)) if uid else None,
                             {"unit_id": uid, "name": e.name, **stored}, lambda f: _stored_event(f) == ef,
                             "risk.event_assessed", "risk.event_assessed", lambda i, f: event_dict(RiskEvent(id=i, **f)))
                for m in e.measures.values():
                    mf = _fields_measure(m)
                    upsert("measures", RiskMeasure, measures.get((eid, m.description)) if eid else None,
                           {"event_id": eid, "description": m.description, **mf},
                           lambda f: {k: f[k] for k in mf} == mf, "risk.measure_added", "risk.measure_updated",
                           lambda i, f: f)
    return counts


def import_register(data: bytes, *, actor: str, dry_run: bool, filename: str = "") -> dict:
    """Check the file and report (dry run), or apply it all at once. With bad rows a dry run reports them
    (`ok` false) and a real import raises RegisterRowsInvalid listing them, having written nothing.

    A big file is read, checked and written in a child process (core.offload): its ~2 s of Python per 5,000
    measures ran on the web's interpreter and took the pages' p99 under load to 3× the target, and its working
    set stayed in the appliance (RSS 166 MB against 150, bench/load.py --maint import, issue 14). The child
    asks this process for each chunk's turn behind the gas alarms' writes and names its events as bulk items."""
    digest = hashlib.sha256(data).hexdigest()
    areas = _active_areas()
    report = offload.run(check_and_write, data, areas, settings.lec_profiles(), settings.ls_profiles(), actor, dry_run,
                         str(database.database), size=len(data), serve=_serve)
    report["sha256"] = digest
    summary = report.get("summary")
    if not dry_run and summary and any(c["created"] or c["updated"] for c in summary.values()):
        events.record("risk.register_imported", actor=actor, entity=("risk_register", digest[:16]),
                      payload={"file": filename[:200], "sha256": digest, "rows": report["rows"],
                               **{f"{k}_{a}": summary[k][a] for k in KINDS for a in ("created", "updated")}})
    return report


def _serve(request: tuple) -> None:
    """The appliance's side of a writer's requests (in place, or from the child of core.offload)."""
    if request[0] == "gate":           # a chunk's turn: after the safety writers waiting now (db.WriteGate)
        with db.write_gate.bulk():
            return
    if request[0] == "quiet":          # the chunk's events are bulk items, before it commits
        events.QUIET.take(request[1])
    elif request[0] == "unquiet":      # it rolled back
        events.QUIET.discard(request[1])
    else:
        raise ValueError(f"unknown request {request[0]!r}")


def check_and_write(data: bytes, areas: dict[str, int], lec: dict, ls: dict, actor: str, dry_run: bool,
                    db_path: str, *, ask: Callable[[tuple], Any]) -> dict:
    """Read and check the file; report, or write it in chunks. Runs in place (ask is `_serve`) or in a
    child process (the database at db_path opened here, `ask` answered by the appliance's process)."""
    child = offload.in_child()
    if child:
        db.open_database(db_path)
        events.QUIET.relay = ask
    try:
        return _check_and_write(data, areas, lec, ls, actor, dry_run, ask)
    finally:
        if child:
            database.close()


def _check_and_write(data: bytes, areas: dict[str, int], lec: dict, ls: dict, actor: str, dry_run: bool,
                     ask: Callable[[tuple], Any]) -> dict:
    # Reading and checking the file (900 ms for 5 000 rows of XLSX) happen before the write transaction,
    # and a dry run takes none: the gas alarms' writes wait for the one writer SQLite allows (issue 14).
    tree, errors, n, header_row = parse_file(data, set(areas), lec, ls)
    report: dict[str, Any] = {"dry_run": dry_run, "ok": not errors, "rows": n, "header_row": header_row,
                              "errors": [e.as_dict() for e in errors]}
    if errors:
        if dry_run:
            return report
        raise _invalid(errors)
    if dry_run:
        with database.atomic("DEFERRED"):   # one consistent snapshot to compare with, and no write lock
            report["summary"] = _apply(tree, areas, None)
        return report
    now_areas = _active_areas()
    if now_areas != areas:   # an area was added or retired meanwhile: check the file against it again
        areas = now_areas
        tree, errors, n, header_row = parse_file(data, set(areas), lec, ls)
        if errors:
            raise _invalid(errors)
    # Written in chunks of about CHUNK_MEASURES measures, each its own short transaction behind the gas
    # alarms' writes (db.WriteGate): under web load one transaction of 5 000 rows held SQLite's only write
    # lock for seconds and the sensors' alarm writes timed out (bench/load.py, issue 14). The file was
    # checked as a whole first, so a bad row still writes nothing; a power cut mid-import leaves the first
    # chunks, and importing the same file again completes it (what is written already is unchanged).
    summary = {k: {"created": 0, "updated": 0, "unchanged": 0} for k in KINDS}
    for part in _chunks(tree, CHUNK_MEASURES):
        ask(("gate",))
        with events.recording(actor, live=False) as rec:
            for kind, c in _apply(part, areas, rec).items():
                for a, v in c.items():
                    summary[kind][a] += v
        time.sleep(CHUNK_PAUSE_S)   # the alarms' writes get the lock between chunks
    report["summary"] = summary
    return report


CHUNK_MEASURES = 300
CHUNK_PAUSE_S = 0.03
_IN_LIST = 500   # ids per IN (...) list: well under SQLite's bound on parameters


def _existing(tree: list[RW.Object]) -> tuple[dict, dict, dict, dict]:
    """The stored records under the file's objects only, keyed as `_apply` matches them. Loading the whole
    register for each chunk (inside its write transaction) grew with the register and held the one write
    lock for seconds: seven 5 000-measure imports under load took the gas alarm to 7.5 s (issue 14)."""
    def rows(model, field, keys) -> list[dict[str, Any]]:
        # plain SQL: peewee adapting each IN parameter and converting each row was most of an update
        # import's time (3.6 s of Python for 5,000 measures, bench/load.py's maintenance phase)
        keys, out = list(keys), cast(list[dict[str, Any]], [])
        for i in range(0, len(keys), _IN_LIST):
            part = keys[i:i + _IN_LIST]
            cur = database.execute_sql(f"SELECT * FROM {model._meta.table_name} WHERE {field.column_name} IN "
                                       f"({', '.join('?' * len(part))})", part)
            cols = [c[0] for c in cur.description]
            out.extend(dict(zip(cols, r, strict=True)) for r in cur.fetchall())
        return out

    objects = {o["code"]: o for o in rows(RiskObject, RiskObject.code, {o.code for o in tree})}
    units = {(u["object_id"], u["name"]): u for u in rows(RiskUnit, RiskUnit.object_id, {o["id"] for o in objects.values()})}
    evs = {(e["unit_id"], e["name"]): e for e in rows(RiskEvent, RiskEvent.unit_id, {u["id"] for u in units.values()})}
    measures = {(m["event_id"], m["description"]): m
                for m in rows(RiskMeasure, RiskMeasure.event_id, {e["id"] for e in evs.values()})}
    return objects, units, evs, measures


def _chunks(tree: list[RW.Object], size: int) -> Iterator[list[RW.Object]]:
    """Whole risk objects (with their units, events and measures), about `size` measures per chunk."""
    part: list[RW.Object] = []
    n = 0
    for o in tree:
        part.append(o)
        n += sum(len(e.measures) + 1 for u in o.units.values() for e in u.events.values()) + 1
        if n >= size:
            yield part
            part, n = [], 0
    if part:
        yield part


def _invalid(errors: list) -> RegisterRowsInvalid:
    return RegisterRowsInvalid(
        f"登记表有 {len(errors)} 处错误，未导入任何内容（第一处：第 {errors[0].row} 行 {errors[0].zh}）",
        f"the register has {len(errors)} errors; nothing was imported (first: row {errors[0].row}: {errors[0].en})",
        details=[e.as_dict() for e in errors])


def _active_areas() -> dict[str, int]:
    return {a.code: a.id for a in Area.select(Area.code, Area.id).where(Area.active)}


def template_rows(lang: str = "zh-CN") -> list[list]:
    """The header row (in `lang`) and two example rows: one LEC event with two measures."""
    header = [zh if lang != "en" else en for _, zh, en, _ in RW.COLUMNS]
    ex = [
        {"object_code": "OBJ-T01", "object_name": "甲醇储罐区", "major_hazard": "是", "unit_name": "V-101 甲醇储罐",
         "department": "储运部", "liable_person": "张三", "area_code": "TANK", "event_name": "储罐泄漏引发火灾爆炸",
         "method": "LEC", "l": 3, "e": 6, "c": 40, "res_l": 1, "res_e": 6, "res_c": 40, "measure": "高液位联锁",
         "classify1": 1, "classify2": "1-4", "troubleshoot_content": "联锁投用正常", "check_cycle": 1,
         "check_cycle_unit": "天"},
        {"object_code": "OBJ-T01", "object_name": "甲醇储罐区", "major_hazard": "是", "unit_name": "V-101 甲醇储罐",
         "department": "储运部", "liable_person": "张三", "area_code": "TANK", "event_name": "储罐泄漏引发火灾爆炸",
         "method": "LEC", "l": 3, "e": 6, "c": 40, "res_l": 1, "res_e": 6, "res_c": 40, "measure": "可燃气体检测报警仪",
         "classify1": 4, "classify2": "4-1", "troubleshoot_content": "报警仪在检定期内", "check_cycle": 1,
         "check_cycle_unit": "月"},
    ]
    return [header] + [[r.get(k, "") for k, *_ in RW.COLUMNS] for r in ex]


def template(fmt: str, lang: str = "zh-CN") -> bytes:
    """The import template as XLSX (with a sheet of the codes) or CSV (UTF-8 with BOM)."""
    rows = template_rows(lang)
    if fmt == "csv":
        return spreadsheet.write_csv(rows)
    codes = [["管控措施分类1 / Classification 1", "", "管控措施分类2 / Classification 2", ""]]
    c2 = list(CLASSIFY2.items())
    c1 = list(CLASSIFY1.items())
    for i in range(max(len(c1), len(c2))):
        codes.append([*(c1[i] if i < len(c1) else ("", "")), *(c2[i] if i < len(c2) else ("", ""))])
    codes += [[], ["评价方法 / Method", "LEC: L×E×C; LS: L×S (1–5)"], ["分级标准 / Profile", "LEC: default; LS: A, B"],
              ["周期单位 / Cycle unit", "小时/天/周/月/年 (hour/day/week/month/year; 周 is kept as 7 天)"], ["数据来源 / Data source", "1 自动化监控, 2 隐患排查"]]
    return spreadsheet.write_xlsx([("风险登记 register", rows), ("代码 codes", codes)])
