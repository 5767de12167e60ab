"""The risk register (objects → units → events → measures) and the four-colour risk map."""
from __future__ import annotations

from flask import jsonify

from .. import risks as R
from ..web import current, require
from . import api_bp, body


@api_bp.get("/risk/register")
@require("board.read")
def risk_register():
    return jsonify({"objects": R.register()})


@api_bp.get("/risk/map")
@require("board.read")
def risk_map():
    """Each area with the most severe level of its risk events: 1 重大 red … 4 低 blue, or null."""
    return jsonify({"areas": R.risk_map()})


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
