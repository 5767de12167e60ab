"""Contractor rules as data and pure functions (no database, no clock: `today` is always an argument).

Sources (RULES.md has little on contractors; what is cited here is the law's text as commonly quoted,
status marked like RULES.md: [P] primary text seen, [S] secondary, [U] not found — configurable):
- 《安全生产法》(2021) Art. 49: a unit may not contract work to a unit or person without the safety
  conditions or the qualification (资质) the work needs; it signs a safety agreement and manages the
  contractor's safety in one system [S].
- 《安全生产许可证条例》 Art. 9: a 安全生产许可证 is valid 3 years [S]; expiry is checked on the date.
- 《特种作业人员安全技术培训考核管理规定》(安监总局令第30号) Art. 21/22: the 特种作业操作证 is valid
  6 years and reviewed every 3 years [S]; RULES.md §B.6 (warn 60/30/7/0 days before expiry).
- 《生产经营单位安全培训规定》(安监总局令第3号) Art. 13 / 《安全生产法》 Art. 28: people on site get the
  plant's safety training (入厂安全教育) before work; its repeat interval is the plant's [U] (default 365 d).
- GB 30871-2022 §4 (作业前安全交底, RULES.md §B.1 field `aqjdr`/`jsjdr`): a special-work job starts only
  after the safety briefing to every worker on it [S].
- 《个人信息保护法》 Art. 28/51: the ID number is sensitive personal information: kept, but masked
  wherever it is listed [S].
- GB 11643-1999: the 18-character citizen ID number and its check character (ISO 7064 MOD 11-2) [P].
- Evaluation scoring and the blacklist thresholds: no national formula was found [U]; the weights below
  are the plant's defaults, settings in [contractors].
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

# ---------------------------------------------------------------- firm documents (资质)

# kind → (zh, en); every kind may be reviewed; REQUIRED_DOCS must be approved and in date for entry
DOC_KINDS: dict[str, tuple[str, str]] = {
    "business_licence": ("营业执照", "Business licence"),
    "safety_licence": ("安全生产许可证", "Work safety licence"),       # 条例 Art. 9: 3 years
    "qualification": ("资质证书", "Qualification certificate"),       # 安全生产法 Art. 49
    "insurance": ("工伤保险/安责险", "Injury / liability insurance"),  # 安全生产法 Art. 51
    "safety_agreement": ("安全管理协议", "Safety management agreement"),  # 安全生产法 Art. 49 ¶2
}
REQUIRED_DOCS: tuple[str, ...] = ("business_licence", "safety_licence", "qualification", "insurance")
EXPIRY_WARN_DAYS = (60, 30, 7, 0)   # RULES.md §B.6: warnings before a certificate's expiry
EXPIRING_DAYS = 30                  # a document within this many days of expiry makes the firm "expiring"
SAFETY_LICENCE_YEARS = 3            # 安全生产许可证条例 Art. 9


def document_state(expires_on: date | None, today: date, expiring_days: int = EXPIRING_DAYS) -> str:
    """valid | expiring | expired. No expiry date (a long-term 营业执照) is valid. A document is still
    valid ON its expiry date and expired the day after (the date printed is the last valid day)."""
    if expires_on is None:
        return "valid"
    if today > expires_on:
        return "expired"
    if (expires_on - today).days <= expiring_days:
        return "expiring"
    return "valid"


def warning_due(expires_on: date, today: date, steps: Sequence[int] = EXPIRY_WARN_DAYS) -> int | None:
    """The warning step (60, 30, 7 or 0 days) that `today` has reached, or None before the first."""
    left = (expires_on - today).days
    reached = [s for s in steps if left <= s]
    return min(reached) if reached else None


@dataclass(frozen=True)
class Doc:
    """A firm's document as the rules see it: its kind, review status and expiry."""

    kind: str
    status: str                 # pending | approved | rejected
    expires_on: date | None


@dataclass(frozen=True)
class FirmState:
    status: str                 # ok | expiring | expired | blacklisted (the API contract)
    problems: tuple[str, ...]   # codes like "expired:safety_licence", "missing:insurance"


