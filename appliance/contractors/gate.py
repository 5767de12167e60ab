"""The gate: a badge tap at a reader named in [contractors] entry_readers / exit_readers becomes an entry
decision (allowed / refused with its reason) or an exit, one `gate_entries` row and one event each.

How a tap gets here: the patrol domain owns every configured reader (and the satellite stations' posts)
and writes each tap as a `patrol.tap` event; `on_event` (subscribed to the event bus by this domain's
start hook) takes the ones at gate readers. The decision is made once per tap (`tap_id` is unique), so a
replayed event decides nothing twice.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from datetime import date

from appliance.contractors import config as C
from appliance.contractors import rules as R
from appliance.contractors import service as S
from appliance.contractors.models import Attendee, Briefing, Firm, GateEntry, Job, JobWorker, Worker
from appliance.core import events
from appliance.core import people as P

log = logging.getLogger(__name__)

UNKNOWN = ("unknown_badge", "inactive_badge", "bad_uid")   # patrol's outcomes for a card that is nobody's

# Who knows which certificates a person's work today needs beyond their contractor jobs: the permits domain
# (it comes after this one and registers at load) answers with the training categories (30号令 catalogue,
# "WELD", "ELEC"…) of the special-work permits the person is a worker on that day. Keyed by the provider's
# name so a second load replaces rather than doubles it.
PERMIT_CERTS: dict[str, Callable[[int, date], Iterable[str]]] = {}


def permit_certs(person_id: int, on: date) -> tuple[str, ...]:
    """The contractor certificate types (rules.CERT_TYPES) today's permits need of this person."""
    by_category = {cat: t for t, cat in R.TRAINING_CATEGORY.items()}
    out: list[str] = []
    for provider in PERMIT_CERTS.values():
        out += [by_category[c] for c in provider(person_id, on) if c in by_category]
    return tuple(dict.fromkeys(out))


def certificates_of(person_id: int | None) -> tuple[R.Cert, ...]:
    """The person's 特种作业 certificates as the training domain holds them (revoked ones left out), in the
    types a contractor's job names. Read by the person's own rows (certificates_person index): this runs on
    every gate tap, and the training domain's `listing()` builds its whole list (every person) to answer —
    170 ms a tap with 3,000 people on file (bench/gate.py, py-spy/cProfile)."""
    from appliance.training import certificates as TC

    if not person_id:
        return ()
    by_category = {cat: t for t, cat in R.TRAINING_CATEGORY.items()}
    out = []
    for c in TC.Certificate.select().where((TC.Certificate.person_id == person_id) & ~TC.Certificate.revoked) \
            .order_by(TC.Certificate.id):
        k = TC.KINDS.get(c.kind)
        t = by_category.get(k.category) if k else None
        if t is None:
            continue
        out.append(R.Cert(t, c.number, date.fromisoformat(c.expires_on),
                          date.fromisoformat(c.review_due_on) if c.review_due_on else None))
    return tuple(out)


def facts_for(person_id: int | None, on, certs: tuple[R.Cert, ...] | None = None) -> tuple[R.EntryFacts, Firm | None]:
    """What the rules need about this person today. `certs`: their 特种作业 certificates from the training
    domain — None until that source is wired (the decision then names the check as not made)."""
    person = P.Person.get_or_none(P.Person.id == person_id) if person_id else None
    if person is None or not person.active:
        return R.EntryFacts(known=False, contractor=False), None
    w = Worker.get_or_none(Worker.person_id == person.id)
    if w is None:
        if person.kind == "contractor":   # a contractor in the core but registered with no firm here
            return R.EntryFacts(known=True, contractor=True, firm=None), None
        return R.EntryFacts(known=True, contractor=False), None
    firm = Firm.get_by_id(w.firm_id)
    jobs = tuple(R.Job(j.id, j.status, S._d(j.starts_on), S._d(j.ends_on), tuple(json.loads(j.required_certs)))  # type: ignore[arg-type]
                 for j in Job.select().join(JobWorker, on=(JobWorker.job_id == Job.id))
                 .where(JobWorker.person_id == person.id))
    return R.EntryFacts(known=True, contractor=True, firm=S.firm_state(firm, on), trained_on=S._d(w.trained_on),
                        jobs=jobs, certs=certs, permit_certs=permit_certs(person.id, on)), firm


