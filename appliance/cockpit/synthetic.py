"""Synthetic plant history (模拟历史数据) for the demo and CI — never for a real plant.

`generate` is a pure, seeded function: the same seed and end give the same history. It makes a year (or
`weeks`) of plausible records for the demo plant's areas:

- hazards (隐患): a Poisson count per area, day and shift. Each area has its own weekly base rate (the reactor
  hall and the tank farm find most; the control room and the gate little), weekdays find more than weekends
  (Monday most: the weekend's findings are reported), the day shift more than the night shift (the loading
  dock works by day only), and a season: more in summer (heat, thunderstorms: the electrical share rises),
  more fire-protection findings in the dry winter. Each is closed within its deadline (about 80 %), late
  (about 12 %), or still open if recent; about 3 % are major.
- gas alarms: a few per detector per week, more in summer; one detector chatters now and then.
- patrol rounds: three a day on each route; about 5 % missed, 8 % incomplete (a checkpoint or two skipped).
- trainings (培训, `trainings`, for the plant's people): a monthly one-hour safety study for employees (each
  person comes to 55–95 % of them), the half-yearly 4-hour re-training in March and September (about 90 %; most who missed it
  make it up two or three weeks later) each followed by a 10-question exam (pass mark 80; each person answers
  with their own skill, a failed paper is retaken a few days later, at most 3 attempts), a 4-hour special
  training per department in its month (hot work and confined space for production in April, electrical and
  lightning safety for maintenance in June, …), the fire drill in November, an 8-hour external re-training
  for the principal and the safety office in May, and a quarterly briefing for contractors. The hours land
  near the 3号令 minimums (20 h a year for a hazchem worker, 16 h for the principal and safety managers):
  some people meet them, some fall short (`seed` gives each employee without a training category one, so
  the minimum applies to all of them). Its own random stream, so the hazards stay those of `generate`.

`seed(...)` writes it into the appliance's tables for `make demo` — every row marked as synthetic (reporter
and actor `system:synthetic`, descriptions and titles starting 【模拟】, one `cockpit.synthetic_history` event
naming the seed and the counts) so it can never be mistaken for real records. The event rides the normal lane;
the hazards, alarms and rounds are bulk rows, not domain events, so they are not sent to a regulator. The
trainings go through the training domain's own functions (`records.add_record`; `exams.create_exam`, `start`
and `submit` at the attempt's past time, then `close_exam`, so no one can take a synthetic exam), so its
rules check them; their `training.*` events carry the actor `system:synthetic`.
"""
from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any
from zoneinfo import ZoneInfo

MARK = "【模拟】"
ACTOR = "system:synthetic"

# weekly hazard base rate per area, and its shift profile (night, day, evening)
AREAS = {
    "TANK": (2.0, (0.15, 0.60, 0.25)),
    "REACT": (2.6, (0.25, 0.45, 0.30)),
    "WH": (1.2, (0.10, 0.70, 0.20)),
    "DOCK": (1.5, (0.05, 0.80, 0.15)),
    "CTRL": (0.3, (0.30, 0.40, 0.30)),
    "GATE": (0.4, (0.20, 0.60, 0.20)),
}
WEEKDAY = (1.35, 1.05, 1.0, 1.0, 0.95, 0.45, 0.35)   # Monday … Sunday (mean ≈ 0.88)
BANDS = ((0, 8), (8, 16), (16, 24))
CATEGORIES = ("安全", "工艺", "电气", "仪表", "消防", "总图", "设备", "其他")
BASE_MIX = (0.22, 0.16, 0.14, 0.10, 0.10, 0.05, 0.18, 0.05)
AREA_MIX = {"REACT": {"工艺": 1.8, "仪表": 1.4}, "TANK": {"设备": 1.5, "消防": 1.3}, "DOCK": {"安全": 1.6, "总图": 1.5},
            "WH": {"消防": 1.6, "电气": 1.3}, "CTRL": {"仪表": 2.0, "电气": 1.5}, "GATE": {"安全": 2.0}}
POINTS = (("GT-101", "TANK", 1.2), ("GT-102", "TANK", 0.6), ("GT-201", "REACT", 1.5), ("GT-202", "REACT", 0.8),
          ("GT-203", "REACT", 0.6), ("GT-301", "WH", 0.3), ("GT-401", "DOCK", 0.9))
