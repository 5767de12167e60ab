"""Safety certificates per person, and their expiry warnings — the interface other domains call.

For the permits and contractors domains (import this module; it is stable):

    from appliance.training import certificates as C

    C.valid_certificates(person_id, at_ms)            -> list[dict]   # valid at that instant
    C.missing_for(person_id, ["WELD", "ELEC-LV"], start_ms, end_ms)
                                                       -> list[dict]   # [] = may do the job
    C.KINDS / C.WORK_TYPE_CERTS                        # the kind table, GB 30871 work type → categories

A required type is a kind code (`rules.KINDS`, e.g. "WELD-FUSION") or a whole category ("WELD", "ELEC",
"HEIGHT", "LIFT", …: any kind in it will do). A certificate must be valid over the whole job window, each
instant taken as its day in the plant's time zone (valid through all of its last day). Each problem is
`{"required", "code": missing|expired|expires_during|not_yet_valid|revoked, "zh", "en", "certificate_id",
"expires_on"}`. An unknown required code raises ValueError (a programming error in the caller).

Warnings: `scan(now_ms)` (the `certificate-warnings` job, every 10 minutes and at start) records every
warning whose day has come (`rules.due_warnings`): a row per threshold and one `certificate.warned` event per
certificate and scan, addressed to the safety office and the holder's department supervisors. A warning
missed while the appliance was off is sent late, never skipped; `coverage` measures the rate warned before
expiry (资质证书预警率) and lists any certificate left silent.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import peewee
from pydantic import Field, field_validator, model_validator

from appliance.core import events
from appliance.core.db import BaseModel as Model
from appliance.core.errors import Conflict, NotFound, ValidationFailed
from appliance.core.people import Input, Person, site_timezone
from appliance.training import rules as R
from appliance.training import settings

KINDS = R.KINDS
WORK_TYPE_CERTS = R.WORK_TYPE_CERTS


class Certificate(Model):
    person_id = peewee.IntegerField()
    kind = peewee.TextField()
    number = peewee.TextField()
    issuer = peewee.TextField()
    issued_on = peewee.TextField()
    expires_on = peewee.TextField()
    review_due_on = peewee.TextField(null=True)
    photo = peewee.TextField(null=True)
    revoked = peewee.BooleanField()
    note = peewee.TextField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "certificates"


class Warning(Model):
    certificate_id = peewee.IntegerField()
    last_valid_on = peewee.TextField()
    days = peewee.IntegerField()
    due_on = peewee.TextField()
    sent_at = peewee.IntegerField()
    late = peewee.BooleanField()
    before_expiry = peewee.BooleanField()
    acknowledged_by = peewee.TextField(null=True)
    acknowledged_at = peewee.IntegerField(null=True)

    class Meta:
        table_name = "certificate_warnings"


# ---------------------------------------------------------------- days

def day_of(ms: int, tz: str | None = None) -> date:
    """The plant's calendar day of an instant (UTC ms)."""
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(tz or site_timezone())).date()


def view(c: Certificate) -> R.CertView:
    return R.CertView(c.id, c.kind, c.number, date.fromisoformat(c.issued_on), date.fromisoformat(c.expires_on),
                      date.fromisoformat(c.review_due_on) if c.review_due_on else None, bool(c.revoked))


def _warned(cert_ids: Iterable[int]) -> dict[tuple[int, str], list[int]]:
    """(certificate id, last valid day) → thresholds warned."""
    out: dict[tuple[int, str], list[int]] = {}
    ids = list(cert_ids)
    if ids:
        for w in Warning.select().where(Warning.certificate_id.in_(ids)).order_by(Warning.days.desc()):
            out.setdefault((w.certificate_id, w.last_valid_on), []).append(w.days)
    return out


def certificate_dict(c: Certificate, today: date | None = None, warned: dict | None = None,
                     person: Person | None = None) -> dict:
    cfg = settings.current()
    today = today or day_of(events.now_ms())
    v = view(c)
    last = R.effective_expiry(v)
    sent = (warned if warned is not None else _warned([c.id])).get((c.id, last.isoformat()), [])
    k = KINDS.get(c.kind)
    person = person or Person.get_or_none(Person.id == c.person_id)
    return {"id": c.id, "person_id": c.person_id, "person": person.name if person else None,
            "employee_no": person.employee_no if person else None, "kind": c.kind,
            "kind_name": {"zh-CN": k.zh, "en": k.en} if k else None, "category": k.category if k else None,
            "number": c.number, "issuer": c.issuer, "issued_on": c.issued_on, "expires_on": c.expires_on,
            "review_due_on": c.review_due_on, "last_valid_on": last.isoformat(), "reason": R.expiry_reason(v),
            "days_left": (last - today).days, "photo": c.photo, "revoked": bool(c.revoked), "note": c.note,
            "state": R.cert_state(last, today, bool(sent), bool(c.revoked), cfg.warn_days, cfg.weekend_forward, cfg.holiday_dates),
            "warned": sent}


