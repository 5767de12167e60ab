"""Page blueprint: login, language switch, wall board, tablet, checkpoint screen, admin."""
from __future__ import annotations

import json
import zoneinfo
from datetime import datetime, timezone
from urllib.parse import urlencode, urlparse

from flask import (Blueprint, current_app, make_response, redirect, render_template, request, session,
                   url_for)

from appliance.core import auth, events
from appliance.core import people as P
from appliance.core.errors import ApplianceError
from appliance.core.health import overall
from appliance.core.access import csrf_token, current, lang, public, require

from kiosk_ui import LANGS, catalog, translate

ui = Blueprint("ui", __name__, template_folder="templates")

FEED_SIZE = 25


def template_globals() -> dict:
    return {"t": lambda key, **kw: translate(lang(), key, **kw), "csrf_token": csrf_token, "lang": lang,
            "principal": current, "fmt_time": fmt_time, "area_label": area_label, "component_label": component_label,
            "fmt_value": fmt_value}


def component_label(name: str) -> str:
    """A health component's name for people: drivers are "bus:<name>"."""
    kind, _, rest = name.partition(":")
    if kind in ("bus", "reader", "sync", "camera") and rest:
        return translate(lang(), f"component.{kind}", name=rest)
    return translate(lang(), f"component.{name}")


def fmt_time(ms: int | None, with_date: bool = False) -> str:
    if not ms:
        return "—"
    tz = zoneinfo.ZoneInfo(current_app.config["APPLIANCE"].site.timezone)
    dt = datetime.fromtimestamp(ms / 1000, timezone.utc).astimezone(tz)
    return dt.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def area_label(a: dict) -> str:
    return (a["name_en"] or a["name"]) if lang() == "en" else a["name"]


def error_page(status: int, message: str):
    return make_response(render_template("error.html", status=status, message=message), status)


def _js_catalog() -> dict:
    """Texts the page scripts need (event descriptions, connection states), in the viewer's language."""
    cat = catalog(lang())
    return {k: v for k, v in cat.items() if k.startswith(("ev.", "live.", "cp.", "status.", "component.", "alarm.", "patrol."))}


def _js_json() -> str:
    """The catalogue as JSON safe to embed in a <script> element."""
    return json.dumps(_js_catalog(), ensure_ascii=False).replace("</", "<\\/")


def describe(ev: events.Committed) -> str:
    """One line for the board's feed, like the page script renders live events."""
    values = {k: v for k, v in ev.payload.items() if isinstance(v, (str, int, float))}
    if isinstance(ev.payload.get("level"), int):  # 一级报警 / Level 1 alarm, as the banner says it
        values["level_name"] = translate(lang(), f"alarm.level{ev.payload['level']}")
    if isinstance(ev.payload.get("result"), int):  # a check record's CHECK_STATUS in words
        values["result_name"] = translate(lang(), f"patrol.check{ev.payload['result']}")
    if isinstance(ev.payload.get("bucket"), str):  # a patrol round's outcome in words
        values["bucket_name"] = translate(lang(), f"patrol.b.{ev.payload['bucket']}")
    key = f"ev.{ev.type}"
    return translate(lang(), key, **values) if key in catalog("zh-CN") else ev.type


def _site_view() -> dict:
    cfg = current_app.config["APPLIANCE"]
    s = P.Site.get_or_none(P.Site.id == 1)
    if s is None:
        return {"name": cfg.site.name, "name_en": cfg.site.name_en, "timezone": cfg.site.timezone,
                "plan_width": 1600, "plan_height": 900}
    return P.site_dict(s)


def _plan_areas() -> list[dict]:
    from appliance.hazards.service import open_by_area
    from appliance.risk.register import area_levels

    levels = area_levels()  # the four-colour map: each area's most severe risk level
    hazards = open_by_area()
    out = []
    for a in P.Area.select().where(P.Area.active).order_by(P.Area.code):
        d = P.area_dict(a)
        d["risk"] = levels.get(a.id)
        d["hazards"] = hazards.get(a.id, 0)
        pts = d["polygon"]
        if isinstance(pts, list) and len(pts) >= 3:
            d["points"] = " ".join(f"{x:g},{y:g}" for x, y in pts)
            d["cx"] = sum(x for x, _ in pts) / len(pts)
            d["cy"] = min(y for _, y in pts) + 44  # label along the top edge, leaving room for detectors
            d["bx"] = max(x for x, _ in pts) - 36   # open-hazard badge in the top-right corner
            d["by"] = min(y for _, y in pts) + 36
            d["ox"] = min(x for x, _ in pts) + 46   # live overlays: gas alarms top-left, PPE bottom-left
            d["oy"] = min(y for _, y in pts) + 46
            d["py"] = max(y for _, y in pts) - 46
            out.append(d)
    return out