CHATTERER = "GT-201"
DESCRIPTIONS = {"安全": "防护栏缺损", "工艺": "工艺参数记录不全", "电气": "配电箱门未关闭/接地松动", "仪表": "仪表显示异常",
                "消防": "灭火器压力不足", "总图": "通道堆放杂物", "设备": "泵体渗漏", "其他": "现场标识不清"}
DEADLINE_DAYS = {"general": 7, "major": 30}
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def season(day: dt.date) -> float:
    """1 ± 0.35, highest in late July (day 200), lowest in late January."""
    return 1.0 + 0.35 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 200) / 365.25)


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method (λ here is small)."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _category(rng: random.Random, area: str, day: dt.date) -> str:
    s = season(day) - 1.0                       # -0.35 … +0.35
    weights = []
    for cat, w in zip(CATEGORIES, BASE_MIX, strict=True):
        w *= AREA_MIX.get(area, {}).get(cat, 1.0)
        if cat == "电气":
            w *= 1 + 1.5 * s                    # summer: thunderstorms, heat
        if cat == "消防":
            w *= 1 - 1.2 * s                    # winter: dry, heating
        weights.append(max(w, 0.01))
    return rng.choices(CATEGORIES, weights)[0]


def generate(end_ms: int, weeks: int = 52, seed: int = 22, tz: str = "Asia/Shanghai", trend: float = 0.0) -> dict:
    """The synthetic history of the `weeks` weeks before `end_ms` (`trend`: the yearly growth of the hazard
    rate, e.g. -0.2 for a plant getting better). Returns {"hazards": [...], "alarms": [...], "rounds": [...]}
    of plain dicts with UTC millisecond times."""
    rng = random.Random(seed)
    zone = ZoneInfo(tz)
    end_day = dt.datetime.fromtimestamp(end_ms / 1000, zone).date()
    start_day = end_day - dt.timedelta(days=7 * weeks)
    hazards: list[dict[str, Any]] = []
    alarms: list[dict[str, Any]] = []
    rounds: list[dict[str, Any]] = []
    day = start_day
    while day < end_day:
        age_years = (end_day - day).days / 365.25
        growth = (1 + trend) ** (-age_years)
        midnight = int(dt.datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)
        for area, (weekly, shifts) in AREAS.items():
            per_day = weekly / 7 / 0.88 * WEEKDAY[day.weekday()] * season(day) * growth
            for b, (lo, hi) in enumerate(BANDS):
                for _ in range(_poisson(rng, per_day * shifts[b])):
                    at = midnight + int(rng.uniform(lo, hi) * HOUR_MS)
                    if at >= end_ms:
                        continue
                    cat = _category(rng, area, day)
                    grade = "major" if rng.random() < 0.03 else "general"
                    deadline = at + DEADLINE_DAYS[grade] * DAY_MS
                    u = rng.random()
                    closed_at = (at + int(rng.uniform(0.2, 0.95) * (deadline - at)) if u < 0.80
                                 else deadline + int(rng.uniform(0.5, 10) * DAY_MS) if u < 0.92 else None)
                    if closed_at is not None and closed_at >= end_ms:
                        closed_at = None
                    hazards.append({"area": area, "category": cat, "grade": grade, "reported_at": at,
                                    "deadline": deadline, "closed_at": closed_at,
                                    "description": f"{MARK}{DESCRIPTIONS[cat]}"})
        for point, area, weekly in POINTS:
            for _ in range(_poisson(rng, weekly / 7 * season(day))):
                at = midnight + int(rng.uniform(0, 24) * HOUR_MS)
                n = 3 if point == CHATTERER and rng.random() < 0.3 else 1
                for i in range(n):
                    t = at + i * 15_000
                    if t < end_ms:
                        alarms.append({"point": point, "area": area, "raised_at": t,
                                       "cleared_at": min(t + int(rng.uniform(1, 30) * 60_000), end_ms - 1)})
        for start_h in (0, 8, 16):
            due_start = midnight + start_h * HOUR_MS + 2 * HOUR_MS
            if due_start + 2 * HOUR_MS >= end_ms:
                continue
            u = rng.random()
            status, missed = (("missed", -1) if u < 0.05 else ("incomplete", rng.randint(1, 2)) if u < 0.13
                              else ("late", 0) if u < 0.18 else ("completed", 0))
            rounds.append({"due_start": due_start, "due_end": due_start + 2 * HOUR_MS, "status": status,
                           "missed": missed})
        day += dt.timedelta(days=1)
    hazards.sort(key=lambda h: h["reported_at"])
    return {"hazards": hazards, "alarms": alarms, "rounds": rounds, "seed": seed, "weeks": weeks,
            "start": int(dt.datetime(start_day.year, start_day.month, start_day.day, tzinfo=zone).timestamp() * 1000),
            "end": end_ms}