# ---------------------------------------------------------------- the interface

def _person_certs(person_id: int) -> list[Certificate]:
    return list(Certificate.select().where(Certificate.person_id == person_id).order_by(Certificate.id))


def valid_certificates(person_id: int, at_ms: int) -> list[dict]:
    """The person's certificates valid at `at_ms` (the plant's day of it), as certificate_dict."""
    day = day_of(at_ms)
    certs = [c for c in _person_certs(person_id) if R.valid_on(view(c), day)]
    warned = _warned(c.id for c in certs)
    return [certificate_dict(c, day, warned) for c in certs]


def missing_for(person_id: int, required_types: Sequence[str], start_ms: int, end_ms: int) -> list[dict]:
    """What stops the person doing a job that needs `required_types` from start_ms to end_ms: [] when each
    is covered by one certificate valid over the whole window (see the module docstring)."""
    bad = [r for r in required_types if not R.known_requirement(r)]
    if bad:
        raise ValueError(f"unknown certificate kinds or categories: {bad}")
    if end_ms < start_ms:
        raise ValueError("end_ms before start_ms")
    tz = site_timezone()
    if Person.get_or_none(Person.id == person_id) is None:
        return [R.Problem(r, "missing", "人员不存在", "no such person").as_dict() for r in dict.fromkeys(required_types)]
    return [p.as_dict() for p in R.problems((view(c) for c in _person_certs(person_id)), required_types,
                                            day_of(start_ms, tz), day_of(end_ms, tz))]


# ---------------------------------------------------------------- changes

def _iso(v: str | None, key: str) -> str | None:
    if v is None:
        return None
    try:
        return date.fromisoformat(v).isoformat()
    except ValueError:
        raise ValueError(f"{key} must be a date YYYY-MM-DD") from None


class CertificateIn(Input):
    person_id: int = Field(gt=0, le=2**31)
    kind: str = Field(min_length=1, max_length=40)
    number: str = Field(min_length=1, max_length=60)
    issuer: str = Field("", max_length=100)
    issued_on: str
    expires_on: str | None = None          # default: issued + the kind's validity, less a day
    review_due_on: str | None = None       # default: issued + the kind's review interval, less a day
    photo: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    note: str = Field("", max_length=500)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"unknown kind {v!r} (see GET /api/v1/certificates/kinds)")
        return v

    @field_validator("issued_on", "expires_on", "review_due_on")
    @classmethod
    def _date(cls, v: str | None, info) -> str | None:
        return _iso(v, info.field_name)

    @model_validator(mode="after")
    def _order(self):
        k = KINDS[self.kind]
        issued = date.fromisoformat(self.issued_on)
        if self.expires_on is None:
            self.expires_on = (_add_years(issued, k.valid_years) - timedelta(days=1)).isoformat()
        if self.review_due_on is None and k.review_years:
            review = (_add_years(issued, k.review_years) - timedelta(days=1)).isoformat()
            self.review_due_on = review if review < self.expires_on else None
        return self


def _check_dates(issued: str, expires: str, review: str | None, changed: Iterable[str] = ()) -> None:
    """Dates run issued ≤ review ≤ expiry; the error names the field that breaks the order."""
    key = None
    if expires < issued:
        key = "expires_on"
    elif review is not None and not issued <= review <= expires:
        key = "review_due_on"
    if key is not None:
        if key == "expires_on" and "issued_on" in changed and "expires_on" not in changed:
            key = "issued_on"
        raise ValidationFailed(f"{key}：日期顺序应为 发证 ≤ 复审 ≤ 到期", f"{key}: dates must run issued ≤ review ≤ expiry",
                               details=[{"key": key}])


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:   # 29 February
        return d.replace(year=d.year + years, day=28)


class CertificateUpdate(Input):
    """A renewal or a review (new dates), a corrected number or issuer, a new photo."""

    number: str | None = Field(None, min_length=1, max_length=60)
    issuer: str | None = Field(None, max_length=100)
    issued_on: str | None = None
    expires_on: str | None = None
    review_due_on: str | None = None
    photo: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    note: str | None = Field(None, max_length=500)

    @field_validator("issued_on", "expires_on", "review_due_on")
    @classmethod
    def _date(cls, v: str | None, info) -> str | None:
        return _iso(v, info.field_name)


def get(cert_id: int) -> Certificate:
    c = Certificate.get_or_none(Certificate.id == cert_id)
    if c is None:
        raise NotFound(f"证书 {cert_id} 不存在", f"certificate {cert_id} does not exist")
    return c


