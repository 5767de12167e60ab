"""Users, kiosk device tokens and on-demand backups (admin only)."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify
from pydantic import Field

from appliance.core import auth, db
from appliance.core.access import current, principal, require
from appliance.core.api import body
from appliance.core.people import Input

api_bp = Blueprint("admin_api", __name__, url_prefix="/api/v1")


class TokenIn(Input):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")


@api_bp.get("/users")
@require("users.read")
def list_users():
    return jsonify({"users": [auth.user_dict(u) for u in auth.User.select().order_by(auth.User.login)]})


@api_bp.post("/users")
@require("users.write")
def create_user():
    cfg = current_app.config["APPLIANCE"]
    u = auth.create_user(body(auth.UserIn), actor=current().actor, min_password_length=cfg.auth.min_password_length)
    return jsonify(auth.user_dict(u)), 201


@api_bp.patch("/users/<int:user_id>")
@require("users.write")
def patch_user(user_id: int):
    cfg = current_app.config["APPLIANCE"]
    u = auth.update_user(user_id, body(auth.UserUpdate), actor=principal().actor,
                         min_password_length=cfg.auth.min_password_length)
    return jsonify(auth.user_dict(u))


@api_bp.get("/device-tokens")
@require("tokens.write")
def list_tokens():
    rows = auth.DeviceToken.select().order_by(auth.DeviceToken.name)
    return jsonify({"device_tokens": [{"id": t.id, "name": t.name, "role": t.role, "active": bool(t.active),
                                       "last_used_at": auth.token_use.last(t.id, t.last_used_at)} for t in rows]})


@api_bp.post("/device-tokens")
@require("tokens.write")
def create_token():
    data = body(TokenIn)
    token = auth.create_device_token(data.name, actor=current().actor)
    return jsonify({"name": data.name, "role": "kiosk", "token": token}), 201


@api_bp.delete("/device-tokens/<int:token_id>")
@require("tokens.write")
def revoke_token(token_id: int):
    auth.revoke_device_token(token_id, actor=principal().actor)
    return "", 204


@api_bp.post("/backup")
@require("admin.backup")
def make_backup():
    store = current_app.config["APPLIANCE"].storage
    dest = store.backup_dir / f"backup-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.db"
    db.backup(store.db_path, dest)
    return jsonify({"path": str(dest), "bytes": dest.stat().st_size}), 201