def briefed(person_id: int, job_ids: Iterable[int]) -> bool:
    """Whether the person confirmed (by badge) a safety briefing (安全交底) of one of these jobs."""
    ids = list(job_ids)
    return bool(ids) and Attendee.select().join(Briefing, on=(Briefing.id == Attendee.briefing_id)).where(
        (Attendee.person_id == person_id) & Briefing.job_id.in_(ids)).exists()


def permit_refusals(person_id: int, at: int) -> tuple[str, ...]:
    """Why this person may not be briefed on or start a special-work permit at `at` as a contractor's worker
    (empty: they may, or they are not a contractor's worker): the gate's decision for them now, and the
    briefing of the contractor job they are admitted on (or, refused, of any job active today)."""
    cfg = C.current()
    on = S.today(at)
    facts, _ = facts_for(person_id, on, certificates_of(person_id))
    if not facts.contractor:
        return ()
    d = R.entry_decision(facts, on, cfg.entry_training_days)
    jobs = [d.job_id] if d.allowed and d.job_id else [j.id for j in R.active_jobs(facts.jobs, on)]
    return R.permit_worker_refusals(d, briefed(person_id, jobs))


def decide(reader: str, person_id: int | None, at: int, *, tap_id: int | None = None, uid_tail: str = "",
           actor: str | None = None, face: str | None = None) -> dict | None:
    """Decide one tap at a gate reader; returns the entry (also the event payload), or None when the reader
    is not a gate or this tap was decided already. `face`: the face check's verdict (face.check), made
    before the write transaction; None when none was made."""
    cfg = C.current()
    if reader in cfg.exit_readers:
        direction = "out"
    elif reader in cfg.entry_readers:
        direction = "in"
    else:
        return None
    with events.recording(actor or f"device:reader:{reader}") as rec:
        if tap_id is not None and GateEntry.get_or_none(GateEntry.tap_id == tap_id):
            return None
        on = S.today(at)
        facts, firm = facts_for(person_id, on, certificates_of(person_id))
        person = P.Person.get_or_none(P.Person.id == person_id) if person_id else None
        reasons: tuple[str, ...]
        job_id: int | None = None
        if direction == "out":
            decision, reason, reasons = ("exit", "exit", ()) if facts.known else \
                ("refused", "unknown_badge", ("unknown_badge",))
        else:
            d = R.with_face(R.entry_decision(facts, on, cfg.entry_training_days), face)
            decision, reason, reasons, job_id = ("allowed" if d.allowed else "refused"), d.reason, d.reasons, d.job_id
        e = GateEntry.create(tap_id=tap_id, at=at, reader=reader, direction=direction,
                             person_id=person.id if person and facts.known else None,
                             firm_id=firm.id if firm else None, job_id=job_id, uid_tail=uid_tail, decision=decision,
                             reason=reason, reasons=json.dumps(list(reasons)), recorded_at=events.now_ms())
        out = entry_dict(e, person, firm)
        kind = {"allowed": "contractor.gate_allowed", "refused": "contractor.gate_refused", "exit": "contractor.gate_exit"}
        # the board's line names somebody even for a card that is nobody's
        shown = {**out, "person": out["person"] or f"…{uid_tail}", "firm": out["firm"] or "—"}
        rec.emit(kind[decision], entity=("gate_entry", e.id), payload=shown, occurred_at=at)
    log.info("gate decision", extra={"reader": reader, "decision": decision, "reason": reason})
    return out


def entry_dict(e: GateEntry, person: P.Person | None = None, firm: Firm | None = None) -> dict:
    """The API contract's entry ({at, person, firm, reader, decision, reason}) and what the screens show."""
    if person is None and e.person_id:
        person = P.Person.get_or_none(P.Person.id == e.person_id)
    if firm is None and e.firm_id:
        firm = Firm.get_or_none(Firm.id == e.firm_id)
    zh, en = S.reason_text(e.reason)
    details = [c for c in json.loads(e.reasons) if ":" in c]
    return {"id": e.id, "at": e.at, "person": person.name if person else None, "person_id": e.person_id,
            "firm": firm.name if firm else None, "firm_id": e.firm_id, "reader": e.reader, "direction": e.direction,
            "decision": e.decision, "reason": e.reason, "reasons": json.loads(e.reasons), "details": details,
            "reason_zh": zh, "reason_en": en, "job_id": e.job_id, "uid_tail": e.uid_tail}


