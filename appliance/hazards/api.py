"""Hazards: report (anyone on the LAN with a login, anonymously if they wish), dispatch, rectify, accept,
reject; the photos they carry."""
from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace
from typing import cast

from flask import Blueprint, Response, current_app, jsonify, request, send_file

from appliance.core import answers, events, photos
from appliance.core.access import current, principal, require
from appliance.core.api import body
from appliance.core.errors import NotFound, ValidationFailed
from appliance.hazards import duplicates as D
from appliance.hazards import firms as FM
from appliance.hazards import service as H

api_bp = Blueprint("hazards_api", __name__, url_prefix="/api/v1")


def _photo_root():
    return current_app.config["APPLIANCE"].storage.data_dir / "photos"


@api_bp.post("/photos")
@require("hazards.report")
def upload_photo():
    """Multipart field `photo`: checked by decoding, re-encoded, stored by SHA-256; returns the hash."""
    f = request.files.get("photo")
    if f is None:
        raise photos.BadPhoto("photo：缺少照片文件（multipart 字段 photo）", "photo: no file (multipart field photo)",
                              details=[{"key": "photo"}])
    digest = photos.store(f.read(), _photo_root())
    return jsonify({"sha256": digest}), 201


@api_bp.get("/photos/<digest>")
@require("board.read")
def get_photo(digest: str):
    path = photos.path_of(_photo_root(), digest, thumb=request.args.get("thumb") == "1")
    if path is None:
        raise NotFound("照片不存在", "no such photo")
    return send_file(path, mimetype="image/jpeg", max_age=86400)


@api_bp.get("/hazards")
@require("board.read")
def list_hazards():
    state = request.args.get("state")

    def build() -> dict:
        q = H.Hazard.select().order_by(H.Hazard.id.desc())
        if state:
            q = q.where(H.Hazard.state == state)
        # rows as plain namespaces: a peewee model instance costs ~35 descriptor sets per hazard, half of this
        # endpoint's time for the wall board's 500 (issue 14)
        rows = cast(Iterable[dict], q.limit(500).dicts())
        return {"hazards": FM.annotate([H.hazard_dict(SimpleNamespace(**r)) for r in rows])}

    # every wall board asks for the same list: built once per change of a hazard or a firm (every change is
    # written with its hazard.* or contractor.* event), or when the next deadline on it passes (its "overdue"
    # is the only part the clock changes), at the latest after LIST_TTL_S; the gas readings' and alarms'
    # events do not throw it away. Rebuilt every 2 s whatever the deadlines, the 100,000-hazard plant's list
    # took its share of the interpreter from 50 clients' requests (bench/load.py, issue 14).
    return answers.shared_json(f"hazards?state={state or ''}", build, scope=("hazard.", "contractor."),
                               ttl_of=lambda d: until_next_deadline(d["hazards"], events.now_ms()))


LIST_TTL_S = 30.0


def until_next_deadline(hazards: list[dict], now_ms: int, longest_s: float = LIST_TTL_S) -> float:
    """Seconds until the first of these hazards turns overdue (just past its deadline), at most `longest_s`."""
    ahead = [h["deadline"] for h in hazards if h.get("deadline") and not h.get("overdue")
             and h.get("state") != "closed" and h["deadline"] >= now_ms]
    if not ahead:
        return longest_s
    return min(longest_s, (min(ahead) - now_ms + 1) / 1000)


@api_bp.get("/hazards/rules")
@require("board.read")
def list_rules():
    return jsonify({"rules": [{"id": r.id, "area_id": r.area_id, "category": r.category, "assignee": r.assignee}
                              for r in H.DispatchRule.select().order_by(H.DispatchRule.id)]})


@api_bp.post("/hazards/rules")
@require("risks.write")
def add_rule():
    """Set the assignee for new hazards in an area, of a category, or both (replaces the same key)."""
    r = H.add_rule(body(H.RuleIn), actor=current().actor)
    return jsonify({"id": r.id, "area_id": r.area_id, "category": r.category, "assignee": r.assignee}), 201