def firm_status(docs: Iterable[Doc], blacklisted: bool, today: date,
                required: Sequence[str] = REQUIRED_DOCS, expiring_days: int = EXPIRING_DAYS) -> FirmState:
    """安全生产法 Art. 49: a firm is qualified when each required document has an approved copy in date.
    Only approved documents count (a scan awaiting review proves nothing); of several approved copies of
    one kind, the one valid longest counts. A missing required document makes the firm "expired" (not
    qualified); the blacklist overrides everything."""
    best: dict[str, Doc] = {}
    for d in docs:
        if d.status != "approved":
            continue
        cur = best.get(d.kind)
        if cur is None or _later(d.expires_on, cur.expires_on):
            best[d.kind] = d
    problems: list[str] = []
    worst = "ok"
    for kind in required:
        held = best.get(kind)
        if held is None:
            problems.append(f"missing:{kind}")
            worst = "expired"
            continue
        st = document_state(held.expires_on, today, expiring_days)
        if st == "expired":
            problems.append(f"expired:{kind}")
            worst = "expired"
        elif st == "expiring":
            problems.append(f"expiring:{kind}")
            if worst == "ok":
                worst = "expiring"
    if blacklisted:
        return FirmState("blacklisted", ("blacklisted", *problems))
    return FirmState(worst, tuple(problems))


def _later(a: date | None, b: date | None) -> bool:
    if a is None:
        return b is not None
    return b is not None and a > b


# ---------------------------------------------------------------- review and the blacklist

def review_refusal(submitted_by: str, reviewer: str, decision: str, reason: str) -> str | None:
    """Why a document review may not be recorded (None: it may). No one approves what they submitted
    (four-eyes, like the hazard acceptance); a rejection must say why."""
    if decision not in ("approve", "reject"):
        return "bad_decision"
    if submitted_by == reviewer:
        return "self_review"
    if decision == "reject" and len(reason.strip()) < 2:
        return "reason_required"
    return None


BLACKLIST_SCORE = 60          # [U] a job scored below this flags the firm for review (不合格)
REVIEW_AVERAGE = 75           # [U] the average of the last REVIEW_WINDOW jobs below this flags it too
REVIEW_WINDOW = 3
BLACKLIST_REPEATS = 2         # [U] this many 不合格 jobs in a row: blacklisting is proposed


def review_flag(scores_newest_first: Sequence[int], fail_below: int = BLACKLIST_SCORE,
                average_below: int = REVIEW_AVERAGE, window: int = REVIEW_WINDOW,
                repeats: int = BLACKLIST_REPEATS) -> str | None:
    """None, "review" (the safety office looks at the firm) or "blacklist" (proposed: a person decides,
    with a reason; the appliance never blacklists on its own)."""
    if not scores_newest_first:
        return None
    recent = list(scores_newest_first[:repeats])
    if len(recent) == repeats and all(s < fail_below for s in recent):
        return "blacklist"
    if scores_newest_first[0] < fail_below:
        return "review"
    last = scores_newest_first[:window]
    if len(last) == window and sum(last) / window < average_below:
        return "review"
    return None


# ---------------------------------------------------------------- evaluation (绩效评价)

@dataclass(frozen=True)
class Weights:
    """[U] deductions per finding and the share of the supervisor's rating (settings in [contractors])."""

    ppe_violation: int = 5        # each PPE violation seen on the job (vision or a patrol)
    hazard_caused: int = 10       # each hazard the firm caused
    permit_breach: int = 20       # each breach of a special-work permit (GB 30871) — the gravest
    rating_share: float = 0.3     # the supervisor's 1–5 rating, scaled to 0–100, weighs this much


GRADES = ((90, "excellent"), (75, "good"), (60, "pass"), (0, "fail"))   # [U] 优秀 / 合格 / 基本合格 / 不合格


