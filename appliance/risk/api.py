"""The risk register (objects → units → events → measures) and the four-colour risk map."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from appliance.core import answers, photos
from appliance.core.access import current, lang, principal, require
from appliance.core.api import body
from appliance.core.errors import NotFound, ValidationFailed
from appliance.core.spreadsheet import BadSpreadsheet
from appliance.risk import export as RX
from appliance.risk import importer as RI
from appliance.risk import major as MH
from appliance.risk import qr
from appliance.risk import register as R
from appliance.risk import settings as RS

api_bp = Blueprint("risk_api", __name__, url_prefix="/api/v1")


@api_bp.get("/risk/register")
@require("board.read")
def risk_register():
    """The whole register tree, kept until the next risk.* event (every change to the register is written with
    one) or a change of the LEC cut-offs it is graded by: building it for 5,000 measures takes 80–180 ms on two
    cores, and the log's head moves every second with the gas readings (bench/hazard_board.py, issue 14)."""
    return answers.shared_json(f"risk/register:{sorted(RS.lec_profiles().items())}",
                               lambda: {"objects": R.register()}, ttl_s=600, scope="risk.")


@api_bp.get("/risk/map")
@require("board.read")
def risk_map():
    """Each area with the most severe level of its risk events: 1 重大 red … 4 低 blue, or null."""
    # the same for every board; built from risk records, open hazards and areas (each change written with its
    # risk.*, hazard.* or area.* event), so the gas readings' and alarms' events do not throw it away
    # nothing on the map moves with the clock (levels, open hazards per area): kept until a risk, hazard or area
    # event, or 30 s (rebuilt every 2 s, its count of the open hazards of a 100,000-hazard plant took its share
    # of the interpreter under 50 clients: bench/load.py, issue 14)
    return answers.shared_json("risk/map", lambda: {"areas": R.risk_map()}, 30.0, scope=("risk.", "hazard.", "area."))


@api_bp.post("/risk/objects")
@require("risks.write")
def create_object():
    o = R.create_object(body(R.ObjectIn), actor=current().actor)
    return jsonify({"id": o.id, "code": o.code}), 201


@api_bp.post("/risk/units")
@require("risks.write")
def create_unit():
    return jsonify({"id": R.create_unit(body(R.UnitIn), actor=current().actor).id}), 201


@api_bp.post("/risk/events")
@require("risks.write")
def create_event():
    return jsonify(R.event_dict(R.create_event(body(R.EventIn), actor=current().actor))), 201


@api_bp.post("/risk/measures")
@require("risks.write")
def create_measure():
    return jsonify({"id": R.create_measure(body(R.MeasureIn), actor=current().actor).id}), 201


@api_bp.post("/risks/import")
@require("risks.write")
def import_register():
    """Multipart field `file` (XLSX or CSV, one row per control measure). `?dry_run=1` reports every bad
    row and what would change; without it a file with any bad row writes nothing, and a good one is written in
    short transactions of whole risk objects (gas alarms' writes go between them)."""
    f = request.files.get("file")
    if f is None:
        raise BadSpreadsheet("file：缺少文件（multipart 字段 file）", "file: no file (multipart field file)",
                             details=[{"key": "file"}])
    dry = request.args.get("dry_run", "0") in ("1", "true", "yes")
    report = RI.import_register(f.read(), actor=current().actor, dry_run=dry, filename=f.filename or "")
    return jsonify(report), 200 if dry else 201


@api_bp.get("/risks/import/template")
@require("risks.write")
def import_template():
    """The import template: `?format=xlsx` (default, with a sheet of codes) or `csv`; headers in `?lang=`."""
    fmt = request.args.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        raise ValidationFailed("format 应为 xlsx 或 csv", "format must be xlsx or csv", details=[{"key": "format"}])
    mime = "text/csv; charset=utf-8" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(RI.template(fmt, lang()), mimetype=mime,
                    headers={"Content-Disposition": f'attachment; filename="risk-register-template.{fmt}"'})


@api_bp.get("/risks/export")
@require("board.read")
def export_register():
    """The register as a spreadsheet (`?format=xlsx`, default, or `csv`; headers in `?lang=`): one row per
    control measure in the import's columns plus the levels; the XLSX adds the major hazard installations."""
    fmt = request.args.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        raise ValidationFailed("format 应为 xlsx 或 csv", "format must be xlsx or csv", details=[{"key": "format"}])
    mime = "text/csv; charset=utf-8" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(RX.export(fmt, lang()), mimetype=mime,
                    headers={"Content-Disposition": f'attachment; filename="risk-register.{fmt}"'})


@api_bp.get("/risk/major-hazards")
@require("board.read")
def list_major_hazards():
    """Major hazard installations (重大危险源) with their substances, Σq/Q, α, R and level (GB 18218-2018);
    `?retired=1` includes retired ones."""
    return jsonify({"installations": MH.installations(request.args.get("retired", "0") in ("1", "true"))})


@api_bp.post("/risk/major-hazards")
@require("risks.write")
def create_major_hazard():
    return jsonify(MH.create(body(MH.InstallationIn), actor=current().actor)), 201


@api_bp.get("/risk/major-hazards/<int:installation_id>")
@require("board.read")
def get_major_hazard(installation_id: int):
    return jsonify(MH.get(installation_id))


@api_bp.put("/risk/major-hazards/<int:installation_id>")
@require("risks.write")
def update_major_hazard(installation_id: int):
    """Replace an installation's fields and its whole substance list."""
    return jsonify(MH.update(installation_id, body(MH.InstallationIn), actor=principal().actor))


@api_bp.delete("/risk/major-hazards/<int:installation_id>")
@require("risks.write")
def retire_major_hazard(installation_id: int):
    """Retire an installation (dismantled or emptied for good); its record and history stay."""
    return jsonify(MH.retire(installation_id, actor=principal().actor))


@api_bp.post("/hazards/locate")
@require("hazards.report")
def locate_area():
    """Multipart field `photo`: the area named by the QR label of the equipment in it (SA:AREA:<code> or
    SA:EQ:<risk object code>, see appliance/risk/qr.py), or the reason there is none. Nothing is stored."""
    f = request.files.get("photo")
    if f is None:
        raise photos.BadPhoto("photo：缺少照片文件（multipart 字段 photo）", "photo: no file (multipart field photo)",
                              details=[{"key": "photo"}])
    return jsonify(qr.locate(f.read()))


@api_bp.get("/labels/<kind>/<code>.png")
@require("board.read")
def qr_label(kind: str, code: str):
    """The printable QR label of an area (`kind` area) or a piece of equipment (`kind` equipment: a risk
    object's code), as PNG; 404 for a code that is not on record, so labels are only made for real places."""
    from appliance.core.people import Area
    from appliance.risk.register import RiskObject

    models: dict[str, type[Area] | type[RiskObject]] = {"area": Area, "equipment": RiskObject}
    model = models.get(kind)
    if model is None or qr.parse_label(qr.label_text(kind, code)) is None or \
            model.get_or_none((model.code == code) & model.active) is None:
        raise NotFound("没有该区域或设备", "no such area or equipment")
    return Response(qr.label_png(qr.label_text(kind, code)), mimetype="image/png",
                    headers={"Cache-Control": "max-age=3600"})