def _unique(kind: str, number: str, other_than: int | None = None) -> None:
    q = Certificate.select().where((Certificate.kind == kind) & (Certificate.number == number))
    if other_than is not None:
        q = q.where(Certificate.id != other_than)
    if q.exists():
        raise Conflict(f"number：证号 {number} 已登记", f"number: certificate {number} is already recorded",
                       details=[{"key": "number"}])


def add(data: CertificateIn, *, actor: str) -> Certificate:
    with events.recording(actor) as rec:
        if Person.get_or_none(Person.id == data.person_id) is None:
            raise ValidationFailed(f"person_id：人员 {data.person_id} 不存在", f"person_id: person {data.person_id} does not exist",
                                   details=[{"key": "person_id"}])
        assert data.expires_on is not None   # filled from the kind
        _check_dates(data.issued_on, data.expires_on, data.review_due_on)
        _unique(data.kind, data.number)
        t = events.now_ms()
        c = Certificate.create(**data.model_dump(), revoked=False, created_at=t, updated_at=t)
        rec.emit("certificate.added", entity=("certificate", c.id), payload=_payload(c))
    return c


def update(cert_id: int, data: CertificateUpdate, *, actor: str) -> Certificate:
    """Change what is given; new dates start a new warning schedule (the old warnings stay on record)."""
    with events.recording(actor) as rec:
        c = get(cert_id)
        changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None and getattr(c, k) != v}
        if not changes:
            return c
        for k, v in changes.items():
            setattr(c, k, v)
        _check_dates(c.issued_on, c.expires_on, c.review_due_on, changes)
        if "number" in changes:
            _unique(c.kind, c.number, c.id)
        c.updated_at = events.now_ms()
        c.save()
        rec.emit("certificate.updated", entity=("certificate", c.id), payload={**_payload(c), "changed": sorted(changes)})
    return c


def revoke(cert_id: int, note: str, *, actor: str) -> Certificate:
    with events.recording(actor) as rec:
        c = get(cert_id)
        if c.revoked:
            raise Conflict("证书已注销", "the certificate is already revoked")
        c.revoked, c.note, c.updated_at = True, (note or c.note)[:500], events.now_ms()
        c.save()
        rec.emit("certificate.revoked", entity=("certificate", c.id), payload={**_payload(c), "note": note})
    return c


def _payload(c: Certificate) -> dict:
    return {"person_id": c.person_id, "kind": c.kind, "number": c.number, "issuer": c.issuer, "issued_on": c.issued_on,
            "expires_on": c.expires_on, "review_due_on": c.review_due_on, "photo": c.photo, "revoked": bool(c.revoked)}


# ---------------------------------------------------------------- warnings

def recipients(person: Person | None) -> list[str]:
    """The safety office, and the supervisors (by login) of the holder's department."""
    from appliance.core.auth import User

    out = ["safety_office"]
    if person is not None and person.department:
        q = (User.select(User.login).join(Person, on=(User.person_id == Person.id))
             .where(User.active & (User.role == "supervisor") & (Person.department == person.department)))
        out += [f"user:{u.login}" for u in q.order_by(User.login)]
    return out


def scan(now_ms: int | None = None, *, actor: str = "system:training") -> int:
    """Record every warning now due; returns how many certificates were warned. Safe to run at any rate:
    a threshold is recorded once per last valid day (the table's unique key)."""
    cfg = settings.current()
    now_ms = events.now_ms() if now_ms is None else now_ms
    today = day_of(now_ms)
    certs = list(Certificate.select().where(~Certificate.revoked))
    warned = _warned(c.id for c in certs)
    n = 0
    for c in certs:
        last = R.effective_expiry(view(c))
        due = R.due_warnings(last, today, warned.get((c.id, last.isoformat()), []), cfg.warn_days, cfg.weekend_forward, cfg.holiday_dates)
        if not due:
            continue
        person = Person.get_or_none(Person.id == c.person_id)
        with events.recording(actor) as rec:
            for d in due:
                Warning.create(certificate_id=c.id, last_valid_on=last.isoformat(), days=d.days,
                               due_on=d.due_on.isoformat(), sent_at=now_ms, late=d.late, before_expiry=d.before_expiry)
            urgent = due[-1]
            rec.emit("certificate.warned", entity=("certificate", c.id), occurred_at=now_ms, payload={
                **_payload(c), "person": person.name if person else None, "last_valid_on": last.isoformat(),
                "reason": R.expiry_reason(view(c)), "days_left": (last - today).days,
                "thresholds": [d.days for d in due], "late": urgent.late, "before_expiry": urgent.before_expiry,
                "to": recipients(person)})
        n += 1
    return n


