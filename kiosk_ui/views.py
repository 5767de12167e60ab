"""The shell's page blueprint: login, logout, language switch, wall board, tablet home, people, admin; the
template globals every page uses (the domains' pages too) and the device login from a kiosk URL's ?token=."""
from __future__ import annotations

import functools
import json
import zoneinfo
from datetime import UTC, datetime
from typing import cast
from urllib.parse import urlencode, urlparse

from flask import current_app, make_response, redirect, render_template, request, session, url_for

from appliance.core import answers, auth, events, names
from appliance.core import people as P
from appliance.core.access import csrf_token, current, lang, public, require
from appliance.core.domain import registered, registered_count
from appliance.core.errors import ApplianceError
from appliance.core.health import overall
from appliance.core.pages import PageBlueprint, site_view
from kiosk_ui import LANGS, catalog, translate

ui = PageBlueprint("ui", __name__, template_folder="templates")

FEED_SIZE = 25


def template_globals() -> dict:
    return {"t": lambda key, **kw: translate(lang(), key, **kw), "csrf_token": csrf_token, "lang": lang,
            "principal": current, "fmt_time": fmt_time, "area_label": area_label, "component_label": component_label,
            "fmt_value": fmt_value, "js_texts": js_texts, "nav_links": nav_links, "actor_label": actor_label,
            "tz_label": tz_label}


def render_globals() -> dict:
    """`t` and `fmt_time` bound once per page to its language, catalogues and time zone (a context processor):
    the globals work those out again for each of a page's texts and times, ~1,200 of them on the tablet's
    hazard page (issue 14). Same results as the globals."""
    lang_ = lang()
    primary, fallback = catalog(lang_), catalog("zh-CN")
    tz = zoneinfo.ZoneInfo(current_app.config["APPLIANCE"].site.timezone)

    def t(key: str, **values) -> str:
        text = primary.get(key) or fallback.get(key) or key
        for k, v in values.items():
            text = text.replace("{" + k + "}", str(v))
        return text

    def fmt(ms: int | None, with_date: bool = False) -> str:
        if not ms:
            return "—"
        return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")

    return {"t": t, "fmt_time": fmt}


def actor_label(actor: str | None) -> str:
    """Who did it, for people (issue 15: never "user:wangfang"): a user's display name, else a translated
    label of the actor's kind ("系统", "读卡器 GATE", "屏幕 kiosk")."""
    return names.actor_label(actor, lambda key, **kw: translate(lang(), key, **kw))


def event_names(ev: events.Committed) -> dict[str, str]:
    """The words that replace an event's ids on this page, as the live stream sends them (`names`)."""
    cams = {c.name: (c.title or c.name) for c in current_app.config["APPLIANCE"].cameras or []}
    return names.event_names(ev.actor, ev.payload, lambda key, **kw: translate(lang(), key, **kw), lang(), cams)


def tz_label() -> str:
    """The plant's time zone as times are labelled with it ("北京时间 (Asia/Shanghai)")."""
    return translate(lang(), "time.zone", tz=current_app.config["APPLIANCE"].site.timezone)


def nav_links() -> list:
    """The registered domains' links for the top bar (`Domain.nav`) whose pages this app serves, in order."""
    links = [link for d in registered() for link in d.nav
             if link.endpoint.partition(".")[0] in current_app.blueprints]
    return sorted(links, key=lambda link: link.order)


def component_label(name: str) -> str:
    """A health component's name for people: drivers are "bus:<name>"."""
    kind, _, rest = name.partition(":")
    if kind == "camera" and rest:  # by its title, as on its tile
        rest = next((c.title or c.name for c in current_app.config["APPLIANCE"].cameras or [] if c.name == rest), rest)
    if kind in ("bus", "reader", "sync", "camera") and rest:
        return translate(lang(), f"component.{kind}", name=rest)
    return translate(lang(), f"component.{name}")


def fmt_time(ms: int | None, with_date: bool = False) -> str:
    if not ms:
        return "—"
    tz = zoneinfo.ZoneInfo(current_app.config["APPLIANCE"].site.timezone)
    dt = datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz)
    return dt.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def area_label(a: dict) -> str:
    return (a["name_en"] or a["name"]) if lang() == "en" else a["name"]


def error_page(status: int, message: str):
    return make_response(render_template("error.html", status=status, message=message), status)


_JS_PREFIXES = ("ev.", "live.", "cp.", "status.", "component.", "alarm.", "patrol.", "trend.", "board.no_")


