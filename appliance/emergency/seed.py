"""The demo plant's emergency data: the walk graph over its six areas, the assembly point at the gate with its
badge reader, resources (one expiring soon, one expired, so the warnings show), the part-time rescue team,
and a plan per scenario. Called once by `appliance.demo`; tests use it as their fixture too."""
from __future__ import annotations

from datetime import timedelta

from appliance.core import events
from appliance.core.people import Person
from appliance.emergency import setup as S

ASSEMBLY_READER = "MUSTER-1"
# the demo plan: CTRL | TANK | REACT across the north, GATE | WH | DOCK across the south (demo.AREAS)
EDGES = [("TANK", "CTRL", 120, "罐区西门"), ("TANK", "REACT", 100, "罐区东门"), ("TANK", "WH", 90, "罐区南门"),
         ("REACT", "DOCK", 90, "车间南门"), ("WH", "DOCK", 100, "仓库东侧通道"), ("WH", "GATE", 110, "仓库西侧通道"),
         ("CTRL", "GATE", 150, "中控室南侧道路")]

# (code, kind, name, area, location, quantity, available, days to next inspection, days to expiry)
RESOURCES = [
    ("BA-01", "breathing_apparatus", "正压式空气呼吸器", "CTRL", "中控室微型消防站", 4, 4, 80, 900),
    ("BA-02", "breathing_apparatus", "正压式空气呼吸器", "DOCK", "装卸站台应急柜", 2, 2, 20, 700),
    ("GD-01", "gas_detector", "四合一便携式气体检测仪", "CTRL", "中控室微型消防站", 3, 3, 60, None),
    ("FE-01", "fire_extinguisher", "35kg 推车式干粉灭火器", "TANK", "防火堤东北角", 4, 4, 25, 1500),
    ("FH-01", "fire_hydrant", "室外消火栓", "TANK", "罐区北侧道路", 2, 2, 90, None),
    ("EW-01", "eyewash", "复合式洗眼器", "REACT", "车间一层东侧", 1, 1, 10, None),
    ("FA-01", "first_aid", "急救箱", "CTRL", "中控室", 1, 1, 120, 40),
    ("CS-01", "chemical_suit", "重型防化服", "CTRL", "中控室微型消防站", 2, 2, 100, -10),   # expired: not offered
    ("SK-01", "spill_kit", "泄漏应急处置包", "WH", "仓库门口", 2, 2, 45, None),
    ("ST-01", "stretcher", "担架", "GATE", "门卫室", 1, 1, 200, None),
]

TEAM = ("兼职应急救援队", "rescue", "CTRL", [("E1001", "队长", "13800000001"), ("E1003", "队员", "13800000003"),
                                           ("E1005", "队员", "13800000005"), ("E1008", "队员", "13800000008")])

PLANS = [
    ("P-LEAK", "leak", "危险化学品泄漏现场处置方案", [
        ("confirm", "确认报警与泄漏点（中控 DCS、现场）", "Confirm the alarm and the leak point", "中控室"),
        ("report", "报告值班领导，启动应急响应", "Report to the duty manager; start the response", "班组长"),
        ("isolate", "切断泄漏源、紧急停车", "Isolate the source; emergency shutdown", "操作工"),
        ("evacuate", "疏散泄漏区和下风向人员至集合点", "Evacuate the leak and downwind areas to the assembly point", "班组长"),
        ("rescue", "救援小组佩戴空气呼吸器进入、警戒", "Rescue team in breathing apparatus; cordon", "救援队"),
        ("monitor", "持续检测气体浓度", "Keep measuring the gas", "仪表工"),
        ("muster", "集合点清点人数", "Count at the assembly point", "班组长"),
        ("all_clear", "确认险情消除，恢复生产", "Confirm all clear; resume", "值班领导")]),
    ("P-FIRE", "fire", "火灾现场处置方案", [
        ("alarm", "报警（119、厂内）", "Raise the alarm (119, plant)", "发现人"),
        ("isolate", "切断物料、电源", "Cut feed and power", "操作工"),
        ("fight", "初期火灾扑救、冷却邻罐", "Fight the early fire; cool neighbouring tanks", "救援队"),
        ("evacuate", "疏散无关人员", "Evacuate everyone not needed", "班组长"),
        ("muster", "集合点清点人数", "Count at the assembly point", "班组长")]),
    ("P-POISON", "poisoning", "中毒窒息现场处置方案", [
        ("ppe", "救援人员佩戴空气呼吸器", "Rescuers put on breathing apparatus", "救援队"),
        ("remove", "将中毒者移至上风向空气新鲜处", "Move the casualty upwind to fresh air", "救援队"),
        ("aid", "现场急救、拨打 120", "First aid; call 120", "急救员"),
        ("muster", "集合点清点人数", "Count at the assembly point", "班组长")]),
    ("P-CONFINED", "confined_space", "受限空间救援现场处置方案", [
        ("stop", "停止作业、监护人呼救，严禁盲目施救", "Stop work; the guardian calls for help; no unprotected rescue", "监护人"),
        ("ventilate", "强制通风、检测气体", "Force ventilation; measure the gas", "救援队"),
        ("rescue", "佩戴空气呼吸器、系安全绳施救", "Rescue in breathing apparatus on a lifeline", "救援队"),
        ("aid", "现场急救、拨打 120", "First aid; call 120", "急救员")]),
]


def seed_demo(actor: str = "system:demo") -> bool:
    """Once per data directory (a walk graph that exists means it was seeded)."""
    if S.edges():
        return False
    S.set_graph(S.GraphIn(edges=[S.EdgeIn(a=a, b=b, metres=m, door=d) for a, b, m, d in EDGES]), actor=actor)
    S.save_point(S.PointIn(code="AP-GATE", name="大门集合点", name_en="Gate assembly point", area="GATE",
                           reader=ASSEMBLY_READER), actor=actor)
    today = events.now_ms() // 86_400_000
    from datetime import date

    day = date.fromordinal(date(1970, 1, 1).toordinal() + today)
    for code, kind, name, area, loc, qty, avail, insp, exp in RESOURCES:
        S.save_resource(S.ResourceIn(code=code, kind=kind, name=name, area=area, location=loc, quantity=qty,
                                     available=avail, inspected_on=day - timedelta(days=30),
                                     next_inspection=day + timedelta(days=insp),
                                     expires_on=day + timedelta(days=exp) if exp is not None else None), actor=actor)
    name, kind, area, members = TEAM
    ids = {p.employee_no: p.id for p in Person.select()}
    found = [S.MemberIn(person_id=ids[no], role=role, phone=phone) for no, role, phone in members if no in ids]
    if found:
        S.save_team(S.TeamIn(name=name, kind=kind, area=area, members=found), actor=actor)
    for code, scenario, pname, steps in PLANS:
        S.save_plan(S.PlanIn(code=code, scenario=scenario, name=pname,
                             steps=[S.StepIn(code=c, text=t, text_en=te, role=r) for c, t, te, r in steps]), actor=actor)
    return True