@ui.before_request
def _device_login_from_query():
    """A kiosk URL may carry ?token=: trade it for a session cookie and drop it from the address bar."""
    token = request.args.get("token")
    if not token or request.method != "GET":
        return None
    t = auth.device_for_token(token)
    if t is None:
        return error_page(401, translate(lang(), "error.bad_token"))
    session.clear()
    session.permanent = True
    session["device"] = t.id
    rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    return redirect(request.path + ("?" + urlencode(rest) if rest else ""))


def _safe_next(target: str | None) -> str:
    if not target:
        return ""
    u = urlparse(target)
    return target if not u.scheme and not u.netloc and target.startswith("/") else ""


@ui.get("/")
@public
def index():
    p = current()
    if p is None:
        return redirect(url_for("ui.login"))
    return redirect(url_for("ui.kiosk" if p.kind == "device" else "ui.tablet"))


@ui.route("/login", methods=["GET", "POST"])
@public
def login():
    error = None
    nxt = _safe_next(request.values.get("next"))
    if request.method == "POST":
        runtime = current_app.extensions["appliance"]
        name = request.form.get("login", "").strip()[:40]
        password = request.form.get("password", "")
        keys = (f"ip:{request.remote_addr}", f"login:{name.lower()}")
        try:
            runtime.limiter.check(*keys)
        except ApplianceError as exc:
            resp = make_response(render_template("auth/login.html", error=exc.message(lang()), next=nxt), 429)
            resp.headers["Retry-After"] = str(exc.retry_after)
            return resp
        user = auth.authenticate(name, password) if name and password else None
        if user is None:
            runtime.limiter.failed(*keys)
            error = translate(lang(), "login.failed")
        else:
            runtime.limiter.succeeded(*keys)
            session.clear()
            session.permanent = True
            session["uid"] = user.id
            session["pw"] = user.password_hash[-12:]
            csrf_token()
            return redirect(nxt or url_for("ui.admin" if user.role == "admin" else "ui.tablet"))
    return render_template("auth/login.html", error=error, next=nxt), (401 if error else 200)


@ui.post("/logout")
@public
def logout():
    session.clear()
    return redirect(url_for("ui.login"))


@ui.get("/lang/<code>")
@public
def set_lang(code: str):
    if code not in LANGS:
        code = "zh-CN"
    resp = redirect(_safe_next(request.args.get("next")) or url_for("ui.index"))
    resp.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax")
    return resp


def _points() -> list[dict]:
    sensors = current_app.extensions["appliance"].sensors
    return sensors.view() if sensors is not None else []


