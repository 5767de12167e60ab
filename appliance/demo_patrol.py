"""The demo's patrol: four checkpoints with fixed NFC readers, a route through them, a plan every ten
minutes, and an inspector who walks it — emulated badges presented to emulated readers (nfcpy's udp
frontend, `drivers.sim.badges`), read by the real `nfc` reader driver inside the appliance.

The walk is not perfect on purpose, so the wall board shows every state: every third round the last
checkpoint is skipped (missed), every fourth is hurried (flagged "too fast" for review), and now and then
a stranger's card is refused at the loading dock.
"""
from __future__ import annotations

import logging
import threading
import time

from appliance.core.people import Area
from appliance.patrol import models, plans

log = logging.getLogger(__name__)

# (reader / checkpoint code, name, name_en, area code, checklist)
CHECKPOINTS: list[tuple[str, str, str, str, list[tuple[str, ...]]]] = [
    ("CP-TANK", "储罐区东侧", "Tank farm east", "TANK", [
        ("level", "液位计读数正常、无报警", "Level gauges normal, no alarm", "工艺"),
        ("dike", "防火堤完好、排水阀关闭", "Dike intact, drain valve closed", "安全"),
        ("breather", "呼吸阀、阻火器无堵塞", "Breather valves and flame arresters clear", "设备",
         "罐区巡检：呼吸阀、阻火器、防火堤")]),
    ("CP-REACT", "反应车间一层", "Reactor building, ground floor", "REACT", [
        ("leak", "法兰、阀门无泄漏", "No leaks at flanges and valves", "工艺"),
        ("sis", "SIS 联锁投用", "SIS interlocks in service", "仪表")]),
    ("CP-DOCK", "装卸站台鹤位", "Loading dock arms", "DOCK", [
        ("ground", "静电接地报警器正常", "Static earthing monitor working", "电气", "静电接地报警器与装卸联锁"),
        ("ext", "灭火器在位、压力正常", "Extinguishers in place and charged", "消防")]),
    ("CP-WH", "危化品仓库", "Hazardous-goods warehouse", "WH", [
        ("stack", "货物堆码限高、间距符合要求", "Stacking height and spacing as required", "安全"),
        ("vent", "通风设施运行", "Ventilation running", "设备")]),
]
ROUTE = ("R-DAILY", "全厂日常巡检", "Daily plant round")
WALK_S = 20                       # the least walking time between checkpoints on the demo route
INSPECTOR = "04A1B2C3D4E5F9"      # 刘洋, 巡检员 (login liuyang)
STRANGER = "04BADBADBAD001"       # a card nobody was issued


def seed(actor: str = "system:demo") -> None:
    """The demo's checkpoints, route and plan (once; a data directory from an older demo gets them too)."""
    if models.Route.get_or_none(models.Route.code == ROUTE[0]):
        return
    from appliance.risk.register import RiskMeasure

    areas = {a.code: a.id for a in Area.select()}
    measures = {m.description: m.id for m in RiskMeasure.select()}
    ids = []
    for code, name, name_en, area, items in CHECKPOINTS:
        # an item that names a control measure of the demo register is that measure's check (排查记录)
        checklist = [{"id": i, "text": t, "text_en": te, "category": cat,
                      **({"measure_id": measures[rest[0]]} if rest and rest[0] in measures else {})}
                     for i, t, te, cat, *rest in items]
        c = models.Checkpoint.get_or_none(models.Checkpoint.code == code) or plans.create_checkpoint(plans.CheckpointIn(
            code=code, name=name, name_en=name_en, area_id=areas[area], reader=code, checklist=checklist), actor=actor)
        ids.append(c.id)
    r = plans.create_route(plans.RouteIn(code=ROUTE[0], name=ROUTE[1], name_en=ROUTE[2],
                                   stops=[{"checkpoint_id": i, "min_walk_s": WALK_S} for i in ids]), actor=actor)
    plans.create_plan(plans.PlanIn(name="日常巡检（每 10 分钟，演示）", route_id=r.id, shift="全天",
                             schedule={"window_min": 10, "every_min": 10}, grace_min=3, streak_limit=6), actor=actor)


def readers(sim) -> str:
    """Start one emulated NFC reader per checkpoint; the `[[readers]]` TOML for the appliance config."""
    for code, *_ in CHECKPOINTS:
        sim.add_nfc(code)
    return sim.toml()


class Walker:
    """The inspector, on a thread: a walk at start (the board fills within a minute), then one each round."""

    def __init__(self, sim, speed: float = 1.0):
        self.sim = sim
        self.speed = speed
        self.stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-patrol", daemon=True)

    def start(self) -> Walker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self._thread.join(10)

    def _pause(self, seconds: float) -> bool:
        return self.stopped.wait(seconds / self.speed)

    def _run(self) -> None:
        if self._pause(12):     # let the appliance start and its readers open
            return
        n = 0
        while not self.stopped.is_set():
            n += 1
            try:
                self.walk(n)
            except Exception as exc:  # an emulator that died: say so, try again next round
                log.warning("demo patrol walk failed", extra={"error": str(exc)})
            # the next walk starts half a minute into the next ten-minute window
            now = time.time()
            wait = 600 - now % 600 + 30
            if self._pause(wait * self.speed):
                return

    def walk(self, n: int) -> None:
        codes = [c[0] for c in CHECKPOINTS]
        hurried = n % 4 == 0
        for i, code in enumerate(codes):
            if n % 3 == 0 and i == len(codes) - 1:
                break                                    # skipped: the round ends incomplete
            self.sim.present(code, INSPECTOR, hold_s=0.6)
            if i == 1 and n % 2 == 0:
                self.sim.present("CP-DOCK", STRANGER, hold_s=0.6)   # refused on the dock's screen
            if i < len(codes) - 1 and self._pause(5 if hurried else WALK_S + 8):
                return