def on_event(ev) -> None:
    """Bus subscriber: a `patrol.tap` at a gate reader is decided (retried while the database is busy)."""
    if ev.type != "patrol.tap":
        return
    p = ev.payload
    cfg = C.current()
    if p.get("reader") not in cfg.entry_readers and p.get("reader") not in cfg.exit_readers:
        return
    person_id = p.get("person_id") if p.get("outcome") not in UNKNOWN else None
    verdict = None
    if cfg.face_check and p.get("reader") in cfg.face_cameras:
        from appliance.contractors import face

        try:
            verdict = face.check(p["reader"], person_id)
        except Exception:   # a broken camera or model must not stop the gate: the guard checks instead
            log.exception("face check failed", extra={"reader": p.get("reader")})
            verdict = "unseen"
    for attempt in range(5):
        try:
            decide(p["reader"], person_id, ev.occurred_at, tap_id=p.get("tap_id"), uid_tail=p.get("uid_tail") or "",
                   face=verdict)
            return
        except Exception:
            if attempt == 4:
                log.exception("gate tap not decided", extra={"reader": p.get("reader"), "tap_id": p.get("tap_id")})
            else:
                time.sleep(0.2 * 2 ** attempt)


def entries(since: int, limit: int = 500) -> list[dict]:
    rows = list(GateEntry.select().where(GateEntry.at > since).order_by(GateEntry.at.desc(), GateEntry.id.desc())
                .limit(limit))
    people = {p.id: p for p in P.Person.select().where(P.Person.id.in_({e.person_id for e in rows if e.person_id}))}
    firms = {f.id: f for f in Firm.select().where(Firm.id.in_({e.firm_id for e in rows if e.firm_id}))}
    return [entry_dict(e, people.get(e.person_id) if e.person_id else None, firms.get(e.firm_id) if e.firm_id else None)
            for e in rows]


def on_site(at: int | None = None) -> list[dict]:
    """Today's people on site per firm: each person's last gate decision today, allowed and not since left."""
    now = events.now_ms() if at is None else at
    on = S.today(now)
    from datetime import datetime
    from datetime import time as dtime
    from zoneinfo import ZoneInfo

    midnight = int(datetime.combine(on, dtime(0), ZoneInfo(P.site_timezone())).timestamp() * 1000)
    last: dict[int, GateEntry] = {}
    for e in GateEntry.select().where((GateEntry.at >= midnight) & GateEntry.person_id.is_null(False)
                                      & (GateEntry.decision != "refused")).order_by(GateEntry.at, GateEntry.id):
        if e.person_id is not None:
            last[e.person_id] = e
    inside = [pid for pid, e in last.items() if e.decision == "allowed"]
    names: dict[int, str] = {}
    firm_of: dict[int, int] = {}
    for part in (inside[k:k + 500] for k in range(0, len(inside), 500)):   # a few queries, not three a person
        names.update({p.id: p.name for p in P.Person.select(P.Person.id, P.Person.name).where(P.Person.id.in_(part))})
        firm_of.update({w.person_id: w.firm_id for w in Worker.select(Worker.person_id, Worker.firm_id)
                        .where(Worker.person_id.in_(part))})
    firm_names = {f.id: f.name for f in Firm.select(Firm.id, Firm.name).where(Firm.id.in_(set(firm_of.values())))}
    firms: dict[int | None, dict] = {}
    for pid in inside:
        fid = firm_of.get(pid)
        if fid not in firms:
            firms[fid] = {"firm_id": fid, "firm": firm_names.get(fid) if fid else None, "people": []}
        firms[fid]["people"].append({"person_id": pid, "person": names.get(pid), "since": last[pid].at})
    return sorted(firms.values(), key=lambda f: (f["firm"] is None, f["firm"] or ""))
