"""Who is asking and what they may do, at the HTTP edge: the principal of a request (a tablet user's
session or a kiosk's device token), `require(permission)` on views, CSRF on unsafe methods, the
viewer's language and the JSON error shape."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import wraps

from flask import g, jsonify, redirect, request, session, url_for

from appliance.core import auth
from appliance.core.errors import AuthError, Forbidden

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" or "device"
    id: int
    name: str
    role: str

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def read_only(self) -> bool:
        return self.kind == "device"


def lang() -> str:
    """The viewer's language: ?lang=, then the lang cookie, then the site default. Worked out once per request
    (a page's template asks for it once per text: ~1,200 times for the tablet's hazard loop, 60 ms)."""
    if "lang" in g:
        return g.lang
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in ("zh-CN", "en"):
        found = chosen
    elif request.path.startswith("/api/") and request.accept_languages.best_match(["zh-CN", "zh", "en"]) == "en":
        found = "en"
    elif "default_lang" in g:
        found = g.default_lang
    else:
        return "zh-CN"   # before the request's set-up: not remembered
    g.lang = found
    return found


def error_response(code: str, zh: str, en: str, status: int, details=None, headers=None):
    body = {"error": {"code": code, "message": en if lang() == "en" else zh, "messages": {"zh-CN": zh, "en": en}}}
    if details is not None:
        body["error"]["details"] = details
    resp = jsonify(body)
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def current() -> Principal | None:
    return g.get("principal")


def principal() -> Principal:
    """The principal of a view behind `require` (which turns away every request without one)."""
    p = current()
    assert p is not None, "principal() outside a view guarded by require()"
    return p


def require(permission: str):
    """Decorator for views: the caller must hold `permission`; kiosk devices may only read."""

    def deco(fn):
        @wraps(fn)
        def wrapper(*a, **kw):
            p = current()
            if p is None:
                if request.path.startswith("/api/"):
                    raise AuthError("请先登录或提供设备令牌", "log in or present a device token first")
                return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
            if not auth.allowed(p.role, permission) or (
                    p.read_only and request.method not in SAFE_METHODS and permission not in auth.DEVICE_WRITES):
                raise Forbidden(f"角色 {p.role} 无权执行此操作", f"role {p.role} may not do this ({permission})")
            return fn(*a, **kw)

        wrapper.permission = permission  # read by the authorisation-matrix test and the OpenAPI check
        return wrapper

    return deco


def public(fn):
    fn.permission = None
    return fn


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def load_principal() -> None:
    """Who is asking: a device token in the Authorization header, else the session's user or device."""
    g.principal = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        t = auth.device_for_token(header[7:].strip())
        if t is None:
            raise AuthError("设备令牌无效或已吊销", "device token is invalid or revoked", code="bad_token")
        g.principal = Principal("device", t.id, t.name, t.role)
        g.via_header = True
        return
    g.via_header = False
    if "uid" in session:
        u = auth.User.get_or_none((auth.User.id == session["uid"]) & auth.User.active)
        if u is None or session.get("pw") != u.password_hash[-12:] or auth.session_revoked(session.get("sid")):
            session.clear()  # deactivated, password changed or logged out: the old session ends
        else:
            g.principal = Principal("user", u.id, u.login, u.role)
    elif "device" in session:
        t = auth.DeviceToken.get_or_none((auth.DeviceToken.id == session["device"]) & auth.DeviceToken.active)
        if t is None:
            session.clear()
        else:
            g.principal = Principal("device", t.id, t.name, t.role)


def check_csrf() -> None:
    """Unsafe requests riding on a session cookie must echo the session's CSRF token (header or form
    field). Anonymous requests have no session to ride on and get 401 from `require` instead, except the
    login form, which is protected against login CSRF too."""
    if request.method in SAFE_METHODS or g.via_header:
        return
    if g.principal is None and request.endpoint != "ui.login":
        return
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
    expected = session.get("csrf")
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        raise Forbidden("缺少或错误的 CSRF 令牌，请刷新页面后重试", "missing or wrong CSRF token; reload the page and retry",
                        code="csrf_failed")