def _js_catalog() -> dict:
    """Texts the page scripts need (event descriptions, connection states), in the viewer's language."""
    return _js_part(lang(), registered_count())[0]


@functools.lru_cache(maxsize=8)
def _js_part(lang_: str, _domains: int) -> tuple[dict, str]:
    """`_js_catalog` and its JSON, once per catalogue (as `catalog`: per language and set of domains): every
    board and tablet page embedded them, 9 % of the wall board's rendering (py-spy, issue 14)."""
    part = {k: v for k, v in catalog(lang_).items() if k.startswith(_JS_PREFIXES)}
    return part, _script_json(part)


def _script_json(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def js_texts(**extra: str) -> str:
    """The texts the page scripts need (`_js_catalog`, then `extra`) as JSON safe to embed in a <script>
    element (a template global: `{{ js_texts(saved=t('form.saved'))|safe }}`)."""
    part, text = _js_part(lang(), registered_count())
    return _script_json({**part, **extra}) if extra else text


def describe(ev: events.Committed, shown: dict[str, str] | None = None) -> str:
    """One line for the board's feed, like the page script renders live events: ids replaced by the names
    in `shown` (`event_names`)."""
    values = {k: v for k, v in ev.payload.items() if isinstance(v, (str, int, float))}
    values.update(shown if shown is not None else event_names(ev))
    if isinstance(ev.payload.get("level"), int):  # 一级报警 / Level 1 alarm, as the banner says it
        values["level_name"] = translate(lang(), f"alarm.level{ev.payload['level']}")
    if isinstance(ev.payload.get("result"), int):  # a check record's CHECK_STATUS in words
        values["result_name"] = translate(lang(), f"patrol.check{ev.payload['result']}")
    if isinstance(ev.payload.get("bucket"), str):  # a patrol round's outcome in words
        values["bucket_name"] = translate(lang(), f"patrol.b.{ev.payload['bucket']}")
    key = f"ev.{ev.type}"
    return translate(lang(), key, **values) if key in catalog("zh-CN") else ev.type


def _plan_areas() -> list[dict]:
    """The plan's areas with their risk colour and open hazards: the same for every board, built once per
    change (core/answers.py)."""
    return answers.shared("board:plan-areas", _build_plan_areas)


LABEL_PX = 40            # .area-label's font size in plan units (static/css/app.css)
BADGE_CLEAR = 72         # the open-hazard badge's width from an area's right edge, with a margin


def label_width(text: str) -> float:
    """The label's width in plan units, estimated: a CJK character is square, Latin about half as wide."""
    return sum(LABEL_PX if ord(ch) >= 0x2E80 else LABEL_PX * 0.56 for ch in text)


def label_y(left: float, right: float, top: float, text: str) -> float:
    """The label's baseline centre: along the top edge, or below the badge row when the label (centred) would
    run under the top-right hazard badge of a narrow area (中控室 beside its ⚠3 on the wall board)."""
    half = label_width(text) / 2
    return top + 44 if (left + right) / 2 + half <= right - BADGE_CLEAR else top + 44 + 64


def _build_plan_areas() -> list[dict]:
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
            xs, top = [x for x, _ in pts], min(y for _, y in pts)
            # the label along the top edge (leaving room for detectors), below the badge where it would not fit
            d["cy"] = label_y(min(xs), max(xs), top, d["name"])
            d["cy_en"] = label_y(min(xs), max(xs), top, d["name_en"] or d["name"])
            d["bx"] = max(x for x, _ in pts) - 36   # open-hazard badge in the top-right corner
            d["by"] = min(y for _, y in pts) + 36
            d["ox"] = min(x for x, _ in pts) + 46   # live overlays: gas alarms top-left, PPE bottom-left
            d["oy"] = min(y for _, y in pts) + 46
            d["py"] = max(y for _, y in pts) - 46
            out.append(d)
    return out


def device_login_from_query():
    """A kiosk URL may carry ?token=: trade it for a session cookie and drop it from the address bar (on every
    page: the shell's and each domain's `PageBlueprint`, their static files aside)."""
    token = request.args.get("token")
    if not token or request.method != "GET":
        return None
    if not isinstance(current_app.blueprints.get(request.blueprint or ""), PageBlueprint) \
            or request.endpoint.endswith(".static"):
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
        ip, who = request.remote_addr or "?", name.lower()
        try:
            runtime.limiter.check(ip, who, known_device=who in _known_logins())
        except ApplianceError as exc:
            resp = make_response(render_template("auth/login.html", error=exc.message(lang()), next=nxt), 429)
            resp.headers["Retry-After"] = str(exc.retry_after)
            return resp
        user = auth.authenticate(name, password) if name and password else None
        if user is None:
            runtime.limiter.failed(ip, who)
            # the audit trail of guessing: at most the limiter's few attempts per window reach this line
            events.record("auth.login_failed", actor=f"address:{ip}", payload={"login": name, "address": ip})
            error = translate(lang(), "login.failed")
        else:
            runtime.limiter.succeeded(ip, who)
            session.clear()
            session.permanent = True
            session["uid"] = user.id
            session["pw"] = user.password_hash[-12:]
            session["sid"] = auth.new_session_id()
            csrf_token()
            resp = redirect(nxt or url_for("ui.admin" if user.role == "admin" else "ui.tablet"))
            _remember_login(resp, who)
            return resp
    if error is None and urlparse(nxt).path == url_for("ui.kiosk") and not request.args.get("person"):
        # a wall board opened without its screen token (issue 15 item 10): say what it needs, not a bare
        # password form; a person may still log in by the small link
        return render_template("auth/screen_token.html", person_login=url_for("ui.login", next=nxt, person=1))
    return render_template("auth/login.html", error=error, next=nxt), (401 if error else 200)


@ui.post("/logout")
@public
def logout():
    if "uid" in session and session.get("sid"):
        # server-side: a copy of this session cookie stops working too
        auth.revoke_session(session["sid"], session["uid"], current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() / 3600)
    session.clear()
    return redirect(url_for("ui.login"))


# A browser that has logged in as a user before (the supervisor's tablet, the control-room kiosk) is known
# for that user: the per-name delay of the login limiter does not apply to it (auth.LoginLimiter).
KNOWN_COOKIE = "sa_known"
KNOWN_MAX_AGE_S = 365 * 86_400


def _known_serializer():
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(current_app.secret_key, salt="known-device")


def _known_logins() -> list[str]:
    raw = request.cookies.get(KNOWN_COOKIE)
    if not raw:
        return []
    try:
        value = _known_serializer().loads(raw)
    except Exception:  # tampered or from another appliance: not known
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _remember_login(resp, login: str) -> None:
    known = [login] + [v for v in _known_logins() if v != login]
    resp.set_cookie(KNOWN_COOKIE, _known_serializer().dumps(known[:5]), max_age=KNOWN_MAX_AGE_S, httponly=True,
                    samesite="Lax", secure=request.is_secure)


@ui.get("/lang/<code>")
@public
def set_lang(code: str):
    if code not in LANGS:
        code = "zh-CN"
    resp = redirect(_safe_next(request.args.get("next")) or url_for("ui.index"))
    resp.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax", secure=request.is_secure)
    return resp


def _points() -> list[dict]:
    sensors = current_app.extensions["appliance"].sensors
    return sensors.view() if sensors is not None else []


def fmt_value(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def _recent_taps(n: int = 8) -> list[events.Committed]:
    """The latest taps for the board's patrol panel, newest first, as the page script renders live ones."""
    rows = events.Event.select().where(events.Event.type == "patrol.tap").order_by(events.Event.seq.desc()).limit(n).dicts()
    return [events.Committed.from_row(cast(dict, r)) for r in rows]  # .dicts() rows are dicts


def _board_context() -> dict:
    # The feed is the event log: only roles that may read the log see it (and get the live stream).
    me = current()
    assert me is not None  # only rendered by views behind require()
    can_events = auth.allowed(me.role, "events.read")
    recent = events.read_after(max(0, events.head_seq() - FEED_SIZE), FEED_SIZE) if can_events else []
    return {"can_events": can_events, "site": site_view(), "areas": _plan_areas(), "head": events.head_seq(), "points": _points(),
            "feed": [(e, describe(e, n), n["actor"]) for e in reversed(recent) for n in [event_names(e)]],
            "js_i18n": js_texts(), "can_patrol": auth.allowed(me.role, "patrol.read"),
            "recent_taps": _recent_taps() if auth.allowed(me.role, "patrol.read") else [],
            "health": overall(current_app.extensions["appliance"]), **_camera_context()}


def _camera_context() -> dict:
    """The board's camera tiles and its feed of open hard-hat violations (none without cameras)."""
    from appliance.vision.violations import Violation, violation_dict

    cams = current_app.config["APPLIANCE"].cameras
    if not cams:
        return {"cameras": [], "violations": [], "camera_titles": {}, "violation_window_ms": 0}
    from appliance.vision.rules import GROUP_WINDOW_MS, Occurrence, group_violations

    # one line per scene (camera, zone) as on the tablet (issue 15 item 6): a bare head filmed once a minute
    # is one line with its count, not the whole list
    recent = {v.id: v for v in Violation.select().where(Violation.state == "open").order_by(Violation.id.desc()).limit(500)}
    groups = group_violations(Occurrence(v.id, v.camera, v.zone, v.occurred_at) for v in recent.values())[:4]
    return {"cameras": [{"name": c.name, "title": c.title or c.name} for c in cams],
            "camera_titles": {c.name: c.title or c.name for c in cams},   # by its title, never "dock-cam-1"
            "violation_window_ms": GROUP_WINDOW_MS,
            "violations": [{**violation_dict(recent[g.latest]), "ids": g.ids, "count": g.count, "last_ms": g.last_ms}
                           for g in groups]}


@ui.get("/kiosk")
@require("board.read")
def kiosk():
    return render_template("kiosk/board.html", setup=_setup_view(), **_board_context())


def _setup_view() -> dict | None:
    """The first-setup note on the wall board while the box has no admin (a box fresh from the Raspberry Pi
    image, docs/INSTALL.md §16): where tablets open the appliance and the CA fingerprint to compare, as the
    console shows them. None once an admin exists."""
    if auth.User.select().where((auth.User.role == "admin") & auth.User.active).exists():
        return None
    from appliance.core import tls

    cfg = current_app.config["APPLIANCE"]
    lan = [a for a in tls.lan_names(cfg)[1] if not a.startswith("127.")]
    if cfg.web.tls:
        return {"urls": [f"https://{a}:{cfg.web.tls_port}/" for a in lan],
                "ca_url": f"http://{lan[0] if lan else '<appliance>'}:"
                          f"{current_app.extensions['appliance'].web_port or cfg.web.port}/ca.crt",
                "fingerprint": tls.ca_fingerprint(tls.paths_for(cfg))}
    return {"urls": [f"http://{a}:{cfg.web.port}/" for a in lan], "fingerprint": None}


@ui.get("/tablet")
@require("tablet.use")
def tablet():
    ctx = _board_context()
    return render_template("tablet/home.html", **ctx)


@ui.get("/tablet/people")
@require("people.read")
def tablet_people() -> str:
    people = list(P.Person.select().order_by(P.Person.active.desc(), P.Person.employee_no))
    badges: dict[int, list] = {}
    for b in P.Badge.select().order_by(P.Badge.id):
        badges.setdefault(b.person_id, []).append(b)
    me = current()
    assert me is not None  # behind require()
    can_write = auth.allowed(me.role, "people.write")
    return render_template("tablet/people.html", people=people, badges=badges, can_write=can_write)


@ui.get("/admin")
@require("admin.use")
def admin() -> str:
    users = list(auth.User.select().order_by(auth.User.login))
    tokens = list(auth.DeviceToken.select().order_by(auth.DeviceToken.name))
    runtime = current_app.extensions["appliance"]
    # sections that other packages add to this page (sync: the endpoints' status and dead letters)
    extra: dict = {"sync_endpoints": [], "dead_letters": []}
    for provide in current_app.config.get("ADMIN_CONTEXT", ()):
        extra.update(provide())
    return render_template("admin/index.html", users=users, tokens=tokens, roles=auth.ROLES,
                           health=overall(runtime), https=_https_view(), **extra)


def _ca_url() -> str:
    """Where a tablet downloads the CA: plain HTTP on the address the admin is using (it does not trust the
    CA yet; the fingerprint beside the QR code is what it checks)."""
    cfg = current_app.config["APPLIANCE"]
    host = request.host
    host = host[: host.index("]") + 1] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
    port = current_app.extensions["appliance"].web_port or cfg.web.port
    return f"http://{host}:{port}/ca.crt"


def _https_view() -> dict | None:
    from appliance.core import tls

    cfg = current_app.config["APPLIANCE"]
    if not cfg.web.tls:
        return None
    paths = tls.paths_for(cfg)
    return {"fingerprint": tls.ca_fingerprint(paths), "ca_url": _ca_url(), "own_ca": paths.managed}


@ui.get("/admin/ca-qr.png")
@require("admin.use")
def ca_qr():
    """A QR code of the CA's download address, for a tablet's camera."""
    from appliance.risk import qr

    try:
        png = qr.label_png(_ca_url(), module_px=6)
    except qr.QrUnavailable as exc:
        return exc.message(lang()), 503, {"Content-Type": "text/plain; charset=utf-8"}
    return png, 200, {"Content-Type": "image/png", "Cache-Control": "no-store"}
