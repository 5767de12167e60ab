"""The demo plant's permits (appliance/demo.py seeds them once): hot work at the tank farm and a
confined-space entry in the reactor hall, each taken through every step to `active`."""
from __future__ import annotations

from appliance.core import events
from appliance.core.people import Area, Person
from appliance.permits import rules as R
from appliance.permits.approvals import approve
from appliance.permits.inputs import JsaRowIn
from appliance.permits.service import (
    AnalysisIn,
    ApplyIn,
    MeasureIn,
    MeasuresIn,
    Permit,
    SampleIn,
    _workers,
    analyse,
    apply,
    brief,
    confirm_measures,
    record_presence,
    start,
)


def seed_demo(actor: str = "system:demo") -> list[Permit]:
    """The demo's permits (once): hot work (二级动火) in the tank farm and a confined-space entry in the
    reactor hall, both taken through every step to `active`, so `--scenario gas-leak` suspends the first."""
    if Permit.select().exists():
        return []
    from appliance.core.auth import User

    by_no = {x.employee_no: x.id for x in Person.select()}
    areas = {a.code: a.id for a in Area.select()}
    approver = User.get_or_none(User.login == "zhangwei")
    now = events.now_ms()
    jobs = [
        ApplyIn(type="hot_work", grade="2", area_id=areas["TANK"], location="T-102 储罐罐顶呼吸阀", medium="CH4",
                content="更换呼吸阀法兰垫片，电焊固定支架", valid_from=now - 60_000, valid_to=now + 72 * R.H - 120_000,
                workers=[by_no["C2001"]], guardian_id=by_no["E1003"], issuer_id=by_no["E1002"],
                jsa="火花引燃罐区可燃气；高处坠落；灼烫"),
        ApplyIn(type="confined_space", grade="-", area_id=areas["REACT"], location="R-201 反应釜内", medium="CH4",
                content="反应釜内部清理与检查", valid_from=now - 60_000, valid_to=now + 24 * R.H - 120_000,
                workers=[by_no["E1009"]], guardian_id=by_no["E1005"], issuer_id=by_no["E1002"],
                jsa="缺氧窒息；有毒气体中毒；残留物料",
                jsa_rows=[JsaRowIn(step="隔离与置换", hazards="物料窜入、残留可燃气",
                                   measures="进出料管线加盲板，氮气置换后强制通风", responsible="王芳"),
                          JsaRowIn(step="进入釜内清理", hazards="缺氧窒息、有毒气体中毒",
                                   measures="连续检测氧含量和有毒气体，佩戴安全绳，监护人在人孔外", responsible="赵敏")]),
    ]
    out = []
    for job in jobs:
        p = apply(job, actor=actor)
        confirm_measures(p.id, MeasuresIn(measures={c: MeasureIn(by="王芳") for c, *_ in R.MEASURES[p.type]}),
                         actor=actor)
        approve(p.id, actor="user:zhangwei", role="safety_officer",
                person_id=approver.person_id if approver else None, note="同意（演示）")
        for who in {*_workers(p), p.guardian_id, p.issuer_id}:
            record_presence(p.id, who, source="reader", reader=p.reader, at=events.now_ms(), actor=actor)
        brief(p.id, actor=actor)
        samples = [SampleIn(gas="CH4", value=1.0, unit="%LEL")]
        if p.type == "confined_space":
            samples += [SampleIn(gas="O2", value=20.8, unit="%VOL"), SampleIn(gas="CO", value=2, unit="ppm")]
        analyse(p.id, AnalysisIn(source="manual", analyst="陈静", instrument="四合一便携式检测仪", samples=samples),
                actor=actor)
        out.append(start(p.id, actor=actor))
    return out