# ------------------------------------------------------------------ trainings

PAPER = 10                  # questions on a synthetic exam paper
PASS_MARK = 80.0            # percent (安全生产考试 commonly 80 分及格)
MAX_ATTEMPTS = 3
TRAINER = "安全环保部"
EXTERNAL = "江东市应急管理局培训中心"
MANAGERS = ("厂部", "安全环保部")     # the principal and the safety office: 3号令 Art. 9
# department → (month, title) of its 4-hour special training
SPECIAL = {"生产部": (4, "动火与受限空间作业专项培训"), "设备部": (6, "电气安全与防雷专项培训"),
           "仓储物流部": (5, "危化品装卸与叉车安全专项培训"), "中控室": (7, "报警管理与应急处置专项培训"),
           "安全环保部": (10, "隐患排查与事故调查专项培训"), "厂部": (10, "隐患排查与事故调查专项培训")}


def _months(first: dt.date, last: dt.date) -> list[tuple[int, int]]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def trainings(end_ms: int, people: list[tuple[str, str, str]], weeks: int = 52, seed: int = 22,
              tz: str = "Asia/Shanghai") -> dict:
    """The synthetic training history of `people` ((key, kind employee|contractor, department)) in the `weeks`
    weeks before `end_ms`, from its own random stream. Returns {"records": [{person, held_on, hours, title,
    kind, trainer}], "exams": [{title, held_on, attempts: [{person, number, started_at, submitted_at,
    correct: [bool] * PAPER, passed}]}]}; titles without the 【模拟】 mark (`seed` adds it)."""
    rng = random.Random(f"training:{seed}")
    zone = ZoneInfo(tz)
    end_day = dt.datetime.fromtimestamp(end_ms / 1000, zone).date()
    start_day = end_day - dt.timedelta(days=7 * weeks)
    skill = {key: rng.uniform(0.62, 0.97) for key, _, _ in people}           # a question answered right
    diligence = {key: rng.uniform(0.55, 0.95) for key, _, _ in people}       # a monthly study attended
    employees = [p for p in people if p[1] == "employee"]
    contractors = [p for p in people if p[1] == "contractor"]
    records: list[dict[str, Any]] = []
    exams: list[dict[str, Any]] = []

    def workday(y: int, m: int, lo: int, hi: int) -> dt.date | None:
        days = [d for d in (dt.date(y, m, n) for n in range(lo, hi + 1)) if d.weekday() < 5]
        d = rng.choice(days)
        return d if start_day <= d < end_day else None

    def held(who: list, day: dt.date | None, hours: float, title: str, kind: str, share: float | None,
             trainer: str = TRAINER) -> list[str]:
        came = [p[0] for p in who if rng.random() < (diligence[p[0]] if share is None else share)]
        if day is None:
            return []
        records.extend({"person": k, "held_on": day.isoformat(), "hours": hours, "title": title, "kind": kind,
                        "trainer": trainer} for k in came)
        return came

    def at(day: dt.date) -> int:
        start = dt.datetime(day.year, day.month, day.day, 14, tzinfo=zone) + dt.timedelta(minutes=rng.uniform(0, 120))
        return int(start.timestamp() * 1000)

    for y, m in _months(start_day, end_day - dt.timedelta(days=1)):
        held(employees, workday(y, m, 3, 12), 1.0, "月度安全学习", "briefing", None)
        if m in (3, 9):
            half = "上半年" if m == 3 else "下半年"
            day = workday(y, m, 14, 24)
            came = held(employees, day, 4.0, f"年度安全再培训（{half}）", "yearly", 0.9)
            sat: list[tuple[str, dt.date]] = [(k, day) for k in came] if day else []
            for key, _, _ in employees:
                if day and key not in came and rng.random() < 0.6:
                    later = day + dt.timedelta(days=rng.randint(14, 21))
                    if later < end_day:
                        records.append({"person": key, "held_on": later.isoformat(), "hours": 4.0,
                                        "title": f"年度安全再培训补训（{half}）", "kind": "refresher", "trainer": TRAINER})
                        sat.append((key, later))
            attempts = []
            for key, taught in sat:
                when = taught + dt.timedelta(days=rng.randint(1, 3))
                for number in range(1, MAX_ATTEMPTS + 1):
                    started = at(when)
                    correct = [rng.random() < min(skill[key] + 0.08 * (number - 1), 0.99) for _ in range(PAPER)]
                    if started >= end_ms:
                        break
                    ok = 100.0 * sum(correct) / PAPER >= PASS_MARK
                    attempts.append({"person": key, "number": number, "started_at": started,
                                     "submitted_at": started + int(rng.uniform(8, 25) * 60_000), "correct": correct,
                                     "passed": ok})
                    if ok:
                        break
                    when += dt.timedelta(days=rng.randint(2, 7))
            if attempts:
                exams.append({"title": f"{y}年{half}安全知识考试", "held_on": day.isoformat() if day else "",
                              "attempts": sorted(attempts, key=lambda a: a["started_at"])})
        if m == 5:
            held([p for p in employees if p[2] in MANAGERS], workday(y, m, 10, 20), 8.0,
                 "主要负责人和安全管理人员安全生产知识再培训", "yearly", 1.0, EXTERNAL)
        for dept, (month, title) in SPECIAL.items():
            if m == month:
                held([p for p in employees if p[2] == dept], workday(y, m, 8, 26), 4.0, title, "special", 0.9)
        if m == 11:
            held(employees, workday(y, m, 5, 15), 2.0, "消防器材使用与疏散演练", "special", 0.85)
        if m in (1, 4, 7, 10):
            held(contractors, workday(y, m, 2, 8), 2.0, "承包商入厂安全交底（季度）", "briefing", 0.95)
    records.sort(key=lambda r: (r["held_on"], r["person"]))
    return {"records": records, "exams": exams, "seed": seed, "weeks": weeks}