def evaluation_score(ppe_violations: int, hazards_caused: int, permit_breaches: int, rating: int,
                     w: Weights = Weights()) -> tuple[int, str]:
    """(score 0–100, grade). The findings deduct from 100 (never below 0); the rating (1–5) is scaled to
    0–100 and blended in. Any permit breach caps the grade at "pass" whatever the rating: a special-work
    breach is never excellent work."""
    if min(ppe_violations, hazards_caused, permit_breaches) < 0:
        raise ValueError("counts may not be negative")
    if not 1 <= rating <= 5:
        raise ValueError("rating must be 1..5")
    found = max(0, 100 - w.ppe_violation * ppe_violations - w.hazard_caused * hazards_caused
                - w.permit_breach * permit_breaches)
    score = round((1 - w.rating_share) * found + w.rating_share * (rating - 1) * 25)
    grade = next(g for floor, g in GRADES if score >= floor)
    if permit_breaches and grade in ("excellent", "good"):
        grade = "pass"
    return score, grade


# The findings an evaluation starts from are the records' (evaluation.findings): the PPE violations seen in
# the job's area on its dates, the hazards that name the firm or its people, the permit suspensions of the
# permits its people worked on; the supervisor's own counts, where given, override them (they know what a
# camera or a text search cannot: a violation by the plant's own staff, a hazard the firm only reported).
FINDINGS = ("ppe_violations", "hazards_caused", "permit_breaches")
_FIRM_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团", "公司")


def firm_aliases(name: str) -> tuple[str, ...]:
    """The ways a record may name a firm: its full name and the name without its company-form suffix
    (江东建设工程有限公司 → 江东建设工程); a name left shorter than 2 characters is not an alias."""
    out = [name.strip()]
    for suffix in _FIRM_SUFFIXES:
        if out[0].endswith(suffix):
            out.append(out[0][: -len(suffix)])
            break
    return tuple(a for a in dict.fromkeys(out) if len(a) >= 2)


def attributed(text: str, names: Iterable[str]) -> bool:
    """Whether a hazard's text names the firm or one of its people (a name under 2 characters never matches)."""
    return any(len(n) >= 2 and n in text for n in names)


def prefill(found: dict[str, int], given: dict[str, int | None]) -> tuple[dict[str, int], tuple[str, ...]]:
    """The counts the score uses — the supervisor's where given, else the records' — and which were overridden
    (given and different from the records)."""
    counts: dict[str, int] = {}
    overridden: list[str] = []
    for k in FINDINGS:
        mine = given.get(k)
        counts[k] = found.get(k, 0) if mine is None else mine
        if mine is not None and mine != found.get(k, 0):
            overridden.append(k)
    return counts, tuple(overridden)


# ---------------------------------------------------------------- people: training and certificates

ENTRY_TRAINING_DAYS = 365     # [U] 入厂安全教育 repeated yearly by default ([contractors] entry_training_days)


def training_state(trained_on: date | None, today: date, valid_days: int = ENTRY_TRAINING_DAYS) -> str:
    """none | valid | expired: the plant's entry training (入厂安全教育, 3号令 Art. 13). Valid through the
    day `valid_days` after it was given; a date in the future (mistyped) does not count."""
    if trained_on is None or trained_on > today:
        return "none"
    return "valid" if today <= trained_on + timedelta(days=valid_days) else "expired"


# 特种作业 types a job may need (安监总局令第30号 附件 目录, the ones contractors usually hold)
CERT_TYPES: dict[str, tuple[str, str]] = {
    "electrician": ("电工作业", "Electrical work"),
    "welding": ("焊接与热切割作业", "Welding and thermal cutting"),
    "height": ("高处作业", "Work at height"),
    "refrigeration": ("制冷与空调作业", "Refrigeration and air conditioning"),
    "hazchem_process": ("危险化学品安全作业", "Hazardous chemicals process operation"),
    "lifting": ("起重机械作业（特种设备）", "Crane operation (special equipment)"),
}
# The training domain's certificate categories (appliance/training/rules.py, 30号令 catalogue) that stand for
# each certificate type a contractor's job may require.
TRAINING_CATEGORY: dict[str, str] = {
    "electrician": "ELEC", "welding": "WELD", "height": "HEIGHT", "refrigeration": "REFRIG",
    "hazchem_process": "CHEM", "lifting": "LIFT",
}
CERT_VALID_YEARS = 6          # 30号令 Art. 21
CERT_REVIEW_YEARS = 3         # 30号令 Art. 21: reviewed (复审) every 3 years