def fmt_value(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def _recent_taps(n: int = 8) -> list[events.Committed]:
    """The latest taps for the board's patrol panel, newest first, as the page script renders live ones."""
    rows = events.Event.select().where(events.Event.type == "patrol.tap").order_by(events.Event.seq.desc()).limit(n).dicts()
    return [events.Committed.from_row(r) for r in rows]


def _board_context() -> dict:
    # The feed is the event log: only roles that may read the log see it (and get the live stream).
    can_events = auth.allowed(current().role, "events.read")
    recent = events.read_after(max(0, events.head_seq() - FEED_SIZE), FEED_SIZE) if can_events else []
    return {"can_events": can_events, "site": _site_view(), "areas": _plan_areas(), "head": events.head_seq(), "points": _points(),
            "feed": [(e, describe(e)) for e in reversed(recent)],
            "js_i18n": _js_json(), "can_patrol": auth.allowed(current().role, "patrol.read"),
            "recent_taps": _recent_taps() if auth.allowed(current().role, "patrol.read") else [],
            "health": overall(current_app.extensions["appliance"]), **_camera_context()}


def _camera_context() -> dict:
    """The board's camera tiles and its feed of open hard-hat violations (none without cameras)."""
    from appliance.vision.violations import Violation, violation_dict

    cams = current_app.config["APPLIANCE"].cameras
    if not cams:
        return {"cameras": [], "violations": []}
    recent = Violation.select().where(Violation.state == "open").order_by(Violation.id.desc()).limit(4)
    return {"cameras": [{"name": c.name, "title": c.title or c.name} for c in cams],
            "violations": [violation_dict(v) for v in recent]}


@ui.get("/kiosk")
@require("board.read")
def kiosk():
    return render_template("kiosk/board.html", **_board_context())


@ui.get("/checkpoint/<reader>")
@require("board.read")
def checkpoint(reader: str):
    if len(reader) > 64:
        return error_page(404, translate(lang(), "error.not_found"))
    return render_template("checkpoint/screen.html", reader=reader, site=_site_view(), head=events.head_seq(),
                           js_i18n=_js_json(), can_answer=auth.allowed(current().role, "patrol.answer") and (
                               current().kind != "device" or current().name == reader))


@ui.get("/tablet")
@require("tablet.use")
def tablet():
    ctx = _board_context()
    return render_template("tablet/home.html", **ctx)


@ui.get("/tablet/people")
@require("people.read")
def tablet_people():
    people = list(P.Person.select().order_by(P.Person.active.desc(), P.Person.employee_no))
    badges: dict[int, list] = {}
    for b in P.Badge.select().order_by(P.Badge.id):
        badges.setdefault(b.person_id, []).append(b)
    can_write = auth.allowed(current().role, "people.write")
    return render_template("tablet/people.html", people=people, badges=badges, can_write=can_write)


@ui.get("/tablet/alarms")
@require("tablet.use")
def tablet_alarms():
    from appliance.gas.sensors import Alarm, alarm_dict

    active = [alarm_dict(a) for a in Alarm.select().where(Alarm.cleared_at.is_null() | Alarm.acked_at.is_null())
              .order_by(Alarm.acked_at.is_null().desc(), Alarm.level.desc(), Alarm.raised_at.desc())]
    pts = {p["id"]: p for p in _points()}
    sensors = current_app.extensions["appliance"].sensors
    return render_template("tablet/alarms.html", alarms=active, points=pts,
                           load=sensors.load() if sensors is not None else None,
                           can_ack=auth.allowed(current().role, "alarms.ack"),
                           can_shelve=auth.allowed(current().role, "alarms.shelve"))


@ui.get("/tablet/hazards")
@require("tablet.use")
def tablet_hazards():
    from appliance.hazards import service as H

    me = current()
    role = me.role
    hazards = [H.hazard_dict(h) for h in H.Hazard.select().order_by(
        (H.Hazard.state == "closed").asc(), H.Hazard.id.desc()).limit(100)]
    areas = {a.id: a for a in P.Area.select()}
    users = [u.login for u in auth.User.select().where(auth.User.active & (auth.User.role != "kiosk"))]
    return render_template("tablet/hazards.html", hazards=hazards, areas=areas, users=users, me=me.actor,
                           categories=H.CATEGORIES, can_handle=auth.allowed(role, "hazards.handle"),
                           can_report=auth.allowed(role, "hazards.report"))


@ui.get("/tablet/risks")
@require("tablet.use")
def tablet_risks():
    """The risk register as a tree (object → unit → event → measures), levels coloured; the safety office
    imports the plant's spreadsheet here, seeing the dry-run report row by row before confirming."""
    from appliance.risk import register as R

    areas = {a.id: P.area_dict(a) for a in P.Area.select()}
    return render_template("tablet/risks.html", objects=R.register(), areas=areas, classify1=R.CLASSIFY1,
                           can_import=auth.allowed(current().role, "risks.write"))


@ui.get("/tablet/risks/labels")
@require("tablet.use")
def tablet_qr_labels():
    """QR labels to print and stick on equipment and at area entrances: a photo of one in a hazard report
    chooses the area (appliance/qr.py has the format)."""
    from appliance.risk import qr
    from appliance.risk import register as R

    areas = [P.area_dict(a) for a in P.Area.select().where(P.Area.active).order_by(P.Area.code)]
    by_id = {a["id"]: a for a in areas}
    objects = [{"code": o.code, "name": o.name, "area": by_id.get(o.area_id)}
               for o in R.RiskObject.select().where(R.RiskObject.active).order_by(R.RiskObject.code)]
    return render_template("tablet/labels.html", areas=areas, objects=objects, label_text=qr.label_text)


@ui.get("/tablet/hazards/rules")
@require("tablet.use")
def tablet_hazard_rules():
    """Automatic dispatch rules: area → responsible person, category → specialist (a new rule for the same
    key replaces the old one)."""
    from appliance.hazards import service as H

    rules = list(H.DispatchRule.select().order_by(H.DispatchRule.area_id.is_null(), H.DispatchRule.area_id,
                                                  H.DispatchRule.category))
    areas = {a.id: P.area_dict(a) for a in P.Area.select()}
    users = [u.login for u in auth.User.select().where(auth.User.active & (auth.User.role != "kiosk"))
             .order_by(auth.User.login)]
    return render_template("tablet/rules.html", rules=rules, areas=areas, users=users, categories=H.CATEGORIES,
                           can_edit=auth.allowed(current().role, "risks.write"))


@ui.get("/tablet/violations")
@require("tablet.use")
def tablet_violations():
    """Hard-hat violations to confirm (→ a hazard with the snapshot) or reject (→ a training example)."""
    from appliance.vision.violations import Violation, violation_dict

    pending = [violation_dict(v) for v in Violation.select().where(Violation.state == "open")
               .order_by(Violation.id.desc()).limit(100)]
    decided = [violation_dict(v) for v in Violation.select().where(Violation.state != "open")
               .order_by(Violation.decided_at.desc()).limit(20)]
    areas = list(P.Area.select().where(P.Area.active).order_by(P.Area.code))
    return render_template("tablet/violations.html", pending=pending, decided=decided, areas=areas,
                           can_handle=auth.allowed(current().role, "hazards.handle"))


@ui.get("/tablet/patrol")
@require("tablet.use")
def tablet_patrol():
    from appliance.risk import tasks as CT
    from appliance.patrol import service as PT

    role = current().role
    tasks = [CT.task_dict(t) for t in CT.ControlTask.select().where(CT.ControlTask.status == "open")
             .order_by(CT.ControlTask.period_end).limit(200)]
    suspicious = [PT.round_dict(r) for r in PT.Round.select().where(
        PT.Round.closed & PT.Round.suspicious & PT.Round.reviewed_by.is_null()).order_by(PT.Round.due_start.desc()).limit(50)] \
        if auth.allowed(role, "patrol.read") else []
    checkpoints = [PT.checkpoint_dict(c) for c in PT.Checkpoint.select().order_by(PT.Checkpoint.code)]
    routes = [PT.route_dict(r) for r in PT.Route.select().order_by(PT.Route.code)]
    js = {**_js_catalog(), "saved": translate(lang(), "form.saved"), "error": translate(lang(), "form.error")}
    now = events.now_ms()
    can_read = auth.allowed(role, "patrol.read")   # rounds and who walked them: the shift and the office
    today = PT.rounds_of_day() if can_read else []
    started = [r for r in today if r["due_start"] <= now][::-1]   # newest first; the future ones are counted
    upcoming = [r for r in today if r["due_start"] > now]
    return render_template(
        "tablet/patrol.html", rounds=started[:60], upcoming=len(upcoming),
        next_round=upcoming[0]["due_start"] if upcoming else None, suspicious=suspicious, checkpoints=checkpoints, routes=routes,
        plans=[PT.plan_dict(p) for p in PT.Plan.select().order_by(PT.Plan.id)],
        areas={a.id: a for a in P.Area.select().where(P.Area.active)},
        cp_codes={c["id"]: c["code"] for c in checkpoints}, cp_codes_rev={c["code"]: c["id"] for c in checkpoints},
        route_names={r["id"]: r["name"] for r in routes}, site_tz=_site_view()["timezone"],
        last_seen=PT.last_seen() if auth.allowed(role, "people.read") else None,
        can_write=auth.allowed(role, "patrol.write"), can_review=auth.allowed(role, "patrol.review"),
        tasks=tasks, can_check=auth.allowed(role, "hazards.report"), can_read=can_read,
        js_i18n=json.dumps(js, ensure_ascii=False).replace("</", "<\\/"))


@ui.get("/admin")
@require("admin.use")
def admin():
    users = list(auth.User.select().order_by(auth.User.login))
    tokens = list(auth.DeviceToken.select().order_by(auth.DeviceToken.name))
    runtime = current_app.extensions["appliance"]
    # sections that other packages add to this page (sync: the endpoints' status and dead letters)
    extra: dict = {"sync_endpoints": [], "dead_letters": []}
    for provide in current_app.config.get("ADMIN_CONTEXT", ()):
        extra.update(provide())
    return render_template("admin/index.html", users=users, tokens=tokens, roles=auth.ROLES,
                           health=overall(runtime), **extra)
