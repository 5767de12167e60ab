"""Where each person was last seen: their last tap's place and time (for muster).
"""
from __future__ import annotations

import logging

from appliance.core.people import Area, Person
from appliance.patrol.models import LastSeen

log = logging.getLogger(__name__)


def last_seen() -> list[dict]:
    rows = (LastSeen.select(LastSeen, Person.name, Person.employee_no)
            .join(Person, on=(Person.id == LastSeen.person_id)).order_by(LastSeen.at.desc()))
    areas = {a.id: a for a in Area.select()}
    return [{"person_id": r.person_id, "person": r.person.name, "employee_no": r.person.employee_no,
             "area_id": r.area_id, "area": areas[r.area_id].name if r.area_id in areas else None,
             "checkpoint_id": r.checkpoint_id, "reader": r.reader, "at": r.at} for r in rows]