@dataclass(frozen=True)
class Cert:
    """One worker's certificate, as the training domain will hand it over (not stored here)."""

    type: str                   # a CERT_TYPES key
    number: str
    expires_on: date
    review_due_on: date | None = None   # 复审 date; None when the issuer printed none


def certificate_problems(required: Iterable[str], certs: Iterable[Cert], today: date) -> tuple[str, ...]:
    """For each certificate type the job needs: "missing:T", "expired:T" or "review_overdue:T" (30号令
    Art. 21: past its 复审 date the certificate does not count, even before its expiry). Of several
    certificates of a type, a good one is enough."""
    by_type: dict[str, list[Cert]] = {}
    for c in certs:
        by_type.setdefault(c.type, []).append(c)
    out = []
    for t in dict.fromkeys(required):
        held = by_type.get(t, [])
        if not held:
            out.append(f"missing:{t}")
            continue
        if any(today <= c.expires_on and (c.review_due_on is None or today <= c.review_due_on) for c in held):
            continue
        if any(today <= c.expires_on for c in held):
            out.append(f"review_overdue:{t}")
        else:
            out.append(f"expired:{t}")
    return tuple(out)


# ---------------------------------------------------------------- the entry decision at the gate

@dataclass(frozen=True)
class Job:
    """A job the person is on, as the gate sees it."""

    id: int
    status: str                  # planned | approved | started | finished | cancelled
    starts_on: date
    ends_on: date
    required_certs: tuple[str, ...] = ()


@dataclass(frozen=True)
class EntryFacts:
    """Everything the gate decision needs, gathered by the service."""

    known: bool                           # an active badge of an active person
    contractor: bool                      # the person is a contractor's worker (else: an employee)
    firm: FirmState | None = None
    trained_on: date | None = None
    jobs: tuple[Job, ...] = ()
    # None: no certificate source is wired yet (the training domain), so that check is not made and the
    # decision says so; a tuple (maybe empty) is checked against the job's required types
    certs: tuple[Cert, ...] | None = None
    # the certificate types the special-work permits the person is a worker on today need (GB 30871-2022 §4,
    # 30号令 Art. 5): checked beside each job's own required types
    permit_certs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str                           # the first (most serious) reason; "ok" / "employee" when allowed
    reasons: tuple[str, ...] = ()         # every reason found
    job_id: int | None = None
    unchecked: tuple[str, ...] = field(default_factory=tuple)   # checks not made (no source)


ACTIVE_JOB = ("approved", "started")


def active_jobs(jobs: Iterable[Job], today: date) -> list[Job]:
    """Jobs that admit their workers today: approved or started, and today within their dates."""
    return [j for j in jobs if j.status in ACTIVE_JOB and j.starts_on <= today <= j.ends_on]


def entry_decision(f: EntryFacts, today: date, training_days: int = ENTRY_TRAINING_DAYS) -> Decision:
    """Allowed, or refused with every reason (the first shown large). The order is the order of
    seriousness: an unknown card; the firm blacklisted; the firm not qualified (安全生产法 Art. 49);
    no valid entry training (3号令); not on an active job; the job's special-work certificates (30号令)."""
    if not f.known:
        return Decision(False, "unknown_badge", ("unknown_badge",))
    if not f.contractor:
        return Decision(True, "employee")
    reasons: list[str] = []
    if f.firm is None:
        reasons.append("no_firm")
    elif f.firm.status == "blacklisted":
        reasons.append("blacklisted")
    elif f.firm.status == "expired":
        reasons.append("firm_unqualified")
    st = training_state(f.trained_on, today, training_days)
    if st != "valid":
        reasons.append("no_training" if st == "none" else "training_expired")
    jobs = active_jobs(f.jobs, today)
    unchecked: tuple[str, ...] = ()
    job_id = None
    if not jobs:
        reasons.append("no_active_job")
    elif f.certs is None:
        unchecked = ("certificates",)
        job_id = jobs[0].id
    else:
        # admitted if ANY active job's certificates are all good (the worker came for that one)
        problems = [(j, certificate_problems((*j.required_certs, *f.permit_certs), f.certs, today)) for j in jobs]
        good = [j for j, p in problems if not p]
        if good:
            job_id = good[0].id
        else:
            reasons.append("certificate")
            reasons.extend(problems[0][1])
            job_id = jobs[0].id
    if reasons:
        return Decision(False, reasons[0], tuple(reasons), job_id, unchecked)
    return Decision(True, "ok", (), job_id, unchecked)