def acknowledge(warning_id: int, *, actor: str) -> Warning:
    with events.recording(actor) as rec:
        w = Warning.get_or_none(Warning.id == warning_id)
        if w is None:
            raise NotFound(f"预警 {warning_id} 不存在", f"warning {warning_id} does not exist")
        if w.acknowledged_at is not None:
            raise Conflict("预警已确认", "the warning is already acknowledged")
        t = events.now_ms()
        # the certificate's earlier thresholds for the same last day are answered with it
        Warning.update(acknowledged_by=actor, acknowledged_at=t).where(
            (Warning.certificate_id == w.certificate_id) & (Warning.last_valid_on == w.last_valid_on)
            & Warning.acknowledged_at.is_null()).execute()
        rec.emit("certificate.warning_acknowledged", entity=("certificate", w.certificate_id),
                 payload={"warning_id": w.id, "days": w.days, "last_valid_on": w.last_valid_on})
    return w


def inbox(limit: int = 200) -> list[dict]:
    """Unacknowledged warnings of certificates not renewed since (newest first), the most urgent threshold
    per certificate."""
    today = day_of(events.now_ms())
    rows = list(Warning.select().where(Warning.acknowledged_at.is_null())
                .order_by(Warning.sent_at.desc(), Warning.days.asc()))
    certs = {c.id: c for c in Certificate.select().where(Certificate.id.in_({w.certificate_id for w in rows}))}
    out: list[dict] = []
    seen: set[int] = set()
    people = {p.id: p for p in Person.select()}
    for w in rows:
        c = certs[w.certificate_id]
        last = R.effective_expiry(view(c))
        if c.revoked or w.last_valid_on != last.isoformat() or c.id in seen:
            continue
        seen.add(c.id)
        p = people.get(c.person_id)
        out.append({"id": w.id, "certificate_id": c.id, "person_id": c.person_id, "person": p.name if p else None,
                    "kind": c.kind, "number": c.number, "last_valid_on": w.last_valid_on, "days": w.days,
                    "days_left": (last - today).days, "late": bool(w.late), "sent_at": w.sent_at})
        if len(out) >= limit:
            break
    return out


def listing(expiring_within_days: int | None = None, person_id: int | None = None) -> list[dict]:
    """Every certificate (the revoked last), soonest lapse first; with a window, only those whose last valid
    day is within that many days (already lapsed ones included)."""
    today = day_of(events.now_ms())
    q = Certificate.select()
    if person_id is not None:
        q = q.where(Certificate.person_id == person_id)
    certs = list(q)
    warned = _warned(c.id for c in certs)
    # only the people these certificates name: one person's list loaded all 3,000 people (the gate's decision,
    # 184 ms per tap in bench/gate.py, issue 19)
    ids = list({c.person_id for c in certs})
    people = {p.id: p for i in range(0, len(ids), 500) for p in Person.select().where(Person.id.in_(ids[i:i + 500]))}
    out = [certificate_dict(c, today, warned, people.get(c.person_id)) for c in certs]
    if expiring_within_days is not None:
        out = [d for d in out if not d["revoked"] and d["days_left"] <= expiring_within_days]
    return sorted(out, key=lambda d: (d["revoked"], d["last_valid_on"], d["id"]))


def coverage(now_ms: int | None = None) -> dict:
    """资质证书预警率: of the certificates that lapsed while on record (their last valid day passed, not
    revoked; one entered already lapsed is counted apart), how many had a warning recorded before they did; and every certificate that is now silent (in its warning window with
    no warning — the scan makes this empty)."""
    today = day_of(events.now_ms() if now_ms is None else now_ms)
    cfg = settings.current()
    certs = list(Certificate.select().where(~Certificate.revoked))
    before: dict[tuple[int, str], bool] = {}
    for w in Warning.select().where(Warning.certificate_id.in_([c.id for c in certs])):
        k = (w.certificate_id, w.last_valid_on)
        before[k] = before.get(k, False) or bool(w.before_expiry)
    lapsed = warned = entered_lapsed = 0
    silent = []
    for c in certs:
        last = R.effective_expiry(view(c))
        k = (c.id, last.isoformat())
        state = R.cert_state(last, today, k in before, False, cfg.warn_days, cfg.weekend_forward, cfg.holiday_dates)
        if state == "silent":
            silent.append(c.id)
        if today > last and day_of(c.created_at) > last:
            entered_lapsed += 1      # recorded after it lapsed: nobody could have been warned
        elif today > last:
            lapsed += 1
            warned += before.get(k, False)
    return {"lapsed": lapsed, "warned_before_lapse": warned, "entered_lapsed": entered_lapsed,
            "rate": round(100.0 * warned / lapsed, 1) if lapsed else 100.0, "silent": silent}


def counts() -> dict:
    """For the wall board: certificates lapsed, in their warning window, and warnings not yet acknowledged."""
    states = [d["state"] for d in listing() if not d["revoked"]]
    return {"expired": states.count("expired"), "warned": states.count("warned") + states.count("silent"),
            "unacknowledged": len(inbox())}