def _wrong(key: list[int], options: int) -> list[int]:
    """An answer that is not the key: one option of a multiple-choice key (少选 scores nothing), else the next."""
    return [key[0]] if len(key) > 1 else [(key[0] + 1) % options]


def seed_trainings(end_ms: int, weeks: int, seed_value: int, tz: str) -> dict:
    """The synthetic trainings written through the training domain (inside `seed`'s transaction): the records,
    then each exam created, its attempts started and submitted at their past times, and the exam closed.
    Exams are left out when the question bank cannot fill a paper."""
    import json

    from appliance.core.errors import ValidationFailed
    from appliance.core.people import Person
    from appliance.training import exams, records
    from appliance.training.bank import Question

    people = list(Person.select().where(Person.active).order_by(Person.id))
    ids = {p.employee_no: p.id for p in people}
    plan = trainings(end_ms, [(p.employee_no, p.kind, p.department) for p in people], weeks, seed_value, tz)
    # an employee without a training category gets one (厂部: principal, 安全环保部: safety manager, else worker),
    # trained before the year began, so the year's hours are held against the yearly 3号令 minimum
    first_year = dt.datetime.fromtimestamp(end_ms / 1000, ZoneInfo(tz)).year - weeks // 52 - 1
    profiled = {p.person_id for p in records.Profile.select(records.Profile.person_id)}
    for p in people:
        if p.kind == "employee" and p.id not in profiled:
            category = {"厂部": "principal", "安全环保部": "safety_manager"}.get(p.department, "worker")
            records.set_profile(p.id, records.ProfileIn(category=category, initial_year=first_year), actor=ACTOR)
    for r in plan["records"]:
        records.add_record(records.RecordIn(person_id=ids[r["person"]], held_on=r["held_on"], hours=r["hours"],
                                            title=f"{MARK}{r['title']}", kind=r["kind"], trainer=r["trainer"]),
                           actor=ACTOR)
    n_exams = n_attempts = 0
    for x in plan["exams"]:
        try:
            exam = exams.create_exam(exams.ExamIn(title=f"{MARK}{x['title']}", picks=[exams.PickIn(count=PAPER)],
                                                  pass_mark=PASS_MARK, time_limit_min=30, max_attempts=MAX_ATTEMPTS),
                                     actor=ACTOR)
        except ValidationFailed:      # a bank too small for a paper: no synthetic exams
            break
        for a in x["attempts"]:
            pid = ids[a["person"]]
            attempt, _ = exams.start(exam.id, pid, actor=ACTOR, now_ms=a["started_at"])
            paper = json.loads(attempt.questions)
            qs = {q.id: q for q in Question.select().where(Question.id.in_(paper))}
            answers = {}
            for qid, ok in zip(paper, a["correct"], strict=True):
                key = json.loads(qs[qid].answer)
                answers[str(qid)] = key if ok else _wrong(key, len(json.loads(qs[qid].options)))
            exams.submit(attempt.id, pid, exams.SubmitIn(answers=answers), actor=ACTOR, now_ms=a["submitted_at"])
            n_attempts += 1
        exams.close_exam(exam.id, actor=ACTOR)
        n_exams += 1
    return {"trainings": len(plan["records"]), "exams": n_exams, "attempts": n_attempts}


