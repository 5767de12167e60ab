"""A finished job's findings from the records, for its evaluation (issue 19: "a score from violations (PPE),
hazards caused, permit breaches and a supervisor's rating"): the vision domain's PPE violations in the job's
area on its dates (those not rejected by a person), the hazards reported in that window that name the firm in
their contractor-firm field (hazards.firm_id, migration 0036) — a hazard without the field (reported before it
existed, or left empty) falls back to whether its text names the firm or one of the job's workers
(`rules.attributed`), one naming another firm never counts — and the suspensions of the special-work permits the job's
workers were on — counted by the permits domain, which comes after this one and registers in
`PERMIT_BREACHES` at load. The supervisor's counts override these (`rules.prefill`)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from appliance.contractors import rules as R
from appliance.contractors.models import Firm, Job, JobWorker
from appliance.core import people as P

# name → (the job's workers, from ms, to ms) → the number of permit breaches (suspensions) in that window
PERMIT_BREACHES: dict[str, Callable[[list[int], int, int], int]] = {}


def _midnight(on: date) -> int:
    return int(datetime.combine(on, time(0), ZoneInfo(P.site_timezone())).timestamp() * 1000)


def window(j: Job) -> tuple[int, int]:
    """The job's dates in ms (the first day's midnight to the last day's end, in the plant's zone), stretched
    to when it really started and finished."""
    start = _midnight(date.fromisoformat(j.starts_on))
    end = _midnight(date.fromisoformat(j.ends_on) + timedelta(days=1)) - 1
    return min(start, j.started_at or start), max(end, j.finished_at or end)


def findings(job_id: int) -> dict:
    """{"ppe_violations", "hazards_caused", "permit_breaches"} counted from the records, with the window and
    the area they were counted in."""
    from appliance.hazards.service import Hazard, counted
    from appliance.vision.violations import Violation

    j = Job.get_by_id(job_id)
    start, end = window(j)
    area = P.Area.get_or_none(P.Area.id == j.area_id) if j.area_id else None
    workers = [r.person_id for r in JobWorker.select().where(JobWorker.job_id == j.id)]
    ppe = 0
    if area is not None:
        ppe = Violation.select().where((Violation.area == area.code) & (Violation.occurred_at.between(start, end))
                                       & (Violation.state != "rejected")).count()
    names = [*R.firm_aliases(Firm.get_by_id(j.firm_id).name),
             *(p.name for p in P.Person.select(P.Person.name).where(P.Person.id.in_(workers)))]
    # the hazard's firm field decides; the text match is the fallback for hazards without one (older
    # reports); a duplicate report is the same hazard and counts once (hazards.service.counted)
    hazards = sum(1 for h in Hazard.select(Hazard.firm_id, Hazard.description, Hazard.status_cause)
                  .where(Hazard.reported_at.between(start, end) & counted())
                  if (h.firm_id == j.firm_id if h.firm_id is not None
                      else R.attributed(f"{h.description} {h.status_cause or ''}", names)))
    breaches = sum(count(workers, start, end) for count in PERMIT_BREACHES.values()) if workers else 0
    return {"ppe_violations": ppe, "hazards_caused": hazards, "permit_breaches": breaches,
            "from": start, "to": end, "area": area.code if area else None}


def hazard_firms(ids: Iterable[int] | None) -> dict[int, tuple[str, bool]]:
    """The firms of the archive (id → (name, blacklisted)) with the ids given, or all for None: what the hazards
    domain's contractor-firm field offers and checks (registered in `hazards.firms.SOURCES` at load)."""
    q = Firm.select(Firm.id, Firm.name, Firm.blacklisted)
    if ids is not None:
        q = q.where(Firm.id.in_(list(ids)))
    return {f.id: (f.name, bool(f.blacklisted)) for f in q}
