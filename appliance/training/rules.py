"""Training and certificate rules as data and pure functions (no database, no clock): the certificate
kinds and their validity, whether a certificate covers a job window, the expiry-warning schedule, the
statutory training hours, exam drawing and scoring, mastery.

Sources (see /work/shared/domain/RULES.md §B.6; [S] = secondary source, [U] = not found, configurable):
- 特种作业目录 and the 特种作业操作证 (6 years, reviewed every 3 years; not reviewed in time → invalid):
  《特种作业人员安全技术培训考核管理规定》(原国家安全监管总局令第30号, amended by 第80号令), its 附件 特种作业目录 [S].
- 特种设备作业人员证 (起重机指挥 Q1, 起重机司机 Q2, 叉车司机 N1, 特种设备安全管理 A; valid 4 years):
  《特种设备作业人员监督管理办法》(质检总局令第140号) and TSG Z6001-2019 [S].
- 主要负责人 / 安全生产管理人员 安全生产知识和管理能力考核合格证 (valid 3 years): 《安全生产培训管理办法》
  (原国家安全监管总局令第44号) [S].
- Training hours: 《生产经营单位安全培训规定》(原国家安全监管总局令第3号, 2015 修订) Art. 9 (principals and safety
  managers: initial ≥ 32 h, yearly ≥ 12 h; 危化/非煤矿山/烟花爆竹/金属冶炼 48 h / 16 h) and Art. 13 (new workers
  ≥ 24 h before starting; in those industries ≥ 72 h, and ≥ 20 h every year) [S].
- Warnings 60/30/7/0 days before expiry: GUIDE §3 and issue #20 (apply within 60 days before expiry, RULES.md
  §B.6 [S]); the days are the plant's setting ([training] warn_days).
"""
from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

# ---------------------------------------------------------------- certificate kinds

SPECIAL_OPERATION = "special_operation"     # 特种作业操作证 (应急管理部门)
SPECIAL_EQUIPMENT = "special_equipment"     # 特种设备作业人员证 (市场监管部门)
MANAGEMENT = "management"                   # 安全生产知识和管理能力考核合格证


@dataclass(frozen=True)
class CertKind:
    """One kind of certificate: its code, its category (a code a requirement may name to accept any kind
    in it), its group, names, and how long it is valid and when it is reviewed."""

    code: str
    category: str
    group: str
    zh: str
    en: str
    valid_years: int
    review_years: int | None   # None: no review between issue and expiry


def _so(code: str, category: str, zh: str, en: str) -> CertKind:
    # 30号令: 特种作业操作证 valid 6 years, reviewed every 3 years [S]
    return CertKind(code, category, SPECIAL_OPERATION, zh, en, 6, 3)


