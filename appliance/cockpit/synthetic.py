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

`seed(...)` writes it into the appliance's tables for `make demo` — every row marked as synthetic (reporter
and actor `system:synthetic`, descriptions starting 【模拟】, one `cockpit.synthetic_history` event naming the
seed and the counts) so it can never be mistaken for real records. The event rides the normal lane; the
synthetic rows are bulk rows, not domain events, so they are not sent to a regulator.
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
        counts = {"hazards": len(hz), "alarms": len(history["alarms"]), "rounds": n_rounds}
        rec.emit("cockpit.synthetic_history", payload={"synthetic": True, "seed": seed_value, "weeks": weeks,
                                                       "since": history["start"], "until": end_ms, **counts})
    return counts
