"""The demo's contractors: three firms at the gate. 江东建设工程有限公司 is in good standing (every document
reviewed and in date) with its welder 吴刚 and scaffolder 孙丽 (demo.PEOPLE) trained, briefed and on an
approved, started hot-work job; 滨海焊接工程有限公司 is in good standing too, but its welder 钱勇's 焊工
特种作业操作证 (training records, demo.seed_training) expired 15 days ago, so the gate refuses him for the
certificate his welding job needs (30号令 Art. 21); 临江安装工程有限公司's 安全生产许可证 expired last month,
so its fitter 周平 is refused at the gate with that reason. The gate is the reader "GATE" at the GATE (大门) area
([contractors] entry_readers in the demo config)."""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from appliance.contractors import service as S
from appliance.contractors.models import Firm
from appliance.core import people as P

log = logging.getLogger(__name__)

GATE_READER = "GATE"
# who comes to the gate in the demo: 吴刚 (江东, welder on the started hot-work job: allowed) and 周平
# (临江, whose firm's 安全生产许可证 expired: refused with that reason) — badges from demo.PEOPLE
ARRIVALS = (("C2001", "04C0FFEE000001"), ("C2003", "04C0FFEE000003"), ("C2004", "04C0FFEE000004"))
GOOD, LAPSED, UNCERTIFIED = "江东建设工程有限公司", "临江安装工程有限公司", "滨海焊接工程有限公司"
LAPSED_WORKER = "C2003"      # 周平 管道安装工 (demo.PEOPLE), badge 04C0FFEE000003
UNCERTIFIED_WELDER = "C2004"  # 钱勇 焊工 (demo.PEOPLE), badge 04C0FFEE000004, 焊工证 lapsed 15 days ago
OFFICE = "user:zhangwei"     # the safety officer reviews and approves what the demo seeding submitted


def seed(actor: str = "system:demo") -> None:
    """Once per data directory (a firm that exists means it was seeded)."""
    if Firm.get_or_none(Firm.name == GOOD):
        return
    today = S.today()
    d = lambda days: today + timedelta(days=days)  # noqa: E731
    for name, licence_expiry in ((GOOD, d(700)), (LAPSED, d(-20)), (UNCERTIFIED, d(500))):
        f = S.create_firm(S.FirmIn(name=name, contact="项目经理", phone="0512-0000000"), actor=actor)
        for kind, exp in (("business_licence", None), ("safety_licence", licence_expiry),
                          ("qualification", d(400)), ("insurance", d(200)), ("safety_agreement", d(300))):
            doc = S.add_document(f.id, S.DocumentIn(kind=kind, number=f"{kind[:3].upper()}-{f.id:03d}", expires_on=exp),
                                 actor=actor)
            S.review_document(doc.id, S.ReviewIn(decision="approve"), actor=OFFICE)
    good = Firm.get(Firm.name == GOOD)
    crew = []
    for no in ("C2001", "C2002"):        # 吴刚 焊工, 孙丽 架子工 (demo.PEOPLE)
        p = P.Person.get_or_none(P.Person.employee_no == no)
        if p is None:
            continue
        S.add_worker(good.id, S.WorkerIn(person_id=p.id), actor=actor)
        S.record_training(p.id, S.TrainingIn(trained_on=d(-30)), actor=actor)
        crew.append(p.id)
    lapsed = Firm.get(Firm.name == LAPSED)
    fitter = P.Person.get(P.Person.employee_no == LAPSED_WORKER)
    w = S.add_worker(lapsed.id, S.WorkerIn(person_id=fitter.id), actor=actor)
    S.record_training(w.person_id, S.TrainingIn(trained_on=d(-10)), actor=actor)
    areas = {a.code: a.id for a in P.Area.select()}
    # the job's certificates are checked at the gate against the training domain's records: 吴刚 welds (焊工证),
    # 孙丽 builds the scaffold (高处作业证), each on the job that needs their certificate
    jobs = [("储罐区管线动火改造", crew[:1], ["welding"]), ("储罐区动火点脚手架搭设", crew[1:], ["height"])]
    for title, workers, certs in jobs if crew else []:
        if not workers:
            continue
        j = S.create_job(good.id, S.JobIn(title=title, area_id=areas.get("TANK"), starts_on=d(-1),
                                          ends_on=d(30), workers=workers, required_certs=certs), actor=actor)
        S.approve_job(j.id, actor=OFFICE)
        b = S.give_briefing(j.id, S.BriefingIn(content="动火点周围 15 m 内清除可燃物；气体分析合格后 30 分钟内动火；"
                                                       "监护人全程在场；作业中断超过 30 分钟重新分析。"), actor=OFFICE)
        for pid in workers:
            badge = P.Badge.get((P.Badge.person == pid) & P.Badge.active)
            S.confirm_briefing(b.id, S.ConfirmIn(uid=badge.uid), actor=OFFICE)
        S.start_job(j.id, actor=OFFICE)
    # 滨海's welder: trained, on an approved welding job and briefed, but his 焊工证 lapsed: the gate refuses him
    welder = P.Person.get_or_none(P.Person.employee_no == UNCERTIFIED_WELDER)
    if welder is not None:
        bh = Firm.get(Firm.name == UNCERTIFIED)
        S.add_worker(bh.id, S.WorkerIn(person_id=welder.id), actor=actor)
        S.record_training(welder.id, S.TrainingIn(trained_on=d(-20)), actor=actor)
        j = S.create_job(bh.id, S.JobIn(title="管廊支架焊接加固", area_id=areas.get("TANK"), starts_on=d(-1), ends_on=d(10),
                                        workers=[welder.id], required_certs=["welding"]), actor=actor)
        S.approve_job(j.id, actor=OFFICE)
        b = S.give_briefing(j.id, S.BriefingIn(content="管廊焊接：清除下方可燃物，设接火盆，监护人全程在场。"), actor=OFFICE)
        badge = P.Badge.get((P.Badge.person == welder.id) & P.Badge.active)
        S.confirm_briefing(b.id, S.ConfirmIn(uid=badge.uid), actor=OFFICE)
    S.create_job(lapsed.id, S.JobIn(title="仓库货架维修", area_id=areas.get("WH"), starts_on=today, ends_on=d(5),
                                    workers=[w.person_id]), actor=actor)   # cannot be approved: licence expired


def readers(sim) -> str:
    """Add the gate's emulated badge reader; the `[[readers]]` TOML of every emulated reader."""
    sim.add_nfc(GATE_READER)
    return sim.toml()


class GateTapper:
    """On a thread: the contractors come to the gate — soon after start, then every `every_s` — the welder
    first (allowed), the fitter of the lapsed firm `gap_s` later, then the welder whose 焊工证 lapsed (both
    refused, the reason large on the gate screen and in the wall board's feed)."""

    def __init__(self, sim, every_s: float = 120.0, gap_s: float = 6.0, start_after_s: float = 15.0):
        self.sim, self.every_s, self.gap_s, self.start_after_s = sim, every_s, gap_s, start_after_s
        self.stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-gate", daemon=True)

    def start(self) -> GateTapper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self._thread.join(10)

    def _run(self) -> None:
        if self.stopped.wait(self.start_after_s):      # the appliance starts and opens its readers
            return
        while True:
            for _, uid in ARRIVALS:
                try:
                    self.sim.present(GATE_READER, uid, hold_s=0.5)
                except Exception as exc:   # an emulator that died: say so, try again next time
                    log.warning("demo gate tap failed", extra={"error": str(exc)})
                if self.stopped.wait(self.gap_s):
                    return
            if self.stopped.wait(self.every_s):
                return