# 特种作业目录 (30号令 附件, the categories a chemical plant meets; 煤矿/金属非金属矿山/石油天然气/冶金/烟花爆竹 left out)
CERT_KINDS: tuple[CertKind, ...] = (
    _so("ELEC-HV", "ELEC", "高压电工作业", "High-voltage electrician"),                      # 目录 1.1
    _so("ELEC-LV", "ELEC", "低压电工作业", "Low-voltage electrician"),                       # 目录 1.2
    _so("ELEC-EX", "ELEC", "防爆电气作业", "Explosion-proof electrical work"),               # 目录 1.3
    _so("WELD-FUSION", "WELD", "熔化焊接与热切割作业", "Fusion welding and thermal cutting"),  # 目录 2.1
    _so("WELD-PRESSURE", "WELD", "压力焊作业", "Pressure welding"),                          # 目录 2.2
    _so("WELD-BRAZE", "WELD", "钎焊作业", "Brazing and soldering"),                          # 目录 2.3
    _so("HEIGHT-SCAFFOLD", "HEIGHT", "登高架设作业", "Scaffold erection at height"),          # 目录 3.1
    _so("HEIGHT-MAINT", "HEIGHT", "高处安装、维护、拆除作业", "Installation, maintenance, dismantling at height"),  # 3.2
    _so("REFRIG-OP", "REFRIG", "制冷与空调设备运行操作作业", "Refrigeration plant operation"),  # 目录 4.1
    _so("REFRIG-REPAIR", "REFRIG", "制冷与空调设备安装修理作业", "Refrigeration plant installation and repair"),  # 4.2
    _so("CHEM-CHLORINATION", "CHEM", "氯化工艺作业", "Chlorination process"),                 # 目录 9.x (危化)
    _so("CHEM-HYDROGENATION", "CHEM", "加氢工艺作业", "Hydrogenation process"),
    _so("CHEM-OXIDATION", "CHEM", "氧化工艺作业", "Oxidation process"),
    _so("CHEM-POLYMERIZATION", "CHEM", "聚合工艺作业", "Polymerisation process"),
    _so("CHEM-NITRATION", "CHEM", "硝化工艺作业", "Nitration process"),
    _so("CHEM-INSTRUMENT", "CHEM", "化工自动化控制仪表作业", "Chemical automation and control instruments"),
    # 特种设备作业人员证: valid 4 years, renewed before expiry (140号令 / TSG Z6001-2019) [S]
    CertKind("SE-Q1", "LIFT", SPECIAL_EQUIPMENT, "起重机指挥(Q1)", "Crane signaller (Q1)", 4, None),
    CertKind("SE-Q2", "LIFT", SPECIAL_EQUIPMENT, "起重机司机(Q2)", "Crane operator (Q2)", 4, None),
    CertKind("SE-N1", "FORKLIFT", SPECIAL_EQUIPMENT, "叉车司机(N1)", "Forklift driver (N1)", 4, None),
    CertKind("SE-A", "SE-MGMT", SPECIAL_EQUIPMENT, "特种设备安全管理(A)", "Special equipment safety management (A)", 4, None),
    # 安全生产知识和管理能力考核合格证: valid 3 years (44号令) [S]
    CertKind("MGR-PRINCIPAL", "MGR", MANAGEMENT, "主要负责人安全生产知识和管理能力考核合格证",
             "Principal's safety competence certificate", 3, None),
    CertKind("MGR-SAFETY", "MGR", MANAGEMENT, "安全生产管理人员安全生产知识和管理能力考核合格证",
             "Safety manager's competence certificate", 3, None),
)
KINDS: dict[str, CertKind] = {k.code: k for k in CERT_KINDS}
CATEGORIES: frozenset[str] = frozenset(k.category for k in CERT_KINDS)

# The certificate categories a worker doing a GB 30871-2022 special work type usually must hold (a suggestion
# for the permits domain, [S]: 动火 by welding/cutting → 焊工证; 临时用电 connection → 电工证; scaffolding and
# work at height → 高处作业证; lifting → 起重机司机/指挥). The permit decides which of its people need which.
WORK_TYPE_CERTS: dict[str, tuple[str, ...]] = {
    "动火": ("WELD",),
    "临时用电": ("ELEC",),
    "高处": ("HEIGHT",),
    "吊装": ("LIFT",),
}


def matches(kind_code: str, required: str) -> bool:
    """Does a certificate of `kind_code` satisfy a requirement naming a kind or a whole category?"""
    k = KINDS.get(kind_code)
    return kind_code == required or (k is not None and k.category == required)


def known_requirement(code: str) -> bool:
    return code in KINDS or code in CATEGORIES


# ---------------------------------------------------------------- validity

@dataclass(frozen=True)
class CertView:
    """What the rules need of a stored certificate (dates are the plant's calendar days)."""

    id: int
    kind: str
    number: str
    issued_on: date
    expires_on: date
    review_due_on: date | None = None
    revoked: bool = False


def effective_expiry(c: CertView) -> date:
    """The last day the certificate is valid: its expiry, or an earlier review date (30号令: a 特种作业操作证
    not reviewed in time is invalid from then on)."""
    return min(c.expires_on, c.review_due_on) if c.review_due_on else c.expires_on


def expiry_reason(c: CertView) -> str:
    return "review" if c.review_due_on and c.review_due_on < c.expires_on else "expiry"


def valid_on(c: CertView, day: date) -> bool:
    """Valid through the whole of its last day (the plant's calendar)."""
    return not c.revoked and c.issued_on <= day <= effective_expiry(c)


