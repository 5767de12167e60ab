"""The cockpit's drill-down (/cockpit/drill/<tile>?since=&until=): exactly the records a tile counted for
its window, from the same reads (`records`) the tile's figure is computed from (`service.facts` →
`rules.compute`), with the same rule per tile. So the rows and the tile agree:

- a count tile (overdue, 未排查, missed checkpoints, refused entries, …): one row per counted record;
- a rate tile (整改率, 排查率, 巡检完成率, …): one row per record of the denominator, the numerator's marked
  (`counted`); the tile is marked ÷ rows;
- an exposure rate (violations / accidents per person-hours, alarms per 10 min): the rows are what is
  counted over the exposure (violations, accidents with their injured, alarms).

A figure of now (standing alarms, certificates expiring) lists now's records whatever the window."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from appliance.cockpit import records as REC
from appliance.cockpit import rules as R
from appliance.core.errors import ValidationFailed
from appliance.gas.load import CHATTER_RAISES, CHATTER_WINDOW_MS, TEN_MIN_MS

PAGE = 50


def window_args(args, now: int) -> tuple[int, int]:
    """[since, until) from ?since=&until= (ms); defaults: the cockpit's default window ending now. 422
    naming the field when one is not an integer, until is not after since, or the window is longer than the
    cockpit's longest (366 days)."""
    def num(name: str, default: int) -> int:
        raw = args.get(name)
        if raw in (None, ""):
            return default
        try:
            v = int(raw)
        except ValueError:
            raise ValidationFailed(f"参数 {name} 应为毫秒时间戳（整数）", f"parameter {name} must be a time in ms (an integer)",
                                   details=[{"key": name}]) from None
        if v < 0:
            raise ValidationFailed(f"参数 {name} 不能为负", f"parameter {name} must not be negative", details=[{"key": name}])
        return v

    until = num("until", now)
    since = num("since", until - R.DEFAULT_DAYS * R.DAY_MS)
    if until <= since:
        raise ValidationFailed("until 应晚于 since", "until must be after since", details=[{"key": "until"}])
    if until - since > R.MAX_DAYS * R.DAY_MS:
        raise ValidationFailed(f"时间窗口最长 {R.MAX_DAYS} 天", f"the window is at most {R.MAX_DAYS} days",
                               details=[{"key": "since"}])
    return since, until


def _hazards(pred: Callable[[dict, int], bool], mark: Callable[[dict], bool] | None = None):
    def select(since: int, until: int) -> list[dict]:
        out = [h for h in REC.hazards(since, until) if pred(h, until)]
        if mark:
            for h in out:
                h["counted"] = mark(h)
        return out
    return select


def _on_time(h: dict) -> bool:
    # hazards.rules.rates: closed by the deadline (no deadline: on time)
    return h["deadline"] is None or (h["accepted_at"] is not None and h["accepted_at"] <= h["deadline"])


def _tasks(only: str | None):
    def select(since: int, until: int) -> list[dict]:
        out = REC.tasks(since, until)
        if only:
            return [t for t in out if t["status"] == only]
        for t in out:
            t["counted"] = t["status"] == "done"
        return out
    return select


def _rounds(since: int, until: int) -> list[dict]:
    out = REC.rounds(since, until)
    for r in out:
        r["counted"] = r["status"] in R.DONE_ROUNDS
    return out


def _missed_checkpoints(since: int, until: int) -> list[dict]:
    """One row per checkpoint never tapped, per round."""
    return [{**r, "id": f"{r['id']}-{cp}", "round_id": r["id"], "checkpoint_id": cp}
            for r in REC.rounds(since, until) for cp in r["missed"]]


