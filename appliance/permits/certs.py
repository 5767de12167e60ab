"""What the contractors domain asks of the permits (it comes first, so this domain's `domain()` registers
these with it): the certificates today's permits need of a person, for the gate (30号令 Art. 5 as
`rules.crew_gaps` reads it), and the permit breaches of a job's people, for its evaluation."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from appliance.core import people as P
from appliance.permits import rules as R
from appliance.permits.service import Permit, _certificate_holders

# a permit not finished: the gate checks its certificates on the days of its window
OPEN = ("applied", "measures_confirmed", "approved", "briefed", "active", "suspended")


def _day_ms(on: date) -> tuple[int, int]:
    tz = ZoneInfo(P.site_timezone())
    start = int(datetime.combine(on, time(0), tz).timestamp() * 1000)
    return start, int(datetime.combine(on + timedelta(days=1), time(0), tz).timestamp() * 1000) - 1


def certs_on_permits(person_id: int, on: date) -> list[str]:
    """The training categories (30号令 catalogue) of the certificates the open permits whose window touches
    `on` need of this person, one of their workers. As `rules.crew_gaps` has it (30号令 Art. 5), the special
    operation is done by a certified person and helpers need not hold the certificate: a kind is needed of
    this person unless another worker on that permit holds one valid all day."""
    start, end = _day_ms(on)
    out: list[str] = []
    for p in Permit.select(Permit.type, Permit.workers).where(Permit.state.in_(OPEN) & (Permit.valid_from <= end)
                                                               & (Permit.valid_to >= start)):
        workers = list(json.loads(p.workers))
        if person_id not in workers or not R.CERTIFICATES.get(p.type):
            continue
        holders = _certificate_holders(p.type, workers, start, end)
        out += [R.TRAINING_CATEGORY[k] for k, ids in holders.items() if not set(ids) - {person_id}]
    return list(dict.fromkeys(out))


def breaches(workers: list[int], start: int, end: int) -> int:
    """For a contractor job's evaluation (contractors.evaluation.PERMIT_BREACHES): the suspensions, from
    `start` to `end`, of the permits any of these people worked on — but the gas interlock's (the plant's gas
    reacting, not the crew's conduct)."""
    from appliance.core import events

    people = set(workers)
    ids = [str(p.id) for p in Permit.select(Permit.id, Permit.workers) if people & set(json.loads(p.workers))]
    if not ids:
        return 0
    E = events.Event
    return E.select().where((E.type == "permit.suspended") & (E.entity_type == "permit") & E.entity_id.in_(ids)
                            & E.occurred_at.between(start, end) & (E.actor != "system:interlock")).count()