@dataclass(frozen=True)
class Problem:
    """Why a person may not do a job needing `required` over a window: code is missing (no certificate of
    that kind), expired (not valid at the start), expires_during (valid at the start, not at the end),
    not_yet_valid (issued after the start) or revoked."""

    required: str
    code: str
    zh: str
    en: str
    certificate_id: int | None = None
    expires_on: date | None = None

    def as_dict(self) -> dict:
        return {"required": self.required, "code": self.code, "zh": self.zh, "en": self.en,
                "certificate_id": self.certificate_id,
                "expires_on": self.expires_on.isoformat() if self.expires_on else None}


def _name(code: str) -> tuple[str, str]:
    k = KINDS.get(code)
    if k:
        return k.zh, k.en
    ks = [k for k in CERT_KINDS if k.category == code]
    return ("/".join(k.zh for k in ks) or code), ("/".join(k.en for k in ks) or code)


def problems(certs: Iterable[CertView], required: Sequence[str], start: date, end: date) -> list[Problem]:
    """For each required kind (or category): [] when one certificate is valid over the whole window
    start..end (both days included), else the one problem that comes closest to it (the certificate the
    person would have to renew)."""
    if end < start:
        raise ValueError("end before start")
    certs = list(certs)
    out: list[Problem] = []
    for req in dict.fromkeys(required):
        cands = [c for c in certs if matches(c.kind, req)]
        zh, en = _name(req)
        if any(valid_on(c, start) and valid_on(c, end) for c in cands):
            continue
        if not cands:
            out.append(Problem(req, "missing", f"无{zh}证书", f"no {en} certificate"))
            continue
        live = [c for c in cands if not c.revoked]
        if not live:
            c = cands[0]
            out.append(Problem(req, "revoked", f"{zh}证书 {c.number} 已注销", f"the {en} certificate {c.number} is revoked", c.id))
            continue
        best = max(live, key=effective_expiry)
        last = effective_expiry(best)
        why = "复审" if expiry_reason(best) == "review" else "有效"
        if best.issued_on > start:
            out.append(Problem(req, "not_yet_valid", f"{zh}证书 {best.number} 于 {best.issued_on} 才生效",
                               f"the {en} certificate {best.number} is valid only from {best.issued_on}", best.id, last))
        elif last < start:
            out.append(Problem(req, "expired", f"{zh}证书 {best.number} 已于 {last} 过期（{why}期限）",
                               f"the {en} certificate {best.number} expired on {last} ({expiry_reason(best)})",
                               best.id, last))
        else:
            out.append(Problem(req, "expires_during", f"{zh}证书 {best.number} 于 {last} 到期，早于作业结束 {end}",
                               f"the {en} certificate {best.number} ends on {last}, before the job ends on {end}",
                               best.id, last))
    return out


# ---------------------------------------------------------------- expiry warnings

DEFAULT_WARN_DAYS = (60, 30, 7, 0)   # GUIDE §3, issue #20; [training] warn_days


def warn_day(last_valid: date, days: int, weekend_forward: bool = True, holidays: Collection[date] = ()) -> date:
    """The day the `days`-before warning is due. On a Saturday or Sunday, or on a public holiday the plant
    lists ([training] holidays: the State Council's yearly 放假安排, which moves from year to year, so it is
    the plant's list), it is brought forward to the working day before (the safety office reads the inbox on
    working days; a warning never comes later for it)."""
    d = last_valid - timedelta(days=days)
    if weekend_forward:
        while d.weekday() >= 5 or d in holidays:
            d -= timedelta(days=1)
    return d


@dataclass(frozen=True)
class Due:
    """A warning to record now: its threshold (days before the last valid day), the day it was due, whether it
    is sent after that day (the appliance was off, or the certificate was entered late) and whether it still
    comes before the certificate lapses."""

    days: int
    due_on: date
    late: bool
    before_expiry: bool


