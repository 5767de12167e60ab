"""Who and where, as people read them (issue 15 item 9): the UI never shows "user:wangfang",
"system:demo", "device:reader:GATE" or an area's code.

An actor is the event log's `kind:name` string: a user's login, a screen token's name, a reader or a
satellite station, the appliance itself. `actor_label` turns it into the person's name or a translated label
("系统", "读卡器 GATE"); `event_names` does the same for an event's actor and for the payload fields that hold a
login, a reader or a camera, so the pages and the live feed (the SSE JSON's `names`) show the same words.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import cast

from flask import has_request_context, request

from appliance.core import auth
from appliance.core import people as P

Text = Callable[..., str]  # translate(key, **values) in the viewer's language

# payload fields that hold a user's login (or an actor)
LOGIN_FIELDS = ("assignee", "reporter", "graded_by", "accepted_by", "acked_by", "decided_by", "by", "login")


def user_names(logins: Iterable[str]) -> dict[str, str]:
    """login → the user's display name (the login itself where none is set), for the logins that exist."""
    wanted = {x for x in logins if x}
    if not wanted:
        return {}
    # remembered for the rest of a web request: a board page names ~25 events' people (issue 14)
    known: dict[str, str | None] = {}
    if has_request_context():
        req = request._get_current_object()   # type: ignore[attr-defined]  # werkzeug's LocalProxy
        known = req.__dict__.setdefault("_user_names", known)
    missing = [x for x in wanted if x not in known]
    if missing:
        rows = auth.User.select(auth.User.login, auth.User.display_name).where(auth.User.login.in_(missing))
        found = {u.login: u.display_name or u.login for u in rows}
        known.update({x: found.get(x) for x in missing})
    return {x: name for x in wanted if (name := known.get(x)) is not None}


def actor_key(actor: str | None) -> tuple[str, dict[str, str]]:
    """The text key and values that name an actor: ("actor.user", {"name": "王芳"}) for a user,
    ("actor.reader", {"name": "GATE"}) for device:reader:GATE, ("actor.system", {}) for the appliance."""
    if not actor:
        return "actor.unknown", {}
    if actor == "anonymous":  # a hazard reported without a name
        return "actor.anonymous", {}
    kind, sep, name = actor.partition(":")
    if not sep and kind != "system":  # a bare login (a hazard's assignee)
        kind, name = "user", actor
    if kind == "user":
        return "actor.user", {"name": user_names([name]).get(name, name)}
    if kind == "system":
        return "actor.system", {}
    if kind == "device":
        sub, _, rest = name.partition(":")
        if sub in ("reader", "station", "camera") and rest:
            return f"actor.{sub}", {"name": rest}
        return "actor.device", {"name": name}
    if kind == "address":
        return "actor.address", {"name": name}
    return "actor.other", {"name": actor}


def actor_label(actor: str | None, text: Text) -> str:
    """The actor as people read it: a user's display name, else the translated label of its kind."""
    key, values = actor_key(actor)
    return values["name"] if key == "actor.user" else text(key, **values)


def event_names(actor: str, payload: dict, text: Text, lang: str, cameras: dict[str, str]) -> dict[str, str]:
    """The words that replace ids when an event is shown: "actor" (who did it), the login fields as names,
    "reader" as its checkpoint or "读卡器 X", "camera" by its title, "area" and "zone" (the camera's area) by name."""
    out = {"actor": actor_label(actor, text)}
    logins = {k: v.removeprefix("user:") for k in LOGIN_FIELDS if isinstance(v := payload.get(k), str) and v}
    found = user_names(logins.values())
    for k, login in logins.items():
        raw = payload[k]
        out[k] = found.get(login) or (actor_label(raw, text) if ":" in raw else raw)
    reader = payload.get("reader")
    if isinstance(reader, str) and reader:
        place = (payload.get("checkpoint_en") if lang == "en" else None) or payload.get("checkpoint")
        out["reader"] = place if isinstance(place, str) and place else text("actor.reader", name=reader)
    camera = payload.get("camera")
    if isinstance(camera, str) and camera:
        out["camera"] = cameras.get(camera, camera)
    area = payload.get("area")
    a = area_names().get(area) if isinstance(area, str) and area else None
    shown = ((a[1] or a[0]) if lang == "en" else a[0]) if a is not None else None
    if shown is not None:   # "{area}" in an event's text is the area's name, never its code ("开始作业（大门）")
        out["area"] = shown
    if "zone" in payload:
        zone = payload.get("zone")
        out["zone"] = (shown if shown is not None
                       else text("actor.zone", name=zone) if isinstance(zone, str) and zone not in ("", "all")
                       else text("actor.no_area"))
    return out


def area_names() -> dict[str, tuple[str, str | None]]:
    """Area code → (name, English name), every area. Kept until the next area.* event (answers.shared) and
    for the rest of a web request: naming each event of a feed with its own query was 15 % of the web's time
    under bench/load.py (issue 14)."""
    from appliance.core import answers

    known = None
    if has_request_context():
        req = request._get_current_object()   # type: ignore[attr-defined]  # werkzeug's LocalProxy
        known = req.__dict__.get("_area_names")
    if known is None:
        def build() -> dict[str, tuple[str, str | None]]:
            rows = cast(Iterable[tuple[str, str, str | None]],
                        P.Area.select(P.Area.code, P.Area.name, P.Area.name_en).tuples())
            return {code: (name, name_en) for code, name, name_en in rows}

        known = answers.shared("names:areas", build, ttl_s=300, scope="area.")
        if has_request_context():
            request._get_current_object().__dict__["_area_names"] = known   # type: ignore[attr-defined]
    return known