@api_bp.delete("/hazards/rules/<int:rule_id>")
@require("risks.write")
def remove_rule(rule_id: int):
    """Delete a dispatch rule (hazards it already dispatched keep their assignee)."""
    H.remove_rule(rule_id, actor=principal().actor)
    return "", 204


@api_bp.get("/hazards/rates")
@require("board.read")
def hazard_rates():
    """Over the hazards reported in the last ?days=N (default 30): rectification rate (整改率), on-time rate
    (按期整改率), overdue count and recurrences."""
    from appliance.core import events
    from appliance.core.api import int_arg

    now = events.now_ms()
    days = int_arg("days", 30, 1, 3660)
    return jsonify({"days": days, **H.rates(now - days * 86_400_000, now + 1, now)})


@api_bp.get("/hazards/checklist")
@require("board.read")
def checklist_items():
    """The 20 situations of 安监总管三〔2017〕121号 that are major hazards by themselves (ticking one forces
    the major grade)."""
    from appliance.hazards.checklist import CHECKLIST_121

    return jsonify({"standard": "安监总管三〔2017〕121号",
                    "items": [{"code": i.code, "zh": i.zh, "en": i.en} for i in CHECKLIST_121]})


def _period():
    """?year=YYYY&quarter=1..4 (no quarter: the whole year); the default is the current quarter."""
    from appliance.core import events
    from appliance.core.people import site_timezone
    from appliance.hazards.stats import period_from_args

    tz = site_timezone()
    try:
        year, quarter = period_from_args(request.args, events.now_ms(), tz)
    except ValueError as exc:
        key = str(exc)
        raise ValidationFailed(f"参数 {key} 无效（year 2000..2100，quarter 1..4）",
                               f"parameter {key} is not valid (year 2000..2100, quarter 1..4)",
                               details=[{"key": key}]) from None
    return year, quarter, tz