def due_warnings(last_valid: date, today: date, sent: Iterable[int], warn_days: Sequence[int] = DEFAULT_WARN_DAYS,
                 weekend_forward: bool = True, holidays: Collection[date] = ()) -> list[Due]:
    """Every threshold whose day has come and that has no warning yet, most urgent last. A threshold missed
    while the appliance was off is sent late, never skipped."""
    done = set(sent)
    out = []
    for n in sorted(set(warn_days), reverse=True):
        if n in done:
            continue
        day = warn_day(last_valid, n, weekend_forward, holidays)
        if today >= day:
            out.append(Due(n, day, today > day, today <= last_valid))
    return out


def cert_state(last_valid: date, today: date, warned: bool, revoked: bool = False,
               warn_days: Sequence[int] = DEFAULT_WARN_DAYS, weekend_forward: bool = True,
               holidays: Collection[date] = ()) -> str:
    """valid (before its first warning day), warned (in the warning window with a warning recorded),
    expired (past its last valid day, or revoked) — or silent: in the window with no warning, which the
    scan exists to make impossible (预警率 100 %)."""
    if revoked or today > last_valid:
        return "expired"
    if today < warn_day(last_valid, max(warn_days), weekend_forward, holidays):
        return "valid"
    return "warned" if warned else "silent"


# ---------------------------------------------------------------- training hours

HAZCHEM = "hazchem"   # 煤矿、非煤矿山、危险化学品、烟花爆竹、金属冶炼 (3号令 Art. 9, 13)
OTHER = "other"
PERSON_CATEGORIES = ("principal", "safety_manager", "worker")

# (industry, category) → (initial hours, yearly hours or None when the rule names none) — 3号令 (2015)
HOURS: dict[tuple[str, str], tuple[int, int | None]] = {
    (HAZCHEM, "principal"): (48, 16),        # Art. 9 ¶2
    (HAZCHEM, "safety_manager"): (48, 16),   # Art. 9 ¶2
    (HAZCHEM, "worker"): (72, 20),           # Art. 13 ¶2
    (OTHER, "principal"): (32, 12),          # Art. 9 ¶1
    (OTHER, "safety_manager"): (32, 12),     # Art. 9 ¶1
    (OTHER, "worker"): (24, None),           # Art. 13 ¶1 (no yearly minimum named) [U for yearly]
}


def required_hours(industry: str, category: str, initial: bool) -> int | None:
    """The statutory minimum training hours for a year: the initial training in the year a person starts in
    the role, the yearly re-training after it."""
    first, yearly = HOURS[(industry, category)]
    return first if initial else yearly


def hours_status(done: float, required: int | None) -> dict:
    """{required, done, short, met}: short is what is still missing (0 when met or nothing is required)."""
    short = max(0.0, (required or 0) - done)
    return {"required": required, "done": round(done, 1), "short": round(short, 1), "met": short == 0}


# ---------------------------------------------------------------- questions, exams, scoring

QUESTION_KINDS = ("single", "multiple", "judge")
KIND_ORDER = {"judge": 0, "single": 1, "multiple": 2}   # the usual paper: 判断, 单选, 多选
DIFFICULTIES = (1, 2, 3)                                # 易 / 中 / 难


def check_answer(kind: str, options: Sequence[str], answer: Sequence[int]) -> str | None:
    """Why a question's answer does not fit its kind and options (None: it fits)."""
    if kind not in QUESTION_KINDS:
        return "kind"
    if kind == "judge" and len(options) != 2:
        return "options"
    if kind != "judge" and not 2 <= len(options) <= 8:
        return "options"
    if not answer or len(set(answer)) != len(answer) or any(not 0 <= a < len(options) for a in answer):
        return "answer"
    if kind in ("single", "judge") and len(answer) != 1:
        return "answer"
    if kind == "multiple" and len(answer) < 2:
        return "answer"
    return None


def is_correct(answer: Sequence[int], given: Sequence[int] | None) -> bool:
    """All or nothing: a multiple-choice question with one option missing or extra scores nothing
    (多选题 少选、多选均不得分, the usual rule of 安全生产考试)."""
    return given is not None and sorted(set(given)) == sorted(answer)


@dataclass(frozen=True)
class Pick:
    """Draw `count` questions of `topic` (None: any topic) at `difficulty` (None: any)."""

    topic: str | None
    difficulty: int | None
    count: int