def _peak(since: int, until: int) -> list[dict]:
    """The alarms of the window's busiest 10-minute slot (gas.load.per_10_min's slots; the earliest of
    equally busy ones)."""
    start = until - 1 - (until - since)          # rules.compute: per_10_min(…, until − 1, span)
    slots: dict[int, list[dict]] = defaultdict(list)
    for a in REC.alarms(since, until):
        if start <= a["at"] <= until - 1:
            slots[(a["at"] - start) // TEN_MIN_MS].append(a)
    if not slots:
        return []
    best = max(slots, key=lambda s: (len(slots[s]), -s))
    return slots[best]


def _chattering(since: int, until: int) -> list[dict]:
    """One row per chattering point (gas.load.chattering), with its raises in the window."""
    by_point: dict[str, list[int]] = defaultdict(list)
    for a in REC.alarms(since, until):
        by_point[a["point"]].append(a["at"])
    out = []
    for point, ts in by_point.items():
        ts.sort()
        first = next((ts[i] for i in range(len(ts) - CHATTER_RAISES + 1)
                      if ts[i + CHATTER_RAISES - 1] - ts[i] <= CHATTER_WINDOW_MS), None)
        if first is not None:
            out.append({"id": point, "at": first, "point": point, "raises": len(ts)})
    return sorted(out, key=lambda r: r["point"])


def _injured(a: dict) -> int:
    return a["deaths"] + a["serious"] + a["minor"]


# tile → (the kind of record its rows are, how they are selected for [since, until))
SELECT: dict[str, tuple[str, Callable[[int, int], list[dict]]]] = {
    "rectification_rate": ("hazard", _hazards(lambda h, u: True, lambda h: h["state"] == "closed")),
    "on_time_rate": ("hazard", _hazards(lambda h, u: h["state"] == "closed", _on_time)),
    "overdue": ("hazard", _hazards(lambda h, u: h["state"] != "closed" and h["deadline"] is not None
                                   and h["deadline"] < u)),
    "recurrences": ("hazard", _hazards(lambda h, u: h["recurrence_of"] is not None)),
    "major_found": ("hazard", _hazards(lambda h, u: h["grade"] == "major")),
    "task_rate": ("task", _tasks(None)),
    "tasks_missed": ("task", _tasks("missed")),
    "patrol_rate": ("round", _rounds),
    "missed_checkpoints": ("checkpoint", _missed_checkpoints),
    "alarms_per_10_min": ("alarm", REC.alarms),
    "alarm_peak_10_min": ("alarm", _peak),
    "standing_alarms": ("alarm", lambda s, u: REC.standing()),
    "chattering_points": ("point", _chattering),
    "accidents": ("accident", REC.accidents),
    "accident_rate": ("accident", lambda s, u: [a for a in REC.accidents(s, u) if _injured(a)]),
    "violation_rate": ("violation", REC.violations),
    "permit_suspensions": ("suspension", REC.suspensions),
    "interlock_suspensions": ("suspension", lambda s, u: [x for x in REC.suspensions(s, u) if x["interlock"]]),
    "gate_refused": ("gate", lambda s, u: [g for g in REC.gate(s, u) if g["decision"] == "refused"]),
    "certs_expiring": ("certificate", lambda s, u: REC.certificates_expiring(R.CERT_HORIZON_DAYS)),
}
RATES = {"rectification_rate", "on_time_rate", "task_rate", "patrol_rate"}
assert set(SELECT) == set(R.BY_KEY), "every tile has its drill-down"


def select(key: str, since: int, until: int) -> list[dict]:
    """The records tile `key` counted in [since, until), newest first. KeyError for an unknown tile."""
    _, fn = SELECT[key]
    out = fn(since, until)
    if key == "certs_expiring":
        return out                                  # soonest lapse first (the training listing's order)
    return sorted(out, key=lambda r: (-(r.get("at") or 0), str(r.get("id"))))


def summary(key: str, rows: list[dict]) -> dict:
    """What the rows add up to, in the tile's terms: rows, marked (rate tiles), injured (accident rate)."""
    out: dict = {"rows": len(rows)}
    if key in RATES:
        out["counted"] = sum(1 for r in rows if r.get("counted"))
    if key == "accident_rate":
        out["injured"] = sum(_injured(a) for a in rows)
    return out