@api_bp.get("/hazards/statistics")
@require("board.read")
def hazard_statistics():
    """SAWS order 16 Art. 14: the quarterly (or annual) statistics of hazards by grade — found, rectified,
    open, overdue, rectification rate, cost — and the major hazards with their state. ?format=csv or xlsx
    exports the table."""
    year, quarter, tz = _period()
    stats = H.statistics(year, quarter, tz)
    fmt = request.args.get("format", "json")
    if fmt == "json":
        return jsonify(stats)
    from appliance.core import spreadsheet
    from appliance.hazards.export import statistics_rows

    rows = statistics_rows(stats)
    name = f"hazard-statistics-{year}{'-Q' + str(quarter) if quarter else ''}"
    if fmt == "csv":
        return Response(spreadsheet.write_csv(rows), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment; filename={name}.csv"})
    if fmt == "xlsx":
        return Response(spreadsheet.write_xlsx([("隐患统计 statistics", rows)]),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename={name}.xlsx"})
    raise ValidationFailed("参数 format 应为 json、csv 或 xlsx", "parameter format must be json, csv or xlsx",
                           details=[{"key": "format"}])


@api_bp.get("/hazards/<int:hazard_id>")
@require("board.read")
def get_hazard(hazard_id: int):
    return jsonify(FM.annotate([H.hazard_dict(H._get(hazard_id))])[0])


@api_bp.post("/hazards")
@require("hazards.report")
def report_hazard():
    """A new hazard. With an Idempotency-Key header (the forms send one per report), a repeat of the same
    key answers 200 with the hazard filed the first time and files nothing."""
    key = H.check_idempotency_key(request.headers.get("Idempotency-Key"))
    h, created = H.report_once(body(H.ReportIn), actor=current().actor, photo_root=_photo_root(), key=key)
    return jsonify(FM.annotate([H.hazard_dict(h)])[0]), 201 if created else 200


@api_bp.post("/hazards/<int:hazard_id>/dispatch")
@require("hazards.handle")
def dispatch_hazard(hazard_id: int):
    return jsonify(H.hazard_dict(H.dispatch(hazard_id, body(H.DispatchIn), current())))


@api_bp.post("/hazards/<int:hazard_id>/rectify")
@require("hazards.report")
def rectify_hazard(hazard_id: int):
    """By the assignee (any role) or the safety office; the rules check who."""
    return jsonify(H.hazard_dict(H.rectify(hazard_id, body(H.RectifyIn), current(), photo_root=_photo_root())))


@api_bp.post("/hazards/<int:hazard_id>/accept")
@require("hazards.handle")
def accept_hazard(hazard_id: int):
    return jsonify(H.hazard_dict(H.accept(hazard_id, body(H.NoteIn), current())))


@api_bp.post("/hazards/<int:hazard_id>/reject")
@require("hazards.handle")
def reject_hazard(hazard_id: int):
    return jsonify(H.hazard_dict(H.reject(hazard_id, body(H.NoteIn), current())))


@api_bp.post("/hazards/<int:hazard_id>/grade")
@require("hazards.handle")
def regrade_hazard(hazard_id: int):
    """The safety office confirms a different grade than the reporter proposed (一般 ↔ 重大), with a reason."""
    return jsonify(H.hazard_dict(H.regrade(hazard_id, body(H.GradeIn), current())))


@api_bp.post("/hazards/<int:hazard_id>/major-report")
@require("hazards.handle")
def major_report(hazard_id: int):
    """SAWS order 16 Art. 14/15: write or complete a major hazard's report and treatment plan."""
    return jsonify(H.hazard_dict(H.major_report(hazard_id, body(H.MajorReportIn), current())))


@api_bp.post("/hazards/<int:hazard_id>/evaluate")
@require("hazards.handle")
def evaluate_hazard(hazard_id: int):
    """SAWS order 16 Art. 18: record the evaluation of a rectified major hazard (pass: awaits the principal's
    sign-off; fail: back to rectification)."""
    return jsonify(H.hazard_dict(H.evaluate(hazard_id, body(H.EvaluationIn), current(), photo_root=_photo_root())))


@api_bp.post("/hazards/<int:hazard_id>/sign-off")
@require("hazards.report")
def sign_off_hazard(hazard_id: int):
    """SAWS order 16 Art. 18: the principal (a login in hazards.principal_logins, whatever their role) signs
    off an evaluated major hazard, which closes it."""
    return jsonify(H.hazard_dict(H.sign_off(hazard_id, body(H.NoteIn), current())))


@api_bp.get("/hazards/<int:hazard_id>/duplicate-candidates")
@require("hazards.handle")
def duplicate_candidates(hazard_id: int):
    """The likely originals of a hazard (same area and category, reported within a few days), for the
    picker that closes it as a duplicate."""
    return jsonify({"hazards": [H.hazard_dict(h) for h in D.duplicate_candidates(hazard_id)]})


@api_bp.post("/hazards/<int:hazard_id>/duplicate")
@require("hazards.handle")
def mark_duplicate(hazard_id: int):
    """Close a hazard still 待确认 as a duplicate of another, with the reason (issue 15 item 2)."""
    return jsonify(H.hazard_dict(D.mark_duplicate(hazard_id, body(D.DuplicateIn), current())))


@api_bp.post("/hazards/<int:hazard_id>/undo-duplicate")
@require("hazards.handle")
def undo_duplicate(hazard_id: int):
    """Reopen a hazard closed as a duplicate (撤销重复), with the reason: back to 待确认, counted again."""
    return jsonify(H.hazard_dict(D.undo_duplicate(hazard_id, body(D.UndoDuplicateIn), current())))


@api_bp.post("/hazards/<int:hazard_id>/firm")
@require("hazards.handle")
def set_hazard_firm(hazard_id: int):
    """Name the contractor firm involved in a hazard ({"firm_id": id}), or clear it ({"firm_id": null}); the
    firm's evaluation counts the hazards that name it (issue 19)."""
    return jsonify(FM.annotate([H.hazard_dict(H.set_firm(hazard_id, body(FM.FirmIn), current()))])[0])