class NotEnoughQuestions(ValueError):
    """The bank lacks questions for a pick: (pick index, wanted, available)."""

    def __init__(self, index: int, wanted: int, available: int):
        super().__init__(f"pick {index}: {wanted} wanted, {available} available")
        self.index, self.wanted, self.available = index, wanted, available


def draw(pool: Mapping[int, tuple[str, int, str]], picks: Sequence[Pick], seed: int | str) -> list[int]:
    """Question ids for one paper: each pick drawn at random from the questions (id → (topic, difficulty,
    kind)) it matches, never one question twice; the paper ordered 判断, 单选, 多选 and shuffled within each.
    The same seed gives the same paper (so a paper can be rebuilt and checked)."""
    rng = random.Random(str(seed))
    taken: set[int] = set()
    for i, p in enumerate(picks):
        cands = sorted(q for q, (topic, diff, _) in pool.items() if q not in taken
                       and (p.topic is None or topic == p.topic) and (p.difficulty is None or diff == p.difficulty))
        if len(cands) < p.count:
            raise NotEnoughQuestions(i, p.count, len(cands))
        taken.update(rng.sample(cands, p.count))
    out = sorted(taken)
    rng.shuffle(out)
    return sorted(out, key=lambda q: KIND_ORDER[pool[q][2]])


def score(answers: Sequence[Sequence[int]], given: Sequence[Sequence[int] | None]) -> tuple[int, int, float]:
    """(correct, total, percent to one decimal) of a paper; each question weighs the same."""
    total = len(answers)
    correct = sum(is_correct(a, g) for a, g in zip(answers, given, strict=True))
    return correct, total, round(100.0 * correct / total, 1) if total else 0.0


def passed(percent: float, pass_mark: float) -> bool:
    return percent >= pass_mark


def mastery(rows: Iterable[tuple[str, bool]]) -> dict[str, dict]:
    """topic → {answered, correct, rate (掌握率, percent)} from (topic, correct) per answered question."""
    acc: dict[str, list[int]] = {}
    for topic, ok in rows:
        a = acc.setdefault(topic, [0, 0])
        a[0] += 1
        a[1] += bool(ok)
    return {t: {"answered": n, "correct": c, "rate": round(100.0 * c / n, 1)} for t, (n, c) in sorted(acc.items())}


def weakest(by_topic: Mapping[str, Mapping], limit: int = 3, min_answered: int = 3) -> list[str]:
    """The topics with the lowest mastery among those answered at least `min_answered` times."""
    ok = [(v["rate"], t) for t, v in by_topic.items() if v["answered"] >= min_answered]
    return [t for _, t in sorted(ok)[:limit]]


# ---------------------------------------------------------------- courses

# A video unit counts as done when this share of it was played (issue #20; the plant's [training]
# video_done_share), measured on the server over the ranges the page reports as played.
VIDEO_DONE_SHARE = 0.9
# The most a page may claim to have played per second of wall time since the unit was opened (a phone may
# play at 2x), plus a few seconds for the clocks and the network.
MAX_PLAYBACK_RATE = 2.0
PLAY_SLACK_S = 5.0


def merge_ranges(ranges: Iterable[Sequence[float]], duration: float | None = None) -> list[list[float]]:
    """Played [start, end] ranges (seconds) merged and sorted, clipped to 0..duration; empty ones dropped."""
    out: list[list[float]] = []
    for a, b in sorted((float(r[0]), float(r[1])) for r in ranges if len(r) == 2):
        a, b = max(0.0, a), b if duration is None else min(b, duration)
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [[round(a, 2), round(b, 2)] for a, b in out]


def covered(ranges: Iterable[Sequence[float]]) -> float:
    """Seconds covered by merged ranges."""
    return round(sum(b - a for a, b in ranges), 2)


def plausible_watch(before_s: float, after_s: float, elapsed_s: float) -> bool:
    """Could the page have played `after_s - before_s` new seconds in `elapsed_s` of wall time?"""
    return after_s - before_s <= max(0.0, elapsed_s) * MAX_PLAYBACK_RATE + PLAY_SLACK_S


