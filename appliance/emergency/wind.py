"""The wind followed, not read once: while an incident is open and its wind came from the weather point
([emergency] wind_point), a job looks at the point every few seconds; a change beyond `rules.WIND_CHANGE_DEG`
held for `rules.WIND_SUSTAIN_S` (a gust does not flip the plan) redraws the incident's downwind areas and
evacuation route (`incidents.apply_wind`: one `emergency.incident_updated` event, which the wall board and
the commander's tablet redraw from). A wind typed by a person is left alone until a person changes it. When
the point goes into fault (or comes back) the open incidents say so once (the screens show the wind unknown
with its last value and age); the plan drawn for the last good wind is kept, never dropped to "no downwind"."""
from __future__ import annotations

import json
import logging

from appliance.core import events
from appliance.emergency import incidents as I
from appliance.emergency import rules as R
from appliance.emergency.models import Incident

log = logging.getLogger(__name__)

ACTOR = "system:emergency:wind"
EVERY_S = 5
SUSTAIN_S: float = R.WIND_SUSTAIN_S     # [emergency] wind_sustain_s

_since: dict[int, int] = {}          # incident id → since when (ms) the reading has differed beyond the threshold
_fault: dict[int, bool] = {}         # incident id → the fault state last announced


def followed() -> list[Incident]:
    """Open incidents whose wind follows the weather point."""
    return [i for i in Incident.select().where(Incident.state == "open")
            if json.loads(i.snapshot).get("wind_source") == "sensor"]


def follow(now: int | None = None) -> list[tuple[int, str]]:
    """One look at the weather point for every followed incident; returns (incident id, decision) of those
    that changed (redrawn "apply", or a fault announced "fault"/"ok")."""
    if not I.wind_point_configured():
        return []
    now = events.now_ms() if now is None else now
    found = followed()
    if not found:
        _since.clear()
        _fault.clear()
        return []
    reading = I.sensor_wind()
    out = []
    for i in found:
        decision, since = R.wind_follow(i.wind_from, reading, _since.get(i.id), now, sustain_s=SUSTAIN_S)
        if since is None:
            _since.pop(i.id, None)
        else:
            _since[i.id] = since
        faulted = decision == "fault"
        if _fault.get(i.id, False) != faulted:
            _fault[i.id] = faulted
            _announce(i, faulted)
            out.append((i.id, "fault" if faulted else "ok"))
        if decision == "apply":
            I.apply_wind(i.id, reading, source="sensor", actor=ACTOR, expect_source="sensor")
            out.append((i.id, "apply"))
    for gone in set(_since) - {i.id for i in found}:
        _since.pop(gone, None)
    return out


def _announce(i: Incident, faulted: bool) -> None:
    """The weather point went into fault or came back: the screens redraw the wind line (no plan change)."""
    view = I.wind_view()
    with events.recording(ACTOR) as rec:
        rec.emit("emergency.incident_updated", entity=("emergency_incident", i.id),
                 payload={"id": i.id, "change": "wind_point", "wind_point": view["state"],
                          "last_value": view["value"], "last_at": view["at"], "drill": bool(i.drill)})


def job() -> None:
    """The scheduler's entry: never raises (a locked database is tried again at the next look)."""
    try:
        follow()
    except Exception:
        log.exception("wind follow failed")