def seed(end_ms: int | None = None, weeks: int = 52, seed_value: int = 22) -> dict:
    """Write the synthetic history into the demo's tables, once (a second call finds the
    `cockpit.synthetic_history` event and does nothing). Returns the counts written."""
    import json

    from appliance.core import events
    from appliance.core.people import Area, site_timezone
    from appliance.gas.sensors import Alarm
    from appliance.hazards.service import Hazard
    from appliance.patrol.models import Plan, Round, stops_of

    if events.Event.select().where(events.Event.type == "cockpit.synthetic_history").exists():
        return {}
    tz = site_timezone()
    if end_ms is None:   # up to the plant's last midnight: today's rounds and board stay the live plant's own
        today = dt.datetime.now(ZoneInfo(tz)).date()
        end_ms = int(dt.datetime(today.year, today.month, today.day, tzinfo=ZoneInfo(tz)).timestamp() * 1000)
    history = generate(end_ms, weeks, seed_value, tz)
    areas = {a.code: a.id for a in Area.select()}
    live = Plan.select().order_by(Plan.id).first()
    stops = [s.checkpoint_id for s in stops_of(live.route_id)] if live else []
    now = events.now_ms()
    hz = [h for h in history["hazards"] if h["area"] in areas]
    with events.recording(ACTOR) as rec:
        for i in range(0, len(hz), 500):
            Hazard.insert_many([{
                "area_id": areas[h["area"]], "category": h["category"], "description": h["description"],
                "grade": h["grade"], "state": "closed" if h["closed_at"] else "rectifying", "reporter": ACTOR,
                "reported_at": h["reported_at"], "assignee": None, "deadline": h["deadline"],
                "accepted_by": ACTOR if h["closed_at"] else None, "accepted_at": h["closed_at"],
                "rectified_at": h["closed_at"], "rectifier": ACTOR if h["closed_at"] else None, "rejections": 0,
                # reminded and escalated already: the deadline job leaves synthetic hazards alone
                "reminded_at": h["deadline"], "escalated_at": h["deadline"], "updated_at": now,
            } for h in hz[i:i + 500]]).execute()
        for i in range(0, len(history["alarms"]), 500):
            Alarm.insert_many([{"point": a["point"], "kind": "gas", "level": 1, "value": None,
                                "raised_at": a["raised_at"], "cleared_at": a["cleared_at"],
                                "acked_at": a["raised_at"] + 60_000, "acked_by": ACTOR, "ack_note": MARK}
                               for a in history["alarms"][i:i + 500]]).execute()
        n_rounds = 0
        if live is not None and stops:
            # a plan of their own, inactive, on the demo's route: the live plan's scheduling never sees them
            plan = Plan.create(name=f"{MARK}历史巡检", route_id=live.route_id, shift=live.shift, schedule=live.schedule,
                               grace_min=0, people="[]", departments="[]", streak_limit=live.streak_limit,
                               active=False, created_at=now, updated_at=now)
            rows = []
            for r in history["rounds"]:
                missed = stops if r["missed"] < 0 else stops[-r["missed"]:] if r["missed"] else []
                visited = [c for c in stops if c not in missed]
                verdict = {"status": r["status"], "visited": visited, "missed": missed, "out_of_order": False,
                           "too_fast": [], "started_at": None, "finished_at": None, "flags": []}
                rows.append({"plan_id": plan.id, "route_id": plan.route_id, "due_start": r["due_start"],
                             "due_end": r["due_end"], "grace_ms": 0, "status": r["status"],
                             "verdict": json.dumps(verdict), "suspicious": False, "closed": True, "updated_at": now})
            for i in range(0, len(rows), 500):
                Round.insert_many(rows[i:i + 500]).execute()
            n_rounds = len(rows)
        counts = {"hazards": len(hz), "alarms": len(history["alarms"]), "rounds": n_rounds,
                  **seed_trainings(end_ms, weeks, seed_value, tz)}
        rec.emit("cockpit.synthetic_history", payload={"synthetic": True, "seed": seed_value, "weeks": weeks,
                                                       "since": history["start"], "until": end_ms, **counts})
    return counts