def video_done(watched_s: float, duration_s: float | None, share: float = VIDEO_DONE_SHARE) -> bool:
    """A video is done when `share` of its length was played (never while its length is unknown)."""
    return bool(duration_s) and watched_s >= share * float(duration_s or 0) - 0.05


TARGET_KINDS = ("role", "department", "work_type", "company", "person")


def assignment_matches(target_kind: str, target: str, person: Mapping[str, object]) -> bool:
    """Does an assignment reach a person? person: {id, role (their login's role, or None), department,
    job (工种, the work type), company (a contractor's firm, as the core's person record holds it)}."""
    field = {"role": "role", "department": "department", "work_type": "job", "company": "company",
             "person": "id"}[target_kind]
    v = person.get(field)
    return v is not None and v != "" and str(v) == target


# "Learn now" (issue #20): the topics of the units offered after an event about a person. A confirmed PPE
# violation (the detector sees a missing hard hat) → the PPE units; a hazard → the units of the topics its
# category (the 8 categories of the hazards domain, HAZARD_DANGER_TYPE) usually calls for.
PPE_TOPIC = "个体防护"
HAZARD_CATEGORY_TOPICS: dict[str, tuple[str, ...]] = {
    "安全": (PPE_TOPIC, "高处作业", "受限空间"),
    "工艺": ("工艺安全",),
    "电气": ("临时用电", "电气安全"),
    "仪表": ("仪表安全",),
    "消防": ("动火作业", "消防安全"),
    "总图": ("总图安全",),
    "设备": ("设备安全",),
    "其他": (),
}


def learn_now_topics(event_type: str, category: str | None = None) -> tuple[str, ...]:
    if event_type.startswith("vision."):
        return (PPE_TOPIC,)
    return HAZARD_CATEGORY_TOPICS.get(category or "", ())


def related_units(units: Iterable[tuple[int, str, str]], topics: Sequence[str], job: str = "",
                  limit: int = 2) -> list[int]:
    """The unit ids (of (id, topic, work_type)) to offer: those of the topics, the person's own work type
    first, then the general ones (no work type); units for another work type are left out."""
    fit = [(topics.index(t), 0 if wt and wt == job else 1, uid) for uid, t, wt in units
           if t in topics and (not wt or wt == job)]
    return [uid for *_, uid in sorted(fit)[:limit]]


# ---------------------------------------------------------------- the warning as a chat message

def warning_message(p: dict) -> tuple[str, list[str]]:
    """A certificate.warned event's payload as a group-robot message (the webhook's wecom and dingtalk
    formats): a title and its lines, zh-CN first, then en. The title starts 资质证书预警, the word a DingTalk
    robot secured by keyword can be given."""
    kind = KINDS.get(p.get("kind") or "")
    zh_kind, en_kind = (kind.zh, kind.en) if kind else (p.get("kind") or "", p.get("kind") or "")
    person, number, last = p.get("person") or "?", p.get("number") or "", p.get("last_valid_on") or ""
    days = int(p.get("days_left") or 0)
    review = p.get("reason") == "review"
    if days < 0:
        zh_when, en_when = f"已过期 {-days} 天", f"lapsed {-days} day(s) ago"
    elif days == 0:
        zh_when, en_when = "今天是最后有效日", "today is its last valid day"
    else:
        zh_when, en_when = f"还剩 {days} 天", f"{days} day(s) left"
    lines = [f"{person}的「{zh_kind}」（证号 {number}）{'复审' if review else '有效'}至 {last}，{zh_when}。",
             "请安排" + ("复审" if review else "复训换证") + "；过期后，需要此证的作业票和门禁将被拦截。",
             f"{person}: {en_kind} certificate {number} {'due for review' if review else 'valid'} until {last}, "
             f"{en_when}. Arrange the {'review' if review else 'renewal'}: once it lapses, permits and gate "
             "entries that need it are refused."]
    if p.get("late"):
        lines.append("（设备在预警日停机，此预警晚发 / sent late: the appliance was off on the due day）")
    return f"资质证书预警：{person} {zh_kind}", lines