# ---------------------------------------------------------------- jobs and briefings

def start_refusal(status: str, workers: Iterable[int], confirmed: Iterable[int]) -> str | None:
    """Why a job may not start (None: it may). GB 30871-2022 §4 (作业前安全交底): every worker on the job
    confirmed the briefing before it starts; an unapproved job does not start."""
    if status != "approved":
        return "not_approved"
    missing = set(workers) - set(confirmed)
    if not set(workers):
        return "no_workers"
    if missing:
        return "briefing_missing"
    return None


def permit_worker_refusals(d: Decision, briefed: bool) -> tuple[str, ...]:
    """Why a contractor's worker may not be briefed on or start a special-work permit (empty: they may).
    The gate's own reasons (安全生产法 Art. 49: the firm qualified and not blacklisted; 3号令 Art. 13: entry
    training; 30号令: the job's and today's permits' certificates; an active job) plus the contractor job's
    safety briefing confirmed by that person (GB 30871-2022 §4 作业前安全交底). A plant employee: none."""
    if d.reason == "employee":
        return ()
    reasons = () if d.allowed else d.reasons
    return (*reasons, "briefing_missing") if not briefed and d.reason != "unknown_badge" else reasons


# ---------------------------------------------------------------- personal data

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_problem(s: str) -> str | None:
    """None for a valid 18-character citizen ID number (GB 11643-1999, check character by ISO 7064
    MOD 11-2), else what is wrong: "length", "characters", "birth_date" or "check"."""
    if len(s) != 18:
        return "length"
    if not (s[:17].isdigit() and (s[17].isdigit() or s[17] == "X")):
        return "characters"
    try:
        date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return "birth_date"
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS, strict=True))
    return None if _ID_CHECK[total % 11] == s[17] else "check"


def mask_id_number(s: str) -> str:
    """个人信息保护法 Art. 28/51: lists show the first 4 and last 4 characters only."""
    if len(s) <= 8:
        return "*" * len(s)
    return s[:4] + "*" * (len(s) - 8) + s[-4:]


# ---------------------------------------------------------------- the optional face check at the gate
# dlib's ResNet face descriptor (dlib_face_recognition_resnet_model_v1): two faces of one person are closer
# than 0.6 in Euclidean distance — the threshold dlib documents for it (99.38 % on LFW) [dlib]; faces much
# narrower than 80 px give unreliable descriptors (two different people at 44–63 px came within 0.56 in our
# public-domain test photos), so they are not used [our choice].
FACE_MAX_DISTANCE = 0.6
FACE_MIN_PX = 80
FACE_REASONS = ("face_mismatch", "face_unseen")


def face_verdict(distance: float | None, face_px: int, max_distance: float = FACE_MAX_DISTANCE,
                 min_px: int = FACE_MIN_PX) -> str:
    """"match", "mismatch" (a guard must check the person) or "unseen" (no usable face in the camera's frame:
    a guard checks too). `distance` None: no face was found."""
    if distance is None or face_px < min_px:
        return "unseen"
    return "match" if distance <= max_distance else "mismatch"


def with_face(d: Decision, verdict: str | None) -> Decision:
    """The entry decision after the face check: an allowed entry whose face does not match, or was not seen,
    is refused for a guard to check; a refused one keeps its own reasons (the face adds nothing to them);
    None (no check made: off, no camera, no consent) leaves it as it is."""
    if verdict is None or verdict == "match" or not d.allowed:
        return d
    reason = "face_mismatch" if verdict == "mismatch" else "face_unseen"
    return Decision(False, reason, (reason,), d.job_id, d.unchecked)
